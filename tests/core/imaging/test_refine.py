from __future__ import annotations

import cv2
import numpy as np

from app.core.imaging.refine import estimate_foreground, fit_size, guided_upsample, hard_alpha


def test_foreground_estimate_removes_background_bleed():
    """Synthetic I = αF + (1−α)B: the estimate is closer to F than I is, in the soft band."""
    h, w = 80, 120
    fg = np.zeros((h, w, 3), np.float32)
    fg[:] = (0.9, 0.6, 0.2)  # orange person
    bg = np.zeros((h, w, 3), np.float32)
    bg[:] = (0.0, 0.2, 0.9)  # blue wall
    alpha = np.clip((np.arange(w, dtype=np.float32) - 54) / 12, 0, 1)[None, :].repeat(h, 0)  # hair-wide soft edge
    image = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg) * 255
    frame = np.rint(image).astype(np.uint8)
    estimate = estimate_foreground(frame, alpha).astype(np.float32)
    band = (alpha > 0.2) & (alpha < 0.8)
    err_raw = np.abs(frame.astype(np.float32) - fg * 255)[band].mean()
    err_est = np.abs(estimate - fg * 255)[band].mean()
    assert err_est < 0.5 * err_raw
    assert (estimate[alpha == 1] == frame[alpha == 1]).all()  # opaque pixels untouched


def test_foreground_estimate_without_person_is_the_frame():
    frame = np.full((40, 40, 3), 7, np.uint8)
    assert (estimate_foreground(frame, np.zeros((40, 40), np.float32)) == frame).all()


def test_guided_upsample_size_and_range():
    frame = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    mask = np.random.default_rng(1).random((16, 16), dtype=np.float32)
    out = guided_upsample(mask, frame)
    assert out.shape == (90, 160) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_hard_alpha_and_fit_size():
    assert (hard_alpha(np.array([0.2, 0.5, 0.7], np.float32)) == [0, 1, 1]).all()
    assert fit_size(1920, 1080, 640) == (640, 360) and fit_size(100, 50, 640) == (100, 50)


def test_foreground_estimate_in_bands_equals_one_pass(monkeypatch):
    """Bounded memory: the banded blur-fusion gives exactly the numbers of one pass over the box."""
    import app.core.imaging.refine as refine

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (500, 360, 3), dtype=np.uint8)
    alpha = np.zeros((500, 360), np.float32)
    alpha[100:450, 80:300] = cv2.GaussianBlur(rng.random((350, 220)).astype(np.float32), (0, 0), 5)
    one_pass = refine.estimate_foreground(frame, alpha)
    monkeypatch.setattr(refine, "BAND_PIXELS", 5000)  # bands of ~20 rows, narrower than the blurs
    assert np.array_equal(refine.estimate_foreground(frame, alpha), one_pass)

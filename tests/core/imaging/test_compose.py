from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.core.imaging.compose import (
    BackgroundRenderer,
    alpha_to_u8,
    blurred_background,
    composite,
    cover_fit,
    parse_background,
    to_rgba,
    u8_to_alpha,
)
from app.core.errors import SettingsError
from app.core.media.writers import write_png

small_frames = st.tuples(st.integers(2, 12), st.integers(2, 12)).flatmap(
    lambda hw: st.tuples(
        arrays(np.uint8, (*hw, 3)), arrays(np.uint8, (*hw, 3)),
        arrays(np.float32, hw, elements=st.floats(0, 1, width=32)),
    )
)


@settings(max_examples=60, deadline=None)
@given(small_frames)
def test_composite_is_convex_mix_rounded(data):
    fg, bg, alpha = data
    out = composite(fg, alpha, bg)
    expected = fg * alpha[..., None].astype(np.float64) + bg * (1 - alpha[..., None].astype(np.float64))
    assert out.dtype == np.uint8 and out.shape == fg.shape
    assert np.abs(out.astype(np.float64) - expected).max() <= 1.0
    lo, hi = np.minimum(fg, bg), np.maximum(fg, bg)
    assert ((out >= lo) & (out <= hi)).all()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (7, 9), elements=st.floats(0, 1, width=32)))
def test_confidence_encoding_round_trips(alpha):
    encoded = alpha_to_u8(alpha)
    # V = round(alpha·255); float32 maths may land the other way on an exact .5 tie
    assert np.abs(encoded - alpha.astype(np.float64) * 255).max() <= 0.5 + 1e-4
    assert np.abs(u8_to_alpha(encoded) - alpha).max() <= 0.5 / 255 + 1e-6


def test_extremes_give_pure_foreground_and_background():
    fg = np.full((4, 4, 3), 200, np.uint8)
    bg = np.full((4, 4, 3), 10, np.uint8)
    assert (composite(fg, np.ones((4, 4), np.float32), bg) == 200).all()
    assert (composite(fg, np.zeros((4, 4), np.float32), bg) == 10).all()


def test_parse_background_forms(tmp_path):
    assert parse_background("#00ff00").rgb == (0, 255, 0)
    assert parse_background("green").rgb == (0, 128, 0)
    assert parse_background("blur:15").strength == 15
    assert parse_background("transparent").transparent
    image = tmp_path / "bg.png"
    write_png(image, np.zeros((40, 60, 3), np.uint8))
    assert parse_background(str(image)).kind == "image"
    for bad in ("blur:x", "blur:0", "no-such-colour", str(tmp_path / "missing.png")):
        with pytest.raises(SettingsError):
            parse_background(bad)


def test_cover_fit_never_stretches():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :100] = 255  # left half white
    out = cover_fit(image, 100, 100)  # square crop out of a 2:1 image
    assert out.shape == (100, 100, 3)
    assert out[:, :50].mean() > 250 and out[:, 50:].mean() < 5  # the split stays in the middle: cropped, not squashed


def test_image_background_is_cover_fitted(tmp_path):
    path = tmp_path / "bg.png"
    write_png(path, np.full((50, 200, 3), 77, np.uint8))
    renderer = BackgroundRenderer(parse_background(str(path)))
    frame = np.zeros((120, 90, 3), np.uint8)
    out = renderer.render(frame, np.zeros((120, 90), np.float32))
    assert out.shape == frame.shape and (out == 77).all()


def test_blur_background_does_not_spread_the_person():
    frame = np.full((100, 100, 3), 20, np.uint8)
    frame[30:70, 30:70] = 250  # bright person on dark background
    alpha = np.zeros((100, 100), np.float32)
    alpha[30:70, 30:70] = 1
    bg = BackgroundRenderer(parse_background("blur:10")).render(frame, alpha)
    assert bg[20, 50].max() < 40  # just outside the person: no bright halo
    assert bg.shape == frame.shape and bg.dtype == np.uint8


def test_rgba_carries_alpha_encoding():
    fg = np.full((5, 5, 3), 9, np.uint8)
    alpha = np.linspace(0, 1, 25, dtype=np.float32).reshape(5, 5)
    rgba = to_rgba(fg, alpha)
    assert rgba.shape == (5, 5, 4) and (rgba[..., 3] == alpha_to_u8(alpha)).all() and (rgba[..., :3] == 9).all()


def test_wide_blur_is_computed_small_and_stays_close_to_the_full_size_blur():
    from app.core.imaging.compose import _normalised_blur

    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (180, 320, 3), dtype=np.uint8), (9, 9), 3)
    alpha = np.zeros((180, 320), np.float32)
    alpha[40:180, 120:200] = 1
    fast = blurred_background(frame, alpha, 25)
    exact = _normalised_blur(frame, alpha, 25)
    assert fast.shape == frame.shape and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - exact.astype(int)).mean() < 2.0


def test_banded_compositing_matches_the_one_pass_formula(monkeypatch):
    import app.core.imaging.compose as compose

    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (301, 203, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (301, 203, 3), dtype=np.uint8)
    alpha = rng.random((301, 203), dtype=np.float32)
    alpha[0, 0], alpha[1, 1] = -0.2, 1.3  # out of range values clip
    one_pass = cv2.blendLinear(fg, bg, alpha, 1.0 - alpha)
    u8 = np.rint(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
    monkeypatch.setattr(compose, "BAND_PIXELS", 1000)  # many bands
    assert np.array_equal(compose.composite(fg, alpha, bg), one_pass)
    assert np.array_equal(compose.alpha_to_u8(alpha), u8)
    rgba = compose.to_rgba(fg, alpha)
    assert np.array_equal(rgba[..., :3], fg) and np.array_equal(rgba[..., 3], u8)

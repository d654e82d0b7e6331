from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.matting.propagation import AdaptiveCadence, MaskPropagator
from tests.tiny_models import person_image


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    return np.roll(image, dx, axis=1)


def person_alpha(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 150).astype(np.float32)  # the red ellipse of person_image


def test_alpha_follows_a_shift():
    key_frame = person_image(640, 360)
    moved = shifted(key_frame, 10)
    propagator = MaskPropagator()
    key = propagator.key(key_frame, person_alpha(key_frame), None)
    alpha, foreground = propagator.propagate(key, moved)
    assert foreground is None
    assert alpha.shape == (360, 640) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    held_error = np.abs(person_alpha(key_frame) - person_alpha(moved)).mean()
    assert np.abs(alpha - person_alpha(moved)).mean() < 0.3 * held_error


def test_foreground_keeps_the_current_frame_and_moves_the_correction():
    """Interior colours come from the new frame; the model's edge correction moves with the person."""
    key_frame = person_image(640, 360)
    alpha = person_alpha(key_frame)
    foreground = key_frame.copy()
    foreground[alpha > 0] = np.clip(foreground[alpha > 0].astype(int) + (0, 40, 0), 0, 255)  # a +40 green correction
    moved = shifted(key_frame, 8)
    moved[150:160, 300:340] = (255, 255, 0)  # something new inside the person (a mouth opening)
    propagator = MaskPropagator()
    _, out = propagator.propagate(propagator.key(key_frame, alpha, foreground), moved)
    assert out.shape == moved.shape and out.dtype == np.uint8
    assert tuple(out[155, 320]) == (255, 255, 0)  # the new frame's content, not the key's
    inside = person_alpha(moved) > 0
    inside[150:160, 300:340] = False
    gain = out[inside].astype(int) - moved[inside].astype(int)
    assert np.median(gain[:, 1]) == 40 and np.median(np.abs(gain[:, [0, 2]])) == 0


def test_size_mismatch_is_refused():
    propagator = MaskPropagator()
    frame = person_image(320, 240)
    key = propagator.key(frame, person_alpha(frame), None)
    with pytest.raises(ValueError, match="size"):
        propagator.propagate(key, person_image(640, 360))


@pytest.mark.parametrize(
    ("cost_ms", "expected"), [(10.0, 1), (30.0, 2), (45.0, 2), (70.0, 3), (500.0, 3)]
)
def test_cadence_steps_up_with_the_cost(cost_ms, expected):
    cadence = AdaptiveCadence()
    for _ in range(30):
        cadence.observe(cost_ms, target_fps=30)
    assert cadence.every == expected


def test_cadence_does_not_flap_near_the_budget():
    cadence = AdaptiveCadence()
    for _ in range(30):
        cadence.observe(32.0, target_fps=30)  # just under a 33 ms frame: already over the 85 % mark
    assert cadence.every == 2
    for _ in range(30):
        cadence.observe(25.0, target_fps=30)  # 75 % of a frame: stays at 2 (steps back below 70 %)
    assert cadence.every == 2
    for _ in range(30):
        cadence.observe(15.0, target_fps=30)
    assert cadence.every == 1


@pytest.mark.real_models
def test_real_rvm_reused_mask_follows_a_moving_person(real_models_dir, portraits_dir):
    """RVM on a real cut-out moving 8 px a frame over a photo: a reused frame's mask moves with her."""
    from app.core.imaging.compose import composite, cover_fit
    from app.core.media.image_io import load_image
    from app.core.models import load_model
    from app.core.matting.stream import StreamPipeline, StreamSettings

    cutout = cv2.imread(str(portraits_dir / "rembg_girl-3.u2net_pred_rgba.png"), cv2.IMREAD_UNCHANGED)
    person = cv2.cvtColor(cv2.resize(cutout, (480, 320), interpolation=cv2.INTER_AREA), cv2.COLOR_BGRA2RGBA)
    backdrop = cover_fit(load_image(portraits_dir.parent / "backgrounds" / "bgmatting_background_0002.png"), 640, 360)

    def frame_at(x: int) -> np.ndarray:
        fg, alpha = np.zeros_like(backdrop), np.zeros(backdrop.shape[:2], np.float32)
        fg[40:360, x : x + 480], alpha[40:360, x : x + 480] = person[..., :3], person[..., 3] / 255.0
        return composite(fg, alpha, backdrop)

    frames = [frame_at(40 + 8 * i) for i in range(4)]
    fresh = StreamPipeline(load_model("rvm", real_models_dir), StreamSettings(every_n=1))
    expected = [fresh.process(f, i / 30).alpha for i, f in enumerate(frames)][-1]
    errors = {}
    for compensate in (False, True):
        stream = StreamPipeline(load_model("rvm", real_models_dir),
                                StreamSettings(every_n=2, motion_compensation=compensate))
        last = [stream.process(f, i / 30) for i, f in enumerate(frames)][-1]
        assert last.extra["computed"] is False  # computed on frames 0 and 2, reused on 1 and 3
        errors[compensate] = float(np.abs(last.alpha - expected).mean())
    assert errors[True] < 0.6 * errors[False]

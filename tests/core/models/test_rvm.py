from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from app.core.errors import SettingsError
from app.core.models import load_model
from app.core.models.rvm import auto_downsample_ratio
from tests.tiny_models import person_image, rvm_model


def test_auto_ratio_matches_recommendations():
    assert auto_downsample_ratio(1280, 720) == 0.375
    assert auto_downsample_ratio(1920, 1080) == 0.25
    assert auto_downsample_ratio(400, 300) == 1.0
    assert auto_downsample_ratio(3840, 2160) == 0.125


def test_alpha_and_foreground_shapes(tiny_models_dir, person_frame):
    model = load_model("rvm", tiny_models_dir)
    out = model.infer(person_frame)
    h, w = person_frame.shape[:2]
    assert out.alpha.shape == (h, w) and out.alpha.dtype == np.float32
    assert 0.0 <= out.alpha.min() and out.alpha.max() <= 1.0
    assert out.alpha[h // 2, w // 2] > 0.9 and out.alpha[2, 2] < 0.1
    assert out.foreground.shape == (h, w, 3) and out.foreground.dtype == np.uint8
    assert np.abs(out.foreground.astype(int) - person_frame).max() <= 1  # tiny model's fgr is the input


def test_state_is_fed_back_and_reset(tiny_models_dir, person_frame):
    model = load_model("rvm", tiny_models_dir)
    for _ in range(3):
        model.infer(person_frame)
    # each pass adds the red channel to r1: three passes -> three times the red value
    red = person_frame[person_frame.shape[0] // 2, person_frame.shape[1] // 2, 0] / 255
    assert model._state[0].shape == (1, 16, 120, 160)
    assert model._state[0].max() == pytest.approx(3 * red, rel=1e-3)
    model.reset()
    assert all(s.shape == (1, 1, 1, 1) and not s.any() for s in model._state)


def test_state_resets_on_size_and_ratio_change(tiny_models_dir):
    model = load_model("rvm", tiny_models_dir)
    model.infer(person_image(320, 240))
    model.infer(person_image(200, 160))  # would fail to broadcast with the old state
    assert model._state[0].shape[2:] == (80, 100)
    model.downsample_ratio = 0.5
    model.infer(person_image(200, 160))
    assert model._state[0].shape[2:] == (40, 50)
    with pytest.raises(SettingsError):
        model.downsample_ratio = 1.5


def test_fp16_weights_work(tmp_path, person_frame):
    onnx.save(rvm_model(TensorProto.FLOAT16), str(tmp_path / "rvm_mobilenetv3_fp16.onnx"))
    model = load_model("rvm", tmp_path)
    out = model.infer(person_frame)
    out = model.infer(person_frame)
    assert out.alpha.dtype == np.float32 and out.alpha[120, 160] > 0.9 and out.alpha[2, 2] < 0.1


def _moving_frames(count: int = 5) -> list[np.ndarray]:
    base = person_image()
    return [np.ascontiguousarray(np.roll(base, 5 * i, axis=1)) for i in range(count)]


def test_io_binding_equals_the_numpy_path(tiny_models_dir):
    plain = load_model("rvm", tiny_models_dir)
    bound = load_model("rvm", tiny_models_dir, io_binding=True)
    frames = _moving_frames()
    for i, frame in enumerate(frames + [frame[:200, :300].copy() for frame in frames[:2]]):  # then a size change
        if i == 3:
            plain.reset()
            bound.reset()
        a, b = plain.infer(frame), bound.infer(frame)
        np.testing.assert_array_equal(a.alpha, b.alpha)
        np.testing.assert_array_equal(a.foreground, b.foreground)


def test_work_frame_keeps_the_internal_resolution_and_the_frame_size(tiny_models_dir):
    model = load_model("rvm", tiny_models_dir, downsample_ratio=0.5, work_long_side=160)
    frame = person_image(320, 240)
    work, ratio = model._work_frame(frame, 0.5)
    assert work.shape[:2] == (120, 160) and ratio == 1.0  # 160 px at ratio 1.0 == 320 px at 0.5
    out = model.infer(frame)
    assert out.alpha.shape == (240, 320) and out.foreground.shape == (240, 320, 3)
    assert out.alpha[120, 160] > 0.9 and out.alpha[2, 2] < 0.1
    small = person_image(120, 90)
    assert model._work_frame(small, 0.5)[0] is small  # already small enough: untouched


def test_content_aware_ratio_follows_the_person_with_hysteresis(tiny_models_dir):
    model = load_model("rvm", tiny_models_dir, content_aware=True)
    model.target_long_side = 640  # so the two choices differ on a 1280-wide frame
    close_up = np.zeros((90, 160), np.float32)
    close_up[40:90, 50:110] = 1.0  # head and shoulders: 21 % of the frame
    full_body = np.zeros((90, 160), np.float32)
    full_body[10:85, 72:82] = 1.0  # a standing person: 83 % of the height but 5 % of the frame
    middle = np.zeros((90, 160), np.float32)
    middle[50:90, 50:82] = 1.0  # 8.9 %: inside the hysteresis band
    assert model.ratio_for(1280, 720) == 0.5
    model._update_content(full_body)
    assert model.ratio_for(1280, 720) == 0.5  # tall but small: not a close-up
    model._update_content(close_up)
    assert model.ratio_for(1280, 720) == 0.25
    model._update_content(middle)
    assert model.ratio_for(1280, 720) == 0.25  # stays until clearly smaller
    model._update_content(full_body)
    assert model.ratio_for(1280, 720) == 0.5
    model.downsample_ratio = 0.375
    model._update_content(close_up)
    assert model.ratio_for(1280, 720) == 0.375  # a ratio the user chose always wins


@pytest.mark.parametrize("size,ratio", [((8192, 40), None), ((1600, 8), None), ((640, 480), 0.005), ((40, 8192), 0.01)])
def test_internal_size_stays_valid_for_extreme_shapes(size, ratio):
    """The model's downsampled frame keeps a short side its 3x3 box filter accepts (issue: 8192x40 crashed)."""
    from app.core.models.rvm import MIN_INTERNAL_SIDE, valid_ratio

    width, height = size
    chosen = valid_ratio(ratio if ratio is not None else auto_downsample_ratio(width, height), width, height)
    assert min(width, height) * chosen >= MIN_INTERNAL_SIDE
    assert 0 < chosen <= 1.0
    assert valid_ratio(0.25, 1920, 1080) == 0.25  # ordinary frames keep the recommended ratio


def test_frames_thinner_than_the_minimum_are_padded_and_cropped(tiny_models_dir):
    model = load_model("rvm", tiny_models_dir, downsample_ratio=0.5)
    frame = person_image(400, 40)[18:21]  # a 400x3 strip
    out = model.infer(np.ascontiguousarray(frame))
    assert out.alpha.shape == (3, 400) and out.foreground.shape == (3, 400, 3)
    assert model.ratio_for(400, 3) == 1.0


@pytest.mark.real_models
@pytest.mark.parametrize("size,ratio", [((8192, 40), None), ((1600, 8), None), ((640, 480), 0.005), ((1600, 4), None)])
def test_real_rvm_takes_extreme_shapes(real_models_dir, size, ratio):
    """The shared RVM weights raised ONNX Runtime's InvalidArgument on these before the clamp."""
    width, height = size
    model = load_model("rvm", real_models_dir, downsample_ratio=ratio)
    frame = np.ascontiguousarray(np.broadcast_to(np.linspace(0, 255, width, dtype=np.uint8)[None, :, None], (height, width, 3)))
    out = model.infer(frame)
    assert out.alpha.shape == (height, width) and np.isfinite(out.alpha).all()


def test_large_frames_reach_the_model_reduced(tiny_models_dir):
    """Bounded memory: above max_work_pixels the model gets a reduced copy; alpha comes back full size."""
    model = load_model("rvm", tiny_models_dir, downsample_ratio=0.1, max_work_pixels=100_000)
    seen = []
    real_run = model.session.run

    def spy(names, feed):
        seen.append(feed["src"].shape)
        return real_run(names, feed)

    model.session.run = spy
    out = model.infer(person_image(800, 600))  # 480 000 px
    assert seen[0][2] * seen[0][3] <= 100_000  # (the internal 80x60 resolution is kept)
    assert out.alpha.shape == (600, 800) and out.foreground.shape == (600, 800, 3)
    assert out.alpha[300, 400] > 0.9 and out.alpha[5, 5] < 0.1


@pytest.mark.parametrize("size,ratio", [((192, 360), 0.75), ((311, 88), 0.5625), ((250, 273), 0.3333), ((35, 182), 0.75)])
def test_state_sizes_are_known_before_the_run(tiny_models_dir, size, ratio):
    """``state_shapes`` predicts the recurrent tensors' sizes (a carried state must fit the next run exactly)."""
    from app.core.models.rvm import state_shapes

    width, height = size
    model = load_model("rvm", tiny_models_dir, downsample_ratio=ratio)
    model.infer(np.zeros((height, width, 3), np.uint8))
    assert [s.shape[2:] for s in model._state] == state_shapes(height, width, ratio)


@pytest.mark.real_models
def test_real_rvm_state_sizes_are_known_before_the_run(real_models_dir):
    from app.core.models.rvm import state_shapes

    for (width, height), ratio in (((192, 360), 0.75), ((311, 88), 0.5625), ((250, 273), 0.3333)):
        model = load_model("rvm", real_models_dir, downsample_ratio=ratio)
        model.infer(np.zeros((height, width, 3), np.uint8))
        assert [s.shape[2:] for s in model._state] == state_shapes(height, width, ratio)

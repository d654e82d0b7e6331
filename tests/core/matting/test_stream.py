"""StreamPipeline: temporal state, resets, smoothing, matte options, settings hand-over."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.core.imaging.matte import MatteOptions, apply_matte_options, feather_outward, remove_small_blobs
from app.core.models import load_model
from app.core.matting.stream import StreamPipeline, StreamSettings
from tests.clips import moving_frame
from tests.tiny_models import person_image


class CountingModel:
    """Wraps a model and counts resets and inferences."""

    def __init__(self, inner) -> None:
        self.inner, self.resets, self.calls = inner, 0, 0
        self.name, self.provider, self.temporal = inner.name, inner.provider, inner.temporal

    def reset(self) -> None:
        self.resets += 1
        self.inner.reset()

    def infer(self, frame):
        self.calls += 1
        return self.inner.infer(frame)

    def __getattr__(self, item):
        return getattr(self.inner, item)


class FakeClock:
    """A monotonic clock that only moves when told: the cadence sees exactly the cost a test sets."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowModel(CountingModel):
    """A model that costs ``delay_s`` per frame on ``clock``, as on a slower machine; never sleeps."""

    def __init__(self, inner, clock: FakeClock, delay_s: float) -> None:
        super().__init__(inner)
        self.clock, self.delay_s = clock, delay_s

    def infer(self, frame):
        out = super().infer(frame)
        self.clock.now += self.delay_s
        return out


def noisy_static_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """A static scene whose red channel sits near the tiny models' decision level, plus sensor noise."""
    rng = np.random.default_rng(seed)
    base = np.zeros((120, 160, 3), np.int16)
    base[..., 2] = 120
    base[30:100, 50:110, 0] = 128  # the ambiguous "person": alpha flickers with noise
    return [np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def mean_change(alphas: list[np.ndarray]) -> float:
    """Mean frame-to-frame alpha change inside the ambiguous block."""
    return float(np.mean([np.abs(a - b)[30:100, 50:110].mean() for a, b in zip(alphas, alphas[1:])]))


def test_smoothing_reduces_flicker_on_a_static_noisy_scene(tiny_models_dir):
    model = load_model("selfie", tiny_models_dir)
    frames = noisy_static_frames(12)
    raw = StreamPipeline(model, StreamSettings(smoothing=0.0))
    smooth = StreamPipeline(model, StreamSettings(smoothing=0.8))
    raw_alpha = [raw.process(f, i / 30).alpha for i, f in enumerate(frames)]
    smooth_alpha = [smooth.process(f, i / 30).alpha for i, f in enumerate(frames)]
    assert mean_change(raw_alpha) > 0.01  # the test scene really flickers
    assert mean_change(smooth_alpha) < 0.5 * mean_change(raw_alpha)


def test_motion_guard_leaves_no_ghost_trail(tiny_models_dir):
    model = load_model("selfie", tiny_models_dir)
    pipeline = StreamPipeline(model, StreamSettings(smoothing=0.9, scene_cut=0.0))
    for i in range(4):
        pipeline.process(moving_frame(0), i / 30)
    moved = moving_frame(10)  # the red block jumped 30 px right
    alpha = pipeline.process(moved, 4 / 30).alpha
    fresh = StreamPipeline(model, StreamSettings(smoothing=0.0)).process(moved, 0).alpha
    # where the block was (and is no more) the mask must be gone, not 90 % of its old value
    assert np.abs(alpha - fresh).max() < 0.15


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f, t: (np.ascontiguousarray(f[:100, :140]), t + 0.03), "size"),
        (lambda f, t: (f, t - 5.0), "seek"),
        (lambda f, t: (f, t + 10.0), "seek"),
        (lambda f, t: (person_image(160, 120), t + 0.03), "scene_cut"),
    ],
)
def test_state_resets(tiny_models_dir, change, reason):
    model = CountingModel(load_model("rvm", tiny_models_dir))
    pipeline = StreamPipeline(model)
    frame = moving_frame(0)
    for i in range(3):
        result = pipeline.process(frame, i / 30)
    assert result.extra["reset"] is None
    before = model.resets
    new_frame, ts = change(frame, 2 / 30)
    result = pipeline.process(new_frame, ts)
    assert result.extra["reset"] == reason
    assert model.resets == before + 1
    assert pipeline.reset_counts[reason] == 1


def test_moving_person_is_not_a_scene_cut(tiny_models_dir):
    pipeline = StreamPipeline(load_model("rvm", tiny_models_dir))
    for i in range(10):
        pipeline.process(moving_frame(i), i / 30)
    assert set(pipeline.reset_counts) == {"start"}


def test_ratio_change_and_manual_reset(tiny_models_dir):
    model = load_model("rvm", tiny_models_dir)
    pipeline = StreamPipeline(model)
    pipeline.process(moving_frame(0), 0.0)
    model.downsample_ratio = 0.5
    assert pipeline.process(moving_frame(1), 0.03).extra["reset"] == "ratio"
    pipeline.reset()
    assert pipeline.process(moving_frame(2), 0.06).extra["reset"] == "manual"


def test_every_n_reuses_the_mask(tiny_models_dir):
    model = CountingModel(load_model("selfie", tiny_models_dir))
    pipeline = StreamPipeline(model, StreamSettings(every_n=3, smoothing=0, motion_compensation=False))
    results = [pipeline.process(moving_frame(i), i / 30) for i in range(7)]
    assert model.calls == 3
    assert [r.extra["computed"] for r in results] == [True, False, False, True, False, False, True]
    assert results[1].alpha is results[0].alpha or np.array_equal(results[1].alpha, results[0].alpha)


def test_reused_mask_follows_the_moving_person(tiny_models_dir):
    """every_n=2: the in-between frame's mask moves with the person instead of staying behind."""
    frames = [person_image(320, 240), np.roll(person_image(320, 240), 12, axis=1)]  # the person moves 12 px right
    fresh = load_model("selfie", tiny_models_dir).infer(frames[1]).alpha
    errors = {}
    for compensate in (False, True):
        pipeline = StreamPipeline(load_model("selfie", tiny_models_dir),
                                  StreamSettings(every_n=2, smoothing=0, motion_compensation=compensate))
        pipeline.process(frames[0], 0.0)
        reused = pipeline.process(frames[1], 1 / 30)
        assert reused.extra["computed"] is False and reused.alpha.shape == fresh.shape
        errors[compensate] = float(np.abs(reused.alpha - fresh).mean())
    assert errors[True] < 0.4 * errors[False]


def test_auto_cadence_follows_the_models_speed(tiny_models_dir):
    """every_n=0: every frame while the model keeps up with target_fps; the share of frames that fits once it cannot."""
    clock = FakeClock()
    model = SlowModel(load_model("selfie", tiny_models_dir), clock, delay_s=0.001)
    pipeline = StreamPipeline(model, StreamSettings(every_n=0, smoothing=0, target_fps=30), clock=clock)
    fast = [pipeline.process(moving_frame(i), i / 30) for i in range(6)]
    assert all(r.extra["computed"] for r in fast) and fast[-1].extra["every_n"] == 1
    model.delay_s = 0.05  # 50 ms a frame: 1.5x the 33 ms budget of 30 FPS, the model gets 85 % of it
    slow = [pipeline.process(moving_frame(i), i / 30) for i in range(6, 66)]
    assert slow[-1].extra["duty"] == pytest.approx(0.85 / 1.5, abs=0.01) and slow[-1].extra["every_n"] == 2
    computed = [r.extra["computed"] for r in slow[-30:]]
    assert 16 <= computed.count(True) <= 18 and "FF" not in "".join("T" if c else "F" for c in computed)
    model.delay_s = 0.001  # faster again (say, a smaller source): back to every frame
    again = [pipeline.process(moving_frame(i), i / 30) for i in range(66, 96)]
    assert all(r.extra["computed"] for r in again[-5:]) and again[-1].extra["every_n"] == 1


def test_settings_snapshot_takes_effect_on_next_frame(tiny_models_dir):
    pipeline = StreamPipeline(load_model("rvm", tiny_models_dir))
    frame = moving_frame(0)
    soft = pipeline.process(frame, 0.0).alpha
    assert set(np.unique(soft)) - {0.0, 1.0}
    done = threading.Event()
    threading.Thread(target=lambda: (pipeline.update_settings(StreamSettings(threshold=0.5)), done.set())).start()
    assert done.wait(60)
    hard = pipeline.process(frame, 0.03).alpha
    assert set(np.unique(hard)) <= {0.0, 1.0}
    with pytest.raises(TypeError):
        pipeline.update_settings({"threshold": 0.5})


def test_settings_are_validated_and_frozen():
    with pytest.raises(ValueError):
        StreamSettings(smoothing=1.0)
    with pytest.raises(ValueError):
        StreamSettings(every_n=-1)
    with pytest.raises(ValueError):
        StreamSettings(target_fps=0)
    with pytest.raises(ValueError):
        StreamSettings(threshold=1.5)
    with pytest.raises(Exception):
        StreamSettings().smoothing = 0.2  # type: ignore[misc]


def test_result_contract(tiny_models_dir):
    result = StreamPipeline(load_model("rvm", tiny_models_dir)).process(moving_frame(0), 0.0)
    assert result.alpha.shape == (120, 160) and result.alpha.dtype == np.float32
    assert result.foreground.shape == (120, 160, 3) and result.foreground.dtype == np.uint8
    assert {"inference", "matte"} <= set(result.timings)
    assert result.model == "rvm" and result.provider


def test_run_stops_on_event(tiny_models_dir):
    pipeline = StreamPipeline(load_model("rvm", tiny_models_dir))
    stop = threading.Event()
    frames = ((moving_frame(i), i / 30) for i in range(100))
    seen = 0
    for _frame, _result in pipeline.run(frames, stop):
        seen += 1
        if seen == 3:
            stop.set()
    assert seen == 3


# ------------------------------------------------------------ matte options


def disc(radius: int = 20, size: int = 100) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius**2).astype(np.float32)


def test_feather_is_outward_only():
    alpha = disc()
    feathered = feather_outward(alpha, 8)
    assert np.all(feathered[alpha == 1] == 1.0)  # never eats into the person
    ring = (feathered > 0.01) & (alpha == 0)
    assert ring.sum() > 0 and feathered[ring].max() < 1.0


def test_expand_and_shrink():
    alpha = disc()
    grown = apply_matte_options(alpha, MatteOptions(expand=5))
    shrunk = apply_matte_options(alpha, MatteOptions(expand=-5))
    assert grown.sum() > alpha.sum() > shrunk.sum() > 0


def test_small_blobs_removed_big_kept():
    alpha = disc()
    alpha[2:5, 2:5] = 1.0  # a 9-px speck
    cleaned = remove_small_blobs(alpha, 0.01)
    assert cleaned[3, 3] == 0.0 and cleaned[50, 50] == 1.0


def test_threshold_makes_binary():
    alpha = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    out = apply_matte_options(alpha, MatteOptions(threshold=0.3))
    assert set(np.unique(out)) == {0.0, 1.0}
    assert out[alpha >= 0.3].min() == 1.0

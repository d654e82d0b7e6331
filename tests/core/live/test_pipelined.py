"""The pipelined live processor: same frames out, in order, one frame behind, clean stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.core.live.processor import LiveProcessor
from app.core.live.settings import LiveSettings
from app.core.live.pipelined import PipelinedProcessor
from tests.tiny_models import person_image


def _frames(count: int) -> list[np.ndarray]:
    """Distinct frames: the 'person' moves, so temporal state and smoothing matter."""
    base = person_image(160, 120)
    return [np.ascontiguousarray(np.roll(base, 3 * i, axis=1)) for i in range(count)]


def _processor(models_dir, model: str, every_n: int = 1) -> LiveProcessor:
    """A fixed cadence: "auto" reads the wall clock, so two runs on a busy machine could pick different ones."""
    processor = LiveProcessor(str(models_dir))
    processor.configure(LiveSettings(model=model, background="#00ff00", mirror=True, smoothing=0.5,
                                     every_n=every_n))
    return processor


def _infer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("livematte-infer")]


@pytest.mark.parametrize("every_n", [1, 2])
@pytest.mark.parametrize("model", ["rvm", "selfie"])
def test_same_results_in_order_as_the_plain_processor(tiny_models_dir, model, every_n):
    frames = _frames(8)
    plain = _processor(tiny_models_dir, model, every_n)
    expected = [plain.process(f, i / 30) for i, f in enumerate(frames)]
    got = []
    with PipelinedProcessor(_processor(tiny_models_dir, model, every_n)) as pipe:
        for i, f in enumerate(frames):
            out = pipe.submit(f, i / 30)
            if out is not None:
                got.append(out)
        got.append(pipe.flush())
    assert [g.result.extra["frame_index"] for g in got] == list(range(len(frames)))
    assert [g.result.extra["computed"] for g in got] == [i % every_n == 0 for i in range(len(frames))]
    for want, have in zip(expected, got):
        np.testing.assert_array_equal(have.view, want.view)
        np.testing.assert_array_equal(have.result.alpha, want.result.alpha)


def test_adds_exactly_one_frame_of_latency(tiny_models_dir):
    frames = _frames(4)
    with PipelinedProcessor(_processor(tiny_models_dir, "selfie")) as pipe:
        assert pipe.submit(frames[0], 0.0) is None
        for i in range(1, len(frames)):
            out = pipe.submit(frames[i], i / 30)
            assert out is not None and out.result.extra["timestamp"] == pytest.approx((i - 1) / 30)
        last = pipe.flush()
        assert last.result.extra["timestamp"] == pytest.approx(3 / 30)
        assert pipe.flush() is None


def test_caller_may_reuse_its_capture_buffer(tiny_models_dir):
    frames = _frames(3)
    plain = _processor(tiny_models_dir, "selfie")
    expected = [plain.process(f, i / 30).view for i, f in enumerate(frames)]
    buffer = np.empty_like(frames[0])
    views = []
    with PipelinedProcessor(_processor(tiny_models_dir, "selfie")) as pipe:
        for i, f in enumerate(frames):
            np.copyto(buffer, f)
            out = pipe.submit(buffer, i / 30)
            buffer[:] = 0  # the camera overwrites its buffer with the next frame
            if out is not None:
                views.append(out.view)
        views.append(pipe.flush().view)
    for want, have in zip(expected, views):
        np.testing.assert_array_equal(have, want)


def test_stops_cleanly_and_refuses_frames_after_close(tiny_models_dir):
    before = len(_infer_threads())
    pipe = PipelinedProcessor(_processor(tiny_models_dir, "rvm"))
    pipe.submit(_frames(1)[0], 0.0)
    pipe.close()
    pipe.close()  # twice is fine
    assert len(_infer_threads()) == before
    with pytest.raises(RuntimeError):
        pipe.submit(_frames(1)[0], 0.1)


def test_reset_drops_the_frame_in_flight_and_restarts_the_stream(tiny_models_dir):
    frames = _frames(3)
    with PipelinedProcessor(_processor(tiny_models_dir, "rvm")) as pipe:
        pipe.submit(frames[0], 0.0)
        pipe.submit(frames[1], 1 / 30)
        pipe.reset()
        assert pipe.flush() is None
        assert pipe.submit(frames[2], 2 / 30) is None
        assert pipe.flush().result.extra["frame_index"] == 0


def test_an_error_surfaces_with_its_frame_and_the_stream_goes_on(tiny_models_dir):
    frames = _frames(2)
    with PipelinedProcessor(_processor(tiny_models_dir, "selfie")) as pipe:
        pipe.submit(np.zeros((4, 4), np.uint8), 0.0)  # not an RGB frame
        with pytest.raises(Exception):
            pipe.submit(frames[0], 1 / 30)
        assert pipe.submit(frames[1], 2 / 30).result.extra["timestamp"] == pytest.approx(1 / 30)


def test_unconfigured_processor_fails_on_the_frame(tiny_models_dir):
    with PipelinedProcessor(LiveProcessor(str(tiny_models_dir))) as pipe:
        pipe.submit(_frames(1)[0], 0.0)
        with pytest.raises(RuntimeError):
            pipe.flush()

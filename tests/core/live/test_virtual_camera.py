from __future__ import annotations

import glob
import sys
import threading
import time

import numpy as np
import pytest

from app.core.errors import DeviceError, VirtualCameraUnavailableError
from app.core.live.virtual_camera import (
    KEY_GREEN,
    FakeVirtualCamSink,
    PacedVirtualCamera,
    PyVirtualCamSink,
    VirtualCameraSink,
    flatten_rgba,
    install_hint,
    make_sink,
    to_camera_frame,
)


def _rgb(value: int, width: int = 64, height: int = 48) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    """Polls until ``predicate`` holds; the timeout only bounds a hang, it never decides an outcome."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def test_sinks_follow_the_protocol():
    assert isinstance(FakeVirtualCamSink(), VirtualCameraSink)
    assert isinstance(PyVirtualCamSink(), VirtualCameraSink)
    assert isinstance(make_sink("fake"), FakeVirtualCamSink)
    assert isinstance(make_sink("auto"), PyVirtualCamSink)


# ---------------------------------------------------------------- frames


def test_rgb_of_the_right_size_passes_through_unchanged():
    view = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    out = to_camera_frame(view, 64, 48)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.array_equal(out, view)


def test_rgba_is_flattened_over_key_green():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (200, 10, 10, 255)  # opaque: kept
    rgba[0, 1] = (200, 10, 10, 0)  # transparent: key colour
    rgba[0, 2] = (255, 255, 255, 128)  # half: in between
    out = to_camera_frame(rgba, 4, 4)
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (200, 10, 10)
    assert tuple(out[0, 1]) == KEY_GREEN
    assert tuple(out[0, 2]) == tuple(round((255 * 128 + c * 127) / 255) for c in KEY_GREEN)
    assert tuple(flatten_rgba(rgba, (0, 0, 0))[0, 1]) == (0, 0, 0)


def test_gray_becomes_rgb():
    out = to_camera_frame(np.full((8, 8), 77, np.uint8), 8, 8)
    assert out.shape == (8, 8, 3) and (out == 77).all()


def test_other_sizes_are_fitted_with_bars_keeping_the_aspect():
    side_by_side = _rgb(200, 128, 48)  # twice as wide as the device
    out = to_camera_frame(side_by_side, 64, 48)
    assert out.shape == (48, 64, 3)
    assert (out[:12] == 0).all() and (out[-12:] == 0).all()  # letterbox bars top and bottom
    assert (out[12:36] == 200).all()
    small = to_camera_frame(_rgb(90, 32, 24), 64, 48)  # scaled up to fill
    assert (small == 90).all()


# ---------------------------------------------------------------- pacer


def test_start_opens_the_sink_at_size_and_fps_and_stop_closes_it():
    sink = FakeVirtualCamSink()
    camera = PacedVirtualCamera(sink, fps=25)
    camera.start(64, 48)
    assert sink.size == (64, 48) and sink.fps == 25 and camera.running
    camera.submit(_rgb(10))
    _wait_for(lambda: sink.count >= 1)
    camera.stop()
    camera.stop()  # idempotent
    assert sink.stopped == 1 and not camera.running
    sent = sink.count
    time.sleep(0.1)
    assert sink.count == sent  # nothing is sent after stop
    frame = sink.frames[0].frame
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8


def test_nothing_is_sent_before_the_first_frame():
    sink = FakeVirtualCamSink()
    with PacedVirtualCamera(sink, fps=100) as camera:
        camera.start(64, 48)
        time.sleep(0.1)
        assert sink.count == 0


def test_slow_inference_is_paced_by_repeating_the_last_composite():
    sink = FakeVirtualCamSink()
    camera = PacedVirtualCamera(sink, fps=50)
    camera.start(64, 48)
    for value in (10, 20, 30):  # "inference" far slower than the device: it waits on the sends, never sleeps
        camera.submit(_rgb(value))
        seen = sink.count
        _wait_for(lambda: sink.count >= seen + 3 and int(sink.frames[-1].frame[0, 0, 0]) == value)
    camera.stop()
    frames = sink.snapshot()
    values = [int(f.frame[0, 0, 0]) for f in frames]
    assert sorted(set(values)) == [10, 20, 30]
    assert values == sorted(values)  # never goes back to an older composite
    assert len(frames) >= 9  # the device kept getting frames between the composites: a steady rate, not 3
    stats = camera.stats()
    assert stats.received == 3 and stats.sent == len(frames) and stats.repeated == len(frames) - 3


def test_fast_producer_is_capped_at_the_device_rate():
    sink = FakeVirtualCamSink()
    camera = PacedVirtualCamera(sink, fps=20)
    started = time.monotonic()
    camera.start(64, 48)
    for i in range(200):  # "inference" far faster than the device
        camera.submit(_rgb(i % 255))
        if i % 50 == 49:
            _wait_for(lambda: sink.count >= 1)
    camera.stop()
    elapsed = time.monotonic() - started
    # the pacer never bursts: at most one send per period (plus the first); a busy machine only sends fewer
    assert 1 <= sink.count <= elapsed * 20 + 2
    assert camera.stats().received == 200


def test_submit_never_blocks_on_a_slow_device():
    gate = threading.Event()

    class StuckSink(FakeVirtualCamSink):
        def send(self, frame):
            gate.wait(60)  # the device hangs until the test lets it go
            super().send(frame)

    camera = PacedVirtualCamera(StuckSink(), fps=30)
    camera.start(64, 48)
    submitter = threading.Thread(target=lambda: [camera.submit(_rgb(5)) for _ in range(100)])
    submitter.start()
    submitter.join(60)
    try:
        assert not submitter.is_alive() and not gate.is_set()  # all 100 went in while the device was stuck
    finally:
        gate.set()
        camera.stop()


def test_a_failing_device_stops_the_pacer_and_reports():
    class BrokenSink(FakeVirtualCamSink):
        def send(self, frame):
            raise OSError("device unplugged")

    errors: list[str] = []
    reported = threading.Event()
    camera = PacedVirtualCamera(BrokenSink(), fps=30, on_error=lambda text: (errors.append(text), reported.set()))
    camera.start(64, 48)
    camera.submit(_rgb(1))
    assert reported.wait(60)
    _wait_for(lambda: not camera.running)
    assert "device unplugged" in errors[0] and camera.error == errors[0]
    camera.stop()


def test_misuse_is_rejected():
    with pytest.raises(ValueError):
        PacedVirtualCamera(FakeVirtualCamSink(), fps=0)
    camera = PacedVirtualCamera(FakeVirtualCamSink(), fps=30)
    camera.start(64, 48)
    with pytest.raises(RuntimeError):
        camera.start(64, 48)
    camera.stop()


def test_wrong_frame_for_the_fake_device_is_an_error_like_a_real_one():
    sink = FakeVirtualCamSink()
    sink.start(64, 48, 30)
    with pytest.raises(ValueError):
        sink.send(_rgb(1, 32, 24))


# ---------------------------------------------------------------- no backend


def test_failed_start_raises_the_typed_error_and_leaves_nothing_running():
    camera = PacedVirtualCamera(FakeVirtualCamSink(fail_start="no device"), fps=30)
    with pytest.raises(VirtualCameraUnavailableError) as info:
        camera.start(64, 48)
    assert isinstance(info.value, DeviceError) and info.value.code == "virtual_camera_unavailable"
    assert not camera.running and camera.size is None
    camera.stop()


def test_no_backend_names_the_linux_fix(monkeypatch):
    import pyvirtualcam

    def no_device(*args, **kwargs):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found")

    monkeypatch.setattr(pyvirtualcam, "Camera", no_device)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(VirtualCameraUnavailableError) as info:
        PyVirtualCamSink().start(64, 48, 30)
    message = str(info.value)
    assert "No v4l2 loopback device found" in message  # the backend's own words
    assert "sudo modprobe v4l2loopback exclusive_caps=1 card_label=LiveMatte" in message
    assert "browser" in message.lower() and "exclusive_caps=1" in message


def test_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails as if not installed
    with pytest.raises(VirtualCameraUnavailableError, match="pip install pyvirtualcam"):
        PyVirtualCamSink().start(64, 48, 30)


def test_unknown_backend_is_named():
    with pytest.raises(VirtualCameraUnavailableError, match="nosuch"):
        make_sink("nosuch")
    with pytest.raises(VirtualCameraUnavailableError, match="available"):
        PyVirtualCamSink(backend="nosuchbackend").start(64, 48, 30)


@pytest.mark.parametrize(
    "platform, needle",
    [("win32", "OBS Virtual Camera"), ("win32", "Unity Capture"), ("darwin", "OBS"), ("linux", "v4l2loopback-dkms")],
)
def test_install_hint_per_platform(platform, needle):
    assert needle in install_hint(platform)


# ---------------------------------------------------------------- real device


def _loopback_devices() -> list[str]:
    devices = []
    for name in glob.glob("/sys/class/video4linux/video*/name"):
        with open(name) as fh:
            label = fh.read().lower()
        if "loopback" in label or "livematte" in label:
            devices.append("/dev/" + name.split("/")[-2])
    return devices


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _loopback_devices(),
                    reason="no v4l2loopback device (sudo modprobe v4l2loopback exclusive_caps=1 card_label=LiveMatte)")
def test_real_loopback_device_receives_frames():
    sink = PyVirtualCamSink(device=_loopback_devices()[0])
    camera = PacedVirtualCamera(sink, fps=30)
    camera.start(64, 48)
    camera.submit(_rgb(120))
    _wait_for(lambda: camera.stats().sent >= 5)
    camera.stop()
    assert camera.error is None


def test_camera_gets_the_unmirrored_picture():
    from app.core.live.processor import LiveFrame
    from app.core.matting.results import FrameResult
    from app.core.live.virtual_camera import camera_view

    view = np.zeros((4, 6, 3), np.uint8)
    view[:, 0] = 255  # left column lit in the mirrored preview
    frame = LiveFrame(view, view, FrameResult(alpha=np.ones((4, 6), np.float32)), mirrored=True)
    assert camera_view(frame)[:, -1].min() == 255 and camera_view(frame)[:, 0].max() == 0
    plain = LiveFrame(view, view, FrameResult(alpha=np.ones((4, 6), np.float32)))
    assert camera_view(plain) is view

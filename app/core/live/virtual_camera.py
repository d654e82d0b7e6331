"""Virtual camera output: the processed live view as a webcam for Zoom, Meet, Teams and OBS.

Three parts:

* ``VirtualCameraSink`` – the small protocol every backend implements
  (``start``/``send``/``stop``); ``PyVirtualCamSink`` drives pyvirtualcam
  (v4l2loopback, OBS Virtual Camera, Unity Capture), ``FakeVirtualCamSink``
  records frames for tests.
* ``to_camera_frame`` – turns a view image (RGB, RGBA or gray, any size) into
  the fixed-size RGB frame a camera device needs.
* ``PacedVirtualCamera`` – sends at the source's frame rate on its own thread,
  repeating the last composite when inference is slower, so the consumer sees
  a steady rate and the inference thread never waits for the device.

Qt-free: the GUI and the headless live mode use the same classes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import cv2
import numpy as np

from app.core.imaging.compose import flatten_rgba
from app.core.timing import HANG_GUARD_S
from app.core.errors import VirtualCameraUnavailableError

log = logging.getLogger(__name__)

# A device carries no alpha: transparent pixels become chroma-key green, which OBS's
# "Chroma Key" filter (default key colour green) removes again.
KEY_GREEN = (0, 177, 64)
BACKEND_NAMES = ("auto", "v4l2loopback", "obs", "unitycapture", "fake")


@runtime_checkable
class VirtualCameraSink(Protocol):
    """A device that shows RGB frames to other apps as a webcam."""

    name: str

    def start(self, width: int, height: int, fps: float) -> None:
        """Opens the device at a fixed size and rate.

        Raises:
            VirtualCameraUnavailableError: no device or backend can be opened.
        """

    def send(self, frame: np.ndarray) -> None:
        """Shows one H×W×3 uint8 RGB frame (exactly the started size)."""

    def stop(self) -> None:
        """Closes the device; idempotent."""


# ---------------------------------------------------------------- install hints


def install_hint(platform: str | None = None) -> str:
    """What to install or run so a virtual camera exists on ``platform`` (default: this one)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return (
            "Linux needs the v4l2loopback kernel module (Debian/Ubuntu: `sudo apt install v4l2loopback-dkms`, "
            "Fedora: `sudo dnf install v4l2loopback`, Arch: `sudo pacman -S v4l2loopback-dkms`), loaded with: "
            "`sudo modprobe v4l2loopback exclusive_caps=1 card_label=LiveMatte`. "
            "exclusive_caps=1 matters for browsers: with it the device announces itself as a capture-only "
            "camera once LiveMatte writes to it, and Chrome, Firefox and the apps built on them (Meet, Teams, "
            "Zoom in the browser) list only such devices; without it LiveMatte is missing from their camera list."
        )
    if platform == "win32":
        return (
            "Windows needs a virtual camera driver: install OBS Studio 26 or newer and click "
            "'Start Virtual Camera' once, then 'Stop Virtual Camera' (this registers 'OBS Virtual Camera' and "
            "frees it for LiveMatte); or install Unity Capture (https://github.com/schellingb/UnityCapture, run "
            "Install.bat as administrator) and use --virtual-cam-backend unitycapture."
        )
    if platform == "darwin":
        return (
            "macOS needs OBS Studio 30 or newer: click 'Start Virtual Camera' once so macOS installs the OBS "
            "camera extension (allow it under System Settings > Privacy & Security), then stop it in OBS so "
            "LiveMatte can use it."
        )
    return f"no virtual camera backend is known for platform {platform!r}"


def unavailable_error(detail: str, platform: str | None = None) -> VirtualCameraUnavailableError:
    """The typed error for a failed start: the backend's own words plus what to do."""
    return VirtualCameraUnavailableError(f"no virtual camera available ({detail}). {install_hint(platform)}")


# ---------------------------------------------------------------- backends


class PyVirtualCamSink:
    """pyvirtualcam: v4l2loopback on Linux, OBS Virtual Camera / Unity Capture on Windows, OBS on macOS."""

    def __init__(self, backend: str | None = None, device: str | None = None) -> None:
        self.backend = None if backend in (None, "auto") else backend
        self.device = device
        self.name = "pyvirtualcam"
        self._camera = None

    def start(self, width: int, height: int, fps: float) -> None:
        """Opens the first working backend (or the one named).

        Raises:
            VirtualCameraUnavailableError: pyvirtualcam missing, or no backend/device could be opened.
        """
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise unavailable_error(f"the Python package pyvirtualcam is not installed ({exc}); "
                                    "run `pip install pyvirtualcam`") from exc
        if self.backend is not None and self.backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this platform"
            raise unavailable_error(f"backend {self.backend!r} does not exist here (available: {known})")
        try:
            self._camera = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=self.device, backend=self.backend,
            )
        except (RuntimeError, ValueError) as exc:
            raise unavailable_error(str(exc)) from exc
        self.name = f"{self._camera.backend} {self._camera.device}"

    def send(self, frame: np.ndarray) -> None:
        if self._camera is not None:
            self._camera.send(frame)

    def stop(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()


@dataclass
class SentFrame:
    frame: np.ndarray
    time: float  # time.monotonic() when it was sent


class FakeVirtualCamSink:
    """Records what a device would show; for tests and for looking at the output without a device.

    ``keep`` bounds memory: only the newest ``keep`` frames are kept (``count`` counts all).
    """

    def __init__(self, keep: int | None = 300, fail_start: str | None = None) -> None:
        self.name = "fake"
        self.keep = keep
        self.fail_start = fail_start
        self.frames: list[SentFrame] = []
        self.count = 0
        self.size: tuple[int, int] | None = None
        self.fps: float | None = None
        self.started = self.stopped = 0
        self._lock = threading.Lock()

    def start(self, width: int, height: int, fps: float) -> None:
        """Raises:
            VirtualCameraUnavailableError: when built with ``fail_start``.
        """
        if self.fail_start is not None:
            raise unavailable_error(self.fail_start)
        self.size, self.fps = (width, height), fps
        self.started += 1

    def send(self, frame: np.ndarray) -> None:
        if self.size is None or frame.shape != (self.size[1], self.size[0], 3) or frame.dtype != np.uint8:
            # the same check a real device makes: a wrong frame there is an exception too
            raise ValueError(f"fake camera expects {self.size} RGB uint8, got {frame.shape} {frame.dtype}")
        with self._lock:
            self.frames.append(SentFrame(frame, time.monotonic()))
            self.count += 1
            if self.keep is not None and len(self.frames) > self.keep:
                del self.frames[: len(self.frames) - self.keep]

    def stop(self) -> None:
        self.stopped += 1

    def snapshot(self) -> list[SentFrame]:
        """A copy of the recorded frames, safe to read while the pacer is sending."""
        with self._lock:
            return list(self.frames)


def make_sink(backend: str = "auto", device: str | None = None) -> VirtualCameraSink:
    """The sink for a backend name (see BACKEND_NAMES); nothing is opened until ``start``.

    Raises:
        VirtualCameraUnavailableError: an unknown backend name.
    """
    if backend == "fake":
        return FakeVirtualCamSink()
    if backend not in BACKEND_NAMES:
        raise unavailable_error(f"unknown backend {backend!r}; use one of {', '.join(BACKEND_NAMES)}")
    return PyVirtualCamSink(backend, device)


# ---------------------------------------------------------------- frames


def camera_view(frame) -> np.ndarray:
    """What the camera sends for a LiveFrame: the view, un-mirrored.

    The mirror is for the user's own preview; people in a call must see the
    true picture (readable text), and call apps mirror the self-view themselves.
    """
    return cv2.flip(frame.view, 1) if frame.mirrored else frame.view


def to_camera_frame(view: np.ndarray, width: int, height: int, fill: tuple[int, int, int] = KEY_GREEN) -> np.ndarray:
    """A view image as a width×height RGB uint8 frame.

    RGBA is flattened over ``fill`` (a device has no alpha); gray becomes RGB; a
    different size is fitted inside, keeping its aspect ratio, with black bars –
    a device's size is fixed while it runs, but the view can change (side by
    side, another source).
    """
    if view.ndim == 2:
        view = cv2.cvtColor(view, cv2.COLOR_GRAY2RGB)
    if view.shape[2] == 4:
        view = flatten_rgba(view, fill)
    h, w = view.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(view, dtype=np.uint8)
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(view, (new_w, new_h), interpolation=interpolation)
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    out[y : y + new_h, x : x + new_w] = resized
    return out


# ---------------------------------------------------------------- pacer


@dataclass(frozen=True)
class PacerStats:
    received: int  # frames submitted
    sent: int  # frames the device got (new and repeated)
    repeated: int  # sends that repeated the previous composite
    fps: float  # measured send rate over the last second or so


class PacedVirtualCamera:
    """Sends the newest submitted view to a sink at a steady rate, on its own thread.

    ``submit`` never blocks (it swaps one reference), so neither the inference
    thread nor the UI waits for the device. When no new view arrived since the
    last tick, the previous one is sent again – a consumer that gets no frame
    for a while freezes or drops the camera, so repeating beats stalling.

    A send that fails (device removed) stops the pacer and reports through
    ``on_error``; the app keeps running.
    """

    def __init__(
        self,
        sink: VirtualCameraSink,
        fps: float,
        *,
        fill: tuple[int, int, int] = KEY_GREEN,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.sink = sink
        self.fps = float(fps)
        self.fill = fill
        self.on_error = on_error
        self.size: tuple[int, int] | None = None
        self.error: str | None = None
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._received = self._sent = self._repeated = 0
        self._send_times: list[float] = []

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, width: int, height: int) -> None:
        """Opens the sink at width×height and starts sending (nothing until the first submit).

        Raises:
            VirtualCameraUnavailableError: the sink cannot be opened.
            RuntimeError: already started.
        """
        if self._thread is not None:
            raise RuntimeError("the virtual camera is already started")
        self.sink.start(width, height, self.fps)
        self.size = (width, height)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="virtual-camera", daemon=True)
        self._thread.start()

    def submit(self, view: np.ndarray) -> None:
        """Hands over the newest view (not copied: the caller must not write to it afterwards)."""
        with self._lock:
            self._latest = view
            self._received += 1

    def stop(self) -> None:
        """Stops the thread and closes the sink; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=HANG_GUARD_S)
        if thread.is_alive():
            # only a device write that hangs gets here: closing the device under it could crash the driver
            log.warning("virtual camera: the sending thread did not stop within %d s; device left open", HANG_GUARD_S)
            return
        self.sink.stop()

    def stats(self) -> PacerStats:
        with self._lock:
            times = self._send_times
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            return PacerStats(self._received, self._sent, self._repeated, fps)

    def __enter__(self) -> "PacedVirtualCamera":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self) -> np.ndarray | None:
        with self._lock:
            view, self._latest = self._latest, None
            return view

    def _run(self) -> None:
        period = 1.0 / self.fps
        width, height = self.size  # type: ignore[misc]
        frame: np.ndarray | None = None
        deadline = time.monotonic()
        while not self._stop.is_set():
            view = self._take()
            fresh = view is not None
            if fresh:
                # converted once per new view, here rather than in submit(): the inference thread stays free
                frame = to_camera_frame(view, width, height, self.fill)
            if frame is not None and not self._send(frame, repeated=not fresh):
                return
            deadline += period
            now = time.monotonic()
            if deadline < now - period:
                deadline = now  # fell behind (slow device, suspended laptop): resync instead of bursting
            self._stop.wait(max(0.0, deadline - now))

    def _send(self, frame: np.ndarray, repeated: bool) -> bool:
        try:
            self.sink.send(frame)
        except Exception as exc:  # a device that vanished must not take the app down
            self.error = f"virtual camera stopped: {exc}"
            log.warning(self.error)
            if self.on_error is not None:
                self.on_error(self.error)
            return False
        now = time.monotonic()
        with self._lock:
            self._sent += 1
            self._repeated += repeated
            self._send_times.append(now)
            while len(self._send_times) > 2 and now - self._send_times[0] > 1.0:
                self._send_times.pop(0)
        return True

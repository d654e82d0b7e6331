"""The live pipeline without a window: capture thread -> one-frame mailbox -> LiveProcessor -> outputs.

The same engine as the GUI's live view (``LiveProcessor`` and
``LatestFrameMailbox``), driven from the calling thread and stopped by a
``threading.Event`` (the CLI sets it on Ctrl-C / SIGTERM), so a stop always
ends between two frames and every device is closed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from app.core.live.capture import CaptureThread
from app.core.live.processor import LatestFrameMailbox, LiveFrame, LiveProcessor
from app.core.live.settings import LiveSettings
from app.core.live.pipelined import PipelinedProcessor
from app.core.media.sources import VIDEO_SUFFIXES, FrameSource, LoopingVideoSource, open_source
from app.core.live.virtual_camera import camera_view, PacedVirtualCamera
from app.core.matting.propagation import describe_cadence
from app.core.timing import HANG_GUARD_S


def open_live_source(text: str, settings: LiveSettings) -> FrameSource | LoopingVideoSource:
    """The source for ``--source``: a camera index/device at the settings' size and fps, or a file.

    A video file loops when ``settings.loop_video`` is on, as in the GUI.

    Raises:
        CameraUnavailableError, UnreadableVideoError, InputError: as ``open_source``.
    """
    stripped = text.strip()
    if settings.loop_video and Path(stripped).suffix.lower() in VIDEO_SUFFIXES and not stripped.startswith("/dev/"):
        return LoopingVideoSource(Path(stripped).expanduser())
    return open_source(stripped, width=settings.camera_width, height=settings.camera_height, fps=settings.camera_fps)


def source_fps(source: object, fallback: float) -> float:
    """The frame rate a source delivers: a file's own rate, else ``fallback`` (a camera's requested rate)."""
    video = getattr(source, "video", source)  # LoopingVideoSource wraps a VideoFileSource
    fps = getattr(video, "fps", None)
    return float(fps) if isinstance(fps, (int, float)) and fps > 0 else float(fallback)


@dataclass(frozen=True)
class LiveStatus:
    """What the one-line status shows."""

    elapsed: float  # seconds since the first frame was asked for
    frames: int  # frames processed
    fps: float  # processed frames per second over the last second or so
    inference_ms: float  # LiveProcessor.process, smoothed
    dropped: int  # frames the mailbox replaced before inference took them
    camera_fps: float | None = None  # virtual camera send rate (None: no virtual camera)
    repeated: int = 0  # virtual camera sends that repeated the last composite
    duty: float = 1.0  # the share of frames the mask is computed on (auto may change it)

    def line(self) -> str:
        inference = f"inference {self.inference_ms:5.1f} ms"
        if self.duty < 1.0:
            inference += f" {describe_cadence(self.duty)}"
        parts = [f"{self.fps:5.1f} fps", inference, f"dropped {self.dropped}", f"frames {self.frames}"]
        if self.camera_fps is not None:
            parts.append(f"virtual cam {self.camera_fps:4.1f} fps (repeated {self.repeated})")
        minutes, seconds = divmod(int(self.elapsed), 60)
        parts.append(f"{minutes:02d}:{seconds:02d}")
        return " · ".join(parts)


class _RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self.times.append(now)
        while len(self.times) > 2 and now - self.times[0] > self.window:
            self.times.popleft()

    def rate(self) -> float:
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


class HeadlessLive:
    """Runs one source through the live pipeline until the source ends, ``duration`` passes or ``stop`` is set.

    ``camera`` (optional) is started at the first processed frame's size – the
    view's size is only known then – and gets every processed view.
    """

    def __init__(
        self,
        source: Iterable,
        settings: LiveSettings,
        *,
        models_dir: str | None = None,
        camera: PacedVirtualCamera | None = None,
        pace: bool | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self.camera = camera
        self.processor = LiveProcessor(models_dir)
        self.mailbox = LatestFrameMailbox()
        # files are paced at their own rate (like the GUI); live devices are never paced
        self.pace = (not getattr(source, "realtime", False)) if pace is None else pace
        self.last_frame: LiveFrame | None = None
        self.duty = 1.0  # cadence of the last frame
        self.warnings: list[str] = []

    def run(
        self,
        stop: threading.Event,
        *,
        duration: float | None = None,
        on_status: Callable[[LiveStatus], None] | None = None,
        status_every: float = 0.5,
        on_frame: Callable[[LiveFrame], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> LiveStatus:
        """Processes frames until done; returns the final status.

        Raises:
            LiveMatteError: the model/background cannot be set up, the source fails,
                or the virtual camera cannot be opened.
        """
        self.processor.set_source(self.source)  # the mirror applies to cameras only
        self.processor.configure(self.settings)  # before the capture starts: a bad model fails fast
        if self.processor.background_exception is not None:  # asked for on the command line: fail, do not guess
            raise self.processor.background_exception
        if self.processor.overlay_error:  # an overlay without its models is off, the rest runs
            self.warnings.append(self.processor.overlay_error)
            if on_warning is not None:
                on_warning(self.processor.overlay_error)
        capture = CaptureThread(self.source, self.mailbox, pace=self.pace)
        # matting of frame N overlaps compositing and output of frame N-1 (one frame of latency)
        pipeline = PipelinedProcessor(self.processor)
        started = time.monotonic()
        meter, smoothed_ms, frames = _RateMeter(), None, 0
        next_status = started + status_every

        def deliver(frame: LiveFrame | None) -> None:
            nonlocal smoothed_ms, frames, next_status
            if frame is None:
                return
            ms = frame.result.timings.get("inference")  # absent on frames that reused the last mask
            if ms is not None:
                smoothed_ms = ms if smoothed_ms is None else 0.9 * smoothed_ms + 0.1 * ms
            self.duty = frame.result.extra.get("duty", 1.0)
            frames += 1
            meter.tick(time.monotonic())
            self._output(frame)
            if on_frame is not None:
                on_frame(frame)
            if on_status is not None and time.monotonic() >= next_status:
                next_status += status_every
                on_status(self._status(started, frames, meter, smoothed_ms or 0.0))

        capture.start()
        try:
            while not stop.is_set():
                now = time.monotonic()
                if duration is not None and now - started >= duration:
                    break
                item = self.mailbox.get(timeout=0.05)
                if item is None:
                    deliver(pipeline.flush())  # no new frame: show the one in flight now
                    if capture.finished.is_set():
                        break  # the source ended (or failed) and everything it sent is processed
                    continue
                deliver(pipeline.submit(*item))
            deliver(pipeline.flush())
        finally:
            pipeline.close()
            capture.stop()
            capture.join(timeout=HANG_GUARD_S)  # only a hung camera read takes that long
            if self.camera is not None:
                self.camera.stop()
        if capture.error is not None:
            raise capture.error
        return self._status(started, frames, meter, smoothed_ms or 0.0)

    def _output(self, frame: LiveFrame) -> None:
        self.last_frame = frame
        camera = self.camera
        if camera is None:
            return
        if camera.size is None:
            height, width = frame.view.shape[:2]
            camera.start(width, height)  # raises VirtualCameraUnavailableError: the run stops with the hint
        camera.submit(camera_view(frame))

    def _status(self, started: float, frames: int, meter: _RateMeter, ms: float) -> LiveStatus:
        camera_fps = repeated = None
        if self.camera is not None:
            stats = self.camera.stats()
            camera_fps, repeated = stats.fps, stats.repeated
        return LiveStatus(
            time.monotonic() - started, frames, meter.rate(), ms, self.mailbox.dropped, camera_fps, repeated or 0,
            self.duty,
        )


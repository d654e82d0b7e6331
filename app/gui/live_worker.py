"""Threads of the live view: capture into a one-frame mailbox, inference on a QThread.

The capture thread never waits for inference (old frames are dropped); the
inference worker always takes the newest frame, runs the core LiveProcessor
with the newest settings snapshot, and hands the finished image to the UI
thread through a queued signal. Painting happens only on the UI thread.
"""

from __future__ import annotations

import threading
from typing import Iterable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.live.capture import CaptureThread
from app.core.errors import LiveMatteError, ModelError
from app.core.live.processor import LatestFrameMailbox, LiveProcessor
from app.core.live.settings import LiveSettings
from app.core.live.pipelined import PipelinedProcessor
from app.core.timing import HANG_GUARD_S


SHUTDOWN_HANG_MS = int(HANG_GUARD_S * 1000)  # only a hung model call (or a hung camera read) takes this long
# Threads that did not end within the hang guard. Kept referenced for the life of the
# process: a QThread destroyed while running makes Qt abort the whole application.
_UNFINISHED: list[object] = []


class InferenceWorker(QObject):
    """Lives on its own QThread; emits processed frames and errors."""

    frame_ready = Signal(object)  # LiveFrame
    error = Signal(str)
    model_failed = Signal(str)
    recording_finished = Signal(str, bool)  # message, ok
    background_refused = Signal(str, object)  # why, the LiveSettings as applied (with the background still shown)

    def __init__(self, mailbox: LatestFrameMailbox, models_dir: str | None = None) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.processor = LiveProcessor(models_dir)
        self.pipeline = PipelinedProcessor(self.processor)
        self._settings: LiveSettings | None = None
        self._applied: LiveSettings | None = None
        self._reset = threading.Event()
        # Set once by stop(), never cleared: a stop that comes before run() has begun (a window
        # closed right after it opened, on a busy machine) must still end the loop.
        self._stop = threading.Event()
        self.last_ms = 0.0
        self.last_duty = 1.0  # the share of frames the mask is computed on, as of the last frame (auto changes it)
        self.disabled_reason: str | None = None
        self._recorder = None
        self._record_request: tuple | None = None  # ("start", path, audio) or ("stop",)
        # first and last timestamp of the frames recorded: the REC time is the recording's own clock
        self.record_span: tuple[float, float] | None = None
        self._source: object = None  # what the frames come from (the mirror is for cameras only)

    def set_settings(self, settings: LiveSettings) -> None:
        """Thread-safe: the worker picks up the snapshot before its next frame."""
        self._settings = settings  # one reference assignment: atomic
        self.disabled_reason = None

    def request_reset(self, source: object = None) -> None:
        """Forget temporal state before the next frame; ``source``: a new source (None: the same one)."""
        if source is not None:
            self._source = source
        self._reset.set()

    @property
    def recording_elapsed(self) -> float | None:
        """Seconds recorded so far, by the frames' own timestamps (None: not recording)."""
        if self._recorder is None:
            return None
        span = self.record_span
        return span[1] - span[0] if span is not None else 0.0

    def stop(self) -> None:
        """Thread-safe: the loop ends after the frame in flight, even if run() has not begun yet."""
        self._stop.set()

    def start_recording(self, path: str, audio_source: str | None) -> None:
        """Thread-safe: the worker opens the clip before its next frame."""
        self._record_request = ("start", path, audio_source)

    def stop_recording(self) -> None:
        self._record_request = ("stop",)

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def _handle_record_request(self) -> None:
        request, self._record_request = self._record_request, None
        if request is None:
            return
        self._finish_recording()
        if request[0] == "start":
            from app.core.video.recorder import ClipRecorder

            self.record_span = None
            try:
                self._recorder = ClipRecorder(request[1], audio_source=request[2])
            except LiveMatteError as exc:
                self.recording_finished.emit(str(exc), False)

    def _finish_recording(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            path = recorder.finish()
        except LiveMatteError as exc:
            self.recording_finished.emit(str(exc), False)
            return
        if path is None:
            self.recording_finished.emit("Recording stopped before any frame arrived; nothing written.", False)
        else:
            self.recording_finished.emit(f"Recorded {recorder.frames} frames to {path}", True)

    def _record(self, frame, timestamp: float) -> None:
        try:
            self._recorder.write(frame.view, timestamp)
            first = self.record_span[0] if self.record_span is not None else timestamp
            self.record_span = (first, max(first, timestamp))
        except LiveMatteError as exc:
            self._recorder.discard()
            self._recorder = None
            self.recording_finished.emit(str(exc), False)

    @Slot()
    def run(self) -> None:
        try:
            self._loop()
        finally:
            self._finish_recording()  # closing mid-recording still leaves a valid clip
            self.pipeline.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._handle_record_request()
            item = self.mailbox.get(timeout=0.05)
            if item is None:
                self._deliver(self._flush())  # the source paused or ended: show the frame in flight now
                continue
            if self._reset.is_set():
                self._reset.clear()
                self.processor.set_source(self._source)
                self.pipeline.reset()
            if not self._apply_settings():
                if self._settings is not None:  # no matting: still show the source
                    self.frame_ready.emit(self.processor.passthrough(item[0], self._settings.mirror))
                continue
            try:
                # matting of this frame overlaps the composite of the previous one (one frame of latency)
                frame = self.pipeline.submit(*item)
            except LiveMatteError as exc:
                self.error.emit(str(exc))
                continue
            self._deliver(frame)

    def _flush(self):
        try:
            return self.pipeline.flush()
        except LiveMatteError as exc:
            self.error.emit(str(exc))
            return None

    def _deliver(self, frame) -> None:
        if frame is None:
            return
        self.last_ms = frame.result.timings.get("inference", self.last_ms)
        self.last_duty = frame.result.extra.get("duty", 1.0)
        if self._recorder is not None:
            self._record(frame, float(frame.result.extra.get("timestamp", 0.0)))
        self.frame_ready.emit(frame)

    def _apply_settings(self) -> bool:
        settings = self._settings
        if settings is None or self.disabled_reason is not None:
            return False
        if settings is not self._applied:
            try:
                self.pipeline.configure(settings)
            except ModelError as exc:
                # disable matting until the user changes something, instead of failing every frame
                self.disabled_reason = str(exc)
                self.model_failed.emit(str(exc))
                return False
            except LiveMatteError as exc:
                self.disabled_reason = str(exc)
                self.error.emit(str(exc))
                return False
            self._applied = settings
            if self.processor.background_error:
                self.background_refused.emit(self.processor.background_error, self.processor.settings)
            if self.processor.overlay_error:
                self.error.emit(self.processor.overlay_error)
        return True


class LiveSession:
    """Owns the mailbox, the capture thread and the inference QThread."""

    def __init__(self, models_dir: str | None = None) -> None:
        self.mailbox = LatestFrameMailbox()
        self.worker = InferenceWorker(self.mailbox, models_dir)
        self.thread = QThread()
        self.thread.setObjectName("inference")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.capture: CaptureThread | None = None
        self._still = None  # (image, timestamp) of a still source: matted once, again on a settings change

    def start(self) -> None:
        self.thread.start()

    def open(self, frames: Iterable, *, realtime: bool, on_error, on_end) -> None:
        """Reads ``frames`` on a capture thread (paced at their timestamps when ``realtime``)."""
        self.close_source()
        self.worker.request_reset(frames)
        self.capture = CaptureThread(frames, self.mailbox, pace=realtime, on_error=on_error, on_end=on_end)
        self.capture.start()

    def open_still(self, source) -> None:
        """A still image: matted once now and again by ``refresh_still`` (no capture thread, no repeats)."""
        self.close_source()
        self.worker.request_reset(source)
        self._still = (source.image, 0.0)
        self.mailbox.put(*self._still)

    def refresh_still(self) -> None:
        """New settings: the still is matted again, from a fresh state (so the result is the still's own)."""
        if self._still is None:
            return
        image, timestamp = self._still
        self._still = (image, timestamp + 1.0)
        self.worker.request_reset()
        self.mailbox.put(*self._still)

    @property
    def still_timestamp(self) -> float | None:
        """The timestamp the still was last handed over with (its result carries it); None: no still."""
        return self._still[1] if self._still is not None else None

    def close_source(self) -> None:
        if self.capture is not None:
            _stop_capture(self.capture)
            self.capture = None
        self._still = None
        self.mailbox.clear()
        self.mailbox.dropped = 0  # counts are per source; the capture thread has stopped

    def shutdown(self) -> None:
        """Stops capture and inference; returns once the inference thread has ended.

        The worker finishes the frame in flight first, which on a busy machine
        can take seconds. Returning earlier would leave a running QThread to be
        destroyed later (Qt aborts the process then), so the wait is bounded
        only by a hang guard.
        """
        self.close_source()
        self.worker.stop()
        self.thread.quit()
        if not self.thread.wait(SHUTDOWN_HANG_MS):
            _UNFINISHED.append((self.thread, self.worker))  # never destroyed while running


def _stop_capture(capture: CaptureThread) -> None:
    """Stops a capture thread and joins it; its callbacks (into the window) are cut first if it hangs."""
    capture.stop()  # wakes its pacing and pause waits
    capture.join(timeout=SHUTDOWN_HANG_MS / 1000)
    if capture.is_alive():  # a hung camera read: it must not call into a window that is going away
        capture.on_error = capture.on_end = None
        _UNFINISHED.append(capture)

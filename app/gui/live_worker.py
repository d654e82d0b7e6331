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


class InferenceWorker(QObject):
    """Lives on its own QThread; emits processed frames and errors."""

    frame_ready = Signal(object)  # LiveFrame
    error = Signal(str)
    model_failed = Signal(str)
    recording_finished = Signal(str, bool)  # message, ok

    def __init__(self, mailbox: LatestFrameMailbox, models_dir: str | None = None) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.processor = LiveProcessor(models_dir)
        self.pipeline = PipelinedProcessor(self.processor)
        self._settings: LiveSettings | None = None
        self._applied: LiveSettings | None = None
        self._reset = threading.Event()
        self._running = threading.Event()
        self.last_ms = 0.0
        self.last_every = 1  # the mask cadence of the last frame (auto may change it)
        self.disabled_reason: str | None = None
        self._recorder = None
        self._record_request: tuple | None = None  # ("start", path, audio) or ("stop",)

    def set_settings(self, settings: LiveSettings) -> None:
        """Thread-safe: the worker picks up the snapshot before its next frame."""
        self._settings = settings  # one reference assignment: atomic
        self.disabled_reason = None

    def request_reset(self) -> None:
        self._reset.set()

    def stop(self) -> None:
        self._running.clear()

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
        except LiveMatteError as exc:
            self._recorder.discard()
            self._recorder = None
            self.recording_finished.emit(str(exc), False)

    @Slot()
    def run(self) -> None:
        self._running.set()
        try:
            self._loop()
        finally:
            self._finish_recording()  # closing mid-recording still leaves a valid clip
            self.pipeline.close()

    def _loop(self) -> None:
        while self._running.is_set():
            self._handle_record_request()
            item = self.mailbox.get(timeout=0.05)
            if item is None:
                self._deliver(self._flush())  # the source paused or ended: show the frame in flight now
                continue
            if not self._apply_settings():
                if self._settings is not None:  # no matting: still show the source
                    self.frame_ready.emit(self.processor.passthrough(item[0], self._settings.mirror))
                continue
            if self._reset.is_set():
                self._reset.clear()
                self.pipeline.reset()
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
        self.last_every = frame.result.extra.get("every_n", 1)
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

    def start(self) -> None:
        self.thread.start()

    def open(self, frames: Iterable, *, realtime: bool, on_error, on_end) -> None:
        self.close_source()
        self.mailbox.clear()
        self.worker.request_reset()
        self.capture = CaptureThread(frames, self.mailbox, pace=realtime, on_error=on_error, on_end=on_end)
        self.capture.start()

    def close_source(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture.join(timeout=2)
            self.capture = None

    def shutdown(self) -> None:
        self.close_source()
        self.worker.stop()
        self.thread.quit()
        self.thread.wait(3000)

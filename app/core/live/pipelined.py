"""A two-stage live processor: inference of frame N overlaps the composite of frame N-1.

ONNX Runtime releases the GIL while it runs, so the matting half of
``LiveProcessor.process`` (mirror, stream, model) can run on a worker thread
while the caller's thread draws the previous frame, reads the next one from
the camera or decoder, and encodes the view. On two cores both are busy.

Added latency is exactly one frame: ``submit(frame N)`` returns the view of
frame N-1 (None for the first frame after a start or reset); ``flush()``
returns the last one. Frames leave in the order they came in, and the
matting half sees them in that order, so recurrent state and temporal
smoothing evolve exactly as in the plain processor.

Qt-free: the GUI worker, the headless live mode and the benchmark drive it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from app.core.live.processor import LiveFrame, LiveProcessor, PendingFrame
from app.core.live.settings import LiveSettings


class PipelinedProcessor:
    """``LiveProcessor`` with the matting half on its own thread, one frame behind.

    Not itself thread-safe: one thread calls ``submit``/``flush``/``reset``
    (the worker that owns the stream); ``close`` may come from any thread.
    """

    def __init__(self, processor: LiveProcessor | None = None, models_dir: str | None = None) -> None:
        self.processor = processor if processor is not None else LiveProcessor(models_dir)
        # one worker: the matting half must see frames strictly in order
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livematte-infer")
        self._pending: Future[PendingFrame] | None = None
        self._closed = threading.Event()

    # the LiveProcessor attributes callers already use
    @property
    def model(self):
        return self.processor.model

    @property
    def stream(self):
        return self.processor.stream

    @property
    def settings(self) -> LiveSettings | None:
        return self.processor.settings

    def configure(self, settings: LiveSettings) -> None:
        """Applies a settings snapshot once the frame in flight is matted (never mid-frame).

        Raises:
            LiveMatteError: as ``LiveProcessor.configure``.
        """
        self._wait_pending()
        self.processor.configure(settings)

    def submit(self, frame: np.ndarray, timestamp: float) -> LiveFrame | None:
        """Starts matting ``frame`` and returns the finished previous frame (None if there was none).

        Raises:
            RuntimeError: the processor is closed, or was never configured.
            LiveMatteError: matting the *previous* frame failed (it is dropped;
                the new frame is still started).
        """
        if self._closed.is_set():
            raise RuntimeError("the pipelined processor is closed")
        previous = self._pending
        if previous is not None:
            previous.exception()  # wait: the stream's state must be final before the next frame starts
        # copy: the caller may reuse its capture buffer while the worker still reads it
        self._pending = self._executor.submit(self.processor.matte, np.array(frame, copy=True), timestamp)
        return self.processor.finish(previous.result()) if previous is not None else None

    def flush(self) -> LiveFrame | None:
        """The frame still in flight, finished (None if there is none).

        Raises:
            LiveMatteError: matting that frame failed.
        """
        previous, self._pending = self._pending, None
        return self.processor.finish(previous.result()) if previous is not None else None

    def reset(self) -> None:
        """A new source or a seek: drops the frame in flight and forgets temporal state."""
        self._wait_pending()
        self._pending = None
        self.processor.reset()

    def close(self) -> None:
        """Stops the worker thread after the frame in flight; safe to call twice."""
        self._closed.set()
        self._executor.shutdown(wait=True)
        self._pending = None

    def __enter__(self) -> "PipelinedProcessor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_pending(self) -> None:
        """Blocks until the frame in flight is matted; its error (if any) stays with it for flush()."""
        if self._pending is not None:
            self._pending.exception()

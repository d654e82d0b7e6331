"""The capture thread of live views: a source read into the one-frame mailbox."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from app.core.errors import LiveMatteError
from app.core.live.processor import LatestFrameMailbox


class CaptureThread(threading.Thread):
    """Reads a source into the mailbox; paces files at their own timestamps (cameras pace themselves).

    Never waits for inference: the mailbox replaces an unread frame. A source
    error is kept in ``error`` (and passed to ``on_error``); ``on_end`` runs
    when the source runs out; ``finished`` is set when the thread ends for any
    reason. The thread that read the device also closes it.
    """

    def __init__(self, frames: Iterable, mailbox: LatestFrameMailbox, *, pace: bool,
                 on_error: Callable[[str], None] | None = None, on_end: Callable[[], None] | None = None) -> None:
        super().__init__(name="capture", daemon=True)
        self.frames = frames
        self.mailbox = mailbox
        self.pace = pace
        self.on_error = on_error
        self.on_end = on_end
        self.stop_event = threading.Event()
        self.paused = threading.Event()
        self.finished = threading.Event()
        self.error: LiveMatteError | None = None
        self.count = 0
        self.started_at = time.monotonic()

    def run(self) -> None:
        start_wall = start_ts = None
        try:
            for image, timestamp in self.frames:
                while self.paused.is_set() and not self.stop_event.is_set():
                    self.stop_event.wait(0.02)
                    start_ts = None  # pacing restarts after a pause
                if self.stop_event.is_set():
                    return
                if self.pace:
                    if start_ts is None:
                        start_ts, start_wall = timestamp, time.monotonic()
                    delay = (timestamp - start_ts) - (time.monotonic() - start_wall)
                    if delay > 0 and self.stop_event.wait(delay):
                        return
                self.mailbox.put(image, timestamp)
                self.count += 1
            if self.on_end is not None:
                self.on_end()
        except LiveMatteError as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - a broken source must not kill the app
            self._fail(LiveMatteError(f"source failed: {exc}"))
        finally:
            close = getattr(self.frames, "close", None)
            if close is not None:
                close()
            self.finished.set()

    def _fail(self, error: LiveMatteError) -> None:
        self.error = error
        if self.on_error is not None:
            self.on_error(str(error))

    def fps(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return self.count / elapsed if elapsed > 0 else 0.0

    def stop(self) -> None:
        self.stop_event.set()

"""Soak: tens of thousands of frames through the real capture -> worker -> UI signal path, offscreen.

A streamer leaves the app running for hours. This drives the real
``CaptureThread``, ``LiveSession`` (inference ``QThread`` + pipelined
processor) and queued ``frame_ready`` signals into a QObject on the main
thread, with a tiny ONNX model and tiny generated frames so that many frames
pass in little time. It would have caught PySide6 6.12.0 on Python 3.11,
whose signals drop a reference to ``True`` on every emit until the
interpreter aborts (``bool_dealloc``).

No sleeping: the source hands out frame i once the worker has taken frame
i - 1 from the mailbox and the UI has seen frame i - AHEAD, so it runs
exactly as fast as the pipeline and never floods it (no frame is dropped);
every wait is on a condition or a signal, and its timeout only bounds a hang.
"""

from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal, Slot

from app.core.live.processor import LatestFrameMailbox
from app.core.live.settings import LiveSettings
from app.gui.live_worker import LiveSession
from tests.tiny_models import person_image

pytestmark = pytest.mark.soak

FRAMES = 10_000
WARM_UP = 1_000  # ONNX Runtime's pools, numpy caches and Qt's queues have settled by then
AHEAD = 4  # frames the source may run ahead of the UI
FPS = 30.0
HANG_S = 60.0  # no single step takes this long unless something hangs
RSS_SLACK_MB = 40.0  # allocator noise; a leaked 64x48 frame per emit would be ~80 MB over the run
REFS_SLACK = 200  # frames in flight hold booleans, other tests' threads wind down; the bug loses one per emit


@dataclass(frozen=True)
class Vitals:
    true_refs: int
    python_threads: frozenset[int]  # idents: threads of earlier tests may still end during the run, none may start
    os_threads: int
    rss_mb: float


def _proc_status(field: str) -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise KeyError(field)


def vitals() -> Vitals:
    return Vitals(sys.getrefcount(True), frozenset(t.ident for t in threading.enumerate()), int(_proc_status("Threads")),
                  int(_proc_status("VmRSS").split()[0]) / 1024.0)


class PacedBySink:
    """An endless source of tiny frames: the next one once the worker took the last, and the UI keeps up."""

    realtime = False

    def __init__(self) -> None:
        base = person_image(64, 48)
        self.images = [np.ascontiguousarray(np.roll(base, shift, axis=1)) for shift in range(0, 12, 3)]
        self.taken = 0
        self.shown = -1
        self.changed = threading.Condition()
        self.stopped = False

    def __iter__(self):
        index = 0
        while True:
            with self.changed:
                ready = lambda: self.stopped or (self.taken >= index and self.shown >= index - AHEAD)  # noqa: E731
                if not self.changed.wait_for(ready, HANG_S):
                    raise AssertionError(f"stuck: worker took {self.taken}, UI saw up to {self.shown}")
                if self.stopped:
                    return
            yield self.images[index % len(self.images)], index / FPS
            index += 1

    def took(self) -> None:
        with self.changed:
            self.taken += 1
            self.changed.notify_all()

    def saw(self, index: int) -> None:
        with self.changed:
            self.shown = max(self.shown, index)
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


class WatchedMailbox(LatestFrameMailbox):
    """The real mailbox, telling the source when the worker took a frame."""

    def __init__(self, source: PacedBySink) -> None:
        super().__init__()
        self.source = source

    def get(self, timeout: float = 0.1):
        item = super().get(timeout)
        if item is not None:
            self.source.took()
        return item


class Screen(QObject):
    """The main thread's end of the path: counts frames, takes vitals after warm-up and at the end."""

    warmed_up = Signal()
    done = Signal()

    def __init__(self, source: PacedBySink) -> None:
        super().__init__()
        self.source = source
        self.count = 0
        self.errors: list[str] = []
        self.after_warm_up: Vitals | None = None
        self.at_end: Vitals | None = None

    @Slot(object)
    def show(self, frame) -> None:
        self.count += 1
        assert frame.view.shape == (48, 64, 3)
        self.source.saw(round(frame.result.extra["timestamp"] * FPS))
        if self.count == WARM_UP:
            self.after_warm_up = vitals()
            self.warmed_up.emit()
        elif self.count == FRAMES:
            self.at_end = vitals()
            self.done.emit()

    @Slot(str)
    def error(self, text: str) -> None:
        self.errors.append(text)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads thread count and RSS from /proc")
def test_tens_of_thousands_of_frames_keep_refcounts_threads_and_memory_flat(qtbot, tiny_models_dir):
    gc.collect()  # earlier tests' garbage is freed now, not in the middle of the measurement
    source = PacedBySink()
    screen = Screen(source)
    session = LiveSession(str(tiny_models_dir))
    session.mailbox = session.worker.mailbox = WatchedMailbox(source)
    session.worker.frame_ready.connect(screen.show)  # queued: the worker lives on its QThread
    session.worker.error.connect(screen.error)
    session.worker.model_failed.connect(screen.error)
    session.worker.set_settings(LiveSettings(model="selfie", background="#00ff00", mirror=False, every_n=1))
    session.start()
    session.open(source, realtime=False, on_error=screen.error, on_end=lambda: None)
    try:
        with qtbot.waitSignal(screen.warmed_up, timeout=int(HANG_S * 1000)):
            pass
        # the whole run, bounded only against a hang (50 s on a 2-core machine at load 11)
        with qtbot.waitSignal(screen.done, timeout=int(FRAMES / WARM_UP * HANG_S * 1000)):
            pass
    finally:
        source.stop()
        session.shutdown()
    assert screen.errors == []
    start, end = screen.after_warm_up, screen.at_end
    assert abs(end.true_refs - start.true_refs) < REFS_SLACK, (start, end)
    assert end.python_threads <= start.python_threads and end.os_threads <= start.os_threads, (start, end)
    assert end.rss_mb - start.rss_mb < RSS_SLACK_MB, (start, end)

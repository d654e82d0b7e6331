"""LIVEMATTE_DEBUG=1: one log line a minute with the numbers a long-session bug report needs.

Resident memory, ``sys.getrefcount(True)`` (a binding that leaks references to
True aborts the interpreter when it reaches zero), the thread count and the
frames shown since the last line. Off unless the variable is set.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Callable

from PySide6.QtCore import QObject, QTimer

from app.core.measure.bench import current_memory_mb

log = logging.getLogger("livematte.debug")

INTERVAL_MS = 60_000


def debug_enabled() -> bool:
    return os.environ.get("LIVEMATTE_DEBUG", "").strip() not in ("", "0")


def os_thread_count() -> int:
    """Threads of the process, Qt's and ONNX Runtime's included (Linux); -1 where unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def health_line(frames: int) -> str:
    """The numbers of one log line, as ``key=value`` pairs (easy to grep and diff)."""
    return (f"rss_mb={current_memory_mb():.1f} refcount_true={sys.getrefcount(True)} "
            f"py_threads={threading.active_count()} os_threads={os_thread_count()} frames={frames}")


class HealthLogger(QObject):
    """Logs ``health_line`` every ``interval_ms`` on the UI thread (a QTimer; no thread of its own)."""

    def __init__(self, frames: Callable[[], int], interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frames = frames
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.log_now)
        self._timer.start(interval_ms)

    def log_now(self) -> str:
        line = health_line(self._frames())
        log.info("%s", line)
        return line


def install(parent: QObject, frames: Callable[[], int]) -> HealthLogger | None:
    """Starts the logger when LIVEMATTE_DEBUG is set (logging to stderr if nothing is configured)."""
    if not debug_enabled():
        return None
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    logger = HealthLogger(frames, parent=parent)
    logger.log_now()  # the starting point of the comparison
    return logger

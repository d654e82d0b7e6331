"""Per-stage wall-clock timing in milliseconds."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

# How long a stop waits for a thread before calling it hung. Never a deadline on a
# busy machine: a thread that is merely slow ends well within it.
HANG_GUARD_S = 60.0


class StageTimer:
    """Accumulates milliseconds per named stage."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - start) * 1000.0)

    def add(self, name: str, ms: float) -> None:
        self.ms[name] = self.ms.get(name, 0.0) + ms

    def merge(self, other: dict[str, float]) -> None:
        for name, ms in other.items():
            self.add(name, ms)

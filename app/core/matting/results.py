"""FrameResult: what a pipeline produces for one frame (DESIGN.md contract)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PartBox:
    label: str
    x: int
    y: int
    width: int
    height: int


@dataclass
class FrameResult:
    """One processed frame.

    alpha: H×W float32 in [0, 1]; foreground: H×W×3 uint8 colours to composite
    (the model's own where it gives them); labels: H×W uint8 face-parsing ids
    or None; parts: boxes of the parts present; timings: ms per stage.
    """

    alpha: np.ndarray
    foreground: np.ndarray | None = None
    labels: np.ndarray | None = None
    parts: list[PartBox] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    provider: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.alpha.shape[1], self.alpha.shape[0]

"""Settings of the live view (GUI and headless live mode), validated and serialisable.

Immutable: a change makes a new object, which is handed to the worker thread
as a snapshot, so no thread ever sees a half-updated settings object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.live.view import ViewMode

RATIOS = (0.125, 0.25, 0.375, 0.5, 0.75, 1.0)
SNAPSHOT_KINDS = ("composite", "rgba", "alpha", "labels", "overlay", "json")


def default_output_dir() -> str:
    return str(Path.home() / "Pictures" / "LiveMatte")


@dataclass(frozen=True)
class LiveSettings:
    # source
    camera_index: int = 0
    camera_width: int = 1280
    camera_height: int = 720
    camera_fps: int = 30
    mirror: bool = True
    loop_video: bool = True
    # model
    model: str = "rvm"
    provider: str = "auto"
    ratio: float | None = None  # None: chosen from the frame size
    threads: int = 0
    # background and view
    background: str = "blur:25"
    view: str = ViewMode.COMPOSITE.value
    # matte
    threshold_enabled: bool = False
    threshold: float = 0.5
    feather: int = 0
    expand: int = 0
    smoothing: float = 0.5
    every_n: int = 0  # 0: auto (every frame while the model keeps up with the camera, else motion-compensated reuse)
    # face overlay
    overlay_enabled: bool = False
    overlay_opacity: float = 0.5
    overlay_classes: tuple[int, ...] = tuple(range(1, 11))
    overlay_boxes: bool = False
    skeleton_enabled: bool = False
    # output
    output_dir: str = field(default_factory=default_output_dir)
    snapshot_kinds: tuple[str, ...] = ("composite", "rgba", "alpha", "json")

    def __post_init__(self) -> None:
        problems = []
        if self.ratio is not None and not 0 < self.ratio <= 1:
            problems.append("ratio must be in (0, 1]")
        if not 0 <= self.threshold <= 1:
            problems.append("threshold must be in [0, 1]")
        if not 0 <= self.smoothing < 1:
            problems.append("smoothing must be in [0, 1)")
        if not 0 <= self.overlay_opacity <= 1:
            problems.append("overlay opacity must be in [0, 1]")
        if self.every_n < 0:
            problems.append("every_n must be 0 (auto) or at least 1")
        if self.view not in {m.value for m in ViewMode}:
            problems.append(f"unknown view {self.view!r}")
        if any(k not in SNAPSHOT_KINDS for k in self.snapshot_kinds):
            problems.append("unknown snapshot kind")
        if problems:
            raise ValueError("; ".join(problems))

    def overlay_models(self) -> tuple[str, ...]:
        """The models the switched-on overlays need (face parsing, body skeleton), by manifest name."""
        from app.core.body.pose import POSE_MODELS
        from app.core.face.parsing import HAIR_MODEL, PARSER_MODELS

        return (PARSER_MODELS + (HAIR_MODEL,)) * self.overlay_enabled + POSE_MODELS * self.skeleton_enabled

    def replace(self, **changes: Any) -> "LiveSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LiveSettings":
        """Builds settings from saved data; unknown keys and invalid values fall back to defaults."""
        default = cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in known:
                continue
            current = getattr(default, key)
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            values[key] = value
        try:
            return cls(**values)
        except (TypeError, ValueError):
            # one bad value must not lose the rest: keep the valid ones
            good = {}
            for key, value in values.items():
                try:
                    cls(**{**good, key: value})
                    good[key] = value
                except (TypeError, ValueError):
                    continue
            return cls(**good)

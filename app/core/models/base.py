"""The adapter protocol and the registry that maps manifest adapters to classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, TypeVar, runtime_checkable

import numpy as np
import onnxruntime as ort

from app.core.models.manifest import ModelSpec


@dataclass
class MattingOutput:
    """What a matting adapter returns for one frame, at the frame's size."""

    alpha: np.ndarray  # H×W float32 in [0, 1]
    foreground: np.ndarray | None  # H×W×3 uint8, or None when the model has no colour output
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage inside the adapter


@runtime_checkable
class MattingModel(Protocol):
    """A matting model: temporal ones keep their state inside and reset on demand."""

    name: str
    provider: str
    temporal: bool

    def reset(self) -> None: ...

    def infer(self, frame: np.ndarray) -> MattingOutput: ...


A = TypeVar("A")
ADAPTERS: dict[str, Callable[[ort.InferenceSession, ModelSpec], object]] = {}


def register_adapter(name: str) -> Callable[[A], A]:
    """Class decorator: makes an adapter available to manifest entries by name."""

    def decorate(cls: A) -> A:
        ADAPTERS[name] = cls  # type: ignore[assignment]
        return cls

    return decorate

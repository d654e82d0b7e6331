"""Robust Video Matting: recurrent alpha + foreground colour."""

from __future__ import annotations

import time

import cv2
import numpy as np
import onnxruntime as ort

from app.core.errors import SettingsError
from app.core.models.base import MattingOutput, register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.session import input_dtype, session_provider

STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")


def auto_downsample_ratio(width: int, height: int, target_long_side: int = 480) -> float:
    """Ratio that brings the long side to about ``target_long_side`` px (never above 1).

    1280x720 -> 0.375 and 1920x1080 -> 0.25, as RVM's authors recommend.
    """
    return round(min(1.0, target_long_side / max(width, height)), 4)


@register_adapter("rvm")
class RobustVideoMatting:
    """RVM behind the matting protocol.

    The four recurrent tensors belong to one stream. They are reset to the
    [1,1,1,1] zeros the model broadcasts on the first frame, and again
    whenever the frame size or ``downsample_ratio`` changes (a state from
    another size makes the model fail with a broadcast error).
    """

    temporal = True

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec, downsample_ratio: float | None = None) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.target_long_side = int(spec.preprocess.get("target_long_side", 480))
        self.dtype = np.float16 if input_dtype(session, "src") == "float16" else np.float32
        self.downsample_ratio = downsample_ratio
        self._state: list[np.ndarray] = []
        self._key: tuple[int, int, float] | None = None
        self.reset()

    @property
    def downsample_ratio(self) -> float | None:
        return self._ratio

    @downsample_ratio.setter
    def downsample_ratio(self, ratio: float | None) -> None:
        if ratio is not None and not 0.0 < ratio <= 1.0:
            raise SettingsError(f"downsample ratio must be in (0, 1], got {ratio}")
        self._ratio = ratio

    def reset(self) -> None:
        zeros = np.zeros((1, 1, 1, 1), dtype=self.dtype)
        self._state = [zeros] * 4
        self._key = None

    def ratio_for(self, width: int, height: int) -> float:
        return self._ratio if self._ratio is not None else auto_downsample_ratio(width, height, self.target_long_side)

    def infer(self, frame: np.ndarray) -> MattingOutput:
        height, width = frame.shape[:2]
        ratio = self.ratio_for(width, height)
        if self._key != (width, height, ratio):
            self.reset()
            self._key = (width, height, ratio)
        t0 = time.perf_counter()
        src = cv2.dnn.blobFromImage(frame, scalefactor=1.0 / 255.0)  # NCHW float32, RGB kept
        if self.dtype is np.float16:
            src = src.astype(np.float16)
        feed = {"src": src, "downsample_ratio": np.array([ratio], dtype=np.float32)}
        feed.update(zip(STATE_INPUTS, self._state))
        t1 = time.perf_counter()
        fgr, pha, *state = self.session.run(["fgr", "pha", *STATE_OUTPUTS], feed)
        t2 = time.perf_counter()
        self._state = state
        alpha = np.ascontiguousarray(pha[0, 0], dtype=np.float32)
        foreground = _chw_to_rgb8(fgr[0])
        t3 = time.perf_counter()
        return MattingOutput(
            alpha,
            foreground,
            {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3},
        )


def _chw_to_rgb8(chw: np.ndarray) -> np.ndarray:
    """3×H×W float in [0, 1] -> H×W×3 uint8, rounded."""
    planes = [cv2.convertScaleAbs(np.asarray(c, dtype=np.float32), alpha=255.0) for c in chw]
    return cv2.merge(planes)

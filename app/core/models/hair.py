"""MediaPipe hair segmentation (512x512, previous mask as a 4th input channel).

The model was made for selfie framing, so callers feed it a face-centred square
crop (see ``parsing.hair_crop``), not a wide frame: on wide frames it marks
trees as hair (MODELS.md #7). Temporal state is the previous mask *in crop
coordinates*; the caller passes it explicitly so a moving crop can resample
the previous frame's mask instead of trusting a stale one.
"""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import onnxruntime as ort

from app.core.models.base import register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.session import session_provider

HAIR_SIZE = 512
COMBINE_WITH_PREVIOUS = 0.9  # MediaPipe's combine_with_previous_ratio


@register_adapter("hair")
class HairSegmenter:
    """Hair probability for a square RGB crop."""

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.input_name = spec.inputs[0].name
        self.output_name = spec.outputs[0].name
        self.timings: dict[str, float] = {}
        self._input = np.zeros((1, HAIR_SIZE, HAIR_SIZE, 4), np.float32)  # reused every call

    def reset(self) -> None:
        """Stateless: the caller owns the previous mask."""

    def infer(self, crop: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """Hair probability 512×512 float32 in [0, 1] for ``crop`` (RGB uint8, any size, stretched).

        ``previous``: the last mask for the same region (512×512 float in [0, 1]) or None.
        """
        t0 = time.perf_counter()
        small = crop if crop.shape[:2] == (HAIR_SIZE, HAIR_SIZE) else cv2.resize(
            crop, (HAIR_SIZE, HAIR_SIZE), interpolation=cv2.INTER_AREA if crop.shape[0] > HAIR_SIZE else cv2.INTER_LINEAR
        )
        self._input[0, ..., :3] = small * np.float32(1.0 / 255.0)
        # MediaPipe feeds the stored uint8 mask back, hence the floor to 1/255 steps
        self._input[0, ..., 3] = 0.0 if previous is None else np.floor(previous * 255.0) / 255.0
        t1 = time.perf_counter()
        (logits,) = self.session.run([self.output_name], {self.input_name: self._input})
        t2 = time.perf_counter()
        diff = np.clip(logits[0, ..., 1] - logits[0, ..., 0], -60.0, 60.0)
        new = (1.0 / (1.0 + np.exp(-diff))).astype(np.float32)
        mask = new if previous is None else combine_with_previous(new, previous)
        self.timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (time.perf_counter() - t2) * 1e3}
        return mask


def combine_with_previous(new: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """MediaPipe's temporal blend: keep the new value where it is confident, the old one elsewhere."""
    eps = 1e-3
    entropy = new * np.log(new + eps) + (1.0 - new) * np.log(1.0 - new + eps)
    u = np.clip(1.0 + entropy / math.log(2.0), 0.0, 1.0)
    u = u * (2.0 - u)
    mixed = new * u + previous * (1.0 - u)
    return (COMBINE_WITH_PREVIOUS * mixed + (1.0 - COMBINE_WITH_PREVIOUS) * new).astype(np.float32)

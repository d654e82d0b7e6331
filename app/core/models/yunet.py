"""YuNet face detector, run on an ONNX Runtime session and decoded here.

Why not ``cv2.FaceDetectorYN``: it needs a path or buffer and runs OpenCV's own
DNN, so it would bypass the session factory (provider choice, contract check,
models loaded from bytes in tests). The raw network is small and its decoding
is documented in MODELS.md; run through ORT it is also faster (13 ms vs 26-42 ms
at 1280x720 on the dev VM). The real-model tests compare the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from app.core.models.base import register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.session import session_provider

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class FaceDetection:
    """One face in frame pixels.

    box: (x, y, width, height). keypoints: 5×2 float32 in YuNet's order: the
    person's right eye, left eye, nose tip, right mouth corner, left mouth corner
    (so for a frontal, unmirrored face the first point is on the image's left).
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0


@dataclass(frozen=True)
class DetectorSettings:
    """score_threshold/nms_threshold as in cv2.FaceDetectorYN; max_side: detect on a
    copy whose long side is at most this (faces smaller than ~10 px there are lost)."""

    score_threshold: float = 0.6
    nms_threshold: float = 0.3
    max_side: int = 640
    max_faces: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0 or not 0.0 < self.nms_threshold <= 1.0:
            raise ValueError("score_threshold must be in (0, 1) and nms_threshold in (0, 1]")
        if self.max_side < 32 or self.max_faces < 1:
            raise ValueError("max_side must be >= 32 and max_faces >= 1")


@register_adapter("yunet")
class YuNetDetector:
    """Finds faces (boxes, 5 keypoints, score) in an RGB frame."""

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec, settings: DetectorSettings = DetectorSettings()) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.settings = settings
        self.input_name = spec.inputs[0].name
        self._outputs = [f"{kind}_{s}" for s in STRIDES for kind in ("cls", "obj", "bbox", "kps")]
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        """Stateless."""

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in ``frame`` (RGB uint8 H×W×3), best score first, in frame pixels."""
        t0 = time.perf_counter()
        blob, scale = self._prepare(frame)
        t1 = time.perf_counter()
        raw = self.session.run(self._outputs, {self.input_name: blob})
        t2 = time.perf_counter()
        faces = self._decode(raw, blob.shape[2], blob.shape[3], scale)
        t3 = time.perf_counter()
        self.timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "decode": (t3 - t2) * 1e3}
        return faces

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """BGR 0..255 NCHW, downscaled to max_side and zero-padded to multiples of 32."""
        height, width = frame.shape[:2]
        scale = min(1.0, self.settings.max_side / max(height, width))
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = frame if scale == 1.0 else cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        pad_w, pad_h = -(-new_w // 32) * 32, -(-new_h // 32) * 32
        blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
        # the network was trained on BGR: channel order reversed while copying
        blob[0, :, :new_h, :new_w] = small[..., ::-1].transpose(2, 0, 1)
        return blob, new_w / width

    def _decode(self, raw: list[np.ndarray], height: int, width: int, scale: float) -> list[FaceDetection]:
        boxes, keypoints, scores = [], [], []
        for i, stride in enumerate(STRIDES):
            cls, obj, bbox, kps = (r[0] for r in raw[4 * i : 4 * i + 4])
            cols = width // stride
            index = np.arange(cls.shape[0])
            col, row = (index % cols).astype(np.float32), (index // cols).astype(np.float32)
            score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
            keep = score >= self.settings.score_threshold
            if not keep.any():
                continue
            col, row, bbox, kps = col[keep], row[keep], bbox[keep], kps[keep]
            cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
            w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
            boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
            kx = (col[:, None] + kps[:, 0::2]) * stride
            ky = (row[:, None] + kps[:, 1::2]) * stride
            keypoints.append(np.stack([kx, ky], axis=2))
            scores.append(score[keep])
        if not boxes:
            return []
        all_boxes, all_kps, all_scores = np.concatenate(boxes), np.concatenate(keypoints), np.concatenate(scores)
        chosen = cv2.dnn.NMSBoxes(
            all_boxes.tolist(), all_scores.tolist(), self.settings.score_threshold, self.settings.nms_threshold,
            top_k=5000,
        )
        order = sorted(np.asarray(chosen).reshape(-1).tolist(), key=lambda k: -all_scores[k])
        inv = 1.0 / scale
        return [
            FaceDetection(
                tuple(float(v) * inv for v in all_boxes[k]),  # type: ignore[arg-type]
                (all_kps[k] * inv).astype(np.float32),
                float(all_scores[k]),
            )
            for k in order[: self.settings.max_faces]
        ]

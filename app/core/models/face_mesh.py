"""MediaPipe Face Mesh: 468 landmarks from a rotated, square face crop.

The crop is the detector box enlarged (1.5x, as MediaPipe does), rotated so the
eyes are level, resampled to 192x192; the points come back through the inverse
of the same affine map, so they land in frame pixels whatever the head roll.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from app.core.models.base import register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.session import session_provider

CROP_SIZE = 192
NUM_LANDMARKS = 468


@dataclass(frozen=True)
class FaceCrop:
    """A square, rotated window on the frame: centre (px), side (px), roll (radians).

    ``angle`` is the direction of the line from the person's right eye to their
    left eye; the crop is rotated by ``-angle`` so that line becomes horizontal.
    """

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    def matrix(self, size: int = CROP_SIZE) -> np.ndarray:
        """2×3 affine map frame px -> crop px (``size``×``size``)."""
        k = size / self.side
        c, s = math.cos(self.angle), math.sin(self.angle)
        linear = k * np.array([[c, s], [-s, c]], np.float64)
        offset = size / 2.0 - linear @ np.array([self.cx, self.cy])
        return np.hstack([linear, offset[:, None]])

    def to_frame(self, points: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
        """Maps N×2 (or N×3, z scaled like x/y) crop points back to frame px."""
        m = self.matrix(size)
        inv = cv2.invertAffineTransform(m)
        out = points.astype(np.float32).copy()
        out[:, :2] = points[:, :2] @ inv[:, :2].T + inv[:, 2]
        if points.shape[1] > 2:
            out[:, 2] = points[:, 2] * (self.side / size)
        return out

    def extract(self, frame: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
        """The crop as size×size RGB uint8 (outside the frame is black)."""
        return cv2.warpAffine(
            frame, self.matrix(size), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )


def crop_from_eyes(center: tuple[float, float], box_side: float, right_eye, left_eye, scale: float = 1.5) -> FaceCrop:
    """MediaPipe's detection-to-ROI rule: the box enlarged ``scale`` times, rolled to level the eyes."""
    dx, dy = float(left_eye[0] - right_eye[0]), float(left_eye[1] - right_eye[1])
    return FaceCrop(center[0], center[1], box_side * scale, math.atan2(dy, dx))


def crop_from_landmarks(points: np.ndarray, scale: float = 1.5) -> FaceCrop:
    """The crop for the next frame from this frame's mesh (tracking without a detector).

    Roll from the outer eye corners (33 = person's right, 263 = left), centre and
    side from the points' extent in the rolled frame.
    """
    right, left = points[33, :2], points[263, :2]
    angle = math.atan2(float(left[1] - right[1]), float(left[0] - right[0]))
    c, s = math.cos(angle), math.sin(angle)
    rolled = points[:, :2] @ np.array([[c, -s], [s, c]])
    lo, hi = rolled.min(axis=0), rolled.max(axis=0)
    mid = (lo + hi) / 2.0
    cx, cy = np.array([[c, -s], [s, c]]) @ mid  # back from the rolled frame
    return FaceCrop(float(cx), float(cy), float(max(hi - lo)) * scale, angle)


@dataclass(frozen=True)
class FaceMesh:
    """468 landmarks (x, y, z) in frame px and the face-presence probability."""

    points: np.ndarray  # 468×3 float32
    presence: float
    crop: FaceCrop


@register_adapter("face_mesh")
class FaceMeshModel:
    """Runs the landmark network on a FaceCrop of a frame."""

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.input_name = spec.inputs[0].name
        self.points_name, self.presence_name = spec.outputs[0].name, spec.outputs[1].name
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        """Stateless."""

    def infer(self, frame: np.ndarray, crop: FaceCrop) -> FaceMesh:
        """Landmarks of the face inside ``crop`` of ``frame`` (RGB uint8)."""
        t0 = time.perf_counter()
        x = (crop.extract(frame).astype(np.float32) * (1.0 / 255.0))[None]
        t1 = time.perf_counter()
        raw, logit = self.session.run([self.points_name, self.presence_name], {self.input_name: x})
        t2 = time.perf_counter()
        crop_points = raw.reshape(-1, 3)[:NUM_LANDMARKS]
        presence = float(1.0 / (1.0 + math.exp(-float(np.clip(logit.reshape(-1)[0], -60, 60)))))
        mesh = FaceMesh(crop.to_frame(crop_points), presence, crop)
        self.timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3}
        return mesh

"""MediaPipe BlazePose, two stages: a person detector and the lite landmark model.

Decoding follows MediaPipe's graphs (MODELS.md section 8): SSD anchors and a
weighted NMS for the detector; a rotated square ROI from the detector's
alignment keypoints; 39 landmarks in the crop, refined on the heatmap and
projected back through the same rotation. The detector's own box sits on the
face and is *not* a person box; the person box comes from the landmarks
(``app.core.body.pose``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from app.core.models.base import register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.session import session_provider

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
HEATMAP_SIZE = 64
NUM_ANCHORS = 2254
NUM_LANDMARKS = 33  # the rest of the 39 rows are auxiliary (hip centre, body circle, unused)
ROI_SCALE = 1.25  # RectTransformationCalculator scale in pose_detection_to_roi.pbtxt
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # float64: exp(100) overflows float32; the clip is MediaPipe's score_clipping_thresh
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


@lru_cache(maxsize=1)
def ssd_anchors() -> np.ndarray:
    """2254×2 anchor centres (x, y) normalised to the 224 input, in the network's order.

    Strides 8, 16, 32, 32, 32 with 2 anchors per layer per cell; consecutive layers
    with the same stride share one grid (so stride 32 has 6 anchors a cell). All
    anchors are 1×1 (``fixed_anchor_size``), so only the centres matter.
    """
    strides = (8, 16, 32, 32, 32)
    centres = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        per_cell = 2 * same
        grid = math.ceil(DETECTOR_SIZE / stride)
        ys, xs = np.mgrid[0:grid, 0:grid]
        cell = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cell, per_cell, axis=0))
        layer += same
    anchors = np.concatenate(centres).astype(np.float32)
    assert anchors.shape[0] == NUM_ANCHORS  # a wrong recipe would silently shift every box
    return anchors


@dataclass(frozen=True)
class PoseDetection:
    """One detector hit, in frame pixels.

    box: (x, y, width, height) of the detector's box (face/chin area, not the person).
    keypoints: 4×2 float32 alignment points: 0 mid-hip, 1 body-circle point (above
    the head when upright), 2 mid-shoulder, 3 upper-body circle point.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


@dataclass(frozen=True)
class Letterbox:
    """Where the frame sits inside the square detector input (all in input pixels)."""

    offset_x: int
    offset_y: int
    content_w: int
    content_h: int
    frame_w: int
    frame_h: int

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """N×2 points normalised to the detector input -> frame pixels."""
        out = np.empty_like(points, dtype=np.float32)
        out[:, 0] = (points[:, 0] * DETECTOR_SIZE - self.offset_x) * (self.frame_w / self.content_w)
        out[:, 1] = (points[:, 1] * DETECTOR_SIZE - self.offset_y) * (self.frame_h / self.content_h)
        return out


def letterbox(frame: np.ndarray, size: int = DETECTOR_SIZE) -> tuple[np.ndarray, Letterbox]:
    """The frame scaled so its long side is ``size``, centred on black, as uint8 size×size×3."""
    height, width = frame.shape[:2]
    scale = size / max(width, height)
    content_w, content_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA: a 1080p frame shrinks ~8x; linear sampling would alias fine textures
    small = cv2.resize(frame, (content_w, content_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((size, size, 3), np.uint8)
    ox, oy = (size - content_w) // 2, (size - content_h) // 2
    canvas[oy : oy + content_h, ox : ox + content_w] = small
    return canvas, Letterbox(ox, oy, content_w, content_h, width, height)


def decode_raw_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N×4 cx, cy, w, h), keypoints (N×4×2) normalised to the input, and scores.

    ``raw_boxes`` is 2254×12 in input pixels relative to the anchor, ``raw_scores``
    2254 logits. Only anchors with sigmoid(score) > ``min_score`` are kept.
    """
    scores = _sigmoid(raw_scores.reshape(-1).astype(np.float32))
    keep = scores > min_score
    raw, anchor = raw_boxes.reshape(-1, 12)[keep] / DETECTOR_SIZE, anchors[keep]
    boxes = np.stack([raw[:, 0] + anchor[:, 0], raw[:, 1] + anchor[:, 1], raw[:, 2], raw[:, 3]], axis=1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anchor[:, None, :]
    return boxes.astype(np.float32), keypoints.astype(np.float32), scores[keep]


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (cx, cy, w, h) box with N others."""
    lo = np.maximum(box[:2] - box[2:] / 2, others[:, :2] - others[:, 2:] / 2)
    hi = np.minimum(box[:2] + box[2:] / 2, others[:, :2] + others[:, 2:] / 2)
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=1)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Takes the best remaining detection and averages the box and keypoints of every
    detection overlapping it by more than ``iou_threshold`` (itself included),
    weighted by score; the merged detection keeps the best score. Weighted rather
    than plain NMS because the anchors' jitter averages out into steadier points.
    """
    order = np.argsort(-scores, kind="stable")
    results = []
    while order.size:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order]) > iou_threshold
        overlap[0] = True
        group, order = order[overlap], order[~overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(axis=0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(axis=0) / weights.sum()
        results.append((box.astype(np.float32), points.astype(np.float32), float(scores[best])))
    return results


@register_adapter("pose_detector")
class PoseDetector:
    """Finds people (alignment keypoints for the landmark model) in an RGB frame."""

    def __init__(
        self, session: ort.InferenceSession, spec: ModelSpec, min_score: float = 0.5, iou_threshold: float = 0.3
    ) -> None:
        if not 0.0 < min_score < 1.0 or not 0.0 < iou_threshold <= 1.0:
            raise ValueError("min_score must be in (0, 1) and iou_threshold in (0, 1]")
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.input_name = spec.inputs[0].name
        self.output_names = [spec.outputs[0].name, spec.outputs[1].name]  # boxes, score logits
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        """Stateless."""

    def detect(self, frame: np.ndarray) -> list[PoseDetection]:
        """People in ``frame`` (RGB uint8 H×W×3), best score first, in frame pixels."""
        t0 = time.perf_counter()
        canvas, box = letterbox(frame)
        # [-1, 1]; the black letterbox becomes -1, as in MediaPipe
        blob = (canvas.astype(np.float32) * np.float32(1.0 / 127.5) - np.float32(1.0))[None]
        t1 = time.perf_counter()
        raw_boxes, raw_scores = self.session.run(self.output_names, {self.input_name: blob})
        t2 = time.perf_counter()
        detections = self.decode(raw_boxes, raw_scores, box)
        self.timings = {
            "preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "decode": (time.perf_counter() - t2) * 1e3
        }
        return detections

    def decode(self, raw_boxes: np.ndarray, raw_scores: np.ndarray, box: Letterbox) -> list[PoseDetection]:
        """Raw network outputs -> merged detections in frame pixels."""
        boxes, keypoints, scores = decode_raw_detections(raw_boxes, raw_scores, ssd_anchors(), self.min_score)
        detections = []
        for merged_box, points, score in weighted_nms(boxes, keypoints, scores, self.iou_threshold):
            cx, cy, w, h = merged_box
            corners = box.to_frame(np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy + h / 2]], np.float32))
            (x0, y0), (x1, y1) = corners
            detections.append(
                PoseDetection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), box.to_frame(points), score)
            )
        return detections


@dataclass(frozen=True)
class PoseRoi:
    """A rotated square window on the frame: centre and side in pixels, rotation in radians.

    Crop point (u, v) in [0, size) maps to frame point
    centre + R(rotation)·(((u + 0.5)/size − 0.5)·side, ((v + 0.5)/size − 0.5)·side),
    R = [[cos, −sin], [sin, cos]] with y down.
    """

    cx: float
    cy: float
    side: float
    rotation: float = 0.0

    @classmethod
    def from_alignment(cls, hip: np.ndarray, circle: np.ndarray, scale: float = ROI_SCALE) -> PoseRoi:
        """MediaPipe's AlignmentPointsRects + RectTransformation: centre on the hips,
        side = 2·radius·scale, rotated so the circle point is straight up in the crop."""
        dx, dy = float(circle[0] - hip[0]), float(circle[1] - hip[1])
        side = 2.0 * math.hypot(dx, dy) * scale
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi  # [-π, π)
        return cls(float(hip[0]), float(hip[1]), side, rotation)

    def crop_to_frame_matrix(self, size: int = LANDMARK_SIZE) -> np.ndarray:
        """2×3 affine map crop *pixel indices* -> frame pixel indices (for WARP_INVERSE_MAP).

        Index coordinates put a pixel's centre on the integer, hence the ±0.5 terms.
        """
        k = self.side / size
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        linear = k * np.array([[c, -s], [s, c]], np.float64)
        offset = np.array([self.cx - 0.5, self.cy - 0.5]) + linear @ np.array([0.5 - size / 2, 0.5 - size / 2])
        return np.hstack([linear, offset[:, None]])

    def extract(self, frame: np.ndarray, size: int = LANDMARK_SIZE) -> np.ndarray:
        """The window as size×size RGB uint8; outside the frame replicates the border (MediaPipe's default)."""
        return cv2.warpAffine(
            frame, self.crop_to_frame_matrix(size), (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
        )

    def to_frame(self, normalised: np.ndarray) -> np.ndarray:
        """N×2 crop points normalised to [0, 1] (continuous: 0 = left edge) -> frame pixels."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        local = (normalised.astype(np.float64) - 0.5) * self.side
        x = self.cx + c * local[:, 0] - s * local[:, 1]
        y = self.cy + s * local[:, 0] + c * local[:, 1]
        return np.stack([x, y], axis=1).astype(np.float32)


def refine_from_heatmap(
    normalised: np.ndarray, heatmap: np.ndarray, kernel: int = REFINE_KERNEL, min_confidence: float = REFINE_MIN_CONFIDENCE
) -> np.ndarray:
    """RefineLandmarksFromHeatmapCalculator: each point moves to the confidence-weighted
    mean of the heatmap cells around it, where the heatmap is confident.

    normalised: N×2 crop points in [0, 1]; heatmap: H×W×N logits. Returns a refined copy.
    """
    out = normalised.copy()
    height, width = heatmap.shape[:2]
    half = kernel // 2
    for i in range(min(len(normalised), heatmap.shape[2])):
        col, row = int(normalised[i, 0] * width), int(normalised[i, 1] * height)
        if not (0 <= col < width and 0 <= row < height):
            continue
        r0, r1, c0, c1 = max(0, row - half), min(height, row + half + 1), max(0, col - half), min(width, col + half + 1)
        confidence = _sigmoid(heatmap[r0:r1, c0:c1, i].astype(np.float64))
        if confidence.max() < min_confidence:
            continue
        total = confidence.sum()
        rows, cols = np.mgrid[r0:r1, c0:c1]
        # MediaPipe weights cell *indices* (not centres); kept as is to match it
        out[i, 0] = (cols * confidence).sum() / width / total
        out[i, 1] = (rows * confidence).sum() / height / total
    return out


@dataclass(frozen=True)
class PoseLandmarks:
    """39 BlazePose landmarks in frame pixels (0-32 the body, 33 hip centre, 34 body circle).

    points: 39×3 float32 (x, y, z; z in pixels, smaller = closer); visibility and
    presence: 39 probabilities; pose_presence: the whole-pose probability.
    """

    points: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    pose_presence: float
    roi: PoseRoi


@register_adapter("pose_landmarks")
class PoseLandmarkModel:
    """Runs the landmark network on a PoseRoi of a frame."""

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec, refine: bool = True) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.input_name = spec.inputs[0].name
        # contract order: landmarks, pose presence, segmentation, heatmap, world
        names = [o.name for o in spec.outputs]
        self.landmarks_name, self.presence_name, self.heatmap_name = names[0], names[1], names[3]
        self.refine = refine
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        """Stateless (tracking across frames would feed landmarks 33/34 back as the next ROI)."""

    def infer(self, frame: np.ndarray, roi: PoseRoi) -> PoseLandmarks:
        """Landmarks of the person inside ``roi`` of ``frame`` (RGB uint8)."""
        t0 = time.perf_counter()
        blob = (roi.extract(frame).astype(np.float32) * np.float32(1.0 / 255.0))[None]
        t1 = time.perf_counter()
        wanted = [self.landmarks_name, self.presence_name] + ([self.heatmap_name] if self.refine else [])
        raw = self.session.run(wanted, {self.input_name: blob})
        t2 = time.perf_counter()
        result = decode_landmarks(raw[0], raw[1], raw[2] if self.refine else None, roi)
        self.timings = {
            "preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "decode": (time.perf_counter() - t2) * 1e3
        }
        return result


def decode_landmarks(raw: np.ndarray, presence: np.ndarray, heatmap: np.ndarray | None, roi: PoseRoi) -> PoseLandmarks:
    """Raw landmark outputs (1×195, 1×1, 1×64×64×39 or None) -> frame-pixel landmarks."""
    rows = raw.reshape(-1, 5).astype(np.float32)
    normalised = rows[:, :2] / LANDMARK_SIZE
    if heatmap is not None:
        normalised = refine_from_heatmap(normalised, heatmap.reshape(HEATMAP_SIZE, HEATMAP_SIZE, -1))
    points = np.empty((rows.shape[0], 3), np.float32)
    points[:, :2] = roi.to_frame(normalised)
    points[:, 2] = rows[:, 2] / LANDMARK_SIZE * roi.side
    return PoseLandmarks(
        points=points,
        visibility=_sigmoid(rows[:, 3]).astype(np.float32),
        presence=_sigmoid(rows[:, 4]).astype(np.float32),
        pose_presence=float(np.asarray(presence).reshape(-1)[0]),  # already a probability
        roi=roi,
    )

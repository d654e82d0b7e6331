"""Face parsing: detect faces, fit the mesh, segment hair, rasterise 11 classes.

No face-parsing network exists among the available weights, so the label map
is drawn: MediaPipe's 468-point mesh gives skin / brows / eyes / nose / lips /
inner mouth as polygons (anti-aliased, sub-pixel), the hair model gives hair
on a face-centred crop. Classes are composited top-down (inner mouth and lips
over eyes and brows over nose over hair over skin) into soft per-class weights
that sum to one per pixel; the label map is their argmax, so edges sit on the
50 % coverage line and soft masks of any set of parts come for free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable

import cv2
import numpy as np

from app.core.face.regions import HAIR, NUM_LABELS, region_polygons
from app.core.models.face_mesh import FaceCrop, FaceMesh, FaceMeshModel, crop_from_eyes, crop_from_landmarks
from app.core.models.hair import HAIR_SIZE, HairSegmenter
from app.core.models.yunet import FaceDetection, YuNetDetector

# Top of the stack first: a pixel's weight goes to the first class that covers it.
DRAW_ORDER = (8, 7, 9, 4, 5, 2, 3, 6, HAIR, 1)
SUBPIXEL_BITS = 4  # fillPoly fixed-point: polygons are placed to 1/16 px
SUPERSAMPLE = 4  # coverage in 1/16 steps per pixel


@dataclass(frozen=True)
class ParserSettings:
    """mesh_scale: crop side / detector box side for the mesh (MediaPipe: 1.5).
    hair_scale: hair crop side / box side (MODELS.md: ~2.5; larger finds long hair,
    and more background mistaken for hair). min_presence: drop meshes the model
    itself doubts (back of heads, false detections). refine: a second mesh pass
    on the crop implied by the first (+3-4 ms a face, steadier on profiles)."""

    mesh_scale: float = 1.5
    hair_scale: float = 2.6
    hair: bool = True
    min_presence: float = 0.5
    refine: bool = True

    def __post_init__(self) -> None:
        if not 1.0 <= self.mesh_scale <= 3.0 or not 1.0 <= self.hair_scale <= 5.0:
            raise ValueError("mesh_scale must be in [1, 3] and hair_scale in [1, 5]")
        if not 0.0 <= self.min_presence <= 1.0:
            raise ValueError("min_presence must be in [0, 1]")


@dataclass(frozen=True)
class ParsedFace:
    """One face: detector box (x, y, w, h in px), score, mesh (468×3 px) and presence."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    presence: float

    def to_json(self) -> dict[str, object]:
        x, y, w, h = self.box
        return {
            "box": {"x": round(x), "y": round(y), "width": round(w), "height": round(h)},
            "score": round(self.score, 4),
            "presence": round(self.presence, 4),
        }


@dataclass
class FaceParse:
    """The parse of one frame.

    labels: H×W uint8 class ids. weights: NUM_LABELS×h×w uint8 soft class
    weights (sum ≈ 255) inside ``roi`` = (x0, y0, x1, y1); outside it
    everything is background. faces: the faces found. timings: ms per stage.
    """

    labels: np.ndarray
    weights: np.ndarray
    roi: tuple[int, int, int, int]
    faces: list[ParsedFace] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def soft_mask(self, classes: set[int] | frozenset[int]) -> np.ndarray:
        """H×W float32 in [0, 1]: anti-aliased coverage of the union of ``classes``."""
        height, width = self.labels.shape
        mask = np.zeros((height, width), np.float32)
        chosen = sorted(c for c in classes if 0 < c < NUM_LABELS)
        x0, y0, x1, y1 = self.roi
        if chosen and x1 > x0 and y1 > y0:
            total = self.weights[chosen].sum(axis=0, dtype=np.uint16)
            mask[y0:y1, x0:x1] = np.minimum(total, 255).astype(np.float32) * np.float32(1.0 / 255.0)
        if 0 in classes:
            outside = np.ones_like(mask)
            outside[y0:y1, x0:x1] = self.weights[0].astype(np.float32) * np.float32(1.0 / 255.0)
            mask = np.maximum(mask, outside) if chosen else outside
        return mask

    def overlay(self, frame: np.ndarray, opacity: float = 0.5, classes: Iterable[int] | None = None) -> np.ndarray:
        """The photo with palette colours blended in, anti-aliased at every class edge.

        ``classes`` limits the tint to those class ids (default: all face classes).

        Raises:
            ValueError: opacity outside [0, 1] or a frame of another size.
        """
        from app.core.face.palette import PALETTE

        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"overlay opacity must be in [0, 1], got {opacity}")
        if frame.shape[:2] != self.labels.shape:
            raise ValueError(f"frame {frame.shape[:2]} does not match the parse {self.labels.shape}")
        out = frame.copy()
        x0, y0, x1, y1 = self.roi
        if x1 <= x0 or y1 <= y0:
            return out
        w = self.weights[1:].astype(np.float32) * np.float32(opacity / 255.0)  # (K-1)×h×w
        if classes is not None:
            chosen = np.zeros(len(w), np.float32)
            chosen[[c - 1 for c in classes if 0 < c < NUM_LABELS]] = 1.0
            w *= chosen[:, None, None]
        tint = np.tensordot(w, PALETTE[1:].astype(np.float32), axes=([0], [0]))  # h×w×3, premultiplied
        keep = 1.0 - w.sum(axis=0)
        patch = frame[y0:y1, x0:x1].astype(np.float32) * keep[..., None] + tint
        out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
        return out


def hair_crop(detection: FaceDetection, scale: float) -> FaceCrop:
    """Axis-aligned square around the face for the hair model (it expects selfie framing)."""
    x, y, w, h = detection.box
    cx, cy = detection.center
    return FaceCrop(cx, cy, max(w, h) * scale, 0.0)


class FaceParser:
    """Detector + mesh + optional hair model -> FaceParse for RGB frames.

    Thread use: one parser per thread (the hair stream state lives here).
    """

    def __init__(
        self,
        detector: YuNetDetector,
        mesh: FaceMeshModel,
        hair: HairSegmenter | None = None,
        settings: ParserSettings = ParserSettings(),
    ) -> None:
        self.detector = detector
        self.mesh = mesh
        self.hair_model = hair if settings.hair else None
        self.settings = settings
        self._previous_hair: np.ndarray | None = None  # frame-sized uint8, for streams

    def reset(self) -> None:
        """Forgets the previous hair mask (new source, seek, scene cut)."""
        self._previous_hair = None

    def parse(self, frame: np.ndarray, *, temporal: bool = False) -> FaceParse:
        """Parses every face in ``frame`` (RGB uint8 H×W×3).

        ``temporal``: feed the previous frame's hair mask back (streams of one
        source); stills leave it off so photos do not influence each other.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        timings["detect"] = (time.perf_counter() - t0) * 1e3
        return self.parse_detections(frame, detections, temporal=temporal, timings=timings)

    def parse_detections(
        self,
        frame: np.ndarray,
        detections: list[FaceDetection],
        *,
        crops: list[FaceCrop] | None = None,
        temporal: bool = False,
        timings: dict[str, float] | None = None,
    ) -> FaceParse:
        """The rest of ``parse`` for known faces; ``crops`` overrides the mesh crops (tracking)."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        crops = crops or [self.mesh_crop(d) for d in detections]
        meshes = [self.fit_mesh(frame, crop) for crop in crops]
        kept = [(d, m) for d, m in zip(detections, meshes) if m.presence >= self.settings.min_presence]
        timings["landmarks"] = (time.perf_counter() - t0) * 1e3
        return self.build(frame, [d for d, _ in kept], [m.points for _, m in kept], [m.presence for _, m in kept],
                          temporal=temporal, timings=timings)

    def mesh_crop(self, detection: FaceDetection) -> FaceCrop:
        """The first crop for a detected face.

        Side from sqrt(w·h), not max(w, h): YuNet's box grows tall on profiles
        (hair, ear) and a crop that large left the mesh unsure (presence 0.07
        on bgmatting_1000_img vs 0.74 with the geometric mean).
        """
        _, _, w, h = detection.box
        return crop_from_eyes(detection.center, float(np.sqrt(w * h)), detection.keypoints[0],
                              detection.keypoints[1], self.settings.mesh_scale)

    def fit_mesh(self, frame: np.ndarray, crop: FaceCrop) -> FaceMesh:
        """Mesh on ``crop``, then once more on the crop the mesh itself implies (MediaPipe's
        tracking ROI: rolled by the eye corners, tight on the face); the surer of the two wins."""
        mesh = self.mesh.infer(frame, crop)
        if not self.settings.refine:
            return mesh
        refined = self.mesh.infer(frame, crop_from_landmarks(mesh.points[:, :2], self.settings.mesh_scale))
        return refined if refined.presence >= mesh.presence - 0.05 else mesh

    def build(
        self,
        frame: np.ndarray,
        detections: list[FaceDetection],
        landmarks: list[np.ndarray],
        presences: list[float],
        *,
        temporal: bool = False,
        timings: dict[str, float] | None = None,
        reuse_hair: bool = False,
    ) -> FaceParse:
        """Hair + rasterisation for faces whose landmarks are known (also smoothed ones).

        ``reuse_hair`` (streams only) takes the previous frame's hair mask instead of
        running the hair model, which is most of the parse time.
        """
        timings = {} if timings is None else timings
        height, width = frame.shape[:2]
        t0 = time.perf_counter()
        hair_crops = [hair_crop(d, self.settings.hair_scale) for d in detections]
        previous = self._previous_hair
        if reuse_hair and temporal and previous is not None and previous.shape == (height, width):
            hair = previous.astype(np.float32) * np.float32(1.0 / 255.0)
        else:
            hair = self.segment_hair(frame, hair_crops, temporal) if self.hair_model and detections else None
        if self.hair_model is not None:
            timings["hair"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        roi = union_roi([crop_bounds(c) for c in hair_crops] if hair is not None else [], landmarks, width, height)
        polygons = [region_polygons(points) for points in landmarks]
        hair_roi = None if hair is None else hair[roi[1]:roi[3], roi[0]:roi[2]]
        weights = rasterise(polygons, hair_roi, roi)
        labels = np.zeros((height, width), np.uint8)
        labels[roi[1]:roi[3], roi[0]:roi[2]] = np.argmax(weights, axis=0).astype(np.uint8)
        timings["rasterise"] = (time.perf_counter() - t1) * 1e3
        faces = [
            ParsedFace(d.box, d.score, np.asarray(p, np.float32), float(pr))
            for d, p, pr in zip(detections, landmarks, presences)
        ]
        return FaceParse(labels, weights, roi, faces, timings)

    def segment_hair(self, frame: np.ndarray, crops: list[FaceCrop], temporal: bool) -> np.ndarray:
        """Frame-sized hair probability (float32), max over the faces' crops."""
        assert self.hair_model is not None  # noqa: S101  (checked by the caller)
        height, width = frame.shape[:2]
        previous = self._previous_hair if temporal else None
        if previous is not None and previous.shape != (height, width):
            previous = None  # another source or size: the old mask means nothing here
        hair = np.zeros((height, width), np.float32)
        for crop in crops:
            m = crop.matrix(HAIR_SIZE)
            prior = None
            if previous is not None:
                prior = cv2.warpAffine(previous, m, (HAIR_SIZE, HAIR_SIZE), flags=cv2.INTER_LINEAR)
                prior = prior.astype(np.float32) * np.float32(1.0 / 255.0)
            prob = self.hair_model.infer(crop.extract(frame, HAIR_SIZE), prior)
            # warp back only onto the crop's own box: the full frame would cost 4x more at 1080p
            x0, y0, x1, y1 = (int(v) for v in union_roi([crop_bounds(crop)], [], width, height))
            if x1 <= x0 or y1 <= y0:
                continue
            shifted = m.copy()
            shifted[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
            back = cv2.warpAffine(prob, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            np.maximum(hair[y0:y1, x0:x1], back, out=hair[y0:y1, x0:x1])
        if temporal:
            self._previous_hair = np.floor(hair * 255.0).astype(np.uint8)
        return hair


def crop_bounds(crop: FaceCrop) -> tuple[float, float, float, float]:
    half = crop.side / 2.0
    return crop.cx - half, crop.cy - half, crop.cx + half, crop.cy + half


def union_roi(
    boxes: list[tuple[float, float, float, float]], landmarks: list[np.ndarray], width: int, height: int
) -> tuple[int, int, int, int]:
    """The smallest integer box (clipped to the frame) holding every box and mesh, plus 2 px for AA."""
    xs0, ys0, xs1, ys1 = [], [], [], []
    for x0, y0, x1, y1 in boxes:
        xs0.append(x0), ys0.append(y0), xs1.append(x1), ys1.append(y1)
    for points in landmarks:
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        xs0.append(lo[0]), ys0.append(lo[1]), xs1.append(hi[0]), ys1.append(hi[1])
    if not xs0:
        return 0, 0, 0, 0
    x0 = int(np.clip(np.floor(min(xs0)) - 2, 0, width))
    y0 = int(np.clip(np.floor(min(ys0)) - 2, 0, height))
    x1 = int(np.clip(np.ceil(max(xs1)) + 2, x0, width))
    y1 = int(np.clip(np.ceil(max(ys1)) + 2, y0, height))
    return x0, y0, x1, y1


def polygon_coverage(polygons: list[np.ndarray], origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Anti-aliased coverage (uint8 0..255) of filled polygons (float px) on an h×w canvas at ``origin``.

    Drawn SUPERSAMPLE times larger inside the polygons' own box and area-averaged
    down: exact coverage, unlike fillPoly's LINE_AA, which adds a ~1 px fringe
    outside the polygon (a 20×10 square came out 242 px² instead of 200).
    """
    height, width = size
    canvas = np.zeros((height, width), np.uint8)
    local = [np.asarray(p, np.float32) - np.asarray(origin, np.float32) for p in polygons if len(p) >= 3]
    if not local:
        return canvas
    stacked = np.concatenate(local)
    bx0, by0 = (max(0, int(np.floor(v)) - 1) for v in stacked.min(axis=0))
    bx1, by1 = min(width, int(np.ceil(stacked[:, 0].max())) + 2), min(height, int(np.ceil(stacked[:, 1].max())) + 2)
    if bx1 <= bx0 or by1 <= by0:
        return canvas
    k = SUPERSAMPLE
    big = np.zeros(((by1 - by0) * k, (bx1 - bx0) * k), np.uint8)
    scale = k * (1 << SUBPIXEL_BITS)
    # pixel i spans [i - 0.5, i + 0.5]; sub-pixel centres sit at (j + 0.5) / k - 0.5
    fixed = [np.rint(((p - (bx0, by0)) + 0.5) * scale - 0.5 * (1 << SUBPIXEL_BITS)).astype(np.int32) for p in local]
    cv2.fillPoly(big, fixed, 255, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    canvas[by0:by1, bx0:bx1] = cv2.resize(big, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_AREA)
    return canvas


def rasterise(
    faces: list[dict[int, list[np.ndarray]]], hair: np.ndarray | None, roi: tuple[int, int, int, int]
) -> np.ndarray:
    """Soft class weights NUM_LABELS×h×w uint8 (index 0 = background) inside ``roi``.

    ``faces``: per face, label -> polygons in frame px. ``hair``: hair
    probability already cut to the roi, or None. Each pixel's coverage is
    handed out top-down in DRAW_ORDER, so the weights sum to 255.
    """
    x0, y0, x1, y1 = roi
    height, width = y1 - y0, x1 - x0
    weights = np.zeros((NUM_LABELS, height, width), np.uint8)
    if height <= 0 or width <= 0:
        return weights
    remaining = np.ones((height, width), np.float32)
    for label in DRAW_ORDER:
        if label == HAIR:
            if hair is None:
                continue
            coverage = hair.astype(np.float32, copy=False)
        else:
            masks = [polygon_coverage(face[label], (x0, y0), (height, width)) for face in faces if label in face]
            if not masks:
                continue
            coverage = np.maximum.reduce(masks).astype(np.float32) * np.float32(1.0 / 255.0)
        taken = coverage * remaining
        remaining -= taken
        weights[label] = np.rint(taken * 255.0).astype(np.uint8)
    weights[0] = 255 - np.minimum(weights[1:].sum(axis=0, dtype=np.uint16), 255).astype(np.uint8)
    return weights


def load_face_parser(models_dir=None, config=None, settings: ParserSettings = ParserSettings()) -> FaceParser:
    """Loads YuNet, the face mesh and (if ``settings.hair``) the hair model.

    Raises:
        ModelMissingError, ModelCorruptError: weights absent or not the expected model.
    """
    from app.core.models import SessionConfig, load_model

    config = config or SessionConfig()
    detector = load_model("yunet", models_dir, config)
    mesh = load_model("face_mesh", models_dir, config)
    hair = load_model("hair", models_dir, config) if settings.hair else None
    return FaceParser(detector, mesh, hair, settings)  # type: ignore[arg-type]

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

from app.core.face.appearance import SkinModel, dark_split, enclosed_holes, large_regions, local_lightness, touching
from app.core.face.regions import (
    BROW_CONTEXT, HAIR, INNER_MOUTH, LEFT_BROW, LEFT_EYE_ID, LIPS_LOWER_INNER, LIPS_LOWER_OUTER, LIPS_UPPER_INNER,
    LIPS_UPPER_OUTER, LOWER_LIP, MOUTH_OPEN,
    NUM_LABELS, RIGHT_BROW, RIGHT_EYE_ID, SKIN, UPPER_LIP, brow_extent, brow_polygons, eye_distance, eye_ellipse, eye_outline,
    forehead_polygon, lip_polygons, mouth_opening, region_indices, region_polygons, scaled_about,
)
from app.core.models.base import MattingModel
from app.core.models.face_mesh import FaceCrop, FaceMesh, FaceMeshModel, crop_from_eyes, crop_from_landmarks
from app.core.models.hair import HAIR_SIZE, HairSegmenter
from app.core.models.yunet import FaceDetection, YuNetDetector

# Top of the stack first: a pixel's weight goes to the first class that covers it.
DRAW_ORDER = (8, 7, 9, 4, 5, 2, 3, 6, HAIR, 1)
SUBPIXEL_BITS = 4  # fillPoly fixed-point: polygons are placed to 1/16 px
SUPERSAMPLE = 4  # coverage in 1/16 steps per pixel
SUNGLASSES_SHARE = 0.75  # share of the ring around an eye a lens darkens or tints (bare eyes measured 0.08-0.61)
LENS_REACH = (1.15, 0.9)  # half width, half height (eye widths) of the largest lens around an eye
LENS_DARKNESS = 0.45  # lens pixels: under this share of the same side's cheek lightness
LEFT_CHEEK, RIGHT_CHEEK = 425, 205  # mid-cheek landmarks, below where any lens reaches
MIN_SKIN_SHARE = 0.4  # of the mesh oval that must look like the sampled skin for the image to guide the parts
BROW_CONTRAST = 4.0  # L levels between a brow's hair and the skin around it below which the image cannot tell
BROW_TONE_SPLIT = 0.5  # brow hair: nearer the brow tone than this share of the way to the skin (shading stays out)
SILHOUETTE_BROW_KEEP = (1.2, 2.0)  # brows kept from the silhouette cut, grown (along, across)
HAIR_AT_EDGE = 0.2  # hair probability that, on a pixel not of the face's skin colour, makes an oval pixel hair
SILHOUETTE_OPEN = 0.03  # thinnest non-skin path (eye distances) the silhouette cut follows into the oval
LIP_CONTRAST_MIN = 3.0  # lips' a* over the skin's below which colour cannot tell (SkinModel.redness's own floor)
MOUTH_INSIDE_RED = 0.6  # share of lip-red in the mesh's mouth opening that makes the mouth closed
MOUTH_INSIDE_CONTRAST = 30.0  # L levels between an open mouth's inside (gap, teeth) and its lips
MOUTH_INSIDE_SHARE = 0.5  # share of the inside that must show that contrast (open mouths 0.60-0.83, closed 0.08-0.46)
TEETH_CONTRAST = 20.0  # L levels teeth are at least above the lips (pale lips sit 15-30 below their skin)
TEETH_NEUTRAL_CHROMA = 8.0  # Lab chroma under which a light pixel is white whatever its hue
TEETH_SHARE = 0.08  # teeth showing: at least this share of the lips' inner area, so a small highlight is not teeth
TEETH_REACH = 0.015  # mouth widths: teeth cross the line between the inner lips
TEETH_MARGIN = 0.04  # mouth widths kept off the mesh's outer lip line (skin there is as light as teeth)
TEETH_ALONG_OUTLINE = 0.25  # share of a light piece near the lips' outline above which it is beyond the lips
SKIN_ISLAND = 0.05  # skin pieces smaller than this share of the face's largest are not face
HAIR_REACH = 0.6  # eye distances around the face (mesh and forehead) within which a head's hair must start
HAIR_SOFT_REACH = 0.1  # eye distances of soft (under 0.5) hair probability kept around the hair that is kept
HAIR_PERSON_MIN = 0.3  # person alpha under which no pixel is hair (the hair model spills onto dark background)
OCCLUDER_AREA = 0.02  # smallest occluder, in eye distances squared (a fingertip-sized patch)


@dataclass(frozen=True)
class ParserSettings:
    """mesh_scale: crop side / detector box side for the mesh (MediaPipe: 1.5).
    hair_scale: hair crop side / box side (MODELS.md: ~2.5; larger finds long hair,
    and more background mistaken for hair). hair_drop: the hair crop's centre sits
    this share of its side below the face's centre (long hair falls past the
    shoulders, little grows above the crown: centred at 2.6, long hair was cut
    off straight at the crop's lower edge). min_presence: drop meshes the model
    itself doubts (back of heads, false detections). refine: a second mesh pass
    on the crop implied by the first (+3-4 ms a face, steadier on profiles).
    refine_parts: let the face's own pixels shape the parts (forehead up to the
    hairline, brows, lips, occluders; see ``refine_face``). person: keep hair
    inside the person, by a person segmenter's alpha on stills (streams hand
    in their own matte)."""

    mesh_scale: float = 1.5
    hair_scale: float = 3.2
    hair_drop: float = 0.15
    hair: bool = True
    min_presence: float = 0.5
    refine: bool = True
    refine_parts: bool = True
    person: bool = True

    def __post_init__(self) -> None:
        if not 1.0 <= self.mesh_scale <= 3.0 or not 1.0 <= self.hair_scale <= 5.0:
            raise ValueError("mesh_scale must be in [1, 3] and hair_scale in [1, 5]")
        if not 0.0 <= self.hair_drop <= 0.5:
            raise ValueError("hair_drop must be in [0, 0.5]")
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
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"overlay opacity must be in [0, 1], got {opacity}")
        if frame.shape[:2] != self.labels.shape:
            raise ValueError(f"frame {frame.shape[:2]} does not match the parse {self.labels.shape}")
        out = frame.copy()
        x0, y0, x1, y1 = self.roi
        if x1 <= x0 or y1 <= y0:
            return out
        chosen = np.zeros(NUM_LABELS, np.float32)
        chosen[[c for c in (range(1, NUM_LABELS) if classes is None else classes) if 0 < c < NUM_LABELS]] = 1.0
        amount, tint = self._tint(chosen)
        patch = frame[y0:y1, x0:x1].astype(np.float32) * (1.0 - amount * np.float32(opacity / 255.0))[..., None]
        patch += tint * np.float32(opacity)
        out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
        return out

    def _tint(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chosen classes' weight h×w on 0..255, their weight-mixed palette colour h×w×3 premultiplied by it).

        Most pixels hold one class (or none): their colour is that class's, read
        through the label map. Only edge pixels, where classes share the
        coverage, mix the weights (a full per-class blend cost ~10x more at 720p).
        """
        from app.core.face.palette import PALETTE

        x0, y0, x1, y1 = self.roi
        labels = self.labels[y0:y1, x0:x1]
        background = self.weights[0]
        own = np.take_along_axis(self.weights, labels[None], axis=0)[0]
        mixed = np.where(labels == 0, background < 255, own.astype(np.uint16) + background < 255)
        amount = chosen[labels] * (255.0 - background.astype(np.float32))
        palette = PALETTE.astype(np.float32)
        tint = palette[labels] * amount[..., None] * np.float32(1.0 / 255.0)
        rows, cols = np.nonzero(mixed)
        if len(rows):
            shares = self.weights[1:, rows, cols].astype(np.float32) * chosen[1:, None]  # (K-1)×M
            amount[rows, cols] = shares.sum(axis=0)
            tint[rows, cols] = (palette[1:].T @ shares).T * np.float32(1.0 / 255.0)
        return amount, tint


def label_map(weights: np.ndarray) -> np.ndarray:
    """h×w uint8 class ids from K×h×w class weights: ``np.argmax(weights, axis=0)``, ties to the lower id.

    A running maximum over the K planes reads each plane contiguously; argmax
    along the first axis strides across them (8x slower on a 720p face roi).
    """
    best = weights[0].copy()
    labels = np.zeros(best.shape, np.uint8)
    for label in range(1, weights.shape[0]):
        np.copyto(labels, np.uint8(label), where=weights[label] > best)
        np.maximum(best, weights[label], out=best)
    return labels


def hair_crop(detection: FaceDetection, scale: float, drop: float = 0.0) -> FaceCrop:
    """Axis-aligned square around the face for the hair model (it expects selfie framing), ``drop`` of
    its side lower than the face's centre."""
    x, y, w, h = detection.box
    cx, cy = detection.center
    side = max(w, h) * scale
    return FaceCrop(cx, cy + drop * side, side, 0.0)


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
        person: MattingModel | None = None,
    ) -> None:
        self.detector = detector
        self.mesh = mesh
        self.hair_model = hair if settings.hair else None
        self.person_model = person if settings.person else None
        self.settings = settings
        self._previous_hair: np.ndarray | None = None  # frame-sized uint8, for streams

    def reset(self) -> None:
        """Forgets the previous hair mask (new source, seek, scene cut)."""
        self._previous_hair = None

    def parse(self, frame: np.ndarray, *, temporal: bool = False, person: np.ndarray | None = None) -> FaceParse:
        """Parses every face in ``frame`` (RGB uint8 H×W×3).

        ``temporal``: feed the previous frame's hair mask back (streams of one
        source); stills leave it off so photos do not influence each other.
        ``person``: the person's alpha (H×W float32) where the caller has one;
        else the parser's person segmenter makes one when there is hair to keep in.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        timings["detect"] = (time.perf_counter() - t0) * 1e3
        if person is None and detections and self.hair_model is not None and self.person_model is not None:
            t1 = time.perf_counter()
            person = self.person_model.infer(frame).alpha
            timings["person"] = (time.perf_counter() - t1) * 1e3
        return self.parse_detections(frame, detections, temporal=temporal, timings=timings, person=person)

    def parse_detections(
        self,
        frame: np.ndarray,
        detections: list[FaceDetection],
        *,
        crops: list[FaceCrop] | None = None,
        temporal: bool = False,
        timings: dict[str, float] | None = None,
        person: np.ndarray | None = None,
    ) -> FaceParse:
        """The rest of ``parse`` for known faces; ``crops`` overrides the mesh crops (tracking)."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        crops = crops or [self.mesh_crop(d) for d in detections]
        meshes = [self.fit_mesh(frame, crop) for crop in crops]
        kept = [(d, m) for d, m in zip(detections, meshes) if m.presence >= self.settings.min_presence]
        timings["landmarks"] = (time.perf_counter() - t0) * 1e3
        return self.build(frame, [d for d, _ in kept], [m.points for _, m in kept], [m.presence for _, m in kept],
                          temporal=temporal, timings=timings, person=person)

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
        person: np.ndarray | None = None,
    ) -> FaceParse:
        """Hair + rasterisation for faces whose landmarks are known (also smoothed ones).

        ``reuse_hair`` (streams only) takes the previous frame's hair mask instead of
        running the hair model, which is most of the parse time. ``person``: the
        person's alpha (frame-sized); no hair where it is under HAIR_PERSON_MIN.
        """
        timings = {} if timings is None else timings
        height, width = frame.shape[:2]
        t0 = time.perf_counter()
        hair_crops = [hair_crop(d, self.settings.hair_scale, self.settings.hair_drop) for d in detections]
        previous = self._previous_hair
        if reuse_hair and temporal and previous is not None and previous.shape == (height, width):
            hair = previous.astype(np.float32) * np.float32(1.0 / 255.0)  # already only what the heads grow
        else:
            hair = self.segment_hair(frame, hair_crops, temporal) if self.hair_model and detections else None
            if hair is not None and landmarks:
                hair = attached_hair(hair, landmarks, union_roi([crop_bounds(c) for c in hair_crops], [], width, height))
            if hair is not None and temporal:
                # the next frame's prior (and reuse): without the clothes, so the model is not told they were hair
                self._previous_hair = np.floor(hair * 255.0).astype(np.uint8)
        if hair is not None and person is not None and person.shape == hair.shape:
            # after the prior: the next frame brings its own matte. Hair is zero outside its crops;
            # ``hair`` is this call's own array on every path, so it is changed in place.
            x0, y0, x1, y1 = union_roi([crop_bounds(c) for c in hair_crops], [], width, height)
            hair[y0:y1, x0:x1][person[y0:y1, x0:x1] < HAIR_PERSON_MIN] = 0.0
        if self.hair_model is not None:
            timings["hair"] = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        roi = union_roi([crop_bounds(c) for c in hair_crops] if hair is not None else [], landmarks, width, height)
        polygons = [region_polygons(points) for points in landmarks]
        hair_roi = None if hair is None else hair[roi[1]:roi[3], roi[0]:roi[2]]
        image_roi = frame[roi[1]:roi[3], roi[0]:roi[2]] if self.settings.refine_parts else None
        weights = rasterise(polygons, hair_roi, roi, image_roi, landmarks)
        labels = np.zeros((height, width), np.uint8)
        labels[roi[1]:roi[3], roi[0]:roi[2]] = label_map(weights)
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
        return hair


def attached_hair(hair: np.ndarray, landmarks: list[np.ndarray], roi: tuple[int, int, int, int]) -> np.ndarray:
    """``hair`` (frame-sized probability) without the pieces that no head grows.

    The hair model also claims dark clothes below the face (a black dress, a
    top): hair is kept only where a confident (>= 0.5) piece of it reaches to
    within HAIR_REACH of a face (its mesh and forehead), as hair down to the
    waist does through the sides of the head; soft probability stays only
    next to kept hair or by a face. Returns a new array; ``hair`` is not changed.
    """
    x0, y0, x1, y1 = roi
    out = np.zeros_like(hair)
    if x1 <= x0 or y1 <= y0:
        return out
    view = hair[y0:y1, x0:x1]
    near = np.zeros(view.shape, np.uint8)
    soft_px = 1
    for points in landmarks:
        unit = eye_distance(points)
        outline = np.concatenate([points[:, :2], forehead_polygon(points)]) - np.array([x0, y0], np.float32)
        hull = np.rint(cv2.convexHull(outline.astype(np.float32))).astype(np.int32)
        reach = max(1, int(round(HAIR_REACH * unit)))
        cv2.fillConvexPoly(near, hull, 1)
        cv2.polylines(near, [hull], True, 1, thickness=2 * reach + 1)
        soft_px = max(soft_px, int(round(HAIR_SOFT_REACH * unit)))
    count, pieces = cv2.connectedComponents((view >= 0.5).astype(np.uint8), connectivity=8)
    keep = np.bincount(pieces[near > 0], minlength=count) > 0
    keep[0] = False
    if keep[1:].all():
        kept = (pieces > 0).view(np.uint8)
    else:
        kept = keep.astype(np.uint8)[pieces]
    kept = cv2.dilate(kept, np.ones((2 * soft_px + 1,) * 2, np.uint8)) | near  # a square: separable, cheap
    np.multiply(view, kept, out=out[y0:y1, x0:x1], casting="unsafe")
    return out


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
    faces: list[dict[int, list[np.ndarray]]],
    hair: np.ndarray | None,
    roi: tuple[int, int, int, int],
    image: np.ndarray | None = None,
    landmarks: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Soft class weights NUM_LABELS×h×w uint8 (index 0 = background) inside ``roi``.

    ``faces``: per face, label -> polygons in frame px. ``hair``: hair
    probability already cut to the roi, or None. ``image`` (the frame cut to
    the roi) and ``landmarks`` (per face, frame px) switch on the image-driven
    refinement (``refine_face``); without them the polygons are drawn as they
    are. Each pixel's coverage is handed out top-down in DRAW_ORDER, so the
    weights sum to 255.
    """
    x0, y0, x1, y1 = roi
    height, width = y1 - y0, x1 - x0
    weights = np.zeros((NUM_LABELS, height, width), np.uint8)
    if height <= 0 or width <= 0:
        return weights
    coverage: dict[int, np.ndarray] = {}
    refinements: list[FaceRefinement] = []
    for index, face in enumerate(faces):
        own = {label: polygon_coverage(polys, (x0, y0), (height, width)).astype(np.float32) * np.float32(1.0 / 255.0)
               for label, polys in face.items()}
        if image is not None and landmarks is not None and index < len(landmarks):
            refined = refine_face(own, image, landmarks[index][:, :2] - np.array([x0, y0], np.float32), hair)
            if refined is not None:
                refinements.append(refined)
        for label, cov in own.items():
            coverage[label] = cov if label not in coverage else np.maximum(coverage[label], cov)
    remaining = np.ones((height, width), np.float32)
    for label in DRAW_ORDER:
        cov = hair.astype(np.float32, copy=False) if label == HAIR and hair is not None else coverage.get(label)
        if cov is None:
            continue
        taken = cov * remaining
        remaining -= taken
        weights[label] = np.rint(taken * 255.0).astype(np.uint8)
    weights[0] = 255 - np.minimum(weights[1:].sum(axis=0, dtype=np.uint16), 255).astype(np.uint8)
    for refined in refinements:
        refined.apply(weights)
    return weights


@dataclass
class FaceRefinement:
    """What ``refine_face`` leaves for after compositing, in ``window`` (row, column slices of the roi).

    forehead: where pixels the labelled head encloses are forehead skin (the
    hole between the mesh and the hairline). occluded: pixels inside the face
    that are something else in front of it; they become background. hair: the
    oval's overshoot onto hair framing a turned face (``beyond_silhouette``).
    """

    window: tuple[slice, slice]
    forehead: np.ndarray
    occluded: np.ndarray
    close_px: int
    hair: np.ndarray | None = None  # the oval's overshoot onto framing hair: background there becomes hair

    def apply(self, weights: np.ndarray) -> None:
        view = weights[(slice(None),) + self.window]
        holes = enclosed_holes(view[0] < view[1:].max(axis=0), self.close_px) & self.forehead  # labelled = argmax
        if holes.any():
            view[SKIN][holes] = np.minimum(view[SKIN][holes].astype(np.uint16) + view[0][holes], 255).astype(np.uint8)
            view[0][holes] = 0
        if self.hair is not None and self.hair.any():
            view[HAIR][self.hair] = np.minimum(view[HAIR][self.hair].astype(np.uint16) + view[0][self.hair],
                                               255).astype(np.uint8)
            view[0][self.hair] = 0
        if self.occluded.any():
            view[1:10, self.occluded] = 0
            view[0] = 255 - np.minimum(view[1:].sum(axis=0, dtype=np.uint16), 255).astype(np.uint8)
        drop_skin_islands(view, self.forehead)


def drop_skin_islands(view: np.ndarray, region: np.ndarray | None = None) -> None:
    """Skin fragments cut off from the face (a gap between strands, a patch of wall) go to hair or background.

    ``view``: class weights (K×h×w uint8, changed in place). A face (skin and
    its parts) is one region, or a few large ones around an occluder; pieces
    under SKIN_ISLAND of the largest are not face. Each of their pixels' skin
    weight goes to hair where the hair model gave it more than the background,
    else to the background. ``region`` (bool, optional) limits the pieces
    dropped to this face's own surroundings: another face's skin at the edge of
    the view is not a piece of this one.
    """
    face = view[SKIN:HAIR].sum(axis=0, dtype=np.uint16) >= 128  # a majority: the label map says a face class
    count, components, stats, _ = cv2.connectedComponentsWithStats(face.astype(np.uint8), connectivity=8)
    if count <= 2:
        return
    areas = stats[1:, cv2.CC_STAT_AREA]
    small = np.zeros(count, bool)
    small[1:] = areas < SKIN_ISLAND * areas.max()
    islands = small[components] & (view[SKIN] > 0)
    if region is not None:
        islands &= region
    if not islands.any():
        return
    to_hair = islands & (view[HAIR] > view[0])
    to_background = islands & ~to_hair
    for target, where in ((HAIR, to_hair), (0, to_background)):
        total = view[target][where].astype(np.uint16) + view[SKIN][where]
        view[target][where] = np.minimum(total, 255).astype(np.uint8)
    view[SKIN][islands] = 0


def refine_face(
    coverage: dict[int, np.ndarray], image: np.ndarray, points: np.ndarray, hair: np.ndarray | None
) -> FaceRefinement | None:
    """Reshapes one face's class coverages (float32, roi-sized, changed in place) from its pixels.

    ``image``: the roi's RGB pixels; ``points``: the face's landmarks in roi px.
    Returns None (polygons kept as drawn) when no skin could be sampled or
    the mesh's oval is mostly not that skin.
    """
    height, width = image.shape[:2]
    unit = eye_distance(points)
    forehead = forehead_polygon(points)
    lo = np.minimum(forehead.min(axis=0), points.min(axis=0)) - 0.15 * unit
    hi = np.maximum(forehead.max(axis=0), points.max(axis=0)) + 0.15 * unit
    wx0, wy0 = (int(max(0, np.floor(v))) for v in lo)
    wx1, wy1 = int(min(width, np.ceil(hi[0]))), int(min(height, np.ceil(hi[1])))
    if wx1 - wx0 < 4 or wy1 - wy0 < 4:
        return None
    window = (slice(wy0, wy1), slice(wx0, wx1))
    lab = cv2.cvtColor(np.ascontiguousarray(image[window]), cv2.COLOR_RGB2Lab)
    local = (points - np.array([wx0, wy0], np.float32)).astype(np.float32)
    skin = SkinModel.sample(lab, local)
    if skin is None:
        return None
    like = skin.likeness(lab)
    size = (wy1 - wy0, wx1 - wx0)
    oval = coverage[SKIN][window] > 0.5
    if not oval.any() or float(like[oval].mean()) < MIN_SKIN_SHARE:
        return None  # the mesh does not sit on one skin (a drawing, a mask, a bad fit): keep its polygons
    outside = np.zeros(size, bool) if hair is None else beyond_silhouette(oval, like, hair[window], local, unit)
    coverage[SKIN][window] *= ~outside
    # Skin may reach past the mesh oval: up to the hairline, and on profiles out to the
    # silhouette (nose bridge, lips, chin), which the hull of the mesh follows.
    shift = np.array([wx0, wy0], np.float32)
    hull = cv2.convexHull(local).reshape(-1, 2)
    extension = np.maximum(polygon_coverage([forehead - shift], (0, 0), size), polygon_coverage([hull], (0, 0), size))
    extension = np.clip(extension.astype(np.float32) * np.float32(1.0 / 255.0) - coverage[SKIN][window], 0.0, 1.0)
    extension[outside] = 0.0
    coverage[SKIN][window] = np.minimum(coverage[SKIN][window] + extension * like, 1.0)  # a sum: no seam at the oval's soft edge
    refine_brows(coverage, window, lab, local, None if hair is None else hair[window])
    refine_eyes(coverage, window, lab, local)
    lips_red = refine_mouth(coverage, window, lab, local, skin)
    occluded = find_occluders(coverage, window, lab, local, skin, like, lips_red)
    close_px = max(1, int(round(0.08 * unit)))
    # enclosed gaps next to the skin (forehead, temples) are skin too; gaps inside the hair are not touched
    near_skin = cv2.dilate(((extension > 0) | (coverage[SKIN][window] > 0)).astype(np.uint8),
                           cv2.getStructuringElement(cv2.MORPH_RECT, (2 * close_px + 1,) * 2)) > 0
    return FaceRefinement(window, near_skin & ~outside, occluded, close_px, outside)


def beyond_silhouette(oval: np.ndarray, skin_like: np.ndarray, hair: np.ndarray, points: np.ndarray,
                      unit: float) -> np.ndarray:
    """Bool: the parts of the mesh oval that are hair reaching in from outside (window-sized).

    On turned heads the mesh's oval overshoots the face's edge onto the hair
    that frames it. Those pixels are not skin-coloured, the hair model gives
    them some hair probability (less than it gives hair in the open: the mesh
    says face there) and they join the world outside the oval. A cheek in
    shadow is not skin-coloured either, but the hair model sees no hair there;
    shadows and features inside the face are enclosed by skin. The eyes,
    brows and mouth (not skin-coloured by nature) are never cut; an opening
    first breaks thin paths so a strand cannot carry the cut into the face.
    """
    foreign = oval & (skin_like < 0.5) & (hair > HAIR_AT_EDGE)
    if not foreign.any():
        return foreign  # nothing hair-like on the face
    # everything below is local: work in the candidates' box, with room for the opening and the oval's edge
    radius = max(1, int(round(SILHOUETTE_OPEN * unit)))
    ys, xs = np.nonzero(foreign)
    y0, x0 = max(0, int(ys.min()) - radius - 2), max(0, int(xs.min()) - radius - 2)
    box = (slice(y0, int(ys.max()) + radius + 3), slice(x0, int(xs.max()) + radius + 3))
    inside, local = oval[box], (points - np.array([x0, y0], np.float32)).astype(np.float32)
    size = inside.shape
    keep = _window_mask(local[list(LIPS_UPPER_OUTER + LIPS_LOWER_OUTER[-2:0:-1])], size)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        keep |= _window_mask(scaled_about(local[list(region_indices()[label][0])], local, 1.4, 2.2), size)
    for polygon in brow_polygons(local, SILHOUETTE_BROW_KEEP).values():
        keep |= _window_mask(polygon, size)
    candidates = cv2.morphologyEx(((foreign[box] & ~keep) | ~inside).astype(np.uint8), cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1,) * 2)) > 0
    cut = np.zeros_like(foreign)
    cut[box] = touching(candidates, ~inside) & inside
    return cut


def _window_coverage(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Anti-aliased coverage (float32 0..1): for what ends up in the class weights."""
    return polygon_coverage([polygon], (0, 0), size).astype(np.float32) * np.float32(1.0 / 255.0)


def _window_mask(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Plain bool fill (4× cheaper than coverage): for regions that only select pixels to test."""
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.rint(polygon * (1 << SUBPIXEL_BITS)).astype(np.int32)], 1, lineType=cv2.LINE_8,
                 shift=SUBPIXEL_BITS)
    return mask > 0


def _replace(coverage: dict[int, np.ndarray], label: int, window: tuple[slice, slice], new: np.ndarray) -> None:
    """The face's ``label`` coverage becomes ``new`` (window-sized; zero outside the window)."""
    coverage[label][:] = 0.0
    coverage[label][window] = new


def refine_brows(coverage: dict[int, np.ndarray], window: tuple[slice, slice], lab: np.ndarray,
                 points: np.ndarray, hair: np.ndarray | None = None) -> None:
    """Brows: the mesh strip grown to the brow hair around it, as far as ``brow_extent``.

    The brow's tone is the darker part of the mesh strip, the skin's the
    median of the band around the brow outside its reach (both local, so they
    follow the lighting and suit light brows as well as dark ones). Pixels
    within reach nearer the brow's tone than the skin's, connected to the strip,
    are brow. Never the eyes (their grown outline) nor, outside the strip, the
    hair model's hair (a fringe, the hairline).
    ``hair``: window-sized hair probability or None.
    """
    size = lab.shape[:2]
    context, extents = brow_polygons(points, BROW_CONTEXT), brow_extent(points)
    barred = (coverage[LEFT_EYE_ID][window] > 0) | (coverage[RIGHT_EYE_ID][window] > 0)
    if hair is not None:
        barred = barred | (hair > 0.5)
    for label, extent in extents.items():
        box, shift = _box(np.concatenate([context[label], extent]), size)
        if box is None:
            continue
        box_size = (box[0].stop - box[0].start, box[1].stop - box[1].start)  # everything below in the brow's own box
        brow = coverage[label][window][box]  # a view: grown in place
        core = brow > 0.5
        reach = _window_coverage(extent - shift, box_size)
        around = _window_mask(context[label] - shift, box_size) & (reach == 0) & ~barred[box]
        split = brow_split(lab[box][..., 0], core, around)
        if split is None:
            continue  # a brow no darker than the skin around it: the mesh strip is all there is to go on
        wider = reach * split * ~barred[box]
        np.maximum(brow, wider * touching(brow_shaped(wider > 0.5, core), core), out=brow)


def brow_shaped(grown: np.ndarray, core: np.ndarray) -> np.ndarray:
    """``grown`` (bool) without spurs thinner than half the mesh strip (a crease or shadow running off the brow).

    Brow hair reaching past the strip widens the whole brow, which an opening
    (of the brow as a whole, a disc half the strip's height across) keeps;
    a narrow spur sticking out of it does not survive.
    """
    half_height = float(cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, 3).max())
    radius = max(1, int(round(0.5 * half_height)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return (cv2.morphologyEx(grown.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0) | (grown & core)


def _box(polygon: np.ndarray, size: tuple[int, int], margin: int = 2) -> tuple[tuple[slice, slice] | None, np.ndarray]:
    """(row, column slices of ``polygon``'s bounds within ``size`` plus ``margin`` px, None if empty; their origin)."""
    (x0, y0), (x1, y1) = np.floor(polygon.min(axis=0)) - margin, np.ceil(polygon.max(axis=0)) + margin + 1
    x0, y0, x1, y1 = int(max(x0, 0)), int(max(y0, 0)), int(min(x1, size[1])), int(min(y1, size[0]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, np.zeros(2, np.float32)
    return (slice(y0, y1), slice(x0, x1)), np.array([x0, y0], np.float32)


def brow_split(lightness: np.ndarray, brow: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """Soft mask (0..1, float32): how much nearer each pixel is to the brow's tone than to the skin's.

    The brow's tone is the darker third of ``brow`` (a strip that is partly on
    skin still finds its hair), the skin's the median of ``skin`` (both bool
    masks). None when either is missing or they are under BROW_CONTRAST levels apart.
    """
    if brow.sum() < 4 or skin.sum() < 16:
        return None
    dark = float(np.percentile(lightness[brow], 33))
    light = float(np.median(lightness[skin]))
    if light - dark < BROW_CONTRAST:
        return None
    middle, ramp = dark + BROW_TONE_SPLIT * (light - dark), max(1.0, (light - dark) / 8.0)
    return np.clip((middle + ramp - lightness.astype(np.float32)) / (2.0 * ramp), 0.0, 1.0).astype(np.float32)


def refine_eyes(coverage: dict[int, np.ndarray], window: tuple[slice, slice], lab: np.ndarray,
                points: np.ndarray) -> None:
    """Eyes: the mesh's lid contour, plus the grown rim (``eye_outline``) only where it is the lashes' dark tone.

    The dark tone is split from the lid skin's on a ring around the eye (Otsu
    on lightness, as for the brows); only dark parts touching the lid contour
    count, so an eye-socket shadow further out does not join. Where the mesh
    is off (a turned head) the rim lands on lid skin and is not taken.
    """
    height, width = lab.shape[:2]
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        lids_outline = points[list(region_indices()[label][0])]
        ring_outline = scaled_about(lids_outline, points, 1.6, 2.6)
        reach = np.concatenate([ring_outline, eye_outline(lids_outline, points)])  # the box holds the grown eye too
        (x0, y0), (x1, y1) = np.floor(reach.min(axis=0)) - 2, np.ceil(reach.max(axis=0)) + 3
        x0, y0, x1, y1 = int(max(x0, 0)), int(max(y0, 0)), int(min(x1, width)), int(min(y1, height))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        box, shift = (slice(y0, y1), slice(x0, x1)), np.array([x0, y0], np.float32)
        size = (y1 - y0, x1 - x0)  # everything below in the eye's own box: a tenth of the window
        lids = _window_coverage(lids_outline - shift, size)
        context = _window_mask(ring_outline - shift, size) & (lids < 0.5)
        dark = dark_split(lab[box][..., 0], context)
        if dark is None:
            continue  # a flat ring (no lashes to see): the grown outline stays as drawn
        eye = coverage[label][window]
        grown = eye[box] * cv2.GaussianBlur(dark, (0, 0), 0.7)
        grown *= touching(grown > 0.5, lids > 0.5)
        eye[box] = np.maximum(lids, grown)


def lip_coloured_inside(inside: np.ndarray, lips_red: np.ndarray, lip_contrast: float) -> bool:
    """True when what the mesh calls the inside of the mouth is mostly the lips' own red.

    An open mouth shows a dark gap and teeth, neither lip-red. On a turned head
    the mesh may open a closed mouth (its inner lips land on the upper lip);
    the lips' colour then fills the "inside". Only asked when the lips are
    clearly redder than the skin (``lip_contrast``, a* levels), else colour
    cannot tell. ``inside``: bool mask.
    """
    if lip_contrast < LIP_CONTRAST_MIN or not inside.any():
        return False
    return float(lips_red[inside].mean()) > MOUTH_INSIDE_RED


def lip_toned_inside(inner: np.ndarray, lips: np.ndarray, lightness: np.ndarray) -> bool:
    """True when what the mesh calls the inside of the mouth has the lips' own lightness.

    An open mouth shows a dark gap or teeth: most of the inside is at least
    MOUTH_INSIDE_CONTRAST levels darker or lighter than the lips. A mesh that
    parts a closed mouth (a turned head), or puts the mouth beside the face,
    finds lip (or whatever is there) on both sides of its inner line alike.
    ``inner``/``lips``: bool masks, ``lightness``: Lab L.
    """
    if not inner.any() or not lips.any():
        return False
    apart = np.abs(lightness[inner].astype(np.float32) - float(np.median(lightness[lips]))) > MOUTH_INSIDE_CONTRAST
    return float(apart.mean()) < MOUTH_INSIDE_SHARE


def refine_mouth(coverage: dict[int, np.ndarray], window: tuple[slice, slice], lab: np.ndarray,
                 points: np.ndarray, skin: SkinModel) -> np.ndarray:
    """Lips out to where their red ends; an inside only when the inner lips part.

    The mesh's inner lips stay a little apart on closed mouths (3-5 % of the
    mouth width): below MOUTH_OPEN the lips meet on the line between them and
    there is no inner mouth; a barely parted mouth shows its inside only where
    it is dark (no teeth fit there). An "inside" with the lips' own lightness
    or red is closed lips the mesh parted (``lip_toned_inside``,
    ``lip_coloured_inside``). Teeth the mesh's lips cover are inside
    (``visible_teeth``). Returns the lips' redness (0..1, window-sized).
    """
    size = lab.shape[:2]
    opening = mouth_opening(points)
    # the redder lip sets the lips' colour (the other may be covered by a microphone or a finger)
    references = [float(np.median(lab[..., 1][core])) for label in (UPPER_LIP, LOWER_LIP)
                  if (core := coverage[label][window] > 0.99).any()]
    reference = max(references, default=float(skin.median[1]))
    redness = skin.redness(lab, reference)
    lips_red = cv2.GaussianBlur(redness, (0, 0), 0.8)
    # an inside that looks like the lips (their lightness, or their red) is lip: the mesh opened a closed mouth
    inner = coverage[INNER_MOUTH][window] > 0.5
    lips = (coverage[UPPER_LIP][window] > 0.99) | (coverage[LOWER_LIP][window] > 0.99)
    closed = (opening < MOUTH_OPEN or lip_toned_inside(inner, lips, lab[..., 0])
              or lip_coloured_inside(inner, lips_red, reference - float(skin.median[1])))
    mesh = lip_polygons(points, grow=1.0, closed=closed)
    # beyond the mesh's lip line only the lips' red decides; where colour cannot tell (lips no redder
    # than the skin, as on dark skin) the lips keep the mesh's line: grown blindly they take the skin
    colour_tells = reference - float(skin.median[1]) >= LIP_CONTRAST_MIN
    grown = lip_polygons(points, closed=closed) if colour_tells else mesh
    for label in (UPPER_LIP, LOWER_LIP):
        # the mesh's own lip stays (the dark line where the lips meet is not red); beyond it, only red
        _replace(coverage, label, window, np.maximum(_window_coverage(mesh[label], size),
                                                     _window_coverage(grown[label], size) * lips_red))
    if closed:
        coverage[INNER_MOUTH][:] = 0.0
    elif opening < 2.0 * MOUTH_OPEN:
        coverage[INNER_MOUTH][window] *= skin.darkness(lab)
    if lips.any():
        red = lips & (lips_red > 0.5)  # the lips' own pixels: the mesh's lips may cover the teeth
        tone = float(np.median(lab[..., 0][red if red.sum() >= 0.3 * lips.sum() else lips]))
        teeth = visible_teeth(lab, redness, points, mesh, tone)  # unblurred: a thin row of teeth keeps its pixels
        np.maximum(coverage[INNER_MOUTH][window], teeth, out=coverage[INNER_MOUTH][window])
    return lips_red


def visible_teeth(lab: np.ndarray, redness: np.ndarray, points: np.ndarray, lips: dict[int, np.ndarray],
                  lips_lightness: float) -> np.ndarray:
    """Float32 0/1 (window-sized): teeth between the lips, and the dark gaps next to them.

    The mesh often keeps a smile's lips together over the teeth (its lip
    polygons ``lips`` cover them). Teeth are far lighter than the lips, not
    lip-red and white or yellowish (a gloss on a lip stays pink); they cross
    the line between the inner lips, are enclosed by the lips
    (``enclosed_pieces``: light background showing through a profile's lip
    polygons is not) and cover a good share of the mouth (TEETH_SHARE).
    Pixels far darker than the lips touching them (a smile's corners) are
    inside too.
    """
    size = lab.shape[:2]
    mouth = np.zeros(size, np.uint8)
    for label in (UPPER_LIP, LOWER_LIP, INNER_MOUTH):
        cv2.fillPoly(mouth, [np.rint(lips[label]).astype(np.int32)], 1)
    xy = points[:, :2].astype(np.float32)
    middle = (xy[list(LIPS_UPPER_INNER)] + xy[list(LIPS_LOWER_INNER)]) / 2.0
    width = float(np.linalg.norm(middle[-1] - middle[0]))
    margin = max(1, int(round(TEETH_MARGIN * width)))
    inner = cv2.erode(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
    lightness = lab[..., 0].astype(np.float32)
    a, b = lab[..., 1].astype(np.float32) - 128.0, lab[..., 2].astype(np.float32) - 128.0
    whitish = (b >= a) | (a * a + b * b < TEETH_NEUTRAL_CHROMA ** 2)  # Lab hue of 45 degrees or more, or no hue
    apart = (inner > 0) & (redness < 0.5)
    bright = apart & whitish & (lightness > lips_lightness + TEETH_CONTRAST)
    dark = apart & (lightness < lips_lightness - MOUTH_INSIDE_CONTRAST)
    line = np.zeros(size, np.uint8)
    cv2.polylines(line, [np.rint(middle).astype(np.int32)], False, 1, thickness=max(1, int(round(2 * TEETH_REACH * width))))
    found = enclosed_pieces(touching(bright, (line > 0) & bright), inner, margin)
    if found.sum() < TEETH_SHARE * max(int(inner.sum()), 1):
        return np.zeros(size, np.float32)
    inside = touching(found | dark, found).astype(np.uint8)
    # the darker gaps between teeth are inside too: close them, never onto lip red or past the lips
    inside = cv2.morphologyEx(inside, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) & apart
    return inside.astype(np.float32)


def enclosed_pieces(mask: np.ndarray, region: np.ndarray, reach: int) -> np.ndarray:
    """The connected parts of ``mask`` (bool) that mostly keep ``reach`` px away from ``region``'s outline.

    Teeth are enclosed by the lips and meet the outline only at the corners;
    light background showing through a profile's lip polygons runs along it.
    """
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    outline = (region > 0) & ~cv2.erode(region, np.ones((3, 3), np.uint8)).astype(bool)
    near = cv2.dilate(outline.astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)) > 0
    share = np.bincount(pieces[near & mask], minlength=count) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    keep = share < TEETH_ALONG_OUTLINE
    keep[0] = False
    return keep[pieces]


def find_occluders(coverage: dict[int, np.ndarray], window: tuple[slice, slice], lab: np.ndarray,
                   points: np.ndarray, skin: SkinModel, skin_like: np.ndarray, lips_red: np.ndarray) -> np.ndarray:
    """Window-sized bool mask of things in front of the face; they are left unlabelled.

    Sunglasses: the ring around an eye (lids, socket, top of the cheek) is
    mostly far darker than the cheek below it or not skin-coloured; then the
    lens (that area, connected to the eye) hides the eye, and the eye class goes. Anything else: a sizeable patch inside the
    face whose colour is neither the face's skin nor, on the lips, their red
    (a microphone, a hand in a glove). Eyes, brows and the inside of the mouth
    are not tested (they are not skin-coloured by nature); speckle is dropped.
    """
    size = lab.shape[:2]
    unit = eye_distance(points)
    foreign = skin.foreign(lab)
    occluded = np.zeros(size, bool)
    for label, cheek, brow in ((LEFT_EYE_ID, LEFT_CHEEK, LEFT_BROW), (RIGHT_EYE_ID, RIGHT_CHEEK, RIGHT_BROW)):
        eye = points[list(region_indices()[label][0])]
        lens_area = _window_mask(scaled_about(eye, points, 1.9, 3.0), size)
        ring = lens_area & ~_window_mask(scaled_about(eye, points, 1.2, 1.6), size)
        # dark against this side's own cheek (a dim photo or a shaded half keeps its sockets lighter than that)
        lens_like = foreign | (lab[..., 0] < LENS_DARKNESS * local_lightness(lab, points[cheek], 0.1 * unit))
        if not ring.any() or float(lens_like[ring].mean()) < SUNGLASSES_SHARE:
            continue
        # the frame and the lens's top are as dark as brow hair: the brow behind them keeps only its mesh strip
        strip = _window_coverage(points[list(region_indices()[brow][0])], size)
        # the whole lens: what is not skin around the eye, out to a large pair's rim (the test ring is
        # the eye's own shape grown, which leaves the lower half of a round lens as skin)
        rim = _window_mask(eye_ellipse(eye, points, *LENS_REACH), size) & (strip < 0.5)
        occluded |= touching((lens_like | (skin_like < 0.5)) & rim, coverage[label][window] > 0.5)
        coverage[label][:] = 0.0
        _replace(coverage, brow, window, strip)
    natural = np.zeros(size, bool)
    for label, polygon in brow_polygons(points, BROW_CONTEXT).items():
        natural |= _window_mask(polygon, size)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        natural |= _window_mask(scaled_about(points[list(region_indices()[label][0])], points, 1.4, 2.2), size)
    natural |= coverage[INNER_MOUTH][window] > 0
    lips = (coverage[UPPER_LIP][window] > 0.5) | (coverage[LOWER_LIP][window] > 0.5)
    odd = (coverage[SKIN][window] > 0.5) & foreign & ~natural & ~(lips & (lips_red > 0.5))
    radius = max(1, int(round(0.04 * unit)))
    odd = cv2.morphologyEx(odd.astype(np.uint8), cv2.MORPH_OPEN,
                           cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1,) * 2)) > 0
    return occluded | large_regions(odd, OCCLUDER_AREA * unit * unit)


PARSER_MODELS = ("yunet", "face_mesh")  # what face parsing needs; HAIR_MODEL adds the hair class
HAIR_MODEL = "hair"
PERSON_MODEL = "selfie"  # keeps stills' hair inside the person (cheap: 256x256)


def load_face_parser(models_dir=None, config=None, settings: ParserSettings = ParserSettings()) -> FaceParser:
    """Loads YuNet, the face mesh, (if ``settings.hair``) the hair model and, with
    ``settings.person`` too, the person segmenter if its weights are there (without
    them hair is not kept to the person: the labels are as before, nothing fails).

    Raises:
        ModelMissingError, ModelCorruptError: weights absent or not the expected model.
    """
    from app.core.errors import ModelMissingError
    from app.core.models import SessionConfig, load_model

    config = config or SessionConfig()
    detector, mesh = (load_model(name, models_dir, config) for name in PARSER_MODELS)
    hair = load_model(HAIR_MODEL, models_dir, config) if settings.hair else None
    person = None
    if hair is not None and settings.person:
        try:
            person = load_model(PERSON_MODEL, models_dir, config)
        except ModelMissingError:
            person = None
    return FaceParser(detector, mesh, hair, settings, person)  # type: ignore[arg-type]

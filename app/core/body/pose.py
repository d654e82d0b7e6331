"""Body keypoints: people in a frame, with named keypoints and a person box.

``PoseEstimator`` runs the BlazePose detector, then the landmark model once per
detected person, and maps MediaPipe's 33 landmarks to the app's names (the ones
cloud body-analysis APIs use: nose ... ankles, plus ``neck`` and ``top_head``).
Keypoints with a low visibility are kept with their low score: callers filter
(``Pose.visible``), the data never silently loses a point.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.core.media.image_io import check_frame
from app.core.models.pose import PoseDetection, PoseDetector, PoseLandmarkModel, PoseLandmarks, PoseRoi

# name -> BlazePose landmark index, for the points taken as they are
DIRECT_POINTS = {
    "nose": 0,
    "left_eye": 2, "right_eye": 5,
    "left_ear": 7, "right_ear": 8,
    "left_mouth_corner": 9, "right_mouth_corner": 10,
    "left_shoulder": 11, "right_shoulder": 12,
    "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16,
    "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26,
    "left_ankle": 27, "right_ankle": 28,
}
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_mouth_corner", "right_mouth_corner",
    "neck", "top_head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# Head height above the eyes, in eye-to-mouth distances (MODELS.md: chosen by eye on 17 photos).
TOP_HEAD_FACTOR = 2.0

SKELETON = (
    ("nose", "neck"),  # top_head is a point of its own: a bone to the nose would cross the face
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ("left_mouth_corner", "right_mouth_corner"),
    ("neck", "left_shoulder"), ("neck", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
# Person's left in warm orange, right in cool blue, centre line in green (RGB).
_SIDE_COLOURS = {"left": (255, 140, 0), "right": (0, 160, 255), "centre": (60, 220, 60)}


@dataclass(frozen=True)
class Keypoint:
    """A named point in frame pixels; score = visibility probability (in view and not occluded)."""

    x: float
    y: float
    score: float

    def to_json(self) -> dict[str, float]:
        return {"x": round(self.x, 2), "y": round(self.y, 2), "score": round(self.score, 4)}


@dataclass(frozen=True)
class PersonBox:
    """The person's extent in frame pixels (from the landmarks, clipped to the frame)."""

    x: float
    y: float
    width: float
    height: float
    score: float

    def to_json(self) -> dict[str, float]:
        """Cloud body-analysis naming: left, top, width, height, score."""
        return {
            "left": round(self.x, 2), "top": round(self.y, 2), "width": round(self.width, 2),
            "height": round(self.height, 2), "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Pose:
    """One person: named keypoints, a person box, and the raw landmarks they came from.

    score: the landmark model's pose presence; detection_score: the detector's.
    """

    keypoints: dict[str, Keypoint]
    box: PersonBox
    score: float
    detection_score: float
    landmarks: PoseLandmarks | None = field(default=None, repr=False, compare=False)

    def visible(self, name: str, threshold: float = 0.5) -> Keypoint | None:
        """The keypoint if its score reaches ``threshold``, else None."""
        point = self.keypoints.get(name)
        return point if point is not None and point.score >= threshold else None

    def to_json(self) -> dict[str, object]:
        """``{"body_parts": {name: {x, y, score}}, "location": {left, top, width, height, score}}``."""
        return {
            "body_parts": {name: self.keypoints[name].to_json() for name in KEYPOINT_NAMES},
            "location": self.box.to_json(),
            "detection_score": round(self.detection_score, 4),
        }


def map_keypoints(landmarks: PoseLandmarks) -> dict[str, Keypoint]:
    """BlazePose's 33 landmarks -> the app's named keypoints (MODELS.md section 8 table)."""
    pts, vis = landmarks.points, landmarks.visibility
    named = {name: Keypoint(float(pts[i, 0]), float(pts[i, 1]), float(vis[i])) for name, i in DIRECT_POINTS.items()}
    neck = (pts[11, :2] + pts[12, :2]) / 2.0
    named["neck"] = Keypoint(float(neck[0]), float(neck[1]), float(min(vis[11], vis[12])))
    top = top_head(pts)
    named["top_head"] = Keypoint(float(top[0]), float(top[1]), float(min(vis[2], vis[5], vis[9], vis[10])))
    return {name: named[name] for name in KEYPOINT_NAMES}


def top_head(points: np.ndarray) -> np.ndarray:
    """Approximate top of the head: BlazePose has no such point, so extrapolate
    from the mouth through the eyes (follows the head's tilt)."""
    eye_mid = (points[2, :2] + points[5, :2]) / 2.0
    mouth_mid = (points[9, :2] + points[10, :2]) / 2.0
    return eye_mid + TOP_HEAD_FACTOR * (eye_mid - mouth_mid)


def person_box(landmarks: PoseLandmarks, width: int, height: int, min_presence: float = 0.0) -> PersonBox:
    """Extent of the 33 landmarks (those with presence ≥ ``min_presence``) and top_head,
    clipped to the frame; all 33 when none qualifies.

    The default uses every landmark: on a half-body photo the guessed hips lie
    below the frame, and clipping them gives a box that reaches the frame edge as
    the body does; filtering on presence would stop the box at the shoulders.
    """
    body = landmarks.points[:33, :2]
    present = landmarks.presence[:33] >= min_presence
    used = np.vstack([body[present] if present.any() else body, top_head(landmarks.points)[None]])
    x0, y0 = np.clip(used.min(axis=0), 0, (width, height))
    x1, y1 = np.clip(used.max(axis=0), 0, (width, height))
    return PersonBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0), landmarks.pose_presence)


@dataclass(frozen=True)
class PoseSettings:
    """max_people: landmark runs per frame (the detector may find more); min_presence:
    drop a person whose landmark presence is below this (MediaPipe uses 0.5)."""

    max_people: int = 5
    min_presence: float = 0.5
    duplicate_iou: float = 0.7

    def __post_init__(self) -> None:
        if self.max_people < 1 or not 0.0 <= self.min_presence < 1.0 or not 0.0 < self.duplicate_iou <= 1.0:
            raise ValueError("max_people must be >= 1, min_presence in [0, 1), duplicate_iou in (0, 1]")


class PoseEstimator:
    """Detector + landmark model -> ``Pose`` per person. Not thread-safe (one per thread or a lock)."""

    def __init__(self, detector: PoseDetector, landmarks: PoseLandmarkModel, settings: PoseSettings = PoseSettings()) -> None:
        self.detector = detector
        self.landmark_model = landmarks
        self.settings = settings
        self.name = f"{detector.name}+{landmarks.name}"
        self.provider = landmarks.provider
        self.timings: dict[str, float] = {}

    def estimate(self, frame: np.ndarray) -> list[Pose]:
        """Everyone found in ``frame`` (RGB uint8 H×W×3), most confident first; [] when nobody.

        Raises:
            ValueError: ``frame`` is not H×W×3 uint8.
        """
        frame = check_frame(frame)
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        poses: list[Pose] = []
        for detection in detections[: self.settings.max_people]:
            pose = self.estimate_one(frame, detection)
            if pose is not None and not self._duplicate(pose, poses):
                poses.append(pose)
        self.timings = {"pose_detect": (t1 - t0) * 1e3, "pose_landmarks": (time.perf_counter() - t1) * 1e3}
        return sorted(poses, key=lambda p: -p.score)

    def estimate_one(self, frame: np.ndarray, detection: PoseDetection) -> Pose | None:
        """The landmarks for one detection, or None when the model says nobody is there."""
        roi = PoseRoi.from_alignment(detection.keypoints[0], detection.keypoints[1])
        if roi.side < 1.0:
            return None
        landmarks = self.landmark_model.infer(frame, roi)
        if landmarks.pose_presence < self.settings.min_presence:
            return None
        height, width = frame.shape[:2]
        return Pose(
            keypoints=map_keypoints(landmarks),
            box=person_box(landmarks, width, height),
            score=landmarks.pose_presence,
            detection_score=detection.score,
            landmarks=landmarks,
        )

    def _duplicate(self, pose: Pose, kept: list[Pose]) -> bool:
        """Two detections of one person can survive NMS (their face boxes differ): keep the first."""
        return any(box_iou(pose.box, other.box) > self.settings.duplicate_iou for other in kept)


def box_iou(a: PersonBox, b: PersonBox) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


POSE_MODELS = ("pose_detector", "pose_landmarks")  # the person detector, then the keypoints


def load_pose_estimator(
    models_dir: str | os.PathLike[str] | None = None, config=None, settings: PoseSettings = PoseSettings()
) -> PoseEstimator:
    """Loads both BlazePose models through the manifest.

    Raises:
        ModelMissingError, ModelCorruptError: weights absent or not the expected model.
    """
    from app.core.models import SessionConfig, load_model

    config = config or SessionConfig()
    detector, landmarks = (load_model(name, models_dir, config) for name in POSE_MODELS)
    return PoseEstimator(detector, landmarks, settings)  # type: ignore[arg-type]


def poses_to_json(poses: list[Pose]) -> dict[str, object]:
    """``{"person_num": N, "person_info": [...]}``: the cloud body-analysis shape."""
    return {"person_num": len(poses), "person_info": [pose.to_json() for pose in poses]}


def _side(name: str) -> str:
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


def draw_skeleton(frame: np.ndarray, poses: list[Pose], min_score: float = 0.5, thickness: int | None = None) -> np.ndarray:
    """A copy of ``frame`` (RGB uint8) with each person's box, bones and keypoints drawn.

    Only keypoints with score ≥ ``min_score`` are drawn (and bones between two of
    them). Colours follow the *person's* side: left orange, right blue, centre green.
    Line width scales with the frame unless ``thickness`` is given.
    """
    out = np.ascontiguousarray(frame.copy())
    width = thickness or max(2, round(max(frame.shape[:2]) / 400))
    for pose in poses:
        box = pose.box
        cv2.rectangle(
            out, (round(box.x), round(box.y)), (round(box.x + box.width), round(box.y + box.height)),
            (255, 255, 255), max(1, width // 2), cv2.LINE_AA,
        )
        for a, b in SKELETON:
            pa, pb = pose.visible(a, min_score), pose.visible(b, min_score)
            if pa is None or pb is None:
                continue
            colour = _SIDE_COLOURS[_side(a) if _side(a) == _side(b) else "centre"]
            cv2.line(out, (round(pa.x), round(pa.y)), (round(pb.x), round(pb.y)), colour, width, cv2.LINE_AA)
        for name in KEYPOINT_NAMES:
            point = pose.visible(name, min_score)
            if point is not None:
                centre = (round(point.x), round(point.y))
                cv2.circle(out, centre, width * 2, _SIDE_COLOURS[_side(name)], -1, cv2.LINE_AA)
                cv2.circle(out, centre, width * 2, (0, 0, 0), 1, cv2.LINE_AA)
    return out

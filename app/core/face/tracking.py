"""Face parsing for streams: track faces between frames and smooth their meshes.

The detector runs every ``detect_every`` frames (and whenever no face is
tracked); in between, each face's crop comes from its previous mesh, as in
MediaPipe's tracking graph. Landmarks are smoothed with a motion-adaptive
exponential filter: still heads get heavy smoothing (no jitter), fast moves
follow at once (no lag). The hair model gets its previous mask back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app.core.models.face_mesh import crop_from_landmarks
from app.core.models.yunet import FaceDetection
from app.core.face.parsing import FaceParse, FaceParser


@dataclass(frozen=True)
class TrackerSettings:
    """detect_every: frames between detector runs. still_weight: share of the new
    landmarks kept for a still head (lower = smoother). motion_scale: motion (in
    face-size fractions per frame) at which the new landmarks are taken as they are."""

    detect_every: int = 10
    hair_every: int = 2  # the hair model runs on every 2nd frame; between, the last mask is reused
    still_weight: float = 0.25
    motion_scale: float = 0.04
    match_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.hair_every < 1 or not 0.0 < self.still_weight <= 1.0 or self.motion_scale <= 0.0:
            raise ValueError("detect_every >= 1, hair_every >= 1, still_weight in (0, 1], motion_scale > 0")


@dataclass
class Track:
    detection: FaceDetection
    points: np.ndarray | None = None  # smoothed 468×3
    presence: float = 1.0


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def smooth_points(previous: np.ndarray, new: np.ndarray, settings: TrackerSettings) -> np.ndarray:
    """Blends ``new`` into ``previous`` with a weight that grows with the head's motion."""
    size = float(np.ptp(new[:, 1])) or 1.0
    motion = float(np.median(np.linalg.norm(new[:, :2] - previous[:, :2], axis=1))) / size
    weight = settings.still_weight + (1.0 - settings.still_weight) * min(1.0, motion / settings.motion_scale)
    return previous + (new - previous) * np.float32(weight)


@dataclass
class FaceTracker:
    """Stream face parsing: ``process(frame)`` once per frame, ``reset()`` on a new source or cut."""

    parser: FaceParser
    settings: TrackerSettings = TrackerSettings()
    tracks: list[Track] = field(default_factory=list)
    frame_index: int = 0

    def reset(self) -> None:
        self.tracks = []
        self.frame_index = 0
        self.parser.reset()

    def process(self, frame: np.ndarray, person: np.ndarray | None = None) -> FaceParse:
        """Parses ``frame`` (RGB uint8) using and updating the tracks; ``person``: the stream's own matte."""
        timings: dict[str, float] = {}
        reuse_hair = self.frame_index % self.settings.hair_every != 0
        if not self.tracks or self.frame_index % self.settings.detect_every == 0:
            t0 = time.perf_counter()
            self._update_tracks(self.parser.detector.detect(frame))
            timings["detect"] = (time.perf_counter() - t0) * 1e3
        self.frame_index += 1
        t1 = time.perf_counter()
        alive = []
        for track in self.tracks:
            crop = crop_from_landmarks(track.points[:, :2], self.parser.settings.mesh_scale) if track.points is not None \
                else self.parser.mesh_crop(track.detection)
            mesh = self.parser.mesh.infer(frame, crop) if track.points is not None else self.parser.fit_mesh(frame, crop)
            if mesh.presence < self.parser.settings.min_presence:
                continue  # lost: the next detector run may find it again
            track.points = mesh.points if track.points is None else smooth_points(track.points, mesh.points, self.settings)
            track.presence = mesh.presence
            track.detection = _detection_from_points(track.points, track.detection)
            alive.append(track)
        self.tracks = alive
        timings["landmarks"] = (time.perf_counter() - t1) * 1e3
        return self.parser.build(
            frame, [t.detection for t in alive], [t.points for t in alive], [t.presence for t in alive],  # type: ignore[misc]
            temporal=True, timings=timings, reuse_hair=reuse_hair, person=person,
        )

    def _update_tracks(self, detections: list[FaceDetection]) -> None:
        """Keeps the smoothed mesh of each track a detection matches; new faces start fresh."""
        updated = []
        for detection in detections:
            best = max(self.tracks, key=lambda t: box_iou(t.detection.box, detection.box), default=None)
            if best is not None and box_iou(best.detection.box, detection.box) >= self.settings.match_iou:
                updated.append(Track(detection, best.points, best.presence))
                self.tracks.remove(best)
            else:
                updated.append(Track(detection))
        self.tracks = updated


def _detection_from_points(points: np.ndarray, previous: FaceDetection) -> FaceDetection:
    """A detector-like box from the mesh, so hair crops and JSON follow the tracked face."""
    lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    box = (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
    keypoints = np.stack([points[33, :2], points[263, :2], points[1, :2], points[61, :2], points[291, :2]])
    return FaceDetection(box, keypoints.astype(np.float32), previous.score)

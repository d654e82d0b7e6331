"""Matte quality against annotated binary masks: IoU, boundary F, MAD, core MAD, dtSSD, flicker.

The development truth is binary (a person mask, exactly 0 or 255), so a
correct soft edge (hair, motion blur) counts as error in plain MAD. The
figures that stay fair to a soft matte are therefore the thresholded ones
(IoU of alpha ≥ 0.5, boundary F with a small tolerance) and MAD outside a
band around the true edge (core MAD). For clips, dtSSD compares the matte's
change between frames with the mask's own change, and flicker is the mean
change of the matte where the mask did not change at all.

All alphas are float in [0, 1]; a truth mask is anything where ≥ 0.5 (or
≥ 128 for uint8) means person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import cv2
import numpy as np

BOUNDARY_TOLERANCE_PX = 2.0  # boundary F: a predicted edge pixel this close to a true one is a hit
CORE_BAND_PX = 4.0  # core MAD ignores pixels this close to the true edge
METRIC_NAMES = ("iou", "boundary_f", "mad", "core_mad", "dtssd", "flicker")


def truth_mask(mask: np.ndarray) -> np.ndarray:
    """A binary mask (bool H×W) from an annotation: uint8 ≥ 128 or float ≥ 0.5 is person.

    Raises:
        ValueError: the mask is not a 2-D array (a colour PNG must be read as grayscale).
    """
    if mask.ndim != 2:
        raise ValueError(f"a truth mask is H×W, got shape {mask.shape}")
    return mask >= (128 if mask.dtype == np.uint8 else 0.5)


def binary(alpha: np.ndarray) -> np.ndarray:
    """Alpha thresholded at 0.5, as bool."""
    return alpha >= 0.5


def iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of alpha ≥ 0.5 and the truth (1.0 when both are empty)."""
    pred, gt = binary(alpha), truth_mask(truth)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """The mask's edge pixels: inside the mask with a 4-neighbour outside it.

    The image border is not an edge: a person cut off by the frame has no
    boundary there to find.
    """
    m = mask.astype(np.uint8)
    eroded = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)),
                       borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return m > eroded


def _distance_to(pixels: np.ndarray) -> np.ndarray:
    """Euclidean distance (exact) of every pixel to the nearest True pixel of ``pixels``."""
    return cv2.distanceTransform((~pixels).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def boundary_f(alpha: np.ndarray, truth: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE_PX) -> float:
    """F measure of the edges (DAVIS's contour accuracy) with ``tolerance`` px slack.

    Precision: predicted edge pixels within ``tolerance`` of a true edge pixel;
    recall: true edge pixels within ``tolerance`` of a predicted one. Both
    edges empty is a perfect 1.0, only one empty is 0.0.
    """
    pred_edge, gt_edge = boundary(binary(alpha)), boundary(truth_mask(truth))
    n_pred, n_gt = np.count_nonzero(pred_edge), np.count_nonzero(gt_edge)
    if n_pred == 0 or n_gt == 0:
        return 1.0 if n_pred == n_gt else 0.0
    precision = np.count_nonzero(_distance_to(gt_edge)[pred_edge] <= tolerance) / n_pred
    recall = np.count_nonzero(_distance_to(pred_edge)[gt_edge] <= tolerance) / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def edge_distance(truth: np.ndarray) -> np.ndarray:
    """Per pixel, the distance to the other side of the truth's edge (1 on either side of it)."""
    gt = truth_mask(truth)
    inside = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~gt).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(gt, inside, outside)


def mad(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Mean |alpha − truth| over the frame (0..1)."""
    return float(np.abs(alpha - truth_mask(truth)).mean())


def core_mad(alpha: np.ndarray, truth: np.ndarray, band: float = CORE_BAND_PX) -> float:
    """Mean |alpha − truth| over the pixels farther than ``band`` px from the true edge (0 if none)."""
    core = edge_distance(truth) > band
    if not core.any():
        return 0.0
    return float(np.abs(alpha[core] - truth_mask(truth)[core]).mean())


def dtssd(alpha: np.ndarray, previous: np.ndarray, truth: np.ndarray, previous_truth: np.ndarray) -> float:
    """Root mean square of (matte change − truth change) between two frames (Erofeev et al.; 0..1 scale)."""
    change = (alpha - previous) - (truth_mask(truth).astype(np.float32) - truth_mask(previous_truth))
    return float(np.sqrt(np.mean(np.square(change))))


def flicker(alpha: np.ndarray, previous: np.ndarray, truth: np.ndarray, previous_truth: np.ndarray) -> float:
    """Mean |matte change| over the pixels where the truth did not change (0 if it changed everywhere)."""
    still = truth_mask(truth) == truth_mask(previous_truth)
    if not still.any():
        return 0.0
    return float(np.abs(alpha[still] - previous[still]).mean())


@dataclass
class Scores:
    """Mean metrics over frames (dtSSD and flicker over frame pairs); NaN where nothing was measured."""

    iou: float = math.nan
    boundary_f: float = math.nan
    mad: float = math.nan
    core_mad: float = math.nan
    dtssd: float = math.nan
    flicker: float = math.nan
    ms_per_frame: float = math.nan
    frames: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SequenceScorer:
    """Scores the frames of one sequence as they come, in order; holds only the previous pair."""

    _sums: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in METRIC_NAMES})
    _ms: list[float] = field(default_factory=list)
    _previous: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, alpha: np.ndarray, truth: np.ndarray, ms: float = math.nan) -> None:
        """Scores one frame against its truth mask.

        Raises:
            ValueError: alpha and truth differ in size.
        """
        if alpha.shape != truth.shape:
            raise ValueError(f"alpha {alpha.shape} and truth {truth.shape} differ in size")
        alpha = np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)
        values = self._sums
        values["iou"].append(iou(alpha, truth))
        values["boundary_f"].append(boundary_f(alpha, truth))
        values["mad"].append(mad(alpha, truth))
        values["core_mad"].append(core_mad(alpha, truth))
        if self._previous is not None:
            before, before_truth = self._previous
            values["dtssd"].append(dtssd(alpha, before, truth, before_truth))
            values["flicker"].append(flicker(alpha, before, truth, before_truth))
        self._previous = (alpha, truth)
        if not math.isnan(ms):
            self._ms.append(ms)

    def scores(self) -> Scores:
        means = {name: float(np.mean(v)) if v else math.nan for name, v in self._sums.items()}
        ms = float(np.mean(self._ms)) if self._ms else math.nan
        return Scores(**means, ms_per_frame=ms, frames=len(self._sums["iou"]))


def mean_scores(parts: list[Scores]) -> Scores:
    """The mean over sequences (as DAVIS reports it: each sequence counts once, whatever its length)."""
    if not parts:
        return Scores()
    out = {}
    for name in (*METRIC_NAMES, "ms_per_frame"):
        values = [getattr(p, name) for p in parts if not math.isnan(getattr(p, name))]
        out[name] = float(np.mean(values)) if values else math.nan
    return Scores(**out, frames=sum(p.frames for p in parts))

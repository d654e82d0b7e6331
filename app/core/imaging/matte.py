"""Matte post-processing for streams: threshold, blob removal, expand/shrink, outward feather.

All operations take and return H×W float32 alpha in [0, 1] and work in place
where OpenCV allows, so a 1080p frame costs no float64 temporaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MatteOptions:
    """What users of OBS's background-removal filter expect to tune.

    threshold: None for soft alpha, else a hard cut at this value.
    feather: px of soft edge added *outside* the person (never eats into it).
    expand: px to grow (>0) or shrink (<0) the matte.
    min_blob: islands smaller than this fraction of the frame are removed (0: keep all).
    """

    threshold: float | None = None
    feather: int = 0
    expand: int = 0
    min_blob: float = 0.0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        if not 0 <= self.feather <= 200:
            raise ValueError("feather must be between 0 and 200 px")
        if not -200 <= self.expand <= 200:
            raise ValueError("expand must be between -200 and 200 px")
        if not 0.0 <= self.min_blob < 1.0:
            raise ValueError("min_blob must be a fraction in [0, 1)")

    @property
    def active(self) -> bool:
        return self.threshold is not None or self.feather > 0 or self.expand != 0 or self.min_blob > 0


def apply_matte_options(alpha: np.ndarray, options: MatteOptions) -> np.ndarray:
    """Threshold -> small-blob removal -> expand/shrink -> outward feather.

    Returns a new array (or ``alpha`` itself when no option is active).
    """
    if not options.active:
        return alpha
    out = alpha
    if options.threshold is not None:
        out = (alpha >= options.threshold).astype(np.float32)
    if options.min_blob > 0:
        out = remove_small_blobs(out, options.min_blob)
    if options.expand:
        out = expand_shrink(out, options.expand)
    if options.feather:
        out = feather_outward(out, options.feather)
    return out


def remove_small_blobs(alpha: np.ndarray, min_fraction: float) -> np.ndarray:
    """Zeroes islands (at alpha >= 0.5) smaller than ``min_fraction`` of the frame.

    The soft fringe of kept islands survives: alpha is kept within a few px of
    a kept island, so hair strands around the person are not cut off.
    """
    binary = (alpha >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return alpha
    min_area = min_fraction * alpha.shape[0] * alpha.shape[1]
    keep_ids = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area)
    keep_ids = keep_ids[keep_ids != 0]
    if keep_ids.size == count - 1:
        return alpha
    lut = np.zeros(count, np.uint8)
    lut[keep_ids] = 1
    keep = lut[labels]
    margin = max(3, round(0.01 * max(alpha.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    keep = cv2.dilate(keep, kernel)
    return cv2.multiply(alpha, keep.astype(np.float32))


def expand_shrink(alpha: np.ndarray, pixels: int) -> np.ndarray:
    """Grey-level dilation (pixels > 0) or erosion (pixels < 0) with a disc."""
    if pixels == 0:
        return alpha
    size = 2 * abs(pixels) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(alpha, kernel) if pixels > 0 else cv2.erode(alpha, kernel)


def feather_outward(alpha: np.ndarray, pixels: int) -> np.ndarray:
    """Soft edge of about ``pixels`` px outside the person; inside alpha is never lowered.

    A plain blur would also pull the person's edge below 1 (eating into hair
    and shoulders); the matte is first grown by half the radius, blurred, and
    combined with the original by max, so the ramp lies outside.
    """
    if pixels <= 0:
        return alpha
    grown = expand_shrink(alpha, max(1, pixels // 2))
    ksize = 2 * pixels + 1
    blurred = cv2.GaussianBlur(grown, (ksize, ksize), pixels / 2.0)
    return cv2.max(alpha, blurred)

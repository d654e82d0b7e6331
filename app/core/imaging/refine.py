"""Mask refinement: edge-aware upsampling and hard/soft alpha shaping."""

from __future__ import annotations

import cv2
import numpy as np

from app.core.imaging.compose import OPAQUE


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so the long side is at most ``long_side``, aspect kept."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def area_resize(image: np.ndarray, size: tuple[int, int], max_step: int = 4) -> np.ndarray:
    """``cv2.resize(..., INTER_AREA)`` for big reductions, about 5x faster at 1280x720 -> 256x256.

    OpenCV's area filter is slow for non-integer factors; this first samples
    bilinearly to ``max_step`` times the target (each output pixel still
    averages max_step² samples), then area-reduces by that integer factor.
    Mean difference from the one-step result: under 1 grey level.
    """
    width, height = size
    step = min(max_step, image.shape[1] // width, image.shape[0] // height)
    if step >= 2:
        image = cv2.resize(image, (width * step, height * step), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def guided_upsample(
    mask: np.ndarray,
    frame: np.ndarray,
    *,
    work_long_side: int = 640,
    radius: int = 8,
    eps: float = 1e-2,
) -> np.ndarray:
    """Upsamples a low-resolution mask to the frame's size along the frame's edges.

    Fast guided filter (He & Sun, 2015): the linear coefficients a, b of the
    guided filter are fitted at a working resolution, then bilinearly
    upsampled and applied to the full-resolution gray guide. Edges in the
    result follow the image, not the model's coarse grid.

    Args:
        mask: h×w float32 in [0, 1].
        frame: H×W×3 uint8 RGB guide.
        work_long_side: long side of the resolution the filter is fitted at.
        radius: box radius at the working resolution.
        eps: regularisation; larger is smoother, smaller follows edges harder.

    Returns:
        H×W float32 alpha in [0, 1].
    """
    height, width = frame.shape[:2]
    work_w, work_h = fit_size(width, height, work_long_side)
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    guide = cv2.resize(gray, (work_w, work_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    p = cv2.resize(mask.astype(np.float32, copy=False), (work_w, work_h), interpolation=cv2.INTER_LINEAR)
    ksize = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.boxFilter(guide, -1, ksize)
    mean_p = cv2.boxFilter(p, -1, ksize)
    cov_ip = cv2.boxFilter(guide * p, -1, ksize) - mean_i * mean_p
    var_i = cv2.boxFilter(guide * guide, -1, ksize) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a = cv2.boxFilter(a, -1, ksize)
    mean_b = cv2.boxFilter(b, -1, ksize)
    full_a = cv2.resize(mean_a, (width, height), interpolation=cv2.INTER_LINEAR)
    full_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.multiply(full_a, gray, dtype=cv2.CV_32F, scale=1.0 / 255.0)
    cv2.add(alpha, full_b, dst=alpha)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    return alpha


def hard_alpha(alpha: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Binary alpha (0 or 1) at ``threshold``, as float32."""
    return (alpha >= threshold).astype(np.float32)


def estimate_foreground(frame: np.ndarray, alpha: np.ndarray, radius: int = 45) -> np.ndarray:
    """Foreground colours for models that only give alpha (blur-fusion, Forte et al. 2021).

    Where alpha is partial (hair, motion blur) the pixel mixes person and old
    background; this estimates the person's colour from nearby confident
    foreground and background, so a composite does not carry the old background.
    Two iterations of the blur-fusion estimator, the second with a small radius.
    Only the box around the person is computed: elsewhere alpha is 0 and the
    colour does not matter. Where alpha encodes as 255 the photo's colour is
    kept exactly: there is no background mixed in to remove.
    """
    result = frame.copy()
    box = _person_box(alpha, radius)
    if box is None:
        return result
    y0, y1, x0, x1 = box
    # Row bands with a margin wider than both blurs reach: the same numbers as one pass over
    # the box, but the float32 planes (five per pass) are band-sized, not photo-sized.
    margin = radius // 2 + FINE_RADIUS // 2 + 2
    step = max(4 * margin, BAND_PIXELS // max(1, x1 - x0))
    for top in range(y0, y1, step):
        bottom = min(y1, top + step)
        lo, hi = max(y0, top - margin), min(y1, bottom + margin)
        fg = _blur_fusion(frame[lo:hi, x0:x1], alpha[lo:hi, x0:x1], radius)
        mixed = alpha[top:bottom, x0:x1] < OPAQUE
        result[top:bottom, x0:x1][mixed] = fg[top - lo : top - lo + bottom - top][mixed]
    return result


FINE_RADIUS = 6  # the second blur-fusion pass
BAND_PIXELS = 1 << 21


def _person_box(alpha: np.ndarray, radius: int) -> tuple[int, int, int, int] | None:
    """Rows and columns (y0, y1, x0, x1) where alpha is partial or more, widened by ``radius``."""
    rows = np.flatnonzero(cv2.reduce(alpha, 1, cv2.REDUCE_MAX)[:, 0] > 1.0 / 255.0)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(cv2.reduce(alpha, 0, cv2.REDUCE_MAX)[0] > 1.0 / 255.0)
    height, width = alpha.shape
    return (max(0, rows[0] - radius), min(height, rows[-1] + radius + 1),
            max(0, cols[0] - radius), min(width, cols[-1] + radius + 1))


def _blur_fusion(frame: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """Blur-fusion foreground of one region, uint8."""
    image = frame.astype(np.float32) / 255.0
    a = np.ascontiguousarray(alpha, dtype=np.float32)[..., None]
    fg, bg = image, image
    for r in (radius, FINE_RADIUS):
        fg, bg = _blur_fusion_step(image, fg, bg, a, r)
    return np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _blur_fusion_step(image, fg, bg, a, r):
    ksize = (r, r)
    blurred_a = cv2.blur(a[..., 0], ksize)[..., None]
    blurred_fa = cv2.blur(fg * a, ksize) / (blurred_a + 1e-5)
    blurred_b1a = cv2.blur(bg * (1 - a), ksize) / ((1 - blurred_a) + 1e-5)
    fg = blurred_fa + a * (image - a * blurred_fa - (1 - a) * blurred_b1a)
    return np.clip(fg, 0, 1), blurred_b1a

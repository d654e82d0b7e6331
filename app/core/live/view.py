"""What the live preview shows: composite, alpha, foreground, or side by side.

The GUI only paints the image this module returns; all pixel maths is here.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np

from app.core.imaging.compose import BackgroundRenderer, alpha_to_u8, composite, to_rgba
from app.core.matting.results import FrameResult, PartBox


class ViewMode(str, Enum):
    COMPOSITE = "composite"
    ALPHA = "alpha"
    FOREGROUND = "foreground"
    SIDE_BY_SIDE = "side_by_side"


def render_view(
    frame: np.ndarray,
    result: FrameResult,
    mode: ViewMode,
    background: BackgroundRenderer | None,
    timestamp: float = 0.0,
) -> np.ndarray:
    """The preview image: RGB uint8, or RGBA where the background is transparent."""
    fg = result.foreground if result.foreground is not None else frame
    if mode is ViewMode.ALPHA:
        return cv2.cvtColor(alpha_to_u8(result.alpha), cv2.COLOR_GRAY2RGB)
    if mode is ViewMode.FOREGROUND:
        return to_rgba(fg, result.alpha)
    bg = background.render(frame, result.alpha, timestamp) if background is not None else None
    out = to_rgba(fg, result.alpha) if bg is None else composite(fg, result.alpha, bg)
    if mode is ViewMode.SIDE_BY_SIDE:
        left = frame if out.shape[2] == 3 else cv2.cvtColor(frame, cv2.COLOR_RGB2RGBA)
        return np.ascontiguousarray(np.hstack([left, out]))
    return out


Rect = tuple[int, int, int, int]  # x, y, width, height


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def place_labels(boxes: list[Rect], sizes: list[tuple[int, int]], image_size: tuple[int, int]) -> list[Rect]:
    """Where each box's label goes (its rectangle), so that no two labels overlap.

    Tries above the box, inside its top edge, then below it; if all of these are
    taken, moves down from above the box one label height at a time. Labels stay
    inside the image (``image_size`` is width, height).
    """
    width, height = image_size
    placed: list[Rect] = []
    for (x, y, w, h), (tw, th) in zip(boxes, sizes):
        left = min(max(0, x), max(0, width - tw))

        def fits(top: int) -> Rect:
            return left, min(max(0, top), max(0, height - th)), tw, th

        candidates = [fits(y - th - 2), fits(y + 2), fits(y + h + 2)]
        candidates += [fits(y - th - 2 + k * th) for k in range(1, max(1, height // max(th, 1)) + 1)]
        spot = next((c for c in candidates if not any(_overlaps(c, other) for other in placed)), candidates[0])
        placed.append(spot)
    return placed


def draw_part_boxes(image: np.ndarray, parts: list[PartBox], x_offset: int = 0) -> np.ndarray:
    """Outlines and labels each part box in its palette colour (on a copy); labels never overlap."""
    from app.core.face.regions import LABEL_NAMES
    from app.core.face.palette import PALETTE

    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 600))
    scale = 0.35 * thickness
    boxes = [(box.x + x_offset, box.y, box.width, box.height) for box in parts]
    sizes = []
    for box in parts:
        (tw, th), baseline = cv2.getTextSize(box.label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        sizes.append((tw, th + baseline))
    spots = place_labels(boxes, sizes, (image.shape[1], image.shape[0]))
    alpha = (255,) if out.shape[2] == 4 else ()
    colours = [tuple(int(c) for c in PALETTE[LABEL_NAMES.index(b.label) if b.label in LABEL_NAMES else 0]) + alpha
               for b in parts]
    for (x, y, w, h), colour in zip(boxes, colours):
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_AA)
    for box, (lx, ly, lw, lh), colour in zip(parts, spots, colours):  # labels last: no outline crosses them
        cv2.rectangle(out, (lx, ly), (lx + lw - 1, ly + lh - 1), (0, 0, 0) + alpha, -1)  # readable on any picture
        baseline_y = ly + lh - max(1, lh // 5)  # putText draws from the text's baseline
        cv2.putText(out, box.label, (lx, baseline_y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return out

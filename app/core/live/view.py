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


def draw_part_boxes(image: np.ndarray, parts: list[PartBox], x_offset: int = 0) -> np.ndarray:
    """Outlines and labels each part box in its palette colour (on a copy)."""
    from app.core.face.regions import LABEL_NAMES
    from app.core.face.palette import PALETTE

    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 600))
    for box in parts:
        class_id = LABEL_NAMES.index(box.label) if box.label in LABEL_NAMES else 0
        colour = tuple(int(c) for c in PALETTE[class_id]) + ((255,) if out.shape[2] == 4 else ())
        x, y = box.x + x_offset, box.y
        cv2.rectangle(out, (x, y), (x + box.width, y + box.height), colour, thickness, cv2.LINE_AA)
        cv2.putText(out, box.label, (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thickness, colour,
                    thickness, cv2.LINE_AA)
    return out

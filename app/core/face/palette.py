"""The face-parsing palette: palette PNGs (mode "P") and colour overlays."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.core.errors import ExportError, UnreadableImageError
from app.core.face.regions import NUM_LABELS
from app.core.media.writers import atomic_write_bytes

# DESIGN.md, index = class id
PALETTE = np.array(
    [
        [0, 0, 0], [0, 153, 255], [102, 255, 153], [0, 204, 153], [255, 255, 102], [255, 255, 204],
        [255, 153, 0], [255, 204, 255], [102, 0, 51], [255, 102, 255], [255, 0, 102],
    ],
    dtype=np.uint8,
)
assert len(PALETTE) == NUM_LABELS  # noqa: S101  (a programming error, not input validation)


def colorize(labels: np.ndarray) -> np.ndarray:
    """H×W class ids -> H×W×3 RGB palette colours.

    Raises:
        ValueError: an id outside the palette.
    """
    if labels.size and int(labels.max()) >= NUM_LABELS:
        raise ValueError(f"label id {int(labels.max())} is outside the palette (0..{NUM_LABELS - 1})")
    return PALETTE[labels]


def encode_label_png(labels: np.ndarray) -> bytes:
    """PNG mode "P" bytes: any viewer shows the colours, any program reads the ids.

    Raises:
        ValueError: not an H×W uint8 map, or an id outside the palette.
    """
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError("labels must be an H×W uint8 array")
    if labels.size and int(labels.max()) >= NUM_LABELS:
        raise ValueError(f"label id {int(labels.max())} is outside the palette (0..{NUM_LABELS - 1})")
    image = Image.fromarray(np.ascontiguousarray(labels))  # mode "L"; putpalette makes it "P"
    image.putpalette(PALETTE.reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def write_label_png(path: Path, labels: np.ndarray, *, overwrite: bool = False) -> Path:
    """Writes the palette PNG atomically.

    Raises:
        OutputExistsError, ExportError.
    """
    try:
        data = encode_label_png(labels)
    except ValueError as exc:
        raise ExportError(str(exc), path=str(path)) from exc
    return atomic_write_bytes(path, data, overwrite=overwrite)


def read_label_png(path: str | Path) -> np.ndarray:
    """Class ids from a palette PNG written by ``write_label_png``.

    Raises:
        UnreadableImageError: not a palette ("P") image.
    """
    try:
        with Image.open(path) as image:
            if image.mode != "P":
                raise UnreadableImageError(f"not a palette PNG (mode {image.mode})", path=str(path))
            return np.asarray(image, dtype=np.uint8).copy()
    except OSError as exc:
        raise UnreadableImageError(f"cannot read label map ({exc})", path=str(path)) from exc


def overlay(frame: np.ndarray, labels: np.ndarray, opacity: float = 0.5, weight: np.ndarray | None = None) -> np.ndarray:
    """The photo with class colours blended on top (background stays untouched).

    ``weight`` (H×W float32 in [0, 1], optional) is the anti-aliased coverage of
    the labelled area; without it the edge is the hard label edge.

    Raises:
        ValueError: ``opacity`` outside [0, 1] or shapes that do not match.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"overlay opacity must be in [0, 1], got {opacity}")
    if labels.shape != frame.shape[:2]:
        raise ValueError(f"labels {labels.shape} do not match the frame {frame.shape[:2]}")
    amount = (labels > 0).astype(np.float32) if weight is None else weight.astype(np.float32, copy=False)
    amount = amount * np.float32(opacity)
    colours = colorize(labels)
    return cv2.blendLinear(colours, frame, amount, 1.0 - amount)

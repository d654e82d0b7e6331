"""Reading images into RGB frames, with limits checked before any decoding."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import (
    FileTooLargeError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableImageError,
    UnsupportedFormatError,
)

SUPPORTED_FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF", "MPO"}
SUPPORTED_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


# Our own pixel limit (InputLimits.max_pixels, checked on the header) replaces
# Pillow's global one: Pillow's would call an allowed large photo a
# "decompression bomb" (an error we would report as a corrupt file) and lets
# through, with a mere warning, sizes our limit refuses.
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 50_000_000  # a 50 MP photo (8660x5773) peaks at about 2.5 GB (README, Still images)


@dataclass(frozen=True)
class InputLimits:
    """Explicit limits on input images; every bound is a user setting.

    ``max_pixels`` bounds memory: decoding and matting need memory in
    proportion to width×height, whatever the file's size in bytes.
    """

    min_side: int = 32
    max_side: int = 8192
    max_file_bytes: int = 50 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS

    def check_size(self, width: int, height: int, path: str | None = None) -> None:
        """Raises ImageTooSmallError / ImageTooLargeError for a frame outside the limits."""
        if min(width, height) < self.min_side:
            raise ImageTooSmallError(
                f"image is {width}x{height}; each side must be at least {self.min_side} px",
                path=path,
            )
        if max(width, height) > self.max_side:
            raise ImageTooLargeError(
                f"image is {width}x{height}; each side must be at most {self.max_side} px",
                path=path,
            )
        if width * height > self.max_pixels:
            raise ImageTooLargeError(
                f"image is {width}x{height} = {width * height / 1e6:.1f} MP; the limit is "
                f"{self.max_pixels / 1e6:g} MP (--max-pixels)",
                path=path,
            )


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def load_image(path: str | os.PathLike[str], limits: InputLimits = InputLimits()) -> np.ndarray:
    """Reads an image file as an RGB uint8 H×W×3 C-contiguous frame.

    EXIF orientation is applied; grayscale, 16-bit, palette and RGBA inputs are
    converted (transparent pixels are flattened onto white). Animated GIFs give
    their first frame.

    Raises:
        UnreadableImageError: the file is missing, unreadable or corrupt.
        UnsupportedFormatError: the content is not one of the supported formats.
        FileTooLargeError / ImageTooSmallError / ImageTooLargeError: outside ``limits``.
    """
    name = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise UnreadableImageError(f"cannot read file ({exc.strerror or exc})", path=name) from exc
    _check_bytes(size, limits, name)
    return _decode(path, name, limits)


def decode_image(data: bytes, limits: InputLimits = InputLimits(), name: str = "<bytes>") -> np.ndarray:
    """Like ``load_image`` but from encoded bytes in memory (uploads, clipboard).

    Raises:
        The same errors as ``load_image``.
    """
    _check_bytes(len(data), limits, name)
    return _decode(io.BytesIO(data), name, limits)


MB = 1024 * 1024  # the unit of --max-file-mb: the message speaks the same MB as the option


def _check_bytes(size: int, limits: InputLimits, name: str) -> None:
    if size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"file is {size / MB:.1f} MB; the limit is {limits.max_file_bytes / MB:g} MB (--max-file-mb)",
            path=name,
        )


def _decode(source: str | os.PathLike[str] | io.BytesIO, name: str, limits: InputLimits) -> np.ndarray:
    try:
        with Image.open(source) as image:
            fmt = image.format or "?"
            if fmt not in SUPPORTED_FORMATS:
                raise UnsupportedFormatError(
                    f"{fmt} images are not supported; use JPEG, PNG, BMP, WebP, TIFF or GIF",
                    path=name,
                )
            # Limits are checked on the header, before pixels are decoded; EXIF
            # rotation only swaps sides, which the limits do not care about.
            limits.check_size(*image.size, path=name)
            image.seek(0)
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError as exc:
        if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
            raise UnreadableImageError("file is corrupt or not an image", path=name) from exc
        raise UnsupportedFormatError(
            "not a supported image (JPEG, PNG, BMP, WebP, TIFF or GIF)", path=name
        ) from exc
    except Image.DecompressionBombError as exc:  # only with a caller's own Pillow limit: still "too large"
        raise ImageTooLargeError(f"image is too large to decode safely ({exc})", path=name) from exc
    except MemoryError as exc:
        raise ImageTooLargeError("not enough memory to decode this image; lower --max-pixels", path=name) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImageError(f"file is corrupt or truncated ({exc})", path=name) from exc


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (and 32-bit int) gray: scale the used range down to 8 bits.
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode == "F":
        gray = np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def check_frame(frame: np.ndarray) -> np.ndarray:
    """Validates the frame contract (H×W×3 uint8) and returns it C-contiguous."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame must be H×W×3 uint8, got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)

"""What each cloud API accepts (its document's sizes, file size and formats), checked before decoding.

Every vendor document in ``shared/reference/cloud-apis`` states its own bounds;
a drop-in answers the same images with the same codes, so each family module
declares its ``ImageRules`` from its document and asks ``Engine.decode`` to
apply them. ``--lenient`` swaps them for the service's own (wider) bounds.
Either way the header is read first: an image that is too large in pixels is
refused before one pixel is decoded, so a 200 KB PNG claiming 8192² costs
nothing (it used to cost 160 s and 9.75 GB).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

from PIL import Image, UnidentifiedImageError

from app.core.errors import FileTooLargeError, ImageTooLargeError, ImageTooSmallError, UnreadableImageError, UnsupportedFormatError
from app.core.media.image_io import SUPPORTED_FORMATS, InputLimits

MB = 1024 * 1024
# PIL names; MPO is how PIL names a JPEG with a second (preview) image, as phones write them
JPEG_PNG = frozenset({"JPEG", "MPO", "PNG"})
JPEG_PNG_BMP = JPEG_PNG | {"BMP"}
JPEG_PNG_BMP_GIF = JPEG_PNG_BMP | {"GIF"}
FORMAT_NAMES = {"JPEG": "JPG", "MPO": "JPG", "PNG": "PNG", "BMP": "BMP", "GIF": "GIF", "WEBP": "WebP", "TIFF": "TIFF"}


@dataclass(frozen=True)
class ImageRules:
    """Bounds on one image: sides in px (inclusive), encoded file bytes, PIL formats, pixels."""

    min_side: int
    max_side: int
    max_file_bytes: int
    formats: frozenset[str]
    max_pixels: int | None = None  # None: max_side² bounds it

    def tightened(self, limits: InputLimits, max_pixels: int) -> "ImageRules":
        """These rules, never looser than the service's own ``limits`` and pixel budget."""
        return replace(
            self,
            min_side=max(self.min_side, limits.min_side),
            max_side=min(self.max_side, limits.max_side),
            max_file_bytes=min(self.max_file_bytes, limits.max_file_bytes),
            max_pixels=min(self.max_pixels or max_pixels, max_pixels),
        )

    def as_input_limits(self) -> InputLimits:
        return InputLimits(self.min_side, self.max_side, self.max_file_bytes)

    def describe_formats(self) -> str:
        return ", ".join(dict.fromkeys(FORMAT_NAMES.get(f, f) for f in sorted(self.formats)))


def lenient_rules(limits: InputLimits, max_pixels: int) -> ImageRules:
    """The service's own bounds: every format the core reads, the sizes set on the command line."""
    return ImageRules(limits.min_side, limits.max_side, limits.max_file_bytes, frozenset(SUPPORTED_FORMATS), max_pixels)


@dataclass(frozen=True)
class Header:
    """What an encoded image claims before it is decoded."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes, rules: ImageRules, name: str) -> Header:
    """Format and size from the header only, checked against ``rules`` (no pixel is decoded).

    Raises:
        FileTooLargeError: more bytes than ``rules.max_file_bytes``.
        UnsupportedFormatError: not an image, or a format the rules do not list.
        UnreadableImageError: a header that cannot be parsed.
        ImageTooSmallError, ImageTooLargeError: sides or pixels outside the rules (also a
            header claiming more pixels than PIL's decompression-bomb guard allows).
    """
    if len(data) > rules.max_file_bytes:
        raise FileTooLargeError(
            f"the file is {len(data) / MB:.2f} MB; the limit is {rules.max_file_bytes / MB:.2f} MB", path=name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            header = Header(image.format or "?", *image.size)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image claims too many pixels ({exc})", path=name) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedFormatError(f"not an image; send {rules.describe_formats()}", path=name) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImageError(f"the image header is corrupt ({exc})", path=name) from exc
    check_header(header, rules, name)
    return header


def check_header(header: Header, rules: ImageRules, name: str) -> None:
    """Raises the size/format error for a header outside ``rules`` (see ``read_header``)."""
    if header.format not in rules.formats:
        raise UnsupportedFormatError(
            f"{FORMAT_NAMES.get(header.format, header.format)} images are not accepted; send {rules.describe_formats()}",
            path=name)
    size = f"{header.width}x{header.height}"
    if min(header.width, header.height) < rules.min_side:
        raise ImageTooSmallError(f"the image is {size}; each side must be at least {rules.min_side} px", path=name)
    if max(header.width, header.height) > rules.max_side:
        raise ImageTooLargeError(f"the image is {size}; each side must be at most {rules.max_side} px", path=name)
    if rules.max_pixels is not None and header.pixels > rules.max_pixels:
        raise ImageTooLargeError(
            f"the image is {size} ({header.pixels / 1e6:.1f} MP); the limit is {rules.max_pixels / 1e6:.1f} MP",
            path=name)

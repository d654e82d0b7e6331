from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.core.errors import (
    FileTooLargeError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableImageError,
    UnsupportedFormatError,
)
from app.core.media.image_io import InputLimits, decode_image, load_image


def _save(image: Image.Image, path, **kw):
    image.save(path, **kw)
    return path


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png"), ("BMP", ".bmp"), ("WEBP", ".webp"), ("TIFF", ".tif"), ("GIF", ".gif")])
def test_supported_formats_load_as_rgb_uint8(tmp_path, fmt, suffix):
    path = _save(Image.new("RGB", (64, 48), (200, 30, 10)), tmp_path / f"a{suffix}", format=fmt)
    frame = load_image(path)
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
    assert abs(int(frame[10, 10, 0]) - 200) < 12


def test_exif_orientation_is_honoured(tmp_path):
    image = Image.new("RGB", (80, 40), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 40, 40))  # white on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(image, tmp_path / "rot.jpg", exif=exif)
    frame = load_image(path)
    assert frame.shape[:2] == (80, 40)  # portrait after rotation
    assert frame[5, 20].mean() > 200 and frame[75, 20].mean() < 50  # left half ended up on top


def test_grayscale_16bit_and_rgba_inputs(tmp_path):
    gray16 = Image.fromarray(np.full((40, 50), 65535, np.uint16))
    frame = load_image(_save(gray16, tmp_path / "g16.png"))
    assert frame.shape == (40, 50, 3) and frame.min() == 255
    gray = load_image(_save(Image.new("L", (40, 40), 100), tmp_path / "g.png"))
    assert gray.shape == (40, 40, 3) and (gray == 100).all()
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    flat = load_image(_save(rgba, tmp_path / "t.png"))
    assert (flat == 255).all()  # fully transparent pixels become white, not hidden red


def test_first_frame_of_animated_gif(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_image(path)[0, 0, 0] > 200


def test_size_limits_are_checked(tmp_path):
    small = _save(Image.new("RGB", (31, 100)), tmp_path / "s.png")
    with pytest.raises(ImageTooSmallError):
        load_image(small)
    big = _save(Image.new("RGB", (300, 40)), tmp_path / "b.png")
    with pytest.raises(ImageTooLargeError):
        load_image(big, InputLimits(max_side=256))
    with pytest.raises(FileTooLargeError):
        load_image(big, InputLimits(max_file_bytes=10))


def test_bad_files_get_typed_errors(tmp_path):
    with pytest.raises(UnreadableImageError):
        load_image(tmp_path / "missing.png")
    fake = tmp_path / "fake.jpg"
    fake.write_text("not an image")
    with pytest.raises(UnreadableImageError):
        load_image(fake)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormatError):
        load_image(text)
    ico = _save(Image.new("RGB", (64, 64)), tmp_path / "icon.ico", format="ICO")
    with pytest.raises(UnsupportedFormatError):
        load_image(ico)
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(good, format="PNG")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    with pytest.raises(UnreadableImageError):
        load_image(truncated)


def test_decode_image_from_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (64, 40), (1, 2, 3)).save(buf, format="PNG")
    assert decode_image(buf.getvalue()).shape == (40, 64, 3)
    with pytest.raises(UnsupportedFormatError):
        decode_image(b"garbage")


def test_pixel_limit_is_checked_on_the_header_before_decoding(tmp_path):
    from app.core.errors import ImageTooLargeError
    from app.core.media.image_io import InputLimits, load_image
    from tests.hostile import bilevel_bomb_png, header_bomb_png

    lying = header_bomb_png(tmp_path / "lying.png", 8000, 8000)  # decoding it would say "truncated" (exit 3)
    with pytest.raises(ImageTooLargeError) as info:
        load_image(lying)
    assert info.value.exit_code == 6 and "the limit is 50 MP" in str(info.value)
    bomb = bilevel_bomb_png(tmp_path / "bomb.png", 4000, 3000)  # 12 MP from a few KB
    with pytest.raises(ImageTooLargeError):
        load_image(bomb, InputLimits(max_pixels=10_000_000))
    assert load_image(bomb, InputLimits(max_pixels=12_000_000)).shape == (3000, 4000, 3)


def test_pillows_own_limit_never_turns_an_allowed_image_into_corrupt(tmp_path, monkeypatch):
    from PIL import Image

    from app.core.errors import ImageTooLargeError
    from app.core.media.image_io import load_image

    assert Image.MAX_IMAGE_PIXELS is None  # ours (InputLimits.max_pixels) replaces it
    path = tmp_path / "a.png"
    Image.new("RGB", (200, 200)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # another library in the process lowered it
    with pytest.raises(ImageTooLargeError):  # a "decompression bomb" is too large (6), not corrupt (3)
        load_image(path)

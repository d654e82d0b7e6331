"""Hostile inputs made in code (no binary fixtures): lying headers, damaged and rotated clips.

Each maker writes one file and returns its path; the tests assert what a user
sees when they feed it to LiveMatte.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.clips import make_clip


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def header_bomb_png(path: Path, width: int = 8000, height: int = 8000) -> Path:
    """A ~100-byte PNG whose header claims ``width``×``height`` RGB pixels (the data is a few rows)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * min(width, 16)), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b""))
    return path


def damaged_packet_clip(path: Path, source: Path, bad: set[int] | None = None) -> Path:
    """``source`` remuxed with the video packets numbered in ``bad`` (default: the 4th; empty set:
    every one) replaced by garbage the decoder rejects."""
    bad = {3} if bad is None else bad
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        stream = src.streams.video[0]
        target = out.add_stream_from_template(stream)
        for i, packet in enumerate(src.demux(stream)):
            if packet.dts is None:
                continue
            if i in bad or not bad:
                junk = av.Packet(bytes([0, 0, 0, 1, 0x65]) + bytes(range(256)) * 4)  # an IDR slice header, then noise
                junk.pts, junk.dts, junk.time_base = packet.pts, packet.dts, packet.time_base
                packet = junk
            packet.stream = target
            out.mux(packet)
    return path


def truncated_clip(path: Path, source: Path, keep: float = 0.5) -> Path:
    """The first ``keep`` of ``source`` made fast-start (index first): the index announces every frame,
    the data of the later ones is missing, as in an interrupted download."""
    faststart = path.with_name(f"faststart-{path.name}")
    with av.open(str(source)) as src, av.open(str(faststart), "w", options={"movflags": "+faststart"}) as out:
        stream = src.streams.video[0]
        target = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = target
            out.mux(packet)
    data = faststart.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def rotated_clip(path: Path, degrees: int = 90, frames: int = 4, width: int = 96, height: int = 64) -> Path:
    """A clip stored ``width``×``height`` with a display matrix asking to turn it ``degrees`` counter-clockwise."""
    out = av.open(str(path), mode="w")
    video = out.add_stream("libx264", rate=Fraction(25))
    video.width, video.height = width, height
    video.pix_fmt = "yuv420p"
    video.codec_context.options = {"preset": "ultrafast", "crf": "10"}
    video.set_display_rotation(degrees)
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(marked_frame(width, height), format="rgb24")
        frame.pts = i
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    out.close()
    return path


def marked_frame(width: int, height: int) -> np.ndarray:
    """A frame whose left quarter is white and the rest dark: its orientation is visible."""
    frame = np.full((height, width, 3), 30, np.uint8)
    frame[:, : width // 4] = 255
    return frame


def mp3_clip(path: Path, frames: int = 8) -> Path:
    """An MP4 with MP3 audio (decoded by FFmpeg's ``mp3float``)."""
    return make_clip(path, frames, audio_codec="libmp3lame")




def bilevel_bomb_png(path: Path, width: int = 8000, height: int = 8000) -> Path:
    """A valid 1-bit PNG of a few KB that decodes to ``width``×``height`` pixels (192 MB as RGB at 8000²)."""
    from PIL import Image

    Image.new("1", (width, height), 1).save(path, optimize=True)
    return path


def fill_disk_after(monkeypatch, writes_allowed: int) -> None:
    """Every file write after the first ``writes_allowed`` in app.core.media.writers fails with ENOSPC
    part-way through, as a disk that fills up does."""
    import errno
    import os

    import app.core.media.writers as writers

    real_fdopen = os.fdopen
    count = {"n": 0}

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            count["n"] += 1
            if count["n"] > writes_allowed:
                self.fh.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

    monkeypatch.setattr(writers.os, "fdopen", lambda fd, mode="r": FullDisk(real_fdopen(fd, mode)))


def noisy_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A person image with noise: its PNGs do not compress (fills a small disk fast)."""
    from tests.tiny_models import person_image

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    return np.clip(person_image(width, height).astype(np.int16) + noise - 20, 0, 255).astype(np.uint8)

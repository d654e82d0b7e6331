"""Short synthetic clips made in code with PyAV: a red "person" moving over a background, plus a tone.

Red marks the person for the tiny test models (tests/tiny_models.py), so the
mattes of these clips are predictable without real weights.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

NTSC = Fraction(30000, 1001)


def moving_frame(index: int, width: int = 160, height: int = 120, background: tuple[int, int, int] = (40, 90, 160)) -> np.ndarray:
    """A background with a red rectangle that moves right by 3 px per frame."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = background
    frame[:, :, 1] = np.linspace(background[1], 200, width, dtype=np.uint8)[None, :]  # a gradient, not flat
    x = (10 + 3 * index) % max(1, width - 50)
    frame[height // 4 : height - 10, x : x + 40] = (230, 40, 40)
    return frame


def make_clip(
    path: Path,
    frames: int = 12,
    *,
    width: int = 160,
    height: int = 120,
    rate: Fraction = NTSC,
    audio: bool = True,
    audio_codec: str = "aac",
    vfr_pts: list[int] | None = None,
    codec: str = "libx264",
    container: str | None = None,
) -> Path:
    """Writes a clip of ``frames`` frames at ``rate``; ``vfr_pts`` (ms per frame) makes it variable-rate instead.

    Audio is a 440 Hz sine lasting exactly as long as the video.
    """
    out = av.open(str(path), mode="w", format=container)
    video = out.add_stream(codec, rate=rate)
    video.width, video.height = width, height
    video.pix_fmt = "yuv420p"
    time_base = Fraction(1, 1000) if vfr_pts is not None else 1 / rate
    video.time_base = video.codec_context.time_base = time_base  # the muxer may change video.time_base later
    if codec == "libx264":
        video.codec_context.options = {"preset": "ultrafast", "crf": "10"}
    pts_list = vfr_pts if vfr_pts is not None else list(range(frames))
    duration = (pts_list[-1] / 1000 + 0.04) if vfr_pts is not None else frames / float(rate)
    tone = None
    if audio:
        tone = out.add_stream(audio_codec, rate=48000)
        tone.layout = "mono"
    for i, pts in enumerate(pts_list):
        frame = av.VideoFrame.from_ndarray(moving_frame(i, width, height), format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if tone is not None:
        _write_tone(out, tone, duration)
    out.close()
    return path


def _write_tone(out, stream, seconds: float) -> None:
    rate = 48000
    total = round(seconds * rate)
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
    fmt = stream.codec_context.codec.audio_formats[0].name
    resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + chunk], format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for resampled in resampler.resample(frame):
            out.mux(stream.encode(resampled))
    for resampled in resampler.resample(None):
        out.mux(stream.encode(resampled))
    out.mux(stream.encode(None))


def probe(path: Path) -> dict:
    """Frame timestamps (s), frame count, size and audio duration (s) of a file, decoded for real."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        start = video.start_time or 0
        times = [float((f.pts - start) * video.time_base) for f in container.decode(video)]
        info = {"times": times, "frames": len(times), "size": (video.codec_context.width, video.codec_context.height),
                "rate": video.average_rate, "audio": None}
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(stream))
            info["audio"] = {"codec": stream.codec_context.name, "seconds": samples / stream.codec_context.sample_rate}
    return info


def person_frames(cutout_rgba: np.ndarray, background: np.ndarray, frames: int, width: int, height: int,
                  step: int = 6) -> list[np.ndarray]:
    """A real cut-out (RGBA) pasted at positions moving right by ``step`` px per frame over a background."""
    import cv2

    from app.core.imaging.compose import cover_fit

    bg = cover_fit(background, width, height)
    scale = 0.9 * height / cutout_rgba.shape[0]
    person = cv2.resize(cutout_rgba, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ph, pw = person.shape[:2]
    alpha = person[..., 3:4].astype(np.float32) / 255.0
    out = []
    for i in range(frames):
        frame = bg.copy()
        x = min(width - pw, max(0, width // 2 - pw // 2 - (frames // 2) * step + i * step))
        y = height - ph
        region = frame[y : y + ph, x : x + pw].astype(np.float32)
        frame[y : y + ph, x : x + pw] = (person[..., :3] * alpha + region * (1 - alpha) + 0.5).astype(np.uint8)
        out.append(frame)
    return out


def write_frames(path: Path, images: list[np.ndarray], rate: Fraction = NTSC, audio: bool = True) -> Path:
    """Encodes RGB frames as H.264 at ``rate`` with a matching tone."""
    height, width = images[0].shape[:2]
    out = av.open(str(path), mode="w")
    video = out.add_stream("libx264", rate=rate)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.codec_context.options = {"preset": "ultrafast", "crf": "16"}
    tone = out.add_stream("aac", rate=48000) if audio else None
    if tone is not None:
        tone.layout = "mono"
    for i, image in enumerate(images):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        frame.time_base = 1 / rate
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if tone is not None:
        _write_tone(out, tone, len(images) / float(rate))
    out.close()
    return path

"""Which core source the GUI opens for each user action."""

from __future__ import annotations

from app.core.media.sources import CameraSource, LoopingVideoSource, StillSource, VideoFileSource

STILL_FPS = 15.0  # a still is re-processed so setting changes show at once


def camera(index: int, width: int, height: int, fps: int) -> CameraSource:
    return CameraSource(index, width, height, fps)


def video(path: str, *, loop: bool, start: float = 0.0) -> VideoFileSource | LoopingVideoSource:
    if loop:
        return LoopingVideoSource(path, start)
    source = VideoFileSource(path)
    source.seek(start)
    return source


def image(path: str) -> StillSource:
    return StillSource(path, count=None, fps=STILL_FPS)


def duration(path: str) -> float:
    """Length of a video in seconds (0 when the container does not say)."""
    with VideoFileSource(path) as source:
        return source.duration or 0.0

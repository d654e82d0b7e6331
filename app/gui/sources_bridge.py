"""Which core source the GUI opens for each user action."""

from __future__ import annotations

from app.core.media.sources import CameraSource, LoopingVideoSource, StillSource, VideoFileSource


def camera(index: int, width: int, height: int, fps: int) -> CameraSource:
    return CameraSource(index, width, height, fps)


def video(path: str, *, loop: bool, start: float = 0.0) -> VideoFileSource | LoopingVideoSource:
    if loop:
        return LoopingVideoSource(path, start)
    source = VideoFileSource(path)
    source.seek(start)
    return source


def image(path: str) -> StillSource:
    """A still: the live session mattes it once, and again only when the settings change."""
    return StillSource(path, count=1)


def duration(path: str) -> float:
    """Length of a video in seconds (0 when the container does not say)."""
    with VideoFileSource(path) as source:
        return source.duration or 0.0

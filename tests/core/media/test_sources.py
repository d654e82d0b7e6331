"""Sources: protocol, timestamps, closing, and camera errors."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import CameraStoppedError, CameraUnavailableError, InputError, UnreadableVideoError
from app.core.media.sources import (
    CameraSource,
    FrameSource,
    ImageSequenceSource,
    StillSource,
    VideoFileSource,
    open_source,
)
from app.core.media.writers import write_png
from tests.clips import NTSC, make_clip, moving_frame


class FakeCapture:
    """Stands in for cv2.VideoCapture: delivers ``good`` frames, then fails; counts releases."""

    instances: list["FakeCapture"] = []

    def __init__(self, opened: bool = True, good: int = 3) -> None:
        self.opened, self.good, self.released, self.reads = opened, good, 0, 0
        FakeCapture.instances.append(self)

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened and not self.released

    def set(self, prop, value) -> bool:
        return True

    def read(self):
        self.reads += 1
        if self.reads <= self.good:
            return True, np.full((48, 64, 3), (10, 20, 30), np.uint8)  # BGR
        return False, None

    def release(self) -> None:
        self.released += 1


def test_every_source_follows_the_protocol(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 3, audio=False)
    write_png(tmp_path / "seq" / "f1.png", moving_frame(0))
    sources = [
        VideoFileSource(clip),
        ImageSequenceSource(tmp_path / "seq"),
        StillSource(moving_frame(0)),
        CameraSource(0, capture_factory=lambda d: FakeCapture()),
    ]
    for source in sources:
        with source:
            assert isinstance(source, FrameSource)
            image, timestamp = next(iter(source))
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            assert image.flags.c_contiguous and timestamp == 0.0
        assert source.closed


def test_video_file_timestamps_are_exact_at_2997(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 6, audio=False)
    with VideoFileSource(clip) as source:
        frames = list(source)
        assert source.fps == pytest.approx(float(NTSC))
    assert len(frames) == 6
    assert [f.timestamp for f in frames] == pytest.approx([i * 1001 / 30000 for i in range(6)], abs=1e-9)
    assert frames[0].image[60, 30].tolist() == pytest.approx([230, 40, 40], abs=12)  # RGB, not BGR


def test_video_seek(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 10, audio=False)
    with VideoFileSource(clip) as source:
        source.seek(0.2)
        first = next(iter(source))
    assert first.timestamp == pytest.approx(6 * 1001 / 30000)


def test_iteration_end_and_break_release_the_handle():
    caps = []

    def factory(device):
        caps.append(FakeCapture(good=1000))
        return caps[-1]

    source = CameraSource(0, capture_factory=factory)
    for i, _ in enumerate(source):
        if i == 4:
            break
    # a generator left by ``break`` is closed when collected; closing the source must release at once
    source.close()
    source.close()
    assert caps[0].released == 1


def test_camera_missing_is_a_clear_error():
    cap = FakeCapture(opened=False)
    with pytest.raises(CameraUnavailableError, match="cameras present"):
        CameraSource(7, capture_factory=lambda d: cap)
    assert cap.released == 1


def test_real_missing_camera_index_is_a_clear_error():
    with pytest.raises(CameraUnavailableError, match="camera 97 cannot be opened"):
        CameraSource(97)


def test_camera_that_stops_delivering_is_reported_not_a_hang():
    cap = FakeCapture(good=3)
    source = CameraSource(0, capture_factory=lambda d: cap, stall_timeout=0.3, max_failures=5)
    frames = []
    with pytest.raises(CameraStoppedError, match="stopped delivering"):
        for frame in source:
            frames.append(frame)
    assert len(frames) == 3 and cap.released == 1 and source.closed
    assert frames[0].image[0, 0].tolist() == [30, 20, 10]  # BGR turned into RGB


def test_camera_on_a_video_path_releases(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 4, audio=False)
    with CameraSource(str(clip)) as source:
        assert source.size == (160, 120)
        count = sum(1 for _ in source)
    assert count == 4 and source.closed


def test_video_errors(tmp_path):
    with pytest.raises(UnreadableVideoError):
        VideoFileSource(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(UnreadableVideoError):
        VideoFileSource(bad)


def test_image_sequence_natural_order(tmp_path):
    for i in (10, 2, 1):
        write_png(tmp_path / f"f{i}.png", moving_frame(i))
    source = ImageSequenceSource(str(tmp_path / "f*.png"), fps=10)
    assert [p.name for p in source.paths] == ["f1.png", "f2.png", "f10.png"]
    assert [f.timestamp for f in source] == pytest.approx([0.0, 0.1, 0.2])
    with pytest.raises(InputError):
        ImageSequenceSource(tmp_path / "nothing*.png")


def test_still_source_repeats_and_stops_when_closed():
    source = StillSource(moving_frame(0), count=None, fps=10)
    seen = []
    for frame in source:
        seen.append(frame.timestamp)
        if len(seen) == 5:
            source.close()
    assert seen == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError):
        StillSource(np.zeros((4, 4), np.uint8))


def test_open_source_dispatch(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 2, audio=False)
    with open_source(str(clip)) as source:
        assert isinstance(source, VideoFileSource)
    write_png(tmp_path / "still.png", moving_frame(0))
    with open_source(str(tmp_path / "still.png")) as source:
        assert isinstance(source, StillSource)
    with open_source(str(tmp_path)) as source:
        assert isinstance(source, ImageSequenceSource)
    with pytest.raises(InputError):
        open_source(str(tmp_path / "nope.xyz"))


def test_looping_video_keeps_time_increasing(tmp_path):
    from app.core.media.sources import LoopingVideoSource
    from tests.clips import make_clip

    path = make_clip(tmp_path / "loop.mp4", frames=5)
    source = LoopingVideoSource(path)
    stamps = [frame.timestamp for _, frame in zip(range(12), source)]
    source.close()
    assert source.closed
    assert all(b > a for a, b in zip(stamps, stamps[1:]))


def test_an_unreadable_video_says_why_in_words_not_an_errno(tmp_path):
    from app.core.errors import UnreadableVideoError, media_error_text
    from app.core.media.sources import VideoFileSource

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(UnreadableVideoError) as caught:
        VideoFileSource(broken)
    message = str(caught.value)
    assert "Errno" not in message and "damaged or not a video" in message and "broken.mp4" in message
    assert media_error_text(FileNotFoundError(2, "No such file or directory")) == "no such file or directory"

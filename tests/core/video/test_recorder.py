from __future__ import annotations

import av
import numpy as np
import pytest

from app.core.errors import OutputExistsError
from app.core.video.recorder import ClipRecorder
from tests.clips import make_clip


def _frames(n=12):
    out = []
    for i in range(n):
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, : 10 + 10 * i] = (200, 50, 50)
        out.append(image)
    return out


def test_records_frames_at_their_timestamps(tmp_path):
    path = tmp_path / "rec.mp4"
    recorder = ClipRecorder(path)
    stamps = [0.0, 0.1, 0.15, 0.4, 0.45, 0.5, 0.9, 1.0]  # dropped frames leave gaps
    for image, t in zip(_frames(len(stamps)), stamps):
        recorder.write(image, 10.0 + t)
    assert recorder.finish() == path
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    assert len(decoded) == len(stamps)
    assert np.allclose([t for t, _ in decoded], stamps, atol=0.002)
    assert decoded[3][1][60, 30, 0] > 150 and decoded[0][1][60, 30, 0] < 60  # content in order
    assert [p.name for p in tmp_path.iterdir()] == ["rec.mp4"]


def test_audio_span_is_copied_from_a_file_source(tmp_path):
    source = make_clip(tmp_path / "src.mp4", frames=30)
    recorder = ClipRecorder(tmp_path / "rec.mp4", audio_source=source)
    for i, image in enumerate(_frames(10)):
        recorder.write(image, 0.2 + i / 30)
    recorder.finish()
    with av.open(str(tmp_path / "rec.mp4")) as container:
        assert container.streams.audio, "audio track missing"
        audio = container.streams.audio[0]
        packets = [p for p in container.demux(audio) if p.pts is not None]
        assert packets and float(packets[0].pts * audio.time_base) < 0.1


def test_nothing_recorded_leaves_nothing_and_existing_is_kept(tmp_path):
    recorder = ClipRecorder(tmp_path / "empty.mp4")
    assert recorder.finish() is None and not list(tmp_path.iterdir())
    (tmp_path / "mine.mp4").write_bytes(b"x")
    with pytest.raises(OutputExistsError):
        ClipRecorder(tmp_path / "mine.mp4")


def test_discard_leaves_no_file(tmp_path):
    recorder = ClipRecorder(tmp_path / "gone.mp4")
    recorder.write(_frames(1)[0], 0.0)
    recorder.discard()
    assert not list(tmp_path.iterdir())

from __future__ import annotations

import threading

import pytest

from app.core.errors import UnreadableImageError
from app.core.live.headless import HeadlessLive
from app.core.live.settings import LiveSettings
from app.core.media.sources import VideoFileSource


def _clip(tmp_path):
    from tests.clips import make_clip

    return make_clip(tmp_path / "clip.mp4", frames=6, audio=False)


def test_a_video_file_is_never_mirrored_headless(tiny_models_dir, tmp_path):
    settings = LiveSettings(model="selfie", background="#00ff00", mirror=True)
    live = HeadlessLive(VideoFileSource(_clip(tmp_path)), settings, models_dir=str(tiny_models_dir), pace=False)
    live.run(threading.Event())
    assert live.last_frame is not None and not live.last_frame.mirrored  # what --preview-png saves


def test_a_bad_background_on_the_command_line_is_an_error(tiny_models_dir, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    settings = LiveSettings(model="selfie", background=str(bad))
    live = HeadlessLive(VideoFileSource(_clip(tmp_path)), settings, models_dir=str(tiny_models_dir), pace=False)
    with pytest.raises(UnreadableImageError):
        live.run(threading.Event())

"""`livematte video`: formats, options, exit codes, and a clean Ctrl-C."""

from __future__ import annotations

import signal
import threading

import pytest

from app.cli import main
from tests.clips import make_clip, probe


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("cli_clips") / "in.mp4", 8)


def _video(tiny_models_dir, *args):
    return main(["video", *args, "--models-dir", str(tiny_models_dir), "--no-progress"])


def test_video_writes_composite_with_audio(tiny_models_dir, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert _video(tiny_models_dir, str(clip), "-o", str(out), "--bg", "blue", "-m", "rvm") == 0
    info = probe(out)
    assert info["frames"] == 8 and info["audio"]["codec"] == "aac"
    assert "8 frames" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["-o", "x.webm"], ["-o", "seq"], ["-o", "m.mp4", "--format", "matte"]])
def test_video_formats_and_matte_options(tiny_models_dir, clip, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    extra = ["-m", "selfie", "--feather", "3", "--expand", "2", "--min-blob", "0.01", "--every", "2"]
    assert _video(tiny_models_dir, str(clip), *args, *extra) == 0
    assert (tmp_path / args[1]).exists()


def test_video_exit_codes(tiny_models_dir, clip, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"mine")
    assert _video(tiny_models_dir, str(clip), "-o", str(out)) == 12  # output_exists
    assert out.read_bytes() == b"mine"
    assert _video(tiny_models_dir, str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "a.mp4")) == 15
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "a.avi")) == 2
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "b.mp4"), "--smoothing", "1.5") == 2
    assert _video(tiny_models_dir, str(clip), "-o", str(tmp_path / "c.mp4"), "--every", "0") == 2


def test_ctrl_c_stops_cleanly(tiny_models_dir, clip, tmp_path, monkeypatch, capsys):
    """SIGINT during the export: exit 130, no file under the final name, no temporary left."""
    import app.core.video.export as video_export

    real_render = video_export.render_output
    calls = []

    def render_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C delivers, handled by the command
        return real_render(*args, **kwargs)

    monkeypatch.setattr(video_export, "render_output", render_then_interrupt)
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT)  # default, or SIG_IGN when CI runs the tests in the background
    out = tmp_path / "out"  # its own folder: tmp_path also holds the test's cache (ONNX Runtime writes there)
    out.mkdir()
    assert _video(tiny_models_dir, str(clip), "-o", str(out / "out.mp4")) == 130
    assert list(out.iterdir()) == []
    assert "cancelled" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back

"""`livematte live`: the headless live view against a generated clip, with the fake virtual camera."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.media.image_io import load_image
from app.core.live.virtual_camera import KEY_GREEN, FakeVirtualCamSink
from tests.clips import make_clip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("live_clips") / "in.mp4", 30, width=160, height=120)


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """Presets are never read from or written to the user's own config folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def fake_sink(monkeypatch) -> FakeVirtualCamSink:
    sink = FakeVirtualCamSink(keep=None)
    monkeypatch.setattr("app.core.live.virtual_camera.make_sink", lambda backend, device=None: sink)
    return sink


def _live(tiny_models_dir, clip, *args) -> int:
    return main(["live", "--source", str(clip), "--models-dir", str(tiny_models_dir), *args])


def test_duration_run_feeds_the_virtual_camera_at_the_clip_rate(tiny_models_dir, clip, fake_sink, tmp_path, capsys):
    preview = tmp_path / "last.png"
    started = time.monotonic()
    code = _live(tiny_models_dir, clip, "--virtual-cam", "--bg", "#0000ff", "--duration", "1.5",
                 "--preview-png", str(preview))
    assert code == 0
    assert time.monotonic() - started >= 1.5  # runs for the duration (how much longer depends on the machine)
    assert fake_sink.size == (160, 120) and fake_sink.fps == pytest.approx(30000 / 1001)
    assert fake_sink.stopped == 1
    # how many sends fit in 1.5 s depends on the machine; the pacing itself is tested with a fake clock
    assert fake_sink.count >= 1
    frames = fake_sink.snapshot()
    assert all(f.frame.shape == (120, 160, 3) and f.frame.dtype == np.uint8 for f in frames)
    assert tuple(frames[-1].frame[2, 2]) == (0, 0, 255)  # background replaced
    assert frames[-1].frame[60, :, 0].max() > 200  # the red "person" is kept
    err = capsys.readouterr().err
    assert "finished after" in err and "virtual camera fake 160x120" in err
    assert load_image(preview).shape == (120, 160, 3)


def test_transparent_view_reaches_the_camera_flattened_on_key_green(tiny_models_dir, clip, fake_sink):
    assert _live(tiny_models_dir, clip, "--virtual-cam", "--preset", "Transparent for OBS", "--duration", "0.8") == 0
    frame = fake_sink.snapshot()[-1].frame
    assert frame.shape == (120, 160, 3) and tuple(frame[2, 2]) == KEY_GREEN


def test_preset_then_options(tiny_models_dir, clip, tmp_path):
    preview = tmp_path / "p.png"
    assert _live(tiny_models_dir, clip, "--preset", "green screen", "--view", "side_by_side", "--no-mirror",
                 "--duration", "0.8", "--preview-png", str(preview), "--no-status") == 0
    image = load_image(preview)
    assert image.shape == (120, 320, 3)  # side by side: source | composite
    assert tuple(image[2, 162]) == (0, 177, 64)  # the preset's green behind the person


def test_clip_end_without_loop_finishes(tiny_models_dir, clip, capsys):
    assert _live(tiny_models_dir, clip, "--no-loop") == 0  # returns at the clip's end (a hang would hang here)
    assert "finished after" in capsys.readouterr().err


def test_status_shows_the_cadence_and_the_models_own_time(tiny_models_dir, clip, capsys):
    """--every 2: the status says so, and reused frames do not pull the inference average towards 0."""
    assert _live(tiny_models_dir, clip, "--no-loop", "--every", "2") == 0
    final = [line for line in capsys.readouterr().err.splitlines() if "finished after" in line][-1]
    assert "every 2nd frame" in final
    assert float(final.split("inference")[1].split("ms")[0]) > 0.0


def test_save_list_and_use_a_preset(tiny_models_dir, clip, tmp_path, capsys):
    presets = tmp_path / "presets"
    assert main(["live", "--presets-dir", str(presets), "--bg", "#ff00ff", "--feather", "2",
                 "--save-preset", "Studio"]) == 0
    saved = json.loads((presets / "studio.json").read_text())
    assert saved["settings"]["background"] == "#ff00ff" and saved["settings"]["feather"] == 2
    assert main(["live", "--presets-dir", str(presets), "--save-preset", "Studio"]) == 24  # exists
    capsys.readouterr()
    assert main(["live", "--presets-dir", str(presets), "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "Meeting blur" in out and "Studio" in out
    preview = tmp_path / "s.png"
    assert _live(tiny_models_dir, clip, "--presets-dir", str(presets), "--preset", "studio", "--duration", "0.5",
                 "--preview-png", str(preview)) == 0
    assert tuple(load_image(preview)[2, 2]) == (255, 0, 255)


def test_errors_are_one_line_with_stable_codes(tiny_models_dir, clip, capsys, monkeypatch):
    assert _live(tiny_models_dir, clip, "--preset", "Disco") == 24
    assert "no preset named 'Disco'" in capsys.readouterr().err
    assert _live(tiny_models_dir, clip, "--size", "big") == 2
    assert _live(tiny_models_dir, clip, "--overlay-parts", "tail") == 2
    assert _live(tiny_models_dir, clip, "--smoothing", "3") == 2
    assert _live(tiny_models_dir, str(clip) + ".missing.mp4") == 15
    import pyvirtualcam

    def no_device(*args, **kwargs):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found")

    monkeypatch.setattr(pyvirtualcam, "Camera", no_device)
    monkeypatch.setattr(sys, "platform", "linux")
    capsys.readouterr()
    assert _live(tiny_models_dir, clip, "--virtual-cam", "--duration", "2") == 23
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("livematte: error [virtual_camera_unavailable]")
    assert "sudo modprobe v4l2loopback exclusive_caps=1 card_label=LiveMatte" in err[-1]


def _read_until(stream, text: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
            raise AssertionError(f"{text!r} not seen in time; got {seen!r}")
        line = stream.readline()
        if not line:
            raise AssertionError(f"process ended before {text!r}; got {seen!r}")
        seen += line
    return seen


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_running_subprocess_cleanly(tiny_models_dir, clip, tmp_path, sig):
    preview = tmp_path / "last.png"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "app", "live", "--source", str(clip), "--models-dir", str(tiny_models_dir),
               "--virtual-cam", "--virtual-cam-backend", "fake", "--preview-png", str(preview)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _read_until(process.stderr, "Ctrl-C stops", timeout=120)
        # the first status line (every 5 s off a terminal) comes after a processed frame; the clip loops,
        # so only the signal ends the run. The timeouts only bound a hang.
        _read_until(process.stderr, " fps", timeout=120)
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped after" in err and "Traceback" not in err
    assert "virtual camera fake 160x120" in err
    assert load_image(preview).shape == (120, 160, 3)


def test_options_map_onto_live_settings(tmp_path):
    from app.cli import build_parser
    from app.cli.live import _live_settings
    from app.core.live.presets import PresetStore

    args = build_parser().parse_args([
        "live", "--source", "2", "--size", "640x480", "--fps", "15", "--no-mirror", "--threshold", "0.4",
        "--face-overlay", "--overlay-parts", "lips,hair", "--skeleton", "--every", "2", "--provider", "cpu",
    ])
    settings = _live_settings(args, PresetStore(tmp_path))
    assert (settings.camera_index, settings.camera_width, settings.camera_height, settings.camera_fps) == (2, 640, 480, 15)
    assert not settings.mirror and settings.threshold_enabled and settings.threshold == 0.4
    assert settings.overlay_enabled and settings.overlay_classes == (7, 9, 10) and settings.skeleton_enabled
    assert settings.every_n == 2 and settings.provider == "cpu"
    assert settings.background == "blur:25" and settings.model == "rvm"  # untouched defaults


def test_missing_overlay_models_only_warn(tiny_models_dir, clip, capsys, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)  # only the tiny matting models can be found
    assert _live(tiny_models_dir, clip, "--face-overlay", "--duration", "0.5") == 0
    err = capsys.readouterr().err
    assert "warning: face overlay off" in err and "finished after" in err

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.errors import ImageTooSmallError, ModelMissingError, OutputExistsError, UnsupportedFormatError
from app.core.media.writers import write_png
from tests.tiny_models import person_image


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("one.png", "two.jpg"):
        cv2.imwrite(str(folder / name), cv2.cvtColor(person_image(), cv2.COLOR_RGB2BGR))
    return folder


def _run(tiny_models_dir, *args):
    return main(["still", *args, "--models-dir", str(tiny_models_dir), "--no-progress"])


def test_still_writes_every_output(tiny_models_dir, photos, tmp_path):
    out = tmp_path / "out"
    assert _run(tiny_models_dir, str(photos), "-o", str(out), "--bg", "#00ff00") == 0
    names = sorted(p.name for p in out.iterdir())
    expected = [f"{s}.{k}" for s in ("one", "two") for k in ("alpha.png", "rgba.png", "composite.png", "json")]
    assert names == sorted(expected)
    alpha = cv2.imread(str(out / "one.alpha.png"), cv2.IMREAD_UNCHANGED)
    assert alpha.shape == (240, 320) and alpha.dtype == np.uint8
    assert alpha[120, 160] > 240 and alpha[3, 3] < 10
    rgba = cv2.imread(str(out / "one.rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (240, 320, 4) and (rgba[..., 3] == alpha).all()
    comp = cv2.imread(str(out / "one.composite.png"))
    assert tuple(comp[3, 3]) == (0, 255, 0)  # BGR green
    report = json.loads((out / "one.json").read_text())
    assert report["width"] == 320 and report["height"] == 240 and report["model"] == "rvm"
    assert report["provider"] == "cpu" and report["timings_ms"]["inference"] > 0


def test_selected_outputs_and_hard_cut(tiny_models_dir, photos, tmp_path):
    out = tmp_path / "out"
    code = _run(tiny_models_dir, str(photos / "one.png"), "-o", str(out), "--outputs", "alpha", "--hard", "--model", "meet")
    assert code == 0 and [p.name for p in out.iterdir()] == ["one.alpha.png"]
    alpha = cv2.imread(str(out / "one.alpha.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(alpha)) <= {0, 255}


def test_existing_outputs_are_kept_unless_overwrite(tiny_models_dir, photos, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "one.alpha.png").write_bytes(b"mine")
    assert _run(tiny_models_dir, str(photos / "one.png"), "-o", str(out), "--outputs", "alpha") == 0
    assert (out / "one.alpha.png").read_bytes() == b"mine"
    assert "skipped 1" in capsys.readouterr().err
    assert _run(tiny_models_dir, str(photos / "one.png"), "-o", str(out), "--outputs", "alpha", "--overwrite") == 0
    assert (out / "one.alpha.png").read_bytes() != b"mine"


def test_bad_file_does_not_stop_the_batch(tiny_models_dir, photos, tmp_path, capsys):
    (photos / "broken.png").write_bytes(b"nope")
    write_png(photos / "tiny.png", np.zeros((10, 10, 3), np.uint8))
    out = tmp_path / "out"
    code = _run(tiny_models_dir, str(photos), "-o", str(out), "--outputs", "alpha")
    err = capsys.readouterr().err
    assert "done 2, failed 2, skipped 0" in err
    assert code != 0 and (out / "one.alpha.png").exists() and (out / "two.alpha.png").exists()
    assert not (out / "broken.alpha.png").exists()


def test_distinct_exit_codes(tiny_models_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    write_png(tmp_path / "small.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "doc.txt").write_text("x")
    assert _run(tiny_models_dir, str(tmp_path / "small.png"), "-o", str(tmp_path / "o")) == ImageTooSmallError.exit_code
    assert _run(tiny_models_dir, str(tmp_path / "doc.txt"), "-o", str(tmp_path / "o")) == UnsupportedFormatError.exit_code
    code = main(["still", str(tmp_path / "small.png"), "--models-dir", str(tmp_path / "none"), "--no-progress"])
    assert code == ModelMissingError.exit_code
    assert main(["still", "x.png", "--bg", "blur:zero"]) == 2
    assert len({ImageTooSmallError.exit_code, UnsupportedFormatError.exit_code, ModelMissingError.exit_code, OutputExistsError.exit_code}) == 4


def test_models_command_lists_found_and_missing(tiny_models_dir, capsys, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    assert main(["models", "--models-dir", str(tiny_models_dir)]) == 0
    out = capsys.readouterr().out
    assert str(tiny_models_dir / "rvm_mobilenetv3_fp32.onnx") in out
    assert "MISSING" in out and "hair" in out


def test_python_m_app_help_is_fast_and_light():
    code = "import sys, runpy; sys.argv=['livematte','--help']\ntry:\n runpy.run_module('app', run_name='__main__')\nexcept SystemExit: pass\nprint('onnxruntime' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "still" in out and out.strip().endswith("False False")


def test_no_display_gives_a_clear_message_not_a_crash(monkeypatch, capsys):
    import sys as _sys

    monkeypatch.setattr(_sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main([]) == 2
    assert "no display found" in capsys.readouterr().err

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.face.palette import read_label_png
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import write_tiny_models


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parse_models")
    write_tiny_models(folder)
    return write_tiny_face_models(folder)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("one.png", "two.jpg"):
        cv2.imwrite(str(folder / name), cv2.cvtColor(face_image(), cv2.COLOR_RGB2BGR))
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def _parse(models_dir, *args):
    return main(["parse", *args, "--models-dir", str(models_dir), "--no-progress"])


def test_parse_writes_outputs_and_survives_a_bad_file(models_dir, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = _parse(models_dir, str(photos), "-o", str(out), "--parts", "hair,face", "--overlay-opacity", "0.7")
    assert code != 0  # the broken file is reported...
    for stem in ("one", "two"):  # ...but the others are done
        for name in (f"{stem}.labels.png", f"{stem}.overlay.png", f"{stem}.parts.png", f"{stem}.parse.json"):
            assert (out / name).is_file()
    assert "done 2, failed 1" in capsys.readouterr().err
    labels = read_label_png(out / "one.labels.png")
    assert labels.shape == (256, 320) and set(np.unique(labels)) >= {0, 1, 4, 5, 10}
    report = json.loads((out / "one.parse.json").read_text())
    assert len(report["faces"]) == 1 and report["selection"]["parts"] == ["hair", "face"]
    boxes = {b["label"]: b for b in report["parts"]}
    assert boxes["left_eye"]["x"] > boxes["right_eye"]["x"]
    assert {"detect", "landmarks", "hair", "rasterise"} <= set(report["timings_ms"])
    rgba = cv2.imread(str(out / "one.parts.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (256, 320, 4) and rgba[..., 3].max() == 255 and rgba[0, 0, 3] == 0


def test_parse_no_clobber_and_overwrite(models_dir, photos, tmp_path, capsys):
    out = tmp_path / "out"
    image = str(photos / "one.png")
    assert _parse(models_dir, image, "-o", str(out), "--outputs", "labels") == 0
    assert _parse(models_dir, image, "-o", str(out), "--outputs", "labels") == 0
    assert "skipped 1" in capsys.readouterr().err
    assert _parse(models_dir, image, "-o", str(out), "--outputs", "labels", "--overwrite") == 0
    assert "done 1" in capsys.readouterr().err


def test_parse_rejects_bad_options(models_dir, photos, tmp_path, capsys):
    image = str(photos / "one.png")
    assert _parse(models_dir, image, "-o", str(tmp_path), "--parts", "elbow") == 2
    assert _parse(models_dir, image, "-o", str(tmp_path), "--overlay-opacity", "2") == 2
    assert "opacity" in capsys.readouterr().err


def test_parse_body_uses_the_matting_model(models_dir, photos, tmp_path):
    out = tmp_path / "out"
    code = _parse(models_dir, str(photos / "one.png"), "-o", str(out), "--parts", "body", "--model", "selfie",
                  "--outputs", "parts,json")
    assert code == 0
    report = json.loads((out / "one.parse.json").read_text())
    assert "matte" in report["timings_ms"]


def test_parse_on_a_full_disk_is_one_line_and_leaves_whole_sets_only(models_dir, photos, tmp_path, monkeypatch, capsys):
    """Issue 15: parse ended in a traceback with half a set; now exit 11, one line, and a re-run completes."""
    from tests.hostile import fill_disk_after

    (photos / "broken.png").unlink()
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        fill_disk_after(patch, 5)  # the first set (4 files) fits, the second fills the disk part-way
        assert _parse(models_dir, str(photos), "-o", str(out)) == 11
    err = capsys.readouterr().err
    assert "Traceback" not in err and "disk is full" in err and "done 1, failed 1" in err
    assert sorted(p.name for p in out.iterdir()) == ["one.labels.png", "one.overlay.png", "one.parse.json", "one.parts.png"]
    assert _parse(models_dir, str(photos), "-o", str(out)) == 0
    assert "done 1, failed 0, skipped 1" in capsys.readouterr().err
    assert len(list(out.iterdir())) == 8

from __future__ import annotations

import json

from PIL import Image

from app.core.live.settings import LiveSettings
from app.core.live.snapshot import save_snapshot
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import write_tiny_models


def test_snapshot_writes_matte_and_face_outputs(tmp_path):
    models = write_tiny_face_models(write_tiny_models(tmp_path / "models"))
    settings = LiveSettings(model="selfie", output_dir=str(tmp_path / "out"), background="#0000ff",
                            snapshot_kinds=("composite", "rgba", "alpha", "labels", "overlay", "json"))
    frame = face_image()
    written = save_snapshot(frame, settings, str(models), stem="shot")
    names = sorted(p.name for p in written)
    assert names == sorted(["shot.composite.png", "shot.rgba.png", "shot.alpha.png", "shot.json",
                            "shot.labels.png", "shot.overlay.png"])
    with Image.open(tmp_path / "out" / "shot.labels.png") as labels:
        assert labels.mode == "P" and labels.size == (frame.shape[1], frame.shape[0])
    report = json.loads((tmp_path / "out" / "shot.json").read_text())
    assert report["model"] == "selfie" and report["width"] == frame.shape[1]


def test_snapshot_without_face_outputs_needs_no_face_models(tmp_path):
    models = write_tiny_models(tmp_path / "models")  # no face weights at all
    settings = LiveSettings(model="meet", output_dir=str(tmp_path / "out"))
    written = save_snapshot(face_image(), settings, str(models), stem="s")
    assert {p.name for p in written} == {"s.composite.png", "s.rgba.png", "s.alpha.png", "s.json"}

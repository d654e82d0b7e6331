from __future__ import annotations

import numpy as np

from app.core.live.processor import LatestFrameMailbox, LiveProcessor
from app.core.live.settings import LiveSettings
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import person_image, write_tiny_models


def test_mailbox_keeps_only_the_newest_frame():
    box = LatestFrameMailbox()
    for i in range(3):
        box.put(np.full((2, 2, 3), i, np.uint8), float(i))
    frame, ts = box.get()
    assert ts == 2.0 and box.dropped == 2 and box.get(timeout=0.01) is None


def test_processor_applies_settings_snapshots(tiny_models_dir):
    processor = LiveProcessor(str(tiny_models_dir))
    processor.configure(LiveSettings(model="selfie", background="#00ff00", mirror=False, smoothing=0.0))
    frame = person_image()
    out = processor.process(frame, 0.0)
    assert tuple(out.view[3, 3]) == (0, 255, 0)
    processor.configure(processor.settings.replace(background="#ff0000", mirror=True))
    out = processor.process(frame, 0.04)
    assert tuple(out.view[3, 3]) == (255, 0, 0)
    assert np.array_equal(out.source, frame[:, ::-1])  # mirrored input


def test_face_overlay_fills_labels_and_missing_models_only_turn_it_off(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    models = write_tiny_face_models(write_tiny_models(tmp_path / "m"))
    processor = LiveProcessor(str(models))
    processor.configure(LiveSettings(model="selfie", overlay_enabled=True, overlay_boxes=True, mirror=False))
    out = processor.process(face_image(), 0.0)
    assert out.result.labels is not None and out.result.labels.max() > 0 and out.result.parts
    bare = LiveProcessor(str(write_tiny_models(tmp_path / "bare")))
    bare.configure(LiveSettings(model="selfie", overlay_enabled=True, skeleton_enabled=True, mirror=False))
    assert bare.faces is None and bare.poses is None
    assert "face overlay off" in bare.overlay_error and "skeleton off" in bare.overlay_error
    assert bare.process(face_image(), 0.0).view.shape == face_image().shape  # matting goes on


def test_skeleton_is_drawn_on_the_composite(tmp_path):
    from tests.tiny_pose_models import write_tiny_pose_models

    models = write_tiny_pose_models(write_tiny_models(tmp_path / "m"))
    processor = LiveProcessor(str(models))
    settings = LiveSettings(model="selfie", background="#000000", mirror=False, smoothing=0.0)
    processor.configure(settings)
    plain = processor.process(person_image(), 0.0).view
    processor.configure(settings.replace(skeleton_enabled=True))
    assert processor.poses is not None and processor.overlay_error is None
    drawn = processor.process(person_image(), 0.04).view
    assert drawn.shape == plain.shape and np.count_nonzero(np.any(drawn != plain, axis=2)) > 100

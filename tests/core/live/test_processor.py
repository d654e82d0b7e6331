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


def test_a_bad_background_file_is_refused_and_the_last_good_one_stays(tiny_models_dir, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not an image")
    processor = LiveProcessor(str(tiny_models_dir))
    processor.configure(LiveSettings(model="selfie", background="#00ff00", mirror=False, smoothing=0.0))
    processor.configure(processor.settings.replace(background=str(bad)))
    assert "notes.png" in processor.background_error and "colour #00ff00" in processor.background_error
    assert processor.settings.background == "#00ff00"  # what a caller saves is what is shown
    out = processor.process(person_image(160, 120), 0.0)
    assert tuple(out.view[2, 2]) == (0, 255, 0)  # still replaced: the room is never revealed
    processor.configure(processor.settings.replace(feather=1))
    assert processor.background_error is None


def test_a_bad_background_at_start_falls_back_to_blur_not_the_room(tiny_models_dir, tmp_path):
    bad = tmp_path / "missing.png"
    processor = LiveProcessor(str(tiny_models_dir))
    processor.configure(LiveSettings(model="selfie", background=str(bad), mirror=False, smoothing=0.0))
    assert processor.settings.background == "blur:25" and "blur (radius 25)" in processor.background_error
    frame = person_image(160, 120)
    out = processor.process(frame, 0.0)
    assert out.view.shape == frame.shape  # composited over the blur, matting on


class _Camera:
    realtime = True


def test_mirror_applies_to_cameras_only(tiny_models_dir, tmp_path):
    from app.core.media.sources import StillSource

    frame = np.ascontiguousarray(person_image(160, 120)[:, :, ::-1])
    frame[:, :10] = 255  # a mark on the left
    processor = LiveProcessor(str(tiny_models_dir))
    processor.configure(LiveSettings(model="selfie", background="#00ff00", mirror=True, smoothing=0.0))
    processor.set_source(StillSource(frame))
    out = processor.process(frame, 0.0)
    assert not out.mirrored and np.array_equal(out.source, frame)
    assert not processor.passthrough(frame, True).mirrored
    processor.set_source(_Camera())
    out = processor.process(frame, 1.0)
    assert out.mirrored and np.array_equal(out.source, frame[:, ::-1])

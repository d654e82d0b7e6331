"""The face adapters through the real loading path, with tiny models."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import ModelCorruptError
from app.core.models import load_model
from app.core.models.face_mesh import FaceCrop, crop_from_landmarks
from app.core.models.hair import combine_with_previous
from app.core.face.parsing import load_face_parser
from tests.tiny_face_models import face_image, template_points, write_tiny_face_models
from tests.tiny_models import selfie_model


@pytest.fixture(scope="module")
def face_models_dir(tmp_path_factory):
    return write_tiny_face_models(tmp_path_factory.mktemp("face_models"))


def test_yunet_finds_the_red_face(face_models_dir):
    detector = load_model("yunet", face_models_dir)
    faces = detector.detect(face_image())
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert x < 160 < x + w and y < 160 < y + h and faces[0].score > 0.9
    assert faces[0].keypoints.shape == (5, 2)
    assert detector.detect(np.zeros((256, 320, 3), np.uint8)) == []


def test_yunet_downscale_maps_back_to_frame_pixels(face_models_dir):
    from app.core.models.yunet import DetectorSettings, YuNetDetector

    detector = load_model("yunet", face_models_dir)
    big = np.repeat(np.repeat(face_image(), 4, axis=0), 4, axis=1)  # 1280×1024, detected at 640 wide
    big_face = detector.detect(big)[0]
    # detected on a 640-wide copy (scale 1/2): a 4-cell box of 32 px there is 256 px here
    assert big_face.box[2] == pytest.approx(256.0)
    cx, cy = big_face.center
    assert 512 <= cx <= 768 and 512 <= cy <= 768  # the red face spans 512..768 in the big frame
    with pytest.raises(ValueError):
        DetectorSettings(score_threshold=1.5)
    assert YuNetDetector is type(detector)


def test_face_mesh_maps_points_back_through_the_crop(face_models_dir):
    mesh = load_model("face_mesh", face_models_dir)
    crop = FaceCrop(200.0, 150.0, 96.0, 0.0)  # 192 px template -> 96 px: half size
    result = mesh.infer(face_image(), crop)
    expected = (template_points()[:, :2] - 96.0) * 0.5 + (200.0, 150.0)
    assert np.allclose(result.points[:, :2], expected, atol=1e-3)
    assert result.presence > 0.99
    rolled = mesh.infer(face_image(), FaceCrop(200.0, 150.0, 96.0, np.pi / 2))
    # rolled 90°: the crop's x axis is the frame's y axis
    assert np.allclose(rolled.points[263, 1] - 150.0, expected[263, 0] - 200.0, atol=1e-3)
    again = crop_from_landmarks(result.points)
    assert again.angle == pytest.approx(0.0, abs=1e-6)


def test_hair_model_and_temporal_blend(face_models_dir):
    hair = load_model("hair", face_models_dir)
    green = np.zeros((100, 100, 3), np.uint8)
    green[:50, :, 1] = 255
    prob = hair.infer(green)
    assert prob.shape == (512, 512) and prob[10, 256] > 0.99 and prob[400, 256] < 0.01
    unsure = np.full((4, 4), 0.5, np.float32)
    assert np.allclose(combine_with_previous(unsure, np.ones_like(unsure)), 0.95, atol=0.01)  # unsure: mostly the old mask
    sure = np.full((4, 4), 0.999, np.float32)
    assert np.all(combine_with_previous(sure, np.zeros_like(sure)) > 0.95)


def test_wrong_model_is_refused(tmp_path):
    import onnx

    onnx.save(selfie_model(), str(tmp_path / "mediapipe_face_landmark_468_192x192.onnx"))
    with pytest.raises(ModelCorruptError, match="conv2d_21"):
        load_model("face_mesh", tmp_path)


def test_parser_end_to_end_with_tiny_models(face_models_dir):
    parser = load_face_parser(face_models_dir)
    result = parser.parse(face_image())
    assert len(result.faces) == 1
    labels = result.labels
    present = set(np.unique(labels).tolist())
    assert set(range(11)) <= present
    ys_hair = np.nonzero(labels == 10)[0]
    ys_skin = np.nonzero(labels == 1)[0]
    assert ys_hair.mean() < ys_skin.mean()
    assert set(result.timings) >= {"detect", "landmarks", "hair", "rasterise"}


def test_tracker_smooths_and_skips_detection(face_models_dir):
    from app.core.face.tracking import FaceTracker, TrackerSettings

    parser = load_face_parser(face_models_dir)
    tracker = FaceTracker(parser, TrackerSettings(detect_every=5))
    results = [tracker.process(face_image()) for _ in range(6)]
    assert ["detect" in r.timings for r in results] == [True, False, False, False, False, True]
    assert all(len(r.faces) == 1 for r in results)
    tracker.reset()
    assert tracker.tracks == [] and parser._previous_hair is None


def test_tracker_runs_the_hair_model_every_nth_frame(face_models_dir, monkeypatch):
    from app.core.face.tracking import FaceTracker, TrackerSettings

    parser = load_face_parser(face_models_dir)
    calls = []
    real = parser.segment_hair
    monkeypatch.setattr(parser, "segment_hair", lambda *a, **k: calls.append(1) or real(*a, **k))
    tracker = FaceTracker(parser, TrackerSettings(hair_every=3))
    results = [tracker.process(face_image()) for _ in range(6)]
    assert len(calls) == 2  # frames 0 and 3
    assert all((r.labels == 10).any() for r in results)  # the reused mask still labels hair


def test_hair_no_head_grows_is_dropped_in_streams_and_from_the_next_frames_prior(face_models_dir):
    """A green (tiny-model "hair") dress far below the face: never hair, fresh or reused, nor in the prior."""
    from app.core.face.parsing import hair_crop
    from app.core.face.tracking import FaceTracker, TrackerSettings

    image = face_image(320, 480)
    image[350:390, 100:220] = (30, 220, 40)
    parser = load_face_parser(face_models_dir)
    crop = hair_crop(parser.detector.detect(image)[0], parser.settings.hair_scale, parser.settings.hair_drop)
    assert (parser.segment_hair(image, [crop], False)[350:390, 100:220] > 0.5).any()  # the hair model calls it hair
    tracker = FaceTracker(parser, TrackerSettings(hair_every=2))
    results = [tracker.process(image) for _ in range(4)]  # (the tiny mesh grows a little on each re-fit)
    assert all((r.labels == 10).any() for r in results)  # the head's hair stays
    assert not any((r.labels[350:390, 100:220] == 10).any() for r in results)
    assert not parser._previous_hair[350:390, 100:220].any()


def test_hair_stays_inside_the_person(face_models_dir):
    """The hair model's spill onto background beside the head (dull green: no person there) is not hair."""
    from app.core.face.parsing import ParserSettings

    image = face_image()
    spill = (slice(64, 120), slice(208, 280))
    image[spill] = (30, 150, 40)  # joined to the head's hair: hair to the hair model, but no person
    parse = load_face_parser(face_models_dir).parse(image)
    assert "person" in parse.timings
    assert not (parse.labels[64:120, 214:280] == 10).any()  # (the segmenter's soft edge: a few px)
    kept = load_face_parser(face_models_dir, settings=ParserSettings(person=False)).parse(image)
    assert (kept.labels[spill] == 10).mean() > 0.9  # what the person segmenter took away
    head = (slice(64, 120), slice(112, 208))
    assert (kept.labels[head] == 10).mean() > 0.5
    np.testing.assert_array_equal(parse.labels[head], kept.labels[head])  # the head's own hair is untouched
    given = np.zeros(image.shape[:2], np.float32)
    given[:, :208] = 1.0  # a caller's own matte (the live view's) is used as it is
    assert not (load_face_parser(face_models_dir).parse(image, person=given).labels[spill] == 10).any()

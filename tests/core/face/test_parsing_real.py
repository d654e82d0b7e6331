"""Face parsing with the real weights on the shared portraits (skipped without LIVEMATTE_MODELS)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.media.image_io import load_image
from app.core.face.parsing import load_face_parser

pytestmark = pytest.mark.real_models

FACING = ("bgmatting_0001_img.png", "bgmatting_1000_img.png", "rembg_girl-1.jpg", "rembg_girl-3.jpg")
FRONTAL = ("bgmatting_0001_img.png", "rembg_girl-3.jpg")
SUNGLASSES = "rembg_girl-1.jpg"


@pytest.fixture(scope="module")
def parses(real_models_dir, portraits_dir):
    parser = load_face_parser(real_models_dir)
    names = FACING + ("rembg_girl-2.jpg",)
    return {name: parser.parse(load_image(portraits_dir / name)) for name in names}


def _centre_y(labels, ids):
    ys = np.nonzero(np.isin(labels, ids))[0]
    assert len(ys), ids
    return ys.mean()


@pytest.mark.parametrize("name", FACING)
def test_one_face_per_portrait(parses, name):
    assert len(parses[name].faces) == 1


def test_back_view_has_no_face(parses):
    # rembg_girl-2 shows the back of the head: YuNet finds nothing there
    assert parses["rembg_girl-2.jpg"].faces == []
    assert not parses["rembg_girl-2.jpg"].labels.any()


@pytest.mark.parametrize("name", FRONTAL)
def test_eyes_above_nose_above_mouth_and_left_on_the_right(parses, name):
    labels = parses[name].labels
    assert _centre_y(labels, [4, 5]) < _centre_y(labels, [6]) < _centre_y(labels, [7, 8, 9])
    assert _centre_y(labels, [2, 3]) < _centre_y(labels, [4, 5])
    left_x = np.nonzero(labels == 4)[1].mean()
    right_x = np.nonzero(labels == 5)[1].mean()
    assert left_x > right_x  # the person's left eye is on the image's right


def test_sunglasses_are_not_eyes(parses):
    labels = parses[SUNGLASSES].labels
    assert not np.isin(labels, [4, 5]).any()
    # the lenses (left and right of the nose, at eye height) are left unlabelled, not painted skin
    face = parses[SUNGLASSES].faces[0]
    for eye_corner in (33, 263):
        x, y = face.landmarks[eye_corner, :2]
        inner = face.landmarks[133 if eye_corner == 33 else 362, :2]
        cx, cy = int(round((x + inner[0]) / 2)), int(round((y + inner[1]) / 2))
        assert (labels[cy - 2:cy + 3, cx - 2:cx + 3] == 0).mean() > 0.8
        # her lenses are large and round: their lower half, well below the eye, is lens too, not skin
        below = cy + int(round(0.6 * np.linalg.norm(face.landmarks[eye_corner, :2] - inner)))
        assert (labels[below - 1:below + 2, cx - 1:cx + 2] == 0).all()


@pytest.mark.parametrize("name", FRONTAL + ("bgmatting_1000_img.png",))  # girl-1: a cap brim shades the fringe
def test_no_hole_between_brows_and_hairline(parses, name):
    from app.core.face.appearance import enclosed_holes

    parse = parses[name]
    head = np.isin(parse.labels, list(range(1, 11)))
    face = parse.faces[0]
    top = int(face.landmarks[10, 1])  # the mesh's forehead top: the old hole began here
    brows = int(face.landmarks[[66, 296], 1].min())
    left, right = (int(v) for v in sorted(face.landmarks[[234, 454], 0]))  # the forehead's width
    holes = enclosed_holes(head, 1)
    assert holes[top - int(0.3 * face.box[3]):brows, left:right].sum() == 0


@pytest.mark.parametrize("name", FACING)
def test_hair_above_the_face(parses, name):
    labels = parses[name].labels
    face = parses[name].faces[0]
    top = int(face.landmarks[10, 1])  # forehead top of the mesh oval
    x0, _, w, _ = face.box
    band = labels[max(0, top - int(0.4 * w)):top, int(x0):int(x0 + w)]
    assert (band == 10).mean() > 0.3


def test_our_yunet_decoding_matches_opencv(real_models_dir, portraits_dir):
    from app.core.models import load_model

    frame = load_image(portraits_dir / "rembg_girl-3.jpg")
    ours = load_model("yunet", real_models_dir).detect(frame)
    detector = cv2.FaceDetectorYN.create(str(real_models_dir / "face_detection_yunet_2026may.onnx"), "",
                                         (frame.shape[1], frame.shape[0]), 0.6, 0.3, 5000)
    _, theirs = detector.detect(np.ascontiguousarray(frame[..., ::-1]))
    assert theirs is not None and len(ours) == len(theirs) == 1
    # within 5 % of the box: OpenCV 5 runs the net in its own engine (float differences)
    assert np.allclose(ours[0].box, theirs[0][:4], atol=0.05 * theirs[0][3])
    assert np.allclose(ours[0].keypoints.reshape(-1), theirs[0][4:14], atol=0.05 * theirs[0][3])

"""Approximate parts (``left_ear``, ``right_ear``, ``hat``) and the opaque-colour rule of cut-outs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.imaging.compose import keep_opaque_colours
from app.core.face.parsing import load_face_parser
from app.core.face.parts import LEFT_EAR_SIDE, RIGHT_EAR_SIDE, PartSelection, ear_mask, hat_mask, part_mask
from app.core.imaging.refine import estimate_foreground
from app.core.errors import SettingsError
from tests.tiny_face_models import face_image, write_tiny_face_models


@pytest.fixture(scope="module")
def parse(tmp_path_factory):
    parser = load_face_parser(str(write_tiny_face_models(tmp_path_factory.mktemp("parts_models"))))
    return parser.parse(face_image())


def everywhere(parse) -> np.ndarray:
    return np.ones(parse.labels.shape, np.float32)


def test_ears_lie_beside_the_face_on_the_persons_sides(parse):
    left, right = ear_mask(parse, everywhere(parse), "left"), ear_mask(parse, everywhere(parse), "right")
    face = parse.faces[0].landmarks
    assert left.sum() > 100 and right.sum() > 100
    assert np.nonzero(left > 0.5)[1].min() >= face[list(LEFT_EAR_SIDE), 0].min() - 2  # the person's left: image right
    assert np.nonzero(right > 0.5)[1].max() <= face[list(RIGHT_EAR_SIDE), 0].max() + 2
    assert (left + parse.soft_mask({1, 10})).max() <= 1.01  # never face skin or hair (soft edges share out)


def test_the_ear_of_a_side_turned_away_is_empty(parse):
    face = parse.faces[0]
    points = face.landmarks.copy()
    points[1, :2] = points[234, :2] - (points[454, :2] - points[234, :2]) * 0.1  # nose past the right edge: a profile
    profile = dataclasses.replace(parse, faces=[dataclasses.replace(face, landmarks=points)])
    assert ear_mask(profile, everywhere(parse), "right").max() == 0
    assert ear_mask(profile, everywhere(parse), "left").sum() > 100


def test_hat_is_above_the_face_and_not_skin_coloured(parse):
    frame = face_image()
    hat = hat_mask(parse, everywhere(parse))
    points = parse.faces[0].landmarks
    assert hat.sum() > 100 and np.nonzero(hat > 0.5)[0].max() <= points[[234, 454], 1].max() + 2  # above the temples
    assert (hat + parse.soft_mask(set(range(1, 11)))).max() <= 1.01  # never face or hair
    frame[:] = frame[150, 150]  # all skin-coloured: nothing is a hat
    assert hat_mask(parse, everywhere(parse), frame).max() < 0.05


def test_approximate_parts_need_a_person_matte(parse):
    with pytest.raises(SettingsError):
        part_mask(parse, PartSelection.parse("left_ear"))


def test_opaque_pixels_keep_the_photo_colour():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = np.zeros((40, 50), np.float32)
    alpha[10:30, 10:40] = 0.9985  # encodes as 255
    alpha[10:30, 20:25] = 0.5
    foreground = 255 - frame
    kept = keep_opaque_colours(frame, foreground, alpha)
    assert np.array_equal(kept[alpha > 0.99], frame[alpha > 0.99])
    assert np.array_equal(kept[alpha == 0.5], foreground[alpha == 0.5])
    estimated = estimate_foreground(frame, alpha)
    assert np.array_equal(estimated[alpha > 0.99], frame[alpha > 0.99])


def test_faint_hair_far_from_the_head_leaves_no_ghost_in_cut_outs(parse):
    """The hair model's faint probability on a shirt is not cut out with the head; soft edges stay."""
    x0, y0, x1, y1 = parse.roi
    weights = parse.weights.copy()
    patch = (slice(y1 - y0 - 12, y1 - y0 - 2), slice(2, 12))  # a corner of the window, far from the face
    weights[:, patch[0], patch[1]] = 0
    weights[10][patch] = 51  # 0.2 hair
    weights[0][patch] = 204
    ghosted = dataclasses.replace(parse, weights=weights)
    assert ghosted.soft_mask({10})[y0:y1, x0:x1][patch].max() == pytest.approx(0.2)  # the parse itself keeps it
    for parts in ("head", "hair"):
        cut = part_mask(ghosted, PartSelection.parse(parts), everywhere(parse))
        assert cut[y0:y1, x0:x1][patch].max() == 0.0
    head = part_mask(ghosted, PartSelection.parse("face"))
    edge = (head > 0.05) & (head < 0.95)
    assert edge.sum() > 20  # the face's anti-aliased rim is still soft


def test_long_hair_below_the_shoulders_is_still_hair(tmp_path_factory):
    """The hair model's window reaches well below the face: long hair is not cut off straight at chin level."""
    from app.core.face.parsing import ParserSettings
    from tests.tiny_face_models import face_image as drawn_face

    image = np.zeros((560, 320, 3), np.uint8)
    image[:256] = drawn_face()
    image[256:] = image[255]  # the background goes on below
    image[64:540, 100:112] = (30, 220, 40)  # a long strand of "hair" down the left side
    models = str(write_tiny_face_models(tmp_path_factory.mktemp("long_hair_models")))
    parse_now = load_face_parser(models).parse(image)
    x, y, w, h = parse_now.faces[0].box
    row = int(y + h / 2 + 1.5 * max(w, h))  # 1.5 face sizes below the face's centre
    assert row < 540
    assert parse_now.labels[row, 100:112].min() == 10
    centred = load_face_parser(models, settings=ParserSettings(hair_scale=2.6, hair_drop=0.0)).parse(image)
    assert centred.labels[row, 100:112].max() == 0  # the old centred window ended above this row

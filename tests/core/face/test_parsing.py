"""Synthetic rasterisation and part selection: known polygons give known labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import SettingsError
from app.core.face.regions import LABEL_NAMES, region_indices, ring_from_edges, FACE_OVAL
from app.core.face.parsing import FaceParse, ParsedFace, polygon_coverage, rasterise
from app.core.face.parts import PartSelection, part_boxes, part_mask
from tests.tiny_face_models import template_points


def _square(x0, y0, x1, y1) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_polygon_coverage_area_and_antialiasing():
    cov = polygon_coverage([_square(10.5, 10.5, 30.5, 20.5)], (0, 0), (40, 40))
    # area 20×10 placed at half pixels; fillPoly keeps edge sub-samples: within 1/4 px of the outline
    assert abs(cov.sum() / 255.0 - 200.0) < 0.25 * 60
    assert 0 < np.count_nonzero((cov > 0) & (cov < 255))  # soft edge
    assert cov[15, 20] == 255 and cov[5, 5] == 0


def test_rasterise_layers_features_over_skin():
    faces = [{1: [_square(0, 0, 40, 40)], 4: [_square(24.5, 9.5, 34.5, 19.5)], 5: [_square(4.5, 9.5, 14.5, 19.5)]}]
    weights = rasterise(faces, None, (0, 0, 48, 48))
    labels = np.argmax(weights, axis=0)
    assert np.all(weights.sum(axis=0, dtype=np.int32) >= 250)
    assert labels[15, 30] == 4 and labels[15, 10] == 5 and labels[30, 20] == 1 and labels[45, 45] == 0
    assert abs(int(np.count_nonzero(labels == 4)) - 100) <= 4


def test_hair_under_features_over_skin():
    hair = np.zeros((48, 48), np.float32)
    hair[:20] = 1.0
    faces = [{1: [_square(0, 0, 40, 40)], 2: [_square(5, 5, 15, 9)]}]
    labels = np.argmax(rasterise(faces, hair, (0, 0, 48, 48)), axis=0)
    assert labels[2, 30] == 10 and labels[7, 10] == 2 and labels[30, 10] == 1


def test_rings_are_closed_loops():
    oval = ring_from_edges(FACE_OVAL)
    assert len(oval) == 36 and oval[0] == 10
    with pytest.raises(ValueError):
        ring_from_edges(((1, 2), (2, 3)))


def _template_parse(shift=(100.0, 50.0)) -> FaceParse:
    points = template_points()
    points[:, :2] += shift
    from app.core.face.regions import region_polygons
    from app.core.face.parsing import union_roi

    height, width = 300, 400
    roi = union_roi([], [points], width, height)
    weights = rasterise([region_polygons(points)], None, roi)
    labels = np.zeros((height, width), np.uint8)
    labels[roi[1]:roi[3], roi[0]:roi[2]] = np.argmax(weights, axis=0)
    return FaceParse(labels, weights, roi, [ParsedFace((0, 0, 1, 1), 1.0, points, 1.0)])


def _centre(labels, label):
    ys, xs = np.nonzero(labels == label)
    assert len(xs), LABEL_NAMES[label]
    return xs.mean(), ys.mean()


def test_template_face_left_right_and_order():
    labels = _template_parse().labels
    assert set(np.unique(labels)) == set(range(10))
    # the person's left is on the image's right for an unmirrored frontal face
    assert _centre(labels, 4)[0] > _centre(labels, 5)[0]
    assert _centre(labels, 2)[0] > _centre(labels, 3)[0]
    eyes_y = _centre(labels, 4)[1]
    assert _centre(labels, 2)[1] < eyes_y < _centre(labels, 6)[1] < _centre(labels, 7)[1] < _centre(labels, 9)[1]


def test_part_selection_and_boxes():
    parse = _template_parse()
    face = part_mask(parse, PartSelection.parse("face"))
    eyes = part_mask(parse, PartSelection.parse("eyes"))
    assert face.max() == pytest.approx(1.0) and 0 < eyes.sum() < face.sum()
    assert np.all(eyes <= face + 1e-6)
    boxes = {b.label: b for b in part_boxes(parse.labels, parse.roi)}
    assert set(boxes) == set(LABEL_NAMES[1:10])
    left, right = boxes["left_eye"], boxes["right_eye"]
    assert left.x > right.x + right.width
    assert np.array_equal(part_boxes(parse.labels), list(boxes.values()))


def test_person_parts_need_alpha():
    parse = _template_parse()
    with pytest.raises(SettingsError):
        part_mask(parse, PartSelection.parse("body"))
    with pytest.raises(SettingsError):
        PartSelection.parse("elbow")
    alpha = np.zeros(parse.labels.shape, np.float32)
    alpha[40:300, 80:300] = 1.0
    body = part_mask(parse, PartSelection.parse("body"), alpha)
    head = part_mask(parse, PartSelection.parse("head"), alpha)
    background = part_mask(parse, PartSelection.parse("background"), alpha)
    assert body[290, 150] == 1.0 and body[150, 196] < 0.01  # face centre belongs to the head
    assert head[150, 196] > 0.99 and background[10, 10] == 1.0
    assert np.all(body + head <= 1.0 + 1e-5)
    both = part_mask(parse, PartSelection.parse("head,body"), alpha)
    assert np.allclose(both, np.clip(head + body, 0, 1), atol=1e-5)  # no half-transparent seam at the neck
    assert both[40:300, 80:300].min() > 0.99


def test_overlay_is_soft_and_keeps_background():
    parse = _template_parse()
    frame = np.full(parse.labels.shape + (3,), 80, np.uint8)
    out = parse.overlay(frame, 0.5)
    assert np.array_equal(out[:20], frame[:20])
    assert not np.array_equal(out[parse.labels == 4], frame[parse.labels == 4])
    assert region_indices()[4][0][0] == 263  # MediaPipe's LEFT_EYE set is the person's left


def test_overlay_matches_the_per_class_blend():
    """The label-map shortcut gives what blending every class's weight gives, edges and hair included."""
    from app.core.face.palette import PALETTE

    points = template_points()
    points[:, :2] += (100.0, 50.0)
    from app.core.face.regions import region_polygons

    hair = np.zeros((300, 400), np.float32)
    hair[20:90, 90:310] = np.linspace(0.0, 1.0, 220, dtype=np.float32)  # soft hair over the forehead
    roi = (80, 20, 320, 260)
    weights = rasterise([region_polygons(points)], hair[20:260, 80:320], roi)
    labels = np.zeros((300, 400), np.uint8)
    labels[20:260, 80:320] = np.argmax(weights, axis=0)
    parse = FaceParse(labels, weights, roi)
    frame = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    for classes in (None, [1, 10], [4]):
        chosen = np.zeros(11, np.float32)
        chosen[list(range(1, 11)) if classes is None else classes] = 1.0
        w = weights[1:].astype(np.float32) * (0.6 / 255.0) * chosen[1:, None, None]
        tint = np.tensordot(w, PALETTE[1:].astype(np.float32), axes=([0], [0]))
        expected = frame.copy()
        patch = frame[20:260, 80:320].astype(np.float32) * (1.0 - w.sum(axis=0))[..., None] + tint
        expected[20:260, 80:320] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
        got = parse.overlay(frame, 0.6, classes)
        assert np.abs(got.astype(int) - expected).max() <= 1


def test_head_and_face_cutouts_have_no_enclosed_holes():
    parse = _template_parse()
    x0, y0, x1, y1 = parse.roi
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    inside = parse.labels[cy - 4 : cy + 4, cx - 4 : cx + 4].copy()
    assert np.all(inside > 0)  # the template's centre is face
    # an occluder the labels leave out (sunglasses, a hand): a gap surrounded by face on every side
    parse.weights[:, cy - y0 - 4 : cy - y0 + 4, cx - x0 - 4 : cx - x0 + 4] = 0
    parse.weights[0, cy - y0 - 4 : cy - y0 + 4, cx - x0 - 4 : cx - x0 + 4] = 255
    assert part_mask(parse, PartSelection.parse("nose,face_skin"))[cy, cx] == 0.0  # the labels keep the gap
    for parts in ("face", "head", "hair,face"):
        assert part_mask(parse, PartSelection.parse(parts))[cy, cx] == 1.0, parts
    alpha = np.ones(parse.labels.shape, np.float32)
    head = part_mask(parse, PartSelection.parse("head"), alpha)
    body = part_mask(parse, PartSelection.parse("body"), alpha)
    assert head[cy, cx] == 1.0 and body[cy, cx] == 0.0  # the filled gap is head, not body
    assert np.all(head + body <= 1.0 + 1e-5)
    assert head[0, 0] == 0.0  # outside the face stays outside


def test_label_map_is_the_argmax_with_ties_to_the_lower_class():
    from app.core.face.parsing import label_map

    rng = np.random.default_rng(3)
    weights = rng.integers(0, 4, (11, 37, 53)).astype(np.uint8)  # few levels: many ties
    assert label_map(weights).dtype == np.uint8
    assert (label_map(weights) == np.argmax(weights, axis=0)).all()
    assert (label_map(np.zeros((11, 2, 2), np.uint8)) == 0).all()


def test_a_half_transparent_seam_inside_a_head_cutout_is_closed_and_the_soft_outline_kept():
    """Where the skin's and the hair's soft edges meet, each short of full coverage, the cut-out shows a line."""
    from app.core.face.parts import fill_enclosed_holes

    mask = np.zeros((80, 80), np.float32)
    cv2.circle(mask, (40, 40), 30, 1.0, -1)
    cv2.circle(mask, (40, 40), 18, 0.8, 1)  # the seam: a ring of 0.8 between opaque face and opaque hair
    cv2.circle(mask, (40, 40), 30, 0.6, 1)  # the head's soft outline against the background
    seam = np.zeros(mask.shape, np.uint8)
    cv2.circle(seam, (40, 40), 18, 1, 1)
    outline = np.zeros(mask.shape, np.uint8)
    cv2.circle(outline, (40, 40), 30, 1, 1)
    filled = fill_enclosed_holes(mask.copy())
    assert (filled[seam > 0] == 1.0).all()
    assert np.allclose(filled[outline > 0], 0.6)  # the edge against the world stays soft
    assert filled[0, 0] == 0.0

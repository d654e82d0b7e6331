"""Image-driven refinement on a drawn face: the template mesh over a painted photo with known parts.

The painted face is what a photo shows: skin up to a hairline well above the
mesh's oval, dark brows thicker than the mesh strip, red lips, a closed or open
mouth, and occluders (sunglasses, a blue microphone) where the test puts them.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.face.appearance import enclosed_holes
from app.core.face.regions import (
    HAIR, INNER_MOUTH, LEFT_EYE_ID, LOWER_LIP, RIGHT_EYE_ID, SKIN, UPPER_LIP, region_indices, region_polygons,
)
from app.core.face.parsing import attached_hair, rasterise
from tests.tiny_face_models import template_points

SHIFT = np.array([60.0, 80.0], np.float32)
SCALE = 2.0
SKIN_RGB, HAIR_RGB, BROW_RGB, LIP_RGB, BACK_RGB = (224, 172, 150), (70, 45, 30), (60, 40, 30), (190, 70, 80), (120, 160, 200)


def _points() -> np.ndarray:
    points = template_points()
    points[:, :2] = points[:, :2] * SCALE + SHIFT
    return points


def _poly(points: np.ndarray, label: int) -> np.ndarray:
    return np.rint(points[list(region_indices()[label][0]), :2]).astype(np.int32)


def painted_face(points: np.ndarray, *, open_mouth: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(RGB 520×512 image, hair probability) of a face matching ``points``; hairline 40 px above the oval."""
    image = np.full((520, 512, 3), BACK_RGB, np.uint8)
    cx, cy = points[:, 0].mean(), points[:, 1].mean()
    top = points[:, 1].min()
    cv2.ellipse(image, (int(cx), int(cy - 40)), (150, 200), 0, 180, 360, HAIR_RGB, -1)  # hair cap
    forehead_top = int(top - 40)
    # skin: the mesh oval plus the forehead up to the hairline (hair probability 0 there)
    cv2.fillPoly(image, [_poly(points, SKIN)], SKIN_RGB)
    cv2.ellipse(image, (int(cx), int(top + 60)), (92, int(top + 60 - forehead_top)), 0, 180, 360, SKIN_RGB, -1)
    hair = (image == HAIR_RGB).all(axis=-1).astype(np.float32)  # a perfect hair model
    for label in (2, 3):  # brows twice as thick as the mesh strip
        ring = _poly(points, label)
        cv2.fillPoly(image, [ring], BROW_RGB)
        cv2.polylines(image, [ring], True, BROW_RGB, 5)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        ring = _poly(points, label)
        cv2.fillPoly(image, [ring], (235, 235, 235))
        centre = ring.mean(axis=0).astype(int)
        cv2.circle(image, tuple(int(v) for v in centre), 8, (40, 30, 20), -1)  # iris
    cv2.fillPoly(image, [_poly(points, UPPER_LIP)], LIP_RGB)
    cv2.fillPoly(image, [_poly(points, LOWER_LIP)], LIP_RGB)
    if open_mouth:
        cv2.fillPoly(image, [_poly(points, INNER_MOUTH)], (40, 10, 15))
    return image, hair


def parse_painted(image: np.ndarray, hair: np.ndarray, points: np.ndarray, refine: bool = True) -> np.ndarray:
    height, width = image.shape[:2]
    roi = (0, 0, width, height)
    x0, y0, x1, y1 = roi
    weights = rasterise([region_polygons(points)], hair[y0:y1, x0:x1], roi,
                        image[y0:y1, x0:x1] if refine else None, [points] if refine else None)
    return np.argmax(weights, axis=0).astype(np.uint8)


def _forehead_band(points: np.ndarray) -> tuple[slice, slice]:
    """Between the mesh's oval top and the painted hairline, over the middle of the face."""
    top = int(points[:, 1].min())
    cx = int(points[:, 0].mean())
    return slice(top - 34, top - 2), slice(cx - 40, cx + 40)


def test_forehead_up_to_the_hairline_is_skin_and_the_head_has_no_hole():
    points = _points()
    image, hair = painted_face(points)
    before = parse_painted(image, hair, points, refine=False)
    after = parse_painted(image, hair, points)
    band = _forehead_band(points)
    # the mesh alone leaves the forehead unlabelled, enclosed by hair and face: a hole in the head
    assert (before[band] == 0).mean() > 0.9
    assert enclosed_holes(before > 0, 1).sum() > 1000
    assert (after[band] == SKIN).mean() > 0.95
    assert enclosed_holes(after > 0, 1).sum() == 0
    # the skin stops at the hair: the hair cap above stays hair
    top = int(points[:, 1].min())
    assert (after[top - 70:top - 50, int(points[:, 0].mean())] == HAIR).all()


def test_forehead_stops_where_skin_colour_ends_without_hair():
    """A bald head against the sky: the skin reaches no further than the skin colour does."""
    points = _points()
    image, hair = painted_face(points)
    hair[:] = 0.0
    image[(image == HAIR_RGB).all(axis=-1)] = BACK_RGB
    after = parse_painted(image, hair, points)
    top = int(points[:, 1].min())
    cx = int(points[:, 0].mean())
    assert (after[top - 30:top - 5, cx] == SKIN).all()
    assert (after[top - 70:top - 50, cx] == 0).all()  # the sky above the forehead is not skin


def _closed(points: np.ndarray) -> np.ndarray:
    """The same face with the inner lips touching (a closed mouth)."""
    from app.core.face.regions import LIPS_LOWER_INNER, LIPS_UPPER_INNER

    closed = points.copy()
    middle = (closed[list(LIPS_UPPER_INNER), 1] + closed[list(LIPS_LOWER_INNER), 1]) / 2.0
    closed[list(LIPS_UPPER_INNER), 1] = middle - 0.5
    closed[list(LIPS_LOWER_INNER), 1] = middle + 0.5
    return closed


def test_closed_mouth_has_no_inner_mouth_and_the_lips_meet():
    points = _closed(_points())
    image, hair = painted_face(points)
    labels = parse_painted(image, hair, points)
    assert not (labels == INNER_MOUTH).any()
    mouth_x = int(points[13, 0])
    column = labels[int(points[0, 1]):int(points[17, 1]) + 1, mouth_x]
    assert set(np.unique(column)) <= {UPPER_LIP, LOWER_LIP}  # no skin line between the lips


def test_open_mouth_keeps_its_inside():
    points = _points()
    points[list(__import__("app.core.face.regions", fromlist=["x"]).LIPS_LOWER_INNER), 1] += 10  # parted by ~25 % of the width
    image, hair = painted_face(points, open_mouth=True)
    labels = parse_painted(image, hair, points)
    assert (labels == INNER_MOUTH).sum() > 300


def test_brows_follow_the_painted_width():
    """The painted brows are 2.5 px thicker all round than the mesh strip: the label follows the paint."""
    points = _points()
    image, hair = painted_face(points)
    mesh_only = parse_painted(image, hair, points, refine=False)
    labels = parse_painted(image, hair, points)
    painted = (image == BROW_RGB).all(axis=-1)
    for label in (2, 3):
        assert (labels == label).sum() > 1.15 * (mesh_only == label).sum()
        assert painted[labels == label].mean() > 0.9  # and does not spill onto the skin


def test_lips_reach_the_painted_lip_line():
    points = _closed(_points())
    image, hair = painted_face(points)
    # paint the lips 2 px fuller than the mesh says
    for label in (UPPER_LIP, LOWER_LIP):
        cv2.polylines(image, [_poly(points, label)], True, LIP_RGB, 4)
    labels = parse_painted(image, hair, points)
    painted = (image == LIP_RGB).all(axis=-1)
    lips = np.isin(labels, (UPPER_LIP, LOWER_LIP))
    mesh_only = np.isin(parse_painted(image, hair, points, refine=False), (UPPER_LIP, LOWER_LIP))
    assert (lips & painted).sum() / painted.sum() > 0.85 > (mesh_only & painted).sum() / painted.sum()
    assert painted[lips].mean() > 0.9


def test_sunglasses_hide_the_eyes():
    points = _points()
    image, hair = painted_face(points)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        ring = _poly(points, label)
        centre = tuple(int(v) for v in ring.mean(axis=0))
        cv2.ellipse(image, centre, (50, 34), 0, 0, 360, (25, 22, 20), -1)  # uniform dark lens, twice the eye
    labels = parse_painted(image, hair, points)
    assert not np.isin(labels, (LEFT_EYE_ID, RIGHT_EYE_ID)).any()
    lens = (image == (25, 22, 20)).all(axis=-1)
    assert (labels[lens] == 0).mean() > 0.9  # the lens is not skin, eye or brow either
    # bare eyes in the same light keep their class
    bare, hair = painted_face(points)
    assert np.isin(parse_painted(bare, hair, points), (LEFT_EYE_ID, RIGHT_EYE_ID)).sum() > 500


def test_large_round_sunglasses_are_not_skin_down_to_their_rim():
    """Lenses far taller than the eye, their lower half lighter (sky reflected): all of each lens is left out."""
    points = _points()
    image, hair = painted_face(points)
    dark, reflection = (25, 22, 20), (95, 105, 120)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        centre = tuple(int(v) for v in _poly(points, label).mean(axis=0))
        cv2.circle(image, centre, 52, dark, -1)
        cv2.ellipse(image, centre, (50, 50), 0, 20, 160, reflection, -1)  # the lower part, below the eye
    labels = parse_painted(image, hair, points)
    lens = (image == dark).all(axis=-1) | (image == reflection).all(axis=-1)
    behind_frame = np.isin(parse_painted(image, hair, points, refine=False), (2, 3))  # brows keep their mesh strip
    assert (labels[lens & ~behind_frame] == 0).mean() > 0.95
    assert (labels[(image == reflection).all(axis=-1)] == SKIN).mean() < 0.05
    assert (labels == SKIN).sum() > 0.5 * (parse_painted(*painted_face(points), points) == SKIN).sum()


def test_an_occluder_over_the_cheek_and_lips_is_not_face():
    points = _closed(_points())
    image, hair = painted_face(points)
    cheek = (int(points[61, 0]) - 30, int(points[61, 1]) - 40)  # below the eye, beside the nose
    cv2.circle(image, cheek, 16, (70, 110, 60), -1)  # a green-gloved fingertip on the cheek
    mic = (int(points[17, 0]), int(points[17, 1]) + 4)
    cv2.circle(image, mic, 18, (90, 90, 95), -1)  # a grey microphone over the lower lip and chin
    labels = parse_painted(image, hair, points)
    glove = (image == (70, 110, 60)).all(axis=-1)
    grey = (image == (90, 90, 95)).all(axis=-1)
    assert (labels[glove] == 0).mean() > 0.9
    assert (labels[grey] == 0).mean() > 0.9
    assert np.isin(labels, (UPPER_LIP,)).sum() > 200  # the uncovered lip stays lip
    # the rest of the face is still face: the occluders took only their own pixels
    assert ((labels == 0) & ~glove & ~grey & (parse_painted(*painted_face(points), points) == SKIN)).sum() < 200


def test_a_shine_on_the_chin_is_skin_not_an_occluder():
    """A specular highlight takes the light's (yellow) hue; it is far brighter than any occluder in front."""
    points = _closed(_points())
    image, hair = painted_face(points)
    shine = (int(points[152, 0]) + 20, int(points[152, 1]) - 24)  # beside the chin's point, inside the oval
    cv2.circle(image, shine, 10, (255, 250, 212), -1)
    labels = parse_painted(image, hair, points)
    patch = (image == (255, 250, 212)).all(axis=-1)
    assert (labels[patch] == SKIN).mean() > 0.9


def _parted(points: np.ndarray) -> np.ndarray:
    """The same face with the lower inner lip 10 px down: the mesh says the mouth is open."""
    from app.core.face.regions import LIPS_LOWER_INNER

    parted = points.copy()
    parted[list(LIPS_LOWER_INNER), 1] += 10
    return parted


def test_a_mouth_the_mesh_opens_but_the_photo_shows_lips_in_is_closed():
    """A turned head's mesh may part the lips where the photo has none: lip colour inside means closed."""
    points = _parted(_points())
    image, hair = painted_face(points)
    cv2.fillPoly(image, [_poly(points, INNER_MOUTH)], LIP_RGB)  # the "inside" is all lip
    labels = parse_painted(image, hair, points)
    assert not (labels == INNER_MOUTH).any()
    inside = np.zeros(labels.shape, np.uint8)
    cv2.fillPoly(inside, [_poly(points, INNER_MOUTH)], 1)
    assert np.isin(labels[inside > 0], (UPPER_LIP, LOWER_LIP)).mean() > 0.8  # the lips meet there (edges: skin)
    # the same mesh over a dark opening keeps its inside
    dark, hair = painted_face(points, open_mouth=True)
    assert (parse_painted(dark, hair, points) == INNER_MOUTH).sum() > 300


def test_eyes_reach_the_upper_lash_line_and_outer_corner_not_below_the_lower_lid():
    from app.core.face.regions import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    points = _points()
    polygons = region_polygons(points)
    for label, outer in ((LEFT_EYE_ID, LEFT_EYE_OUTER), (RIGHT_EYE_ID, RIGHT_EYE_OUTER)):
        lids = points[list(region_indices()[label][0]), :2]
        eye = polygons[label][0]
        height = float(lids[:, 1].max() - lids[:, 1].min())
        assert eye[:, 1].min() < lids[:, 1].min() - 0.15 * height  # up to the lash line
        assert eye[:, 1].max() == pytest.approx(lids[:, 1].max(), abs=0.05 * height)  # the lower lid stays
        centre_x = lids[:, 0].mean()
        side = np.sign(points[outer, 0] - centre_x)
        reach = lambda xy: float(np.max((xy[:, 0] - centre_x) * side))  # noqa: E731
        assert reach(eye) > reach(lids) + 0.1 * (lids[:, 0].max() - lids[:, 0].min())  # the outer lashes


def test_the_oval_over_hair_that_frames_the_face_is_hair_and_a_shaded_cheek_stays_skin():
    """A turned head: the mesh's oval overshoots onto hair the hair model is unsure of (0.35)."""
    points = _closed(_points())
    image, hair = painted_face(points)
    oval = _poly(points, SKIN)
    left, right = int(oval[:, 0].min()), int(oval[:, 0].max())
    rows = slice(int(points[1, 1]) - 5, int(points[1, 1]) + 25)  # cheek level, below the eyes, beside the nose
    strand = (rows, slice(left - 20, left + 14))
    image[strand] = HAIR_RGB
    hair[strand] = 0.35
    shade = (rows, slice(right - 14, right + 1))
    image[shade] = (np.array(SKIN_RGB) * 0.5).astype(np.uint8)  # the far cheek in shadow, no hair there
    labels = parse_painted(image, hair, points)
    inside = np.zeros(labels.shape, np.uint8)
    cv2.fillPoly(inside, [oval], 1)
    strand_in_oval = np.zeros(labels.shape, bool)
    strand_in_oval[strand] = True
    strand_in_oval &= inside > 0
    assert strand_in_oval.sum() > 200
    assert (labels[strand_in_oval] == HAIR).mean() > 0.9
    shade_in_oval = np.zeros(labels.shape, bool)
    shade_in_oval[shade] = True
    shade_in_oval &= inside > 0
    assert (labels[shade_in_oval] == SKIN).mean() > 0.9
    # without the hair model's doubt it is not called hair (colour alone does not make hair)
    hair[strand] = 0.0
    assert not (parse_painted(image, hair, points)[strand_in_oval] == HAIR).any()


def test_skin_fragments_cut_off_from_the_face_go_to_hair_or_background():
    from app.core.face.parsing import drop_skin_islands

    weights = np.zeros((11, 120, 200), np.uint8)
    weights[0] = 255
    face, left_half = (slice(20, 100), slice(60, 100)), (slice(20, 100), slice(104, 140))  # split by an occluder
    in_hair, on_wall = (slice(10, 16), slice(10, 16)), (slice(100, 106), slice(170, 176))
    for part in (face, left_half, on_wall):
        weights[SKIN][part], weights[0][part] = 255, 0
    weights[HAIR][0:40, 0:40], weights[0][0:40, 0:40] = 160, 95  # the hair model's strands
    weights[SKIN][in_hair], weights[HAIR][in_hair], weights[0][in_hair] = 170, 60, 25  # skin-coloured gap between strands
    drop_skin_islands(weights)
    labels = np.argmax(weights, axis=0)
    assert (labels[face] == SKIN).all() and (labels[left_half] == SKIN).all()  # both halves of an occluded face stay
    assert (labels[in_hair] == HAIR).all()
    assert (labels[on_wall] == 0).all()
    assert (weights.sum(axis=0) == 255).all()  # still a partition of each pixel
    # a piece outside this face's surroundings (another face's cheek at the edge of the view) is left alone
    weights[SKIN][on_wall], weights[0][on_wall] = 255, 0
    mine = np.zeros(weights.shape[1:], bool)
    mine[:100, :160] = True
    drop_skin_islands(weights, mine)
    assert (np.argmax(weights, axis=0)[on_wall] == SKIN).all()


def test_eyes_take_the_painted_lash_line_and_not_the_bare_lid():
    points = _points()
    bare, hair = painted_face(points)
    lashes = bare.copy()
    lash_rgb = (30, 20, 15)
    for label in (LEFT_EYE_ID, RIGHT_EYE_ID):
        ring = points[list(region_indices()[label][0]), :2]
        upper = ring[ring[:, 1] <= np.median(ring[:, 1])]  # the upper lid's points
        upper = upper[np.argsort(upper[:, 0])]
        cv2.polylines(lashes, [np.rint(upper - (0, 2)).astype(np.int32)], False, lash_rgb, 3)  # a lash line on the lid
    eyes = (LEFT_EYE_ID, RIGHT_EYE_ID)
    lash_pixels = (lashes == lash_rgb).all(axis=-1) & ~(bare == (235, 235, 235)).all(axis=-1)
    with_lashes = parse_painted(lashes, hair, points)
    assert np.isin(with_lashes[lash_pixels], eyes).mean() > 0.8
    # the same outline over a bare lid stays on the painted eye (white and iris)
    without = parse_painted(bare, hair, points)
    painted_eye = np.zeros(without.shape, np.uint8)
    for label in eyes:
        cv2.fillPoly(painted_eye, [_poly(points, label)], 1)
    labelled = np.isin(without, eyes)
    assert (labelled & ~cv2.dilate(painted_eye, np.ones((3, 3), np.uint8)).astype(bool)).sum() < 0.05 * labelled.sum()


def test_an_inside_with_the_lips_lightness_is_no_open_mouth():
    """Open mouths show a dark gap or teeth; a mesh that parts closed lips finds lip tone on both sides."""
    from app.core.face.parsing import lip_toned_inside

    lips = np.zeros((40, 60), bool)
    lips[5:15], lips[25:35] = True, True
    inner = np.zeros_like(lips)
    inner[15:25] = True
    lightness = np.full(lips.shape, 120, np.uint8)
    assert lip_toned_inside(inner, lips, lightness)  # lip on both sides of the inner line: closed
    gap = lightness.copy()
    gap[15:25] = 40  # a dark gap
    assert not lip_toned_inside(inner, lips, gap)
    teeth = lightness.copy()
    teeth[15:25, :30], teeth[15:25, 30:] = 230, 35  # teeth and the dark behind them
    assert not lip_toned_inside(inner, lips, teeth)
    smile = lightness.copy()
    smile[15:25, :33] = 175  # teeth in the shade of a smile over 55 % of the inside; gums and tongue lip-toned
    assert not lip_toned_inside(inner, lips, smile)


def test_pale_lips_parted_by_the_mesh_over_a_closed_mouth_have_no_inside():
    """Lips hardly redder than the skin: colour cannot tell, their lightness still can."""
    points = _parted(_points())
    image, hair = painted_face(points)
    pale = (214, 165, 148)  # a* of the skin itself
    for label in (UPPER_LIP, LOWER_LIP, INNER_MOUTH):
        cv2.fillPoly(image, [_poly(points, label)], pale)
    assert not (parse_painted(image, hair, points) == INNER_MOUTH).any()


def test_hair_that_no_head_grows_is_dropped_and_long_hair_kept():
    """A dark dress below the face gets full hair probability from the hair model; it is not hair."""
    points = _points()
    image, cap_hair = painted_face(points)
    hair = np.zeros((900, image.shape[1]), np.float32)  # the frame reaches down to the chest
    hair[: cap_hair.shape[0]] = cap_hair
    cx = int(points[:, 0].mean())
    strand = (slice(0, 900), slice(cx + 110, cx + 140))
    hair[strand] = np.where(np.arange(900)[:, None] >= points[:, 1].min(), 1.0, hair[strand])  # long hair to the bottom
    edge = (slice(0, 900), slice(cx + 140, cx + 142))
    hair[edge] = np.where(hair[:, cx + 139 : cx + 140] > 0, 0.3, 0.0)  # its soft edge
    dress = (slice(700, 900), slice(cx - 60, cx + 60))
    hair[dress] = 0.9
    shoulder = (slice(760, 780), slice(0, 30))
    hair[shoulder] = 0.3  # faint probability on a far-off shoulder
    kept = attached_hair(hair, [points], (0, 0, hair.shape[1], hair.shape[0]))
    assert kept.shape == hair.shape and kept.dtype == hair.dtype
    assert not kept[dress].any() and not kept[shoulder].any()
    np.testing.assert_array_equal(kept[strand], hair[strand])  # the whole strand, to its end at the bottom
    np.testing.assert_array_equal(kept[edge], hair[edge])
    cap = np.zeros(hair.shape, bool)
    cap[: image.shape[0]] = (image == HAIR_RGB).all(axis=-1)
    np.testing.assert_array_equal(kept[cap], hair[cap])
    assert hair[dress].all()  # the input is left as it was


def test_the_warm_shaded_side_of_a_face_is_skin_and_its_eye_no_lens():
    """Side light: one half of the face darker and more saturated (orange), same hue; no occluder there."""
    points = _points()
    image, hair = painted_face(points)
    cx = int(points[:, 0].mean())
    half = np.zeros(image.shape[:2], bool)
    half[:, cx + 15 :] = True
    shaded = half & (image == SKIN_RGB).all(axis=-1)
    image[shaded] = (176, 116, 82)  # Lab hue within 10 degrees of the lit skin, chroma 1.6x
    labels = parse_painted(image, hair, points)
    assert (labels[shaded] == 0).mean() < 0.02
    assert (labels[half] == LEFT_EYE_ID).sum() + (labels[half] == RIGHT_EYE_ID).sum() > 100  # its eye is kept


def test_a_grey_scale_photo_has_no_occluders():
    points = _points()
    image, hair = painted_face(points)
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1).astype(np.float32)
    grey += np.random.default_rng(3).normal(0.0, 2.0, grey.shape)  # sensor noise: hue there is random
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    labels = parse_painted(grey, hair, points)
    oval = np.zeros(labels.shape, np.uint8)
    cv2.fillPoly(oval, [_poly(points, SKIN)], 1)
    assert (labels[oval > 0] == 0).mean() < 0.02


def _teeth_band(points: np.ndarray, half_height: int) -> np.ndarray:
    """Bool: a band along the line between the inner lips, short of the mouth corners."""
    from app.core.face.regions import LIPS_LOWER_INNER, LIPS_UPPER_INNER

    middle = (points[list(LIPS_UPPER_INNER), :2] + points[list(LIPS_LOWER_INNER), :2]) / 2.0
    band = np.zeros((520, 512), np.uint8)
    cv2.polylines(band, [np.rint(middle[2:-2]).astype(np.int32)], False, 1, thickness=2 * half_height + 1)
    return band > 0


def test_teeth_in_a_smile_the_mesh_keeps_closed_are_inner_mouth_and_a_lip_highlight_is_not():
    points = _closed(_points())
    image, hair = painted_face(points)
    teeth = _teeth_band(points, 4) & np.isin(parse_painted(image, hair, points), (UPPER_LIP, LOWER_LIP))
    image[teeth] = (238, 232, 215)
    highlight = (slice(int(points[17, 1]) - 5, int(points[17, 1]) - 2), slice(int(points[17, 0]) - 2, int(points[17, 0]) + 2))
    image[highlight] = (245, 240, 240)  # gloss on the lower lip, away from the line between the lips
    labels = parse_painted(image, hair, points)
    assert (labels[teeth] == INNER_MOUTH).mean() > 0.9
    assert not (labels[highlight] == INNER_MOUTH).any()
    assert (labels == INNER_MOUTH).sum() < 1.2 * teeth.sum()  # the inside stays between the lips
    assert np.isin(labels, (UPPER_LIP, LOWER_LIP)).sum() > 300  # the lips around the teeth stay lips


def test_light_background_through_a_profile_mouth_is_no_teeth():
    """The mesh's lips reach past a profile's silhouette onto the sky: light, not red, but not enclosed by lips."""
    points = _closed(_points())
    image, hair = painted_face(points)
    outside = np.zeros((520, 512), bool)
    outside[int(points[13, 1]) - 4 : int(points[13, 1]) + 5, int(points[13, 0]) :] = True  # runs on out of the mouth
    image[outside] = (238, 232, 215)
    labels = parse_painted(image, hair, points)
    assert not (labels == INNER_MOUTH).any()


def test_a_pink_gloss_across_closed_lips_is_no_teeth():
    points = _closed(_points())
    image, hair = painted_face(points)
    gloss = _teeth_band(points, 3) & np.isin(parse_painted(image, hair, points), (UPPER_LIP, LOWER_LIP))
    image[gloss] = (250, 200, 215)  # light, less red than the lips, but pink: lipstick catching the light
    labels = parse_painted(image, hair, points)
    assert not (labels == INNER_MOUTH).any()


def test_lips_no_redder_than_the_skin_keep_the_mesh_line():
    """Dark skin, brown lips: colour cannot tell lip from skin, so the lips are not grown past the mesh."""
    from app.core.face.regions import lip_polygons

    points = _closed(_points())
    image, hair = painted_face(points)
    skin = (image == SKIN_RGB).all(axis=-1)
    image[skin] = (120, 80, 60)
    lips = (image == LIP_RGB).all(axis=-1)
    image[lips] = (100, 66, 50)  # the skin's own hue, a little darker
    labels = parse_painted(image, hair, points)
    mesh = np.zeros(labels.shape, np.uint8)
    for label, polygon in lip_polygons(points, grow=1.0, closed=True).items():
        if label != INNER_MOUTH:
            cv2.fillPoly(mesh, [np.rint(polygon).astype(np.int32)], 1)
    labelled = np.isin(labels, (UPPER_LIP, LOWER_LIP))
    assert labelled.sum() > 0.8 * mesh.sum()
    assert (labelled & (mesh == 0)).sum() < 0.08 * mesh.sum()  # grown blindly: 18 % of the mesh lips beyond them

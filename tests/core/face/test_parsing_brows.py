"""Full brows: the label covers the brow hair the image shows, not just the mesh's thin brow strip.

The painted faces of ``test_parsing_refine`` with brows as a close-up shows
them: as tall again as the mesh strip above it (CelebAMask-HQ / LaPa-style
labels outline all of it), light or dark, with a dark eye socket or a fringe
next to them that must stay out.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.core.face.regions import LEFT_BROW, LEFT_EYE_ID, RIGHT_BROW, RIGHT_EYE_ID, face_axes, region_indices
from tests.core.face.test_parsing_refine import SKIN_RGB, _points, painted_face, parse_painted

BROWS = ((LEFT_BROW, LEFT_EYE_ID), (RIGHT_BROW, RIGHT_EYE_ID))


def _lines(points: np.ndarray, brow: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's lower and upper brow lines, head to tail, point for point."""
    ring = points[list(region_indices()[brow][0]), :2]
    return ring[:5], ring[9:4:-1]


def _full_brow(points: np.ndarray, brow: int, up: float = 1.0) -> np.ndarray:
    """Polygon (int px) of a brow reaching ``up`` strip heights above the mesh's upper brow line."""
    lower, upper = _lines(points, brow)
    _, to_chin = face_axes(points[:, :2])
    height = (lower - upper) @ to_chin
    raised = upper - np.outer(up * height, to_chin)
    return np.rint(np.concatenate([lower, raised[::-1]])).astype(np.int32)


def _paint_full_brows(image: np.ndarray, points: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """Paints both full brows in ``rgb``; returns their bool mask."""
    painted = np.zeros(image.shape[:2], np.uint8)
    for brow, _ in BROWS:
        cv2.fillPoly(painted, [_full_brow(points, brow)], 1)
    image[painted > 0] = rgb
    return painted > 0


def _shade(rgb: tuple[int, int, int], drop: int) -> tuple[int, int, int]:
    return tuple(max(0, c - drop) for c in rgb)  # type: ignore[return-value]


def _brow_cover(labels: np.ndarray, painted: np.ndarray) -> tuple[float, float]:
    """(share of the painted brows labelled brow, share of the brow labels on or next to painted brow).

    "Next to": within a pixel (the paint's integer outline and the mesh's sub-pixel one differ by that).
    """
    brows = np.isin(labels, (LEFT_BROW, RIGHT_BROW))
    near = cv2.dilate(painted.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return float(brows[painted].mean()), float(near[brows].mean())


def test_dark_full_brows_are_labelled_to_their_top():
    """Brows twice the mesh strip's height: the label covers them (the mesh strip is half of it)."""
    points = _points()
    image, hair = painted_face(points)
    image[np.isin(parse_painted(image, hair, points, refine=False), (LEFT_BROW, RIGHT_BROW))] = SKIN_RGB
    painted = _paint_full_brows(image, points, (60, 40, 30))
    covered, precise = _brow_cover(parse_painted(image, hair, points), painted)
    assert covered > 0.9
    assert precise > 0.9  # the forehead and lids around them stay skin


def test_light_brows_grow_too():
    """Fair brows only a little darker than the skin (6 L levels) are measured as well as dark ones."""
    points = _points()
    image, hair = painted_face(points)
    image[np.isin(parse_painted(image, hair, points, refine=False), (LEFT_BROW, RIGHT_BROW))] = SKIN_RGB
    painted = _paint_full_brows(image, points, _shade(SKIN_RGB, 7))
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    contrast = float(lab[..., 0][(image == SKIN_RGB).all(axis=-1)].mean() - lab[..., 0][painted].mean())
    assert 4.0 < contrast < 8.0  # the test's premise: fainter than the old dark/light split could see
    covered, precise = _brow_cover(parse_painted(image, hair, points), painted)
    assert covered > 0.85
    assert precise > 0.9


def test_brows_stop_short_of_the_lids_and_the_fringe():
    """A dark socket from brow to lid and a fringe down to the brow: the brow grows up, into neither."""
    points = _points()
    image, hair = painted_face(points)
    image[np.isin(parse_painted(image, hair, points, refine=False), (LEFT_BROW, RIGHT_BROW))] = SKIN_RGB
    painted = _paint_full_brows(image, points, (60, 40, 30))
    _, to_chin = face_axes(points[:, :2])
    below = np.zeros(image.shape[:2], bool)
    for brow, eye in BROWS:
        lower, _ = _lines(points, brow)
        lid_top = float(points[list(region_indices()[eye][0]), 1].min())
        socket = np.rint(np.concatenate([lower, np.c_[lower[::-1, 0], np.full(5, lid_top + 3)]])).astype(np.int32)
        cv2.fillPoly(image, [socket], (70, 50, 40))  # as dark as the brow, all the way down to the lid
        half_way = np.rint(np.concatenate([np.c_[lower[:, 0], (lower[:, 1] + lid_top) / 2.0 + 1],
                                           np.c_[lower[::-1, 0], np.full(5, lid_top)]])).astype(np.int32)
        cv2.fillPoly(below.view(np.uint8), [half_way], 1)
    fringe = np.zeros(image.shape[:2], np.uint8)
    for brow, _ in BROWS:
        top = _full_brow(points, brow, up=3.0)
        cv2.fillPoly(fringe, [top], 1)
    fringe = (fringe > 0) & ~painted
    image[fringe], hair[fringe] = (70, 45, 30), 1.0  # hair hanging down onto the brows
    labels = parse_painted(image, hair, points)
    brows = np.isin(labels, (LEFT_BROW, RIGHT_BROW))
    assert brows[painted].mean() > 0.9  # grown to the brow's top
    assert not (brows & below).any()  # the lower half of the way to the lid is never brow
    assert brows[fringe].mean() < 0.05  # the fringe is hair, not brow


def test_brows_do_not_grow_onto_sunglasses():
    """Big lenses whose top edge runs along the brows: brow-dark, but the brow keeps only its mesh strip."""
    points = _points()
    image, hair = painted_face(points)
    mesh_only = parse_painted(image, hair, points, refine=False)
    lens = np.zeros(image.shape[:2], np.uint8)
    for brow, eye in BROWS:
        lower, upper = _lines(points, brow)
        eye_centre = points[list(region_indices()[eye][0]), :2].mean(axis=0)
        reach = int(eye_centre[1] - (lower[2, 1] + upper[2, 1]) / 2)  # up to the middle of the brow
        cv2.ellipse(lens, (int(eye_centre[0]), int(eye_centre[1])), (56, reach), 0, 0, 360, 1, -1)
    image[lens > 0] = (25, 22, 20)
    labels = parse_painted(image, hair, points)
    for brow, _ in BROWS:
        assert (labels == brow).sum() <= (mesh_only == brow).sum()
        assert (labels == brow).sum() > 0.3 * (mesh_only == brow).sum()  # the brow above the frame stays brow

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
from app.core.face_regions import (
    HAIR, INNER_MOUTH, LEFT_EYE_ID, LOWER_LIP, RIGHT_EYE_ID, SKIN, UPPER_LIP, region_indices, region_polygons,
)
from app.core.parsing import rasterise
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

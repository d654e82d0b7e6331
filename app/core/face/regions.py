"""Face-mesh index sets and the polygons of the 11-class label map.

Edge lists are MediaPipe's FACEMESH_* connection sets
(mediapipe/python/solutions/face_mesh_connections.py, Apache-2.0); they are
turned into ordered outlines here. MediaPipe's "LEFT" sets are the person's
left (on the image's right for an unmirrored frontal face), which is also what
DESIGN.md's "left brow"/"left eye" mean.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FACE_OVAL = (
    (10, 338), (338, 297), (297, 332), (332, 284), (284, 251), (251, 389), (389, 356), (356, 454),
    (454, 323), (323, 361), (361, 288), (288, 397), (397, 365), (365, 379), (379, 378), (378, 400),
    (400, 377), (377, 152), (152, 148), (148, 176), (176, 149), (149, 150), (150, 136), (136, 172),
    (172, 58), (58, 132), (132, 93), (93, 234), (234, 127), (127, 162), (162, 21), (21, 54),
    (54, 103), (103, 67), (67, 109), (109, 10),
)
LEFT_EYE = (
    (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362),
    (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362),
)
RIGHT_EYE = (
    (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133),
    (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133),
)
# Brows are two open lines each (lower, upper); joined end to end they enclose the brow.
LEFT_EYEBROW = ((276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336))
RIGHT_EYEBROW = ((46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107))
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
# The python connection sets have no nose: MediaPipe Tasks' FACE_LANDMARKS_NOSE
# (bridge midline 168..2, alar wings and nostril base) gives the points, and
# the nose is their convex hull (the midline alone has no width to order).
NOSE_POINTS = (
    168, 6, 197, 195, 5, 4, 1, 19, 94, 2,
    98, 97, 326, 327, 64, 294, 48, 278, 115, 344, 220, 440, 45, 275,
)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263

# Label ids (DESIGN.md).
BACKGROUND, SKIN, LEFT_BROW, RIGHT_BROW, LEFT_EYE_ID, RIGHT_EYE_ID = 0, 1, 2, 3, 4, 5
NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR = 6, 7, 8, 9, 10
LABEL_NAMES = (
    "background", "face_skin", "left_brow", "right_brow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
)
NUM_LABELS = len(LABEL_NAMES)


def ring_from_edges(edges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """Orders the edges of one closed loop into its vertex sequence.

    Raises:
        ValueError: the edges do not form a single closed loop.
    """
    neighbours: dict[int, list[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    if any(len(n) != 2 for n in neighbours.values()):
        raise ValueError("edges are not a simple closed loop")
    start = edges[0][0]
    ring, previous, current = [start], None, start
    while True:
        a, b = neighbours[current]
        nxt = b if a == previous else a
        if nxt == start:
            break
        ring.append(nxt)
        previous, current = current, nxt
    if len(ring) != len(neighbours):
        raise ValueError("edges form more than one loop")
    return tuple(ring)


def brow_ring(edges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """The two brow lines (4 edges each, in order) joined into one outline."""
    lower = [edges[0][0]] + [b for _, b in edges[:4]]
    upper = [edges[4][0]] + [b for _, b in edges[4:8]]
    return tuple(lower + upper[::-1])


@lru_cache(maxsize=1)
def region_indices() -> dict[int, tuple[tuple[int, ...], ...]]:
    """Label id -> outlines (landmark index sequences); nose is a point set (hull)."""
    return {
        SKIN: (ring_from_edges(FACE_OVAL),),
        LEFT_BROW: (brow_ring(LEFT_EYEBROW),),
        RIGHT_BROW: (brow_ring(RIGHT_EYEBROW),),
        LEFT_EYE_ID: (ring_from_edges(LEFT_EYE),),
        RIGHT_EYE_ID: (ring_from_edges(RIGHT_EYE),),
        NOSE: (NOSE_POINTS,),
        UPPER_LIP: (LIPS_UPPER_OUTER + LIPS_UPPER_INNER[::-1],),
        LOWER_LIP: (LIPS_LOWER_OUTER + LIPS_LOWER_INNER[::-1],),
        INNER_MOUTH: (LIPS_UPPER_INNER + LIPS_LOWER_INNER[-2:0:-1],),
    }


def region_polygons(points: np.ndarray) -> dict[int, list[np.ndarray]]:
    """Label id -> list of K×2 float32 polygons for one face's 468 landmarks (x, y in px)."""
    import cv2

    xy = np.ascontiguousarray(points[:, :2], dtype=np.float32)
    polygons: dict[int, list[np.ndarray]] = {}
    for label, outlines in region_indices().items():
        if label == NOSE:
            polygons[label] = [cv2.convexHull(xy[list(outlines[0])]).reshape(-1, 2)]
        else:
            polygons[label] = [xy[list(outline)] for outline in outlines]
    return polygons

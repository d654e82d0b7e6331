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
# The python connection sets have no nose. Its outline is the hull of the bridge
# sides (193/417 level with the inner eye corners, as annotators start it), the
# side walls, the alar wings and the nostril base (indices checked on a photo;
# MediaPipe Tasks' FACE_LANDMARKS_NOSE has the midline 168..2 but no width).
NOSE_POINTS = (
    193, 417, 188, 412, 174, 399, 236, 456, 198, 420, 209, 429, 129, 358, 64, 294, 98, 327, 97, 326, 2,
    6, 197, 195, 5, 4, 1, 19, 94,
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
    """Label id -> list of K×2 float32 polygons for one face's 468 landmarks (x, y in px).

    Eyes are the mesh's lid contours widened to the lash line (``eye_outline``).
    """
    import cv2

    xy = np.ascontiguousarray(points[:, :2], dtype=np.float32)
    polygons: dict[int, list[np.ndarray]] = {}
    for label, outlines in region_indices().items():
        if label == NOSE:
            polygons[label] = [cv2.convexHull(xy[list(outlines[0])]).reshape(-1, 2)]
        elif label in (LEFT_EYE_ID, RIGHT_EYE_ID):
            polygons[label] = [eye_outline(xy[list(outline)], xy) for outline in outlines]
        else:
            polygons[label] = [xy[list(outline)] for outline in outlines]
    return polygons


# Geometry the image-driven refinement needs (app.core.face.appearance).
MOUTH_LEFT, MOUTH_RIGHT, UPPER_INNER_MID, LOWER_INNER_MID = 61, 291, 13, 14
# The mesh's eye contour runs along the lid margins. The eye as people see (and annotators
# draw) it reaches out to the upper lash line and, at the outer corner, to where the lashes
# end; the lower lid has no lash line to speak of. On annotated portraits the mesh outline
# sat ~0.02 eye distances low at the top and ~0.05 short at the outer corner. The grown
# outline is where lashes may be; the image keeps only its dark part (parsing.refine_eyes).
EYE_UPPER_GROW = 1.6  # upper lid height above the corner line
EYE_LOWER_GROW = 1.0  # lower lid depth below it
EYE_OUTER_GROW = 1.5  # outer half (corner midpoint to the outer corner)
EYE_INNER_GROW = 1.05  # inner half (towards the tear duct)
FOREHEAD_WIDEN = 1.12  # temple skin beyond the oval, as a share of the half-width
FOREHEAD_STRETCH = 1.9  # hairline height above the brows / the mesh's own forehead height (generous; hair and skin colour stop it)


def face_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the eye line (image right for a frontal face) and towards the chin."""
    across = points[LEFT_EYE_OUTER, :2] - points[RIGHT_EYE_OUTER, :2]
    across = across / max(float(np.linalg.norm(across)), 1e-6)
    return across.astype(np.float32), np.array([-across[1], across[0]], np.float32)


def eye_distance(points: np.ndarray) -> float:
    """Outer eye corner to outer eye corner (px): the face's own size unit."""
    return max(float(np.linalg.norm(points[LEFT_EYE_OUTER, :2] - points[RIGHT_EYE_OUTER, :2])), 1.0)


def forehead_polygon(points: np.ndarray, stretch: float = FOREHEAD_STRETCH) -> np.ndarray:
    """The face oval with everything above the brows pulled up ``stretch`` times (K×2 px).

    The mesh's oval stops well below the hairline; the skin between them is
    forehead. Points at or below the brow line stay, so ears, cheeks and neck
    are not touched.
    """
    xy = points[:, :2].astype(np.float32)
    _, down = face_axes(xy)
    oval = xy[list(region_indices()[SKIN][0])]
    brows = xy[[i for e in LEFT_EYEBROW + RIGHT_EYEBROW for i in e]]
    brow_level = float((brows @ down).mean())
    height = np.maximum(brow_level - oval @ down, 0.0)  # how far above the brow line
    across, _ = face_axes(xy)
    centre = float((oval @ across).mean())
    # temples: the skin widens above the brows too; ramped in so the oval has no step at the brow line
    widen = (FOREHEAD_WIDEN - 1.0) * np.clip(3.0 * height / max(float(height.max()), 1e-6), 0.0, 1.0)
    return oval - np.outer(height * (stretch - 1.0), down) + np.outer((oval @ across - centre) * widen, across)


def mouth_opening(points: np.ndarray) -> float:
    """Gap between the inner lips at the middle / mouth width (0 = closed)."""
    xy = points[:, :2]
    width = max(float(np.linalg.norm(xy[MOUTH_RIGHT] - xy[MOUTH_LEFT])), 1.0)
    _, down = face_axes(points)
    return max(float((xy[LOWER_INNER_MID] - xy[UPPER_INNER_MID]) @ down), 0.0) / width


def eye_outline(outline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """One eye's lid contour (K×2 px, starting at its outer corner) grown to the visible eye.

    Scaled about the midpoint of its two corners, so the corners stay on their
    line: the upper lid by EYE_UPPER_GROW, the lower by EYE_LOWER_GROW, the
    outer half by EYE_OUTER_GROW and the inner half by EYE_INNER_GROW.
    """
    across, down = face_axes(points)
    outer = outline[0]
    inner = outline[int(np.argmax(np.linalg.norm(outline - outer, axis=1)))]
    centre = (outer + inner) / 2.0
    rel = outline - centre
    along, depth = rel @ across, rel @ down
    outward = np.sign(float((outer - centre) @ across)) or 1.0
    along = along * np.where(along * outward > 0, EYE_OUTER_GROW, EYE_INNER_GROW)
    depth = depth * np.where(depth < 0, EYE_UPPER_GROW, EYE_LOWER_GROW)
    return (centre + np.outer(along, across) + np.outer(depth, down)).astype(np.float32)


def scaled_about(polygon: np.ndarray, points: np.ndarray, across: float, along: float) -> np.ndarray:
    """``polygon`` scaled about its centroid, ``across`` the eye line and ``along`` the face's up axis."""
    ax, down = face_axes(points)
    centre = polygon.mean(axis=0)
    rel = polygon - centre
    return (centre + np.outer(rel @ ax * across, ax) + np.outer(rel @ down * along, down)).astype(np.float32)


def eye_ellipse(eye: np.ndarray, points: np.ndarray, half_width: float, half_height: float) -> np.ndarray:
    """A 48-point ellipse about ``eye``'s centroid, along the face's axes; half axes in eye widths."""
    across, down = face_axes(points)
    centre = eye.mean(axis=0)
    width = float(np.ptp((eye - centre) @ across))
    angles = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    return (centre + np.outer(np.cos(angles) * half_width * width, across)
            + np.outer(np.sin(angles) * half_height * width, down)).astype(np.float32)


LIP_GROW = 1.2  # lips reach past the mesh's outer lip line; the image trims them back
BROW_CONTEXT = (1.3, 4.0)  # where the brow's dark tone is told from the skin's
# The mesh's brow strip is a thin line through the brow; on close-ups the brow hair (what
# CelebAMask-HQ / LaPa annotators outline) is 2-3 strip heights tall, mostly above the line.
BROW_UP = 1.0  # strip heights brow hair may reach above the mesh's upper brow line
BROW_DOWN = 0.6  # strip heights it may reach below the lower line ...
BROW_LID_GAP = 0.45  # ... but never past this share of the way down to the top of the upper lid
MOUTH_OPEN = 0.06  # inner-lip gap / mouth width above which the mouth shows its inside (closed mouths measure 0.03-0.05)


def lip_polygons(points: np.ndarray, grow: float = LIP_GROW, closed: bool = False) -> dict[int, np.ndarray]:
    """Upper lip, lower lip and inner mouth polygons with the outer lip lines pushed out ``grow`` times.

    A ``closed`` mouth has no inside: both lips run to the line between the inner lips.
    """
    xy = points[:, :2].astype(np.float32)
    across, down = face_axes(xy)
    upper_in, lower_in = xy[list(LIPS_UPPER_INNER)], xy[list(LIPS_LOWER_INNER)]
    middle = (upper_in + lower_in) / 2.0
    centre = middle.mean(axis=0)

    def pushed(outer: np.ndarray) -> np.ndarray:
        gap = (outer - middle) @ down  # outer and inner lines run corner to corner, index for index
        return outer + np.outer(gap * (grow - 1.0), down) + np.outer(((outer - centre) @ across) * 0.04, across)

    upper_edge, lower_edge = (middle, middle) if closed else (upper_in, lower_in)
    return {
        UPPER_LIP: np.concatenate([pushed(xy[list(LIPS_UPPER_OUTER)]), upper_edge[::-1]]),
        LOWER_LIP: np.concatenate([pushed(xy[list(LIPS_LOWER_OUTER)]), lower_edge[::-1]]),
        INNER_MOUTH: np.concatenate([upper_in, lower_in[-2:0:-1]]),
    }


def brow_extent(points: np.ndarray, up: float = BROW_UP, down: float = BROW_DOWN) -> dict[int, np.ndarray]:
    """Each brow's farthest reach (K×2 px): the mesh strip pushed ``up`` / ``down`` strip heights.

    Measured pair by pair along the brow (the mesh's lower and upper brow lines
    run head to tail, point for point), so a brow tapering to its tail keeps
    its taper. The lower edge stops ``BROW_LID_GAP`` of the way to the top of
    its eye's upper lid: brow hair never reaches the lid.
    """
    xy = points[:, :2].astype(np.float32)
    _, to_chin = face_axes(xy)
    out = {}
    for brow, eye in ((LEFT_BROW, LEFT_EYE_ID), (RIGHT_BROW, RIGHT_EYE_ID)):
        ring = xy[list(region_indices()[brow][0])]
        lower, upper = ring[:5], ring[9:4:-1]  # brow_ring: lower line, then the upper line reversed
        height = np.maximum((lower - upper) @ to_chin, 0.0)
        lid_top = float((xy[list(region_indices()[eye][0])] @ to_chin).min())
        drop = np.minimum(down * height, BROW_LID_GAP * np.maximum(lid_top - lower @ to_chin, 0.0))
        out[brow] = np.concatenate([lower + np.outer(drop, to_chin),
                                    (upper - np.outer(up * height, to_chin))[::-1]]).astype(np.float32)
    return out


def brow_polygons(points: np.ndarray, grow: tuple[float, float]) -> dict[int, np.ndarray]:
    """Each brow's mesh outline grown ``grow`` = (along, across) times about its own centre."""
    xy = points[:, :2].astype(np.float32)
    out = {}
    for label in (LEFT_BROW, RIGHT_BROW):
        outline = xy[list(region_indices()[label][0])]
        along = outline[0] - outline[4]  # the lower line's two ends
        along = along / max(float(np.linalg.norm(along)), 1e-6)
        normal = np.array([-along[1], along[0]], np.float32)
        centre = outline.mean(axis=0)
        rel = outline - centre
        out[label] = (centre + np.outer(rel @ along * grow[0], along) + np.outer(rel @ normal * grow[1], normal)).astype(np.float32)
    return out

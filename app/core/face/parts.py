"""Chosen parts: masks and cut-outs from a set of face-parsing classes or groups, and part boxes.

Groups follow the cloud APIs' segmentation options: ``head`` (face classes,
hair and the ears region), ``face`` (face without hair), ``hair``, ``body``
(person minus head) and ``background``. ``body``, ``background`` and the ears
part of ``head`` need the person alpha of a matting model; without it
``head`` is face + hair and ``body``/``background`` cannot be built.

``left_ear``, ``right_ear`` and ``hat`` are approximations (no model here
segments ears or hats): the person's pixels in a band beside each side of the
face mesh's oval at ear height (brow to nose base), and above the mesh's
upper arc over the head, that neither the face mesh nor the hair model
claims; given the photo, ears keep only pixels of the face's skin colour and
the hat leaves them out (the forehead above the mesh). On a profile the ear
of the side turned away is empty. With hair over the
ears, the ears are (rightly) empty; a dark hat the hair model takes for hair
is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from app.core.imaging.compose import to_rgba
from app.core.errors import SettingsError
from app.core.face.regions import HAIR, LABEL_NAMES, NUM_LABELS, region_indices, SKIN
from app.core.face.parsing import FaceParse
from app.core.matting.results import PartBox

FACE_CLASSES = frozenset(range(1, 10))
CLASS_GROUPS: dict[str, frozenset[int]] = {
    **{name: frozenset({i}) for i, name in enumerate(LABEL_NAMES) if i},
    "face": FACE_CLASSES,
    "hair": frozenset({HAIR}),
    "brows": frozenset({2, 3}),
    "eyes": frozenset({4, 5}),
    "lips": frozenset({7, 9}),
    "mouth": frozenset({7, 8, 9}),
}
PERSON_GROUPS = ("head", "body", "background", "left_ear", "right_ear", "hat")
PART_NAMES = tuple(CLASS_GROUPS) + PERSON_GROUPS
EAR_WIDEN = 1.35  # ears sit just outside the mesh oval: widen it sideways to catch them
# Face-mesh oval points along each side at ear height (brow to nose base), top to bottom;
# "left" is the person's left (the image's right on a frontal, unmirrored face).
LEFT_EAR_SIDE = (389, 356, 454, 323, 361)
RIGHT_EAR_SIDE = (162, 127, 234, 93, 132)
# The oval's upper arc from the right temple over the forehead top to the left temple.
TOP_ARC = (234, 127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 389, 356, 454)
EAR_DEPTH = 0.3  # how far an ear reaches beyond the oval, in face widths (adult ear ≈ 0.2-0.3 of the bizygomatic width)
HAT_REACH = 0.8  # how far above the hairline a hat is looked for, in face heights
HAT_SPREAD = 0.2  # and how far beyond the temples, in face widths
NOSE_TIP = 1
HIDDEN_SIDE = 0.2  # nose tip this close to one side's edge (share of the face width), or past it: that side is turned away
SEAM_OPAQUE = 0.95  # alpha under which a pixel that opaque ones enclose shows as a seam in a cut-out
SKIN_CHROMA_SPREAD = 6.0  # least spread (Cr/Cb levels) of the face's skin colour, for skin-like pixels


@dataclass(frozen=True)
class PartSelection:
    """A validated set of part names (see PART_NAMES)."""

    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> "PartSelection":
        """``"hair,face"`` or a list of names.

        Raises:
            SettingsError: an unknown or empty selection.
        """
        items = text.split(",") if isinstance(text, str) else list(text)
        names = tuple(dict.fromkeys(n.strip().lower().replace("-", "_") for n in items if n.strip()))
        unknown = [n for n in names if n not in PART_NAMES]
        if unknown or not names:
            raise SettingsError(
                f"unknown part(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(PART_NAMES)}"
            )
        return cls(names)

    @property
    def needs_person(self) -> bool:
        """True when the selection cannot be built without a person alpha."""
        return any(n in PERSON_GROUPS and n != "head" for n in self.names)


def ears_region(parse: FaceParse, person_alpha: np.ndarray) -> np.ndarray:
    """Person alpha inside each face oval widened sideways, above the chin (H×W float32)."""
    height, width = parse.labels.shape
    region = np.zeros((height, width), np.uint8)
    oval = list(region_indices()[SKIN][0])
    for face in parse.faces:
        points = face.landmarks[oval, :2]
        centre = points.mean(axis=0)
        wide = (points - centre) * np.array([EAR_WIDEN, 1.0], np.float32) + centre
        chin_y = float(face.landmarks[152, 1])
        poly = np.rint(wide * 16).astype(np.int32)
        cv2.fillPoly(region, [poly], 255, lineType=cv2.LINE_AA, shift=4)
        region[int(max(0, np.ceil(chin_y))):, int(max(0, wide[:, 0].min())):int(wide[:, 0].max()) + 1] = 0
    return region.astype(np.float32) * np.float32(1.0 / 255.0) * person_alpha


def _face_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(unit vector to the person's left, unit vector down the face, face width, face height) in px."""
    across = points[454, :2] - points[234, :2]
    down = points[152, :2] - points[10, :2]
    width, height = float(np.hypot(*across)), float(np.hypot(*down))
    return across / max(width, 1e-6), down / max(height, 1e-6), width, height


def _turned_away(points: np.ndarray, side: str) -> bool:
    """True when the face is turned so far that its ``side`` (the person's) faces away from the camera.

    Where the nose tip falls between the two side edges (234 -> 454): 0.5 on
    a frontal face, near 0 or below when the person's right side turns away.
    """
    edge = points[454, :2] - points[234, :2]
    t = float(np.dot(points[NOSE_TIP, :2] - points[234, :2], edge) / max(float(np.dot(edge, edge)), 1e-6))
    return t > 1.0 - HIDDEN_SIDE if side == "left" else t < HIDDEN_SIDE


def _not_face_or_hair(parse: FaceParse) -> np.ndarray:
    return 1.0 - parse.soft_mask(FACE_CLASSES | {HAIR})


def _polygons_mask(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    region = np.zeros(shape, np.uint8)
    for polygon in polygons:
        cv2.fillPoly(region, [np.rint(polygon * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return region.astype(np.float32) * np.float32(1.0 / 255.0)


def ear_mask(parse: FaceParse, person_alpha: np.ndarray, side: str, frame: np.ndarray | None = None) -> np.ndarray:
    """The person's ``side`` ("left"/"right", the person's) ear, approximated (see the module docstring).

    A band reaching EAR_DEPTH face widths outward from the oval's side between
    brow and nose base, times the person alpha, minus what is face or hair;
    given the ``frame``, only skin-coloured pixels (not the hair the hair
    model missed, nor the arms of glasses).
    """
    indices, sign = (LEFT_EAR_SIDE, 1.0) if side == "left" else (RIGHT_EAR_SIDE, -1.0)
    polygons = []
    for face in parse.faces:
        if _turned_away(face.landmarks, side):
            continue  # a profile: that ear is behind the head, and the band would land on the nose
        across, _, width, _ = _face_axes(face.landmarks)
        edge = face.landmarks[list(indices), :2]
        polygons.append(np.concatenate([edge, (edge + sign * EAR_DEPTH * width * across)[::-1]]))
    region = _polygons_mask(parse.labels.shape, polygons)
    mask = region * person_alpha * _not_face_or_hair(parse)
    if frame is not None:
        mask *= skin_likeness(frame, parse, person_alpha)
    return mask


def skin_likeness(frame: np.ndarray, parse: FaceParse, person_alpha: np.ndarray) -> np.ndarray:
    """H×W float32 in [0, 1]: how close each pixel's chroma (YCrCb) is to the face skin's.

    The face mesh's oval often ends below the hairline; the forehead between
    them is skin, not headwear. Gaussian in Cr/Cb around the skin's median,
    spread by its robust deviation (at least SKIN_CHROMA_SPREAD levels); the
    skin's colour is read where the parse says face skin and the matte says
    person (the mesh's oval can reach past the face's edge).
    """
    skin = (parse.labels == SKIN) & (person_alpha > 0.5)
    if skin.sum() < 16:
        return np.zeros(parse.labels.shape, np.float32)
    chroma = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)
    samples = chroma[skin]
    centre = np.median(samples, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(samples - centre), axis=0), SKIN_CHROMA_SPREAD)
    distance = (((chroma - centre) / spread) ** 2).sum(axis=2)
    return np.exp(-0.5 * distance / 4.0).astype(np.float32)  # 2 deviations away: e^-0.5


def hat_mask(parse: FaceParse, person_alpha: np.ndarray, frame: np.ndarray | None = None) -> np.ndarray:
    """A hat (or other headwear), approximated: the person above the oval's upper arc, minus face and hair
    and, given the ``frame``, minus skin-coloured pixels (the forehead above the mesh).

    The region reaches HAT_REACH face heights above the hairline and
    HAT_SPREAD face widths beyond the temples.
    """
    polygons = []
    for face in parse.faces:
        across, down, width, height = _face_axes(face.landmarks)
        arc = face.landmarks[list(TOP_ARC), :2]
        up = -HAT_REACH * height * down
        left_top = arc[-1] + up + HAT_SPREAD * width * across
        right_top = arc[0] + up - HAT_SPREAD * width * across
        polygons.append(np.concatenate([arc, left_top[None], right_top[None]]))
    region = _polygons_mask(parse.labels.shape, polygons)
    mask = region * person_alpha * _not_face_or_hair(parse)
    if frame is not None:
        mask *= 1.0 - skin_likeness(frame, parse, person_alpha)
    return mask


def part_mask(
    parse: FaceParse, selection: PartSelection, person_alpha: np.ndarray | None = None,
    frame: np.ndarray | None = None,
) -> np.ndarray:
    """Soft H×W float32 mask in [0, 1] of the union of the selected parts.

    ``frame`` (the parsed RGB image) sharpens the approximate parts by colour: ears keep only
    skin-coloured pixels, ``hat`` leaves them out.

    Raises:
        SettingsError: ``body`` or ``background`` chosen without a person alpha.
    """
    if selection.needs_person and person_alpha is None:
        raise SettingsError("parts 'body', 'background', 'left_ear', 'right_ear' and 'hat' need a person matte "
                            "(a matting model)")
    classes: set[int] = set()
    for name in selection.names:
        if name in CLASS_GROUPS:
            classes |= CLASS_GROUPS[name]
        elif name == "head":
            classes |= FACE_CLASSES | {HAIR}
    mask = _near_confident(parse.soft_mask(classes), parse) if classes else np.zeros(parse.labels.shape, np.float32)
    if person_alpha is None:
        return _whole(mask, selection)
    head = None
    if "head" in selection.names or "body" in selection.names:
        head = fill_enclosed_holes(np.maximum(_near_confident(parse.soft_mask(FACE_CLASSES | {HAIR}), parse),
                                              ears_region(parse, person_alpha)))
    if "head" in selection.names:
        np.maximum(mask, head, out=mask)
    for name, build in (("left_ear", lambda: ear_mask(parse, person_alpha, "left", frame)),
                        ("right_ear", lambda: ear_mask(parse, person_alpha, "right", frame)),
                        ("hat", lambda: hat_mask(parse, person_alpha, frame))):
        if name in selection.names:  # already outside face and hair: adding leaves no seam at their edge
            mask += build()
    # Body (person − head) and background (1 − person) complement the face-level parts:
    # add them, since a max would leave a half-transparent seam where soft edges meet.
    if "body" in selection.names:
        mask += np.clip(person_alpha - head, 0.0, 1.0)
    if "background" in selection.names:
        mask += 1.0 - person_alpha
    return _whole(np.clip(mask, 0.0, 1.0, out=mask), selection)


FAINT_REACH = 0.08  # soft coverage fades out this share of the face's size away from confident (≥ 0.5) coverage


def _near_confident(mask: np.ndarray, parse: FaceParse) -> np.ndarray:
    """``mask`` with faint coverage far from its confident part faded out (in place).

    The hair model leaves a faint probability (0.1–0.3) on shirts, straps and
    raised arms; in a cut-out that is a ghost of the shoulders around the head.
    Soft strands and anti-aliased edges lie next to confident coverage and
    keep their weight; the fade is linear over FAINT_REACH of the face size.
    """
    if not parse.faces or not mask.any():
        return mask
    reach = max(2.0, FAINT_REACH * max(max(face.box[2], face.box[3]) for face in parse.faces))
    outside = cv2.compare(mask, 0.5, cv2.CMP_LT)
    if cv2.countNonZero(outside) == outside.size:
        return mask
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    fade = np.clip(1.0 - distance * np.float32(1.0 / reach), 0.0, 1.0, out=distance)
    return cv2.multiply(mask, fade, dst=mask)


def _whole(mask: np.ndarray, selection: PartSelection) -> np.ndarray:
    """A head or face cut-out without holes (see ``fill_enclosed_holes``); other parts as they are.

    Lips or mouth alone keep their opening: only the two whole-region groups are filled.
    """
    if {"head", "face"} & set(selection.names) and "background" not in selection.names:
        return fill_enclosed_holes(mask)
    return mask


def fill_enclosed_holes(mask: np.ndarray, max_share: float = 0.15) -> np.ndarray:
    """``mask`` with every gap it surrounds on all sides made opaque, in place.

    A part the labels leave out inside a head or face (an ear beside the cheek,
    sunglasses over the eyes, a hand over the mouth) is still inside that head
    or face: a cut-out must not show a hole there, even though the label map
    does not call it skin or eye. Gaps larger than ``max_share`` of the region
    are left alone (they are more likely real background seen through).
    The same is done for a seam: half-transparent pixels that opaque ones
    surround (where the skin's and the hair's soft edges meet, each short of
    full coverage) would show as a faint line across the cut-out.
    """
    for level in (0.5, SEAM_OPAQUE):
        _fill_gaps_below(mask, level, max_share)
    return mask


def _fill_gaps_below(mask: np.ndarray, level: float, max_share: float) -> None:
    """Makes opaque the regions under ``level`` that pixels at or over it enclose (see ``fill_enclosed_holes``)."""
    solid = cv2.compare(mask, level, cv2.CMP_GE)
    points = cv2.findNonZero(solid)
    if points is None:
        return
    x, y, w, h = cv2.boundingRect(points)
    box = np.zeros((h + 2, w + 2), np.uint8)  # a one-pixel frame of outside around the region
    box[1:-1, 1:-1] = solid[y : y + h, x : x + w]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.bitwise_not(box), connectivity=4)
    limit = max_share * cv2.countNonZero(box)
    outside = labels[0, 0]
    holes = [i for i in range(count) if i != outside and stats[i, cv2.CC_STAT_AREA] <= limit]
    if not holes:
        return
    gaps = np.isin(labels[1:-1, 1:-1], holes).astype(np.uint8)
    # one pixel more: the soft rim of the gap is inside the region too
    gaps = cv2.dilate(gaps, np.ones((3, 3), np.uint8))
    mask[y : y + h, x : x + w][gaps > 0] = 1.0


def cutout(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGBA cut-out of ``frame`` with ``mask`` as alpha."""
    return to_rgba(frame, mask)


def part_boxes(labels: np.ndarray, roi: tuple[int, int, int, int] | None = None) -> list[PartBox]:
    """One box per class present (union over faces), in input pixels, in class order.

    ``roi`` (x0, y0, x1, y1) limits the search where the caller knows all labels lie.
    """
    x0, y0, x1, y1 = roi if roi is not None else (0, 0, labels.shape[1], labels.shape[0])
    window = labels[y0:y1, x0:x1]
    boxes = []
    if window.size == 0:
        return boxes
    for label in np.unique(window):
        if label == 0 or label >= NUM_LABELS:
            continue
        x, y, w, h = cv2.boundingRect((window == label).astype(np.uint8))
        boxes.append(PartBox(LABEL_NAMES[int(label)], x + x0, y + y0, w, h))
    return boxes


def mask_box(mask: np.ndarray, label: str, threshold: float = 0.5) -> PartBox | None:
    """The box of ``mask > threshold`` (for groups like head), or None when empty."""
    binary = (mask > threshold).astype(np.uint8)
    if not binary.any():
        return None
    x, y, w, h = cv2.boundingRect(binary)
    return PartBox(label, x, y, w, h)


def boxes_to_json(boxes: list[PartBox]) -> list[dict[str, object]]:
    return [{"label": b.label, "x": b.x, "y": b.y, "width": b.width, "height": b.height} for b in boxes]

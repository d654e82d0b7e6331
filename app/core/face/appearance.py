"""What the face's own pixels say about the mesh polygons.

The mesh places parts; the image decides how far they reach and whether they
are there at all. Everything is measured against the face itself: a skin
colour model (Lab, robust mean and spread) sampled on the cheeks and nose
bridge, brows darker than that skin, lips redder than it. Pixels inside a
part's polygon that look like none of that are an occluder (a hand, a
microphone, sunglasses) and are left unlabelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.core.face.regions import eye_distance, face_axes

# landmark, radius / eye distance: upper and lower cheeks, chin, forehead, nose bridge. Many small
# discs, so sunglasses, a fringe or a beard spoil only some of them and the trimmed median holds.
SKIN_SAMPLES = ((50, 0.12), (280, 0.12), (205, 0.1), (425, 0.1), (199, 0.07), (151, 0.1), (6, 0.05))
FAR_CHEEK = {50: 234, 205: 234, 280: 454, 425: 454}  # sample -> the oval point on its side
MIN_SAMPLES = 30
SKIN_SIGMA_FLOOR = (6.0, 2.5, 2.5)  # Lab levels: no model is sharper than the camera's noise
# An occluder's colour, against the skin's: shading moves skin's Lab hue by about 5-10 degrees and its
# chroma both ways (a warm-lit shaded cheek is more saturated than the lit side), so only hue far off,
# grey (chroma under this share of the skin's once shadows get theirs back) or vivid colour is foreign.
FOREIGN_HUE_DEGREES = 30.0
FOREIGN_GREY = 0.4
FOREIGN_VIVID = 3.0
# a specular highlight takes the light's hue: pixels this many L levels (0..255) above the skin keep only the
# vivid test (a shine on a chin measured +78 levels at a hue 40 degrees off the skin's)
FOREIGN_HIGHLIGHT = 48.0
FOREIGN_MIN_CHROMA = 6.0  # skin chroma (Lab levels) below which hue means nothing: a grey-scale photo


@dataclass(frozen=True)
class SkinModel:
    """Robust Lab statistics of the face's own skin (uint8 Lab levels, OpenCV scaling)."""

    median: np.ndarray  # (3,) float32
    sigma: np.ndarray  # (3,) float32, from the median absolute deviation

    @classmethod
    def sample(cls, lab: np.ndarray, points: np.ndarray) -> "SkinModel | None":
        """From discs on the cheeks and nose bridge (``points`` in ``lab``'s pixels); None off-frame.

        A cheek turned away from the camera (profile) is skipped: its disc would land on hair.
        """
        height, width = lab.shape[:2]
        mask = np.zeros((height, width), np.uint8)
        unit = eye_distance(points)
        across, _ = face_axes(points)
        nose_x = float(points[1, :2] @ across)
        for index, radius in SKIN_SAMPLES:
            if index in FAR_CHEEK and abs(float(points[FAR_CHEEK[index], :2] @ across) - nose_x) < 0.45 * unit:
                continue  # foreshortened side: the face ends close to the nose
            x, y = points[index, :2]
            cv2.circle(mask, (int(round(x)), int(round(y))), max(1, int(radius * unit)), 255, -1)
        pixels = lab[mask > 0].astype(np.float32)
        if len(pixels) < MIN_SAMPLES:
            return None
        for _ in range(3):  # trim what is far from the majority's colour (lens, hair, shadow), re-estimate
            median = np.median(pixels, axis=0)
            sigma = np.maximum(1.4826 * np.median(np.abs(pixels - median), axis=0), SKIN_SIGMA_FLOOR)
            near = (np.abs(pixels - median) <= 2.5 * sigma).all(axis=1)
            if near.sum() < MIN_SAMPLES:
                break
            pixels = pixels[near]
        return cls(median.astype(np.float32), np.maximum(sigma, SKIN_SIGMA_FLOOR).astype(np.float32))

    def likeness(self, lab: np.ndarray, near: float = 3.0, far: float = 5.0) -> np.ndarray:
        """1 for skin-coloured pixels, 0 for others (float32, soft between ``near`` and ``far`` sigmas).

        Chroma decides; lightness only rules out what no shading explains (L may
        stray 2.5 spreads plus 35 levels: shadows and highlights; the spread is
        capped, a sample spoilt by a lens must not make black look like skin).
        """
        lab = lab.astype(np.float32)
        # a shadow keeps the hue but loses chroma with its light: give darker pixels their chroma back
        boost = np.clip(self.median[0] / np.maximum(lab[..., 0], 1.0), 1.0, 3.0)
        a = 128.0 + (lab[..., 1] - 128.0) * boost
        b = 128.0 + (lab[..., 2] - 128.0) * boost
        chroma = np.sqrt(((a - self.median[1]) / self.sigma[1]) ** 2 + ((b - self.median[2]) / self.sigma[2]) ** 2)
        light = np.abs(lab[..., 0] - self.median[0]) / (2.5 * min(float(self.sigma[0]), 20.0) + 35.0)
        distance = np.maximum(chroma, light * far)
        return np.clip((far - distance) / (far - near), 0.0, 1.0).astype(np.float32)

    def foreign(self, lab: np.ndarray) -> np.ndarray:
        """Bool: a colour no skin of this face has: another hue (not on a highlight), grey or black, or vivid.

        Stricter than ``likeness``: folds, stubble, make-up and the shaded side
        of the face stay skin; gloves, microphones and lenses do not.
        """
        lab = lab.astype(np.float32)
        a, b = lab[..., 1] - 128.0, lab[..., 2] - 128.0
        skin_a, skin_b = float(self.median[1]) - 128.0, float(self.median[2]) - 128.0
        skin_chroma = float(np.hypot(skin_a, skin_b))
        chroma = np.sqrt(a * a + b * b)
        vivid = chroma > FOREIGN_VIVID * max(skin_chroma, FOREIGN_MIN_CHROMA)
        if skin_chroma < FOREIGN_MIN_CHROMA:
            return vivid
        # a shadow loses chroma with its light: give it back; a highlight (brighter than the skin) is left out
        boost = np.clip(self.median[0] / np.maximum(lab[..., 0], 1.0), 1.0, 3.0)
        grey = (chroma * boost < FOREIGN_GREY * skin_chroma) & (lab[..., 0] <= self.median[0])
        cosine = (a * skin_a + b * skin_b) / (np.maximum(chroma, 1e-3) * skin_chroma)
        off_hue = ((cosine < np.cos(np.radians(FOREIGN_HUE_DEGREES))) & (chroma * boost >= FOREIGN_GREY * skin_chroma)
                   & (lab[..., 0] <= self.median[0] + FOREIGN_HIGHLIGHT))
        return grey | vivid | off_hue

    def darkness(self, lab: np.ndarray, margin: float = 10.0, ramp: float = 14.0) -> np.ndarray:
        """How clearly darker than the skin each pixel is (0..1): brows, lashes, lens."""
        drop = self.median[0] - lab[..., 0].astype(np.float32) - margin
        return np.clip(drop / ramp, 0.0, 1.0).astype(np.float32)

    def redness(self, lab: np.ndarray, reference: float) -> np.ndarray:
        """0..1: how far a pixel's a* has moved from the skin's towards ``reference`` (the lip's own a*)."""
        span = reference - float(self.median[1])
        if span < 3.0:
            return np.ones(lab.shape[:2], np.float32)  # lips no redder than the skin: colour cannot tell
        lift = (lab[..., 1].astype(np.float32) - float(self.median[1]) - 0.2 * span) / (0.4 * span)
        return np.clip(lift, 0.0, 1.0).astype(np.float32)


def enclosed_holes(labelled: np.ndarray, close_px: int) -> np.ndarray:
    """Pixels not ``labelled`` that the labelled area encloses once gaps up to ``close_px`` are bridged.

    ``labelled``: bool H×W. Returns bool H×W.
    """
    size = max(1, int(close_px)) * 2 + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))  # separable: cost grows with the side, not the area
    closed = cv2.morphologyEx(labelled.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    padded = np.pad(closed, 1)  # flood the outside from the border; what it cannot reach is enclosed
    cv2.floodFill(padded, None, (0, 0), 1)
    inside = padded[1:-1, 1:-1] == 0
    return (inside | closed.astype(bool)) & ~labelled


def large_regions(mask: np.ndarray, min_area: float) -> np.ndarray:
    """``mask`` (bool) without its connected parts smaller than ``min_area`` px (speckle is not an occluder)."""
    count, components, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[components]


def dark_split(lightness: np.ndarray, region: np.ndarray, min_contrast: float = 8.0) -> np.ndarray | None:
    """Soft mask (0..1, float32) of the darker of the two tones inside ``region`` (Otsu on L).

    Local, so it follows the lighting where the part is (a brow in a shaded
    socket is still darker than the skin around it). None when the two tones
    are closer than ``min_contrast`` levels: there is nothing to split.
    """
    values = lightness[region]
    if values.size < 16:
        return None
    threshold, _ = cv2.threshold(values.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark, light = values[values <= threshold], values[values > threshold]
    if not dark.size or not light.size or float(light.mean()) - float(dark.mean()) < min_contrast:
        return None
    ramp = max(2.0, (float(light.mean()) - float(dark.mean())) / 4.0)
    return np.clip((threshold + ramp - lightness.astype(np.float32)) / (2.0 * ramp), 0.0, 1.0).astype(np.float32)


def touching(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` (bool) that overlap ``seed`` (bool)."""
    count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(components[seed & mask])] = True
    keep[0] = False
    return keep[components]


def local_lightness(lab: np.ndarray, centre: np.ndarray, radius: float) -> float:
    """Median L in a disc (the lighting of one side of the face); 255 when the disc is off the image."""
    mask = np.zeros(lab.shape[:2], np.uint8)
    cv2.circle(mask, (int(round(float(centre[0]))), int(round(float(centre[1])))), max(1, int(radius)), 1, -1)
    values = lab[..., 0][mask > 0]
    return float(np.median(values)) if values.size else 255.0

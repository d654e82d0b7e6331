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

from app.core.face_regions import eye_distance, face_axes

CHEEK_SAMPLES = ((50, 0.16), (280, 0.16), (6, 0.07), (197, 0.07))  # landmark, radius / eye distance
MIN_SAMPLES = 30
SKIN_SIGMA_FLOOR = (6.0, 2.5, 2.5)  # Lab levels: no model is sharper than the camera's noise


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
        edge = {50: float(points[234, :2] @ across), 280: float(points[454, :2] @ across)}
        for index, radius in CHEEK_SAMPLES:
            if index in edge and abs(edge[index] - nose_x) < 0.45 * unit:
                continue  # foreshortened side: the face ends close to the nose
            x, y = points[index, :2]
            cv2.circle(mask, (int(round(x)), int(round(y))), max(1, int(radius * unit)), 255, -1)
        pixels = lab[mask > 0].astype(np.float32)
        if len(pixels) < MIN_SAMPLES:
            return None
        median = np.median(pixels, axis=0)
        sigma = 1.4826 * np.median(np.abs(pixels - median), axis=0)
        return cls(median.astype(np.float32), np.maximum(sigma, SKIN_SIGMA_FLOOR).astype(np.float32))

    def likeness(self, lab: np.ndarray, near: float = 3.0, far: float = 5.0) -> np.ndarray:
        """1 for skin-coloured pixels, 0 for others (float32, soft between ``near`` and ``far`` sigmas).

        Chroma decides; lightness only rules out what no shading explains (L is
        allowed three times the spread plus a wide margin: shadows and highlights).
        """
        lab = lab.astype(np.float32)
        chroma = np.sqrt(((lab[..., 1] - self.median[1]) / self.sigma[1]) ** 2
                         + ((lab[..., 2] - self.median[2]) / self.sigma[2]) ** 2)
        light = np.abs(lab[..., 0] - self.median[0]) / (3.0 * self.sigma[0] + 45.0)
        distance = np.maximum(chroma, light * far)
        return np.clip((far - distance) / (far - near), 0.0, 1.0).astype(np.float32)

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
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
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

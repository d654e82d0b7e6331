"""Reusing a computed mask on the frames after it: motion compensation and the adaptive cadence.

When the model cannot run on every frame of a live source (RVM at 1280x720
on two CPU cores takes longer than a 30 FPS frame), the stream computes the
mask on a *key* frame and carries it to the next frame along the optical
flow between the two (DIS, at 640 px at most). Holding the old
mask instead leaves a one-frame halo on everything that moves; following the
flow removes most of it (measured with ``livematte bench``: see README).

The foreground colours are not warped as a picture: a warped face would
show the key frame's mouth and eyes. Only the model's colour *correction*
(foreground − frame, non-zero where hair and edges mix with the old
background) follows the flow and is added to the current frame, and only
where the warped key frame still looks like the new frame: a correction
computed for content that has since changed (chat text scrolling over a
shirt) would print a dark imprint of it on the new frame.

Behind a moving person the flow cannot say where the uncovered background
came from (it was hidden in the key frame), and a backward warp fills it
with the key's person: a trail. Where the warped key frame does not look
like the new frame and the new colour is one the key frame showed in its
background around the person far more than in the person, the carried
alpha is dropped (on the annotated walking clip at every 3rd frame: IoU
0.876 -> 0.894, boundary F 0.703 -> 0.763).

Each reused frame becomes the key of the next (the mask is carried frame to
frame, not jumped from the computed frame): the flow between neighbouring
frames is found far more reliably for fast limbs (on the annotated
rollerblade clip, a mask moved two frames ahead: IoU 0.67 chained, 0.56 in
one jump).

Qt-free; one ``MaskPropagator`` per stream (the DIS object is not thread-safe).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.core.imaging.refine import area_resize, fit_size

# the flow at the live work frame's size: against 320 px, reused frames every 2nd frame on the annotated
# clips keep boundary F 0.671 instead of 0.630 (IoU 0.841 / 0.830) for about 1.5 ms more at 1280x720
FLOW_LONG_SIDE = 640
DIS_PATCH_STRIDE, DIS_DESCENT_ITERATIONS = 3, 32  # the ultrafast preset has 4 and 16
# The flow and the warp cover only a region around the carried mask (nothing outside it has any alpha
# to carry): the key's box grown by FLOW_MARGIN flow pixels plus a quarter of its size on each side,
# room for a limb moving 30+ px a frame. On that region the flow can afford a finer scale: up to
# FINE_FLOW_PIXELS (about half of 640x360: a full-body person's region, not a close-up's) DIS stops
# at half size instead of a quarter. Every 3rd frame on the annotated clips: boundary F 0.590 -> 0.615,
# and a reused 1280x720 frame costs 7.6 ms instead of 8.5.
FLOW_MARGIN = 32
FINE_FLOW_PIXELS = 120_000
MIN_FLOW_SIDE = 32  # DIS needs a few patches across even its finest level
# photometric gate of the carried colour correction and alpha: grey-level change (0..255, at flow size)
# between the warped key frame and the new frame above which the content there changed
GATE_CHANGE = 16
# the colour models of the key's person (alpha above 240) and of the background around it (below 15):
# histograms of RGB at COLOUR_BITS bits a channel; a changed pixel whose colour has a share in the
# person's under BACKGROUND_ODDS of its shares in both is background (0.05-0.15: within 0.002 IoU)
COLOUR_BITS = 4
BACKGROUND_ODDS = 0.1
PERSON_LEVEL, BACKGROUND_LEVEL = 240, 15
SLOW = 0.85  # the share of the frame budget the auto cadence lets the model take
MAX_AUTO_EVERY = 3
COST_RUNS = 9  # the auto cadence judges the model by the median cost of this many runs

Region = tuple[int, int, int, int]  # x0, y0, x1, y1
NO_CORRECTION = np.frombuffer(bytes((128, 128, 128, 0)), np.uint32)[0]  # a packed pixel: no correction, no alpha


@dataclass(frozen=True)
class KeyFrame:
    """What a reused frame needs from the last computed one.

    ``packed`` is alpha (0..255) alone for models without a foreground, else
    H×W×4: the colour correction (foreground − frame, clamped to ±127, offset
    by 128) in RGB and alpha in A. OpenCV remaps a 4-channel uint8 image in
    one vectorised pass, 3x faster than int16 colour plus a float alpha. An
    8-bit alpha is what a PNG keeps anyway. ``box`` bounds its non-zero
    alpha (None: there is none).
    """

    small: np.ndarray  # flow-size RGB uint8
    gray: np.ndarray  # the same in grey
    packed: np.ndarray  # H×W or H×W×4 uint8
    box: Region | None

    @property
    def has_foreground(self) -> bool:
        return self.packed.ndim == 3

    @property
    def alpha(self) -> np.ndarray:
        return self.packed[..., 3] if self.has_foreground else self.packed


class MaskPropagator:
    """Warps a key frame's alpha (and foreground correction) onto a later frame."""

    def __init__(self, flow_long_side: int = FLOW_LONG_SIDE) -> None:
        self.flow_long_side = flow_long_side
        self._coarse = _dis(finest_scale=2)  # the ultrafast preset's finest level
        self._fine = _dis(finest_scale=1)
        self._zero: np.ndarray | None = None  # see _neutral
        self._coords = np.zeros((0, 0, 2), np.float32)  # see _grid

    def key(self, frame: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> KeyFrame:
        alpha8 = cv2.convertScaleAbs(alpha, alpha=255.0)
        box = _nonzero_box(alpha8)
        small, gray = self._small(frame)
        if foreground is None:
            return KeyFrame(small, gray, alpha8, box)
        correction = cv2.addWeighted(foreground, 1.0, frame, -1.0, 128.0, dtype=cv2.CV_8U)
        packed = np.empty((*alpha8.shape, 4), np.uint8)
        cv2.mixChannels([correction, alpha8], [packed], [0, 0, 1, 1, 2, 2, 3, 3])  # one copy, not split + merge
        return KeyFrame(small, gray, packed, box)

    def propagate(self, key: KeyFrame, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(alpha, foreground) for ``frame``: the key's, moved along the flow from the key to ``frame``.

        Raises:
            ValueError: ``frame`` is not the key frame's size.
        """
        alpha, foreground, _ = self.follow(key, frame)
        return alpha, foreground

    def follow(self, key: KeyFrame, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, KeyFrame]:
        """As ``propagate``, plus the key for the next frame: ``frame`` with what was carried onto it.

        Outside the region around the key's mask the result has no alpha and
        the foreground is the frame itself.

        Raises:
            ValueError: ``frame`` is not the key frame's size.
        """
        height, width = frame.shape[:2]
        if key.packed.shape[:2] != (height, width):
            raise ValueError(f"frame {width}x{height} is not the key frame's size "
                             f"{key.packed.shape[1]}x{key.packed.shape[0]}")
        small, gray = self._small(frame)
        warped = np.zeros_like(key.packed)
        if key.has_foreground:
            warped.view(np.uint32)[...] = NO_CORRECTION  # one fill, not a strided write of three channels
        region = self._region(key, gray.shape)
        if region is not None:
            self._warp_region(key, small, gray, region, warped)
        alpha8 = warped[..., 3] if key.has_foreground else warped
        alpha = cv2.multiply(alpha8, 1.0 / 255.0, dtype=cv2.CV_32F)
        next_key = KeyFrame(small, gray, warped, _nonzero_box(alpha8))
        if not key.has_foreground:
            return alpha, None, next_key
        foreground = frame.copy()
        if region is not None:
            x0, y0, x1, y1 = _scaled(region, width / gray.shape[1], height / gray.shape[0], width, height)
            correction = cv2.cvtColor(warped[y0:y1, x0:x1], cv2.COLOR_RGBA2RGB)
            foreground[y0:y1, x0:x1] = cv2.addWeighted(frame[y0:y1, x0:x1], 1.0, correction, 1.0, -128.0,
                                                       dtype=cv2.CV_8U)
        return alpha, foreground, next_key

    def _region(self, key: KeyFrame, flow_shape: tuple[int, int]) -> Region | None:
        """At flow size: the key's mask box with room to move, at least MIN_FLOW_SIDE a side; None if no mask."""
        if key.box is None:
            return None
        flow_h, flow_w = flow_shape
        height, width = key.packed.shape[:2]
        x0, y0, x1, y1 = _scaled(key.box, flow_w / width, flow_h / height, flow_w, flow_h)
        mx, my = FLOW_MARGIN + (x1 - x0) // 4, FLOW_MARGIN + (y1 - y0) // 4
        x0, y0, x1, y1 = max(0, x0 - mx), max(0, y0 - my), min(flow_w, x1 + mx), min(flow_h, y1 + my)
        if x1 - x0 < MIN_FLOW_SIDE:
            x0 = max(0, min(x0, flow_w - MIN_FLOW_SIDE))
            x1 = min(flow_w, x0 + MIN_FLOW_SIDE)
        if y1 - y0 < MIN_FLOW_SIDE:
            y0 = max(0, min(y0, flow_h - MIN_FLOW_SIDE))
            y1 = min(flow_h, y0 + MIN_FLOW_SIDE)
        return x0, y0, x1, y1

    def _warp_region(self, key: KeyFrame, small: np.ndarray, gray: np.ndarray, region: Region,
                     warped: np.ndarray) -> None:
        """Fills ``warped`` inside ``region`` (flow-size coordinates) with the key moved along the flow."""
        fx0, fy0, fx1, fy1 = region
        height, width = key.packed.shape[:2]
        sx, sy = width / gray.shape[1], height / gray.shape[0]
        x0, y0, x1, y1 = _scaled(region, sx, sy, width, height)
        size = (x1 - x0, y1 - y0)
        # DIS wants continuous images
        here, there = (np.ascontiguousarray(g[fy0:fy1, fx0:fx1]) for g in (gray, key.gray))
        dis = self._fine if here.size <= FINE_FLOW_PIXELS else self._coarse
        # flow from the current frame back to the key: current(x) ≈ key(x + flow(x)), a backward map
        flow = dis.calc(here, there, None)
        changed = self._changed(there, here, flow)
        # full-size sampling map: the full-size pixel grid + the flow scaled to full-size pixels
        cv2.multiply(flow, (sx, sy, 0.0, 0.0), dst=flow)  # at flow size: cheap
        coordinates = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
        coordinates += self._grid(y1, x1)[y0:y1, x0:x1]
        out = cv2.remap(key.packed, coordinates, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if changed is None:
            warped[y0:y1, x0:x1] = out
            return
        alpha = cv2.extractChannel(out, 3) if key.has_foreground else out
        key_alpha = cv2.resize(key.alpha[y0:y1, x0:x1], here.shape[::-1], interpolation=cv2.INTER_AREA)
        uncovered = cv2.bitwise_and(changed, background_colours(key.small[fy0:fy1, fx0:fx1], key_alpha,
                                                                small[fy0:fy1, fx0:fx1]))
        if cv2.countNonZero(uncovered):
            keep = cv2.GaussianBlur(cv2.bitwise_not(uncovered), (0, 0), 1.0)  # 255: keep, 0: drop
            cv2.multiply(alpha, cv2.resize(keep, size, interpolation=cv2.INTER_LINEAR), dst=alpha, scale=1.0 / 255.0)
        if key.has_foreground:
            # no correction where the content changed; the next frame carries the gated correction only
            # (masked copies: a boolean-indexed assignment took 5 ms at 1280x720)
            changed = cv2.resize(changed, size, interpolation=cv2.INTER_NEAREST)
            corrected = cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)
            cv2.copyTo(self._neutral(y1 - y0, x1 - x0), changed, corrected)
            cv2.mixChannels([corrected, alpha], [out], [0, 0, 1, 1, 2, 2, 3, 3])
        warped[y0:y1, x0:x1] = out

    def _changed(self, key_gray: np.ndarray, gray: np.ndarray, flow: np.ndarray) -> np.ndarray | None:
        """Non-zero where ``key_gray`` moved along ``flow`` does not look like ``gray``; None if nowhere.

        All three are the same flow-size region. Dilated by a pixel: at flow
        size a thin text stroke covers part of a pixel, and the full-size
        correction around it must go too.
        """
        h, w = gray.shape
        grid = self._grid(h, w)[:h, :w]
        warped = cv2.remap(key_gray, cv2.add(flow, grid), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        changed = cv2.compare(cv2.absdiff(warped, gray), GATE_CHANGE, cv2.CMP_GT)
        if not cv2.countNonZero(changed):
            return None
        return cv2.dilate(changed, np.ones((3, 3), np.uint8))

    def _grid(self, height: int, width: int) -> np.ndarray:
        """Float32 pixel coordinates (x, y) at least height×width, kept and grown as needed: slice it."""
        if self._coords.shape[0] < height or self._coords.shape[1] < width:
            height, width = max(height, self._coords.shape[0]), max(width, self._coords.shape[1])
            xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
            self._coords = np.dstack([xs, ys])
        return self._coords

    def _neutral(self, height: int, width: int) -> np.ndarray:
        """A correction of zero (128 in the packed encoding), cached per size."""
        if self._zero is None or self._zero.shape[0] < height or self._zero.shape[1] < width:
            self._zero = np.full((height, width, 3), 128, np.uint8)
        return self._zero[:height, :width]

    def _small(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frame at flow size, in RGB and in grey."""
        small = area_resize(frame, fit_size(frame.shape[1], frame.shape[0], self.flow_long_side))
        return small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def _dis(finest_scale: int) -> cv2.DISOpticalFlow:
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    # denser patches, more descent steps: annotated masks carried 1-2 frames keep IoU 0.840 / 0.748
    # (lucia / rollerblade) instead of 0.833 / 0.730 for ~0.5 ms
    flow.setPatchStride(DIS_PATCH_STRIDE)
    flow.setGradientDescentIterations(DIS_DESCENT_ITERATIONS)
    flow.setFinestScale(finest_scale)
    return flow


def background_colours(key_rgb: np.ndarray, key_alpha: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """255 where ``rgb``'s colour is one the key frame showed around its person, not in it; else 0.

    The key's person (alpha above PERSON_LEVEL) and background (below
    BACKGROUND_LEVEL) each give a colour histogram, normalised to shares; a
    colour is background when its person share is under BACKGROUND_ODDS of
    the two shares together. A colour neither showed counts as even (kept).

    Args:
        key_rgb: h×w×3 uint8, the key frame.
        key_alpha: h×w uint8, its alpha.
        rgb: h×w×3 uint8, the frame to judge.
    """
    bins = 1 << (3 * COLOUR_BITS)
    key_index = _colour_index(key_rgb)
    person = np.bincount(key_index[key_alpha > PERSON_LEVEL], minlength=bins).astype(np.float32)
    around = np.bincount(key_index[key_alpha < BACKGROUND_LEVEL], minlength=bins).astype(np.float32)
    person /= max(float(person.sum()), 1.0)
    around /= max(float(around.sum()), 1.0)
    odds = (person + 1e-4) / (person + around + 2e-4)
    return np.where(odds[_colour_index(rgb)] < BACKGROUND_ODDS, 255, 0).astype(np.uint8)


def _colour_index(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's histogram bin: the top COLOUR_BITS of R, G and B."""
    top = (rgb >> (8 - COLOUR_BITS)).astype(np.int32)
    return (top[..., 0] << (2 * COLOUR_BITS)) | (top[..., 1] << COLOUR_BITS) | top[..., 2]


def _nonzero_box(alpha8: np.ndarray) -> Region | None:
    x, y, w, h = cv2.boundingRect(alpha8)  # of the non-zero pixels of a single-channel image
    return None if w == 0 or h == 0 else (x, y, x + w, y + h)


def _scaled(box: Region, sx: float, sy: float, width: int, height: int) -> Region:
    """``box`` scaled by (sx, sy), rounded outwards, inside width×height."""
    x0, y0, x1, y1 = box
    return (max(0, math.floor(x0 * sx)), max(0, math.floor(y0 * sy)),
            min(width, math.ceil(x1 * sx)), min(height, math.ceil(y1 * sy)))


@dataclass
class AdaptiveCadence:
    """How often the model runs when the user chose "auto": on as many frames as keep up with the source.

    The model's cost per computed frame (the median of the last COST_RUNS
    runs: a whole-frame refresh of the person box or a hiccup of the machine
    costs 2-3x a usual run and must not move the cadence) is compared with the frame
    budget at ``target_fps``: up to SLOW of it the model runs on every frame;
    above, on the share of frames (``duty``) that fits SLOW of the budget,
    spread evenly (a model at 110 % of it runs on about 9 frames of 10, not
    on every 2nd), and never on fewer than one in MAX_AUTO_EVERY. Few reused
    frames cost little quality: each follows on from a computed neighbour.
    The cost is the model's own time, so dropped frames cannot hide a slow
    model.
    """

    duty: float = 1.0  # share of frames the model runs on
    cost_ms: float | None = None
    credit: float = 0.0  # runs owed: the model runs when it reaches one
    costs: deque[float] = field(default_factory=lambda: deque(maxlen=COST_RUNS))

    def observe(self, cost_ms: float, target_fps: float) -> None:
        self.costs.append(cost_ms)
        self.cost_ms = statistics.median(self.costs)
        load = self.cost_ms * target_fps / 1000.0
        self.duty = 1.0 if load <= SLOW else max(1.0 / MAX_AUTO_EVERY, SLOW / load)

    @property
    def every(self) -> int:
        """The longest run of frames between two computed ones, plus one (1: every frame)."""
        return math.ceil(1.0 / self.duty - 1e-6)

    def due(self) -> bool:
        """Whether the model runs on the next frame; called once per frame."""
        self.credit = min(self.credit + self.duty, 1.0 + self.duty)
        if self.credit >= 1.0 - 1e-6:
            self.credit -= 1.0
            return True
        return False


def describe_cadence(duty: float) -> str:
    """'every frame', 'every 3rd frame', or 'on 91 % of frames': how often the model ran."""
    if duty >= 1.0 - 1e-6:
        return "every frame"
    every = 1.0 / duty
    if abs(every - round(every)) < 1e-3:
        return f"every {round(every)}{_ordinal(round(every))} frame"
    return f"on {100 * duty:.0f} % of frames"


def _ordinal(n: int) -> str:
    return "nd" if n == 2 else "rd" if n == 3 else "th"

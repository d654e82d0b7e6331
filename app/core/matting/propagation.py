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
# photometric gate of the carried colour correction: grey-level change (0..255, at flow size) between
# the warped key frame and the new frame above which the correction is dropped there
GATE_CHANGE = 16
SLOW = 0.85  # the share of the frame budget the auto cadence lets the model take
MAX_AUTO_EVERY = 3
COST_RUNS = 9  # the auto cadence judges the model by the median cost of this many runs


@dataclass(frozen=True)
class KeyFrame:
    """What a reused frame needs from the last computed one.

    ``packed`` is alpha (0..255) alone for models without a foreground, else
    H×W×4: the colour correction (foreground − frame, clamped to ±127, offset
    by 128) in RGB and alpha in A. OpenCV remaps a 4-channel uint8 image in
    one vectorised pass, 3x faster than int16 colour plus a float alpha. An
    8-bit alpha is what a PNG keeps anyway.
    """

    gray: np.ndarray  # flow-size uint8
    packed: np.ndarray  # H×W or H×W×4 uint8

    @property
    def has_foreground(self) -> bool:
        return self.packed.ndim == 3


class MaskPropagator:
    """Warps a key frame's alpha (and foreground correction) onto a later frame."""

    def __init__(self, flow_long_side: int = FLOW_LONG_SIDE) -> None:
        self.flow_long_side = flow_long_side
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        # denser patches, more descent steps: annotated masks carried 1-2 frames keep IoU 0.840 / 0.748
        # (lucia / rollerblade) instead of 0.833 / 0.730 for ~0.5 ms; finer scales gain 0.03 at 10x the cost
        self._flow.setPatchStride(DIS_PATCH_STRIDE)
        self._flow.setGradientDescentIterations(DIS_DESCENT_ITERATIONS)
        self._grid: np.ndarray | None = None  # H×W×2 float32 pixel coordinates, cached per size
        self._small_grid: np.ndarray | None = None  # the same at flow size
        self._zero: np.ndarray | None = None  # see _neutral

    def key(self, frame: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> KeyFrame:
        alpha8 = cv2.convertScaleAbs(alpha, alpha=255.0)
        if foreground is None:
            return KeyFrame(self._gray(frame), alpha8)
        correction = cv2.addWeighted(foreground, 1.0, frame, -1.0, 128.0, dtype=cv2.CV_8U)
        packed = np.empty((*alpha8.shape, 4), np.uint8)
        cv2.mixChannels([correction, alpha8], [packed], [0, 0, 1, 1, 2, 2, 3, 3])  # one copy, not split + merge
        return KeyFrame(self._gray(frame), packed)

    def propagate(self, key: KeyFrame, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(alpha, foreground) for ``frame``: the key's, moved along the flow from the key to ``frame``.

        Raises:
            ValueError: ``frame`` is not the key frame's size.
        """
        alpha, foreground, _ = self.follow(key, frame)
        return alpha, foreground

    def follow(self, key: KeyFrame, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, KeyFrame]:
        """As ``propagate``, plus the key for the next frame: ``frame`` with what was carried onto it.

        Raises:
            ValueError: ``frame`` is not the key frame's size.
        """
        height, width = frame.shape[:2]
        if key.packed.shape[:2] != (height, width):
            raise ValueError(f"frame {width}x{height} is not the key frame's size "
                             f"{key.packed.shape[1]}x{key.packed.shape[0]}")
        gray = self._gray(frame)
        # flow from the current frame back to the key: current(x) ≈ key(x + flow(x)), a backward map
        flow = self._flow.calc(gray, key.gray, None)
        changed = self._changed(key.gray, gray, flow) if key.has_foreground else None
        warped = cv2.remap(key.packed, self._coordinates(flow, width, height), None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        if not key.has_foreground:
            return cv2.multiply(warped, 1.0 / 255.0, dtype=cv2.CV_32F), None, KeyFrame(gray, warped)
        correction = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB)
        if changed is not None:
            # no correction where the content changed; the next frame carries the gated correction only
            # (masked copies: a boolean-indexed assignment took 5 ms at 1280x720)
            cv2.copyTo(self._neutral(height, width), cv2.resize(changed, (width, height), interpolation=cv2.INTER_NEAREST),
                       correction)
            cv2.mixChannels([correction], [warped], [0, 0, 1, 1, 2, 2])
        alpha = cv2.multiply(warped[..., 3], 1.0 / 255.0, dtype=cv2.CV_32F)
        return alpha, cv2.addWeighted(frame, 1.0, correction, 1.0, -128.0, dtype=cv2.CV_8U), KeyFrame(gray, warped)

    def _neutral(self, height: int, width: int) -> np.ndarray:
        """A frame-size correction of zero (128 in the packed encoding), cached per size."""
        if self._zero is None or self._zero.shape[:2] != (height, width):
            self._zero = np.full((height, width, 3), 128, np.uint8)
        return self._zero

    def _changed(self, key_gray: np.ndarray, gray: np.ndarray, flow: np.ndarray) -> np.ndarray | None:
        """At flow size, non-zero where the warped key frame does not look like ``gray``; None if nowhere.

        Dilated by a pixel: at flow size a thin text stroke covers part of a
        pixel, and the full-size correction around it must go too.
        """
        h, w = gray.shape
        if self._small_grid is None or self._small_grid.shape[:2] != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._small_grid = np.dstack([xs, ys])
        warped = cv2.remap(key_gray, cv2.add(flow, self._small_grid), None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        changed = cv2.compare(cv2.absdiff(warped, gray), GATE_CHANGE, cv2.CMP_GT)
        if not cv2.countNonZero(changed):
            return None
        return cv2.dilate(changed, np.ones((3, 3), np.uint8))

    def _gray(self, frame: np.ndarray) -> np.ndarray:
        size = fit_size(frame.shape[1], frame.shape[0], self.flow_long_side)
        return cv2.cvtColor(area_resize(frame, size), cv2.COLOR_RGB2GRAY)

    def _coordinates(self, flow: np.ndarray, width: int, height: int) -> np.ndarray:
        """Full-size sampling map: pixel grid + the flow, scaled to full-size pixels and upsampled."""
        if self._grid is None or self._grid.shape[:2] != (height, width):
            xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
            self._grid = np.dstack([xs, ys])
        flow_h, flow_w = flow.shape[:2]
        cv2.multiply(flow, (width / flow_w, height / flow_h, 0.0, 0.0), dst=flow)  # at flow size: cheap
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.add(flow, self._grid, dst=flow)


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

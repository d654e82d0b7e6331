"""Robust Video Matting: recurrent alpha + foreground colour."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import onnxruntime as ort

from app.core.errors import SettingsError
from app.core.models.base import MattingOutput, register_adapter
from app.core.models.manifest import ModelSpec
from app.core.models.person_crop import Box, PersonCrop
from app.core.models.session import input_dtype, session_provider
from app.core.imaging.refine import fit_size

PORTRAIT_LONG_SIDE = 320  # internal long side for close-ups (content-aware mode)
# close-up or not from the person's *area* (share of the frame's pixels), with a hysteresis band:
# webcam-style upper-body shots cover 13-17 % of the frame, a standing full-body person 3-5 %
# although both span 50-85 % of the frame height (the height criterion read both as close-ups)
PORTRAIT_ENTER, PORTRAIT_LEAVE = 0.10, 0.07
STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")


# The model's internal (downsampled) frame must be at least 3 px on its short side: its fast
# guided filter runs a 3x3 box filter there, and ONNX Runtime rejects a 2-px input
# ("Invalid input shape: {2,480}", measured on the shared weights). 8 px leaves room for the
# model's own rounding and keeps a matte that is more than a smear.
MIN_INTERNAL_SIDE = 8
# RVM's refiner works at the full size it is given, with a dozen float32 planes: a 50 MP photo
# peaked at 8.9 GB. Above this many pixels the model gets a reduced copy (same internal
# resolution) and its matte and colours are scaled back up. 8.4 MP keeps 4K UHD video
# (8.3 MP) on the full-size path.
MAX_WORK_PIXELS = 8_400_000


def auto_downsample_ratio(width: int, height: int, target_long_side: int = 480) -> float:
    """Ratio that brings the long side to about ``target_long_side`` px (never above 1).

    1280x720 -> 0.375 and 1920x1080 -> 0.25, as RVM's authors recommend.
    """
    return round(min(1.0, target_long_side / max(width, height)), 4)


def valid_ratio(ratio: float, width: int, height: int) -> float:
    """``ratio``, raised where needed so the internal short side is at least MIN_INTERNAL_SIDE px.

    Extreme strips (8192x40) and tiny ratios (0.005) would otherwise give the
    model a frame its box filter cannot take. A frame whose own short side is
    below the minimum runs at ratio 1 (and is padded by ``infer``).
    """
    floor = min(1.0, math.ceil(MIN_INTERNAL_SIDE / max(1, min(width, height)) * 1e4) / 1e4)
    return max(ratio, floor)


@register_adapter("rvm")
class RobustVideoMatting:
    """RVM behind the matting protocol.

    The four recurrent tensors belong to one stream. They are reset to the
    [1,1,1,1] zeros the model broadcasts on the first frame, and again
    whenever the frame size or ``downsample_ratio`` changes (a state from
    another size makes the model fail with a broadcast error).

    ``work_long_side`` (live fast path, off by default): the model runs on the
    frame scaled to this long side, with the ratio adjusted so its internal
    resolution is unchanged; alpha and colours come back to full size
    bilinearly. RVM's own refiner works at the size it is given, and at
    1280x720 that full-resolution pass is about a third of the model's time.
    ``content_aware`` (only while the ratio is automatic): the internal long
    side follows the person's size in the last matte: PORTRAIT_LONG_SIDE when
    the person covers a large share of the frame (a close-up has pixels to
    spare), ``target_long_side`` otherwise, with hysteresis, because each
    change restarts the recurrent state. ``io_binding`` keeps the recurrent
    tensors inside ONNX Runtime between frames instead of round-tripping them
    through numpy (off by default: on CPU it measured within noise).
    ``person_crop`` (live fast path, off by default): the model runs on a box
    around the person in the last matte, at the same internal pixel density
    (see ``PersonCrop``); outside the box alpha is 0. The box is part of the
    state key, so a move restarts the recurrent state.
    """

    temporal = True

    def __init__(
        self,
        session: ort.InferenceSession,
        spec: ModelSpec,
        downsample_ratio: float | None = None,
        work_long_side: int | None = None,
        io_binding: bool = False,
        content_aware: bool = False,
        person_crop: bool = False,
        max_work_pixels: int = MAX_WORK_PIXELS,
    ) -> None:
        self.session = session
        self.name = spec.name
        self.provider = session_provider(session)
        self.target_long_side = int(spec.preprocess.get("target_long_side", 480))
        self.dtype = np.float16 if input_dtype(session, "src") == "float16" else np.float32
        self.downsample_ratio = downsample_ratio
        self.work_long_side = work_long_side
        self.max_work_pixels = max_work_pixels
        self.content_aware = content_aware
        self._portrait = False  # content-aware: the last matte was a close-up
        self._crop = PersonCrop() if person_crop else None
        self._binding = _StateBinding(session) if io_binding else None
        self._state: list[np.ndarray] = []
        self._key: tuple[int, int, float] | None = None
        self._work_size: tuple[tuple[int, int], tuple[int, int]] | None = None  # (frame, work frame) H×W
        self.reset()

    @property
    def downsample_ratio(self) -> float | None:
        return self._ratio

    @downsample_ratio.setter
    def downsample_ratio(self, ratio: float | None) -> None:
        if ratio is not None and not 0.0 < ratio <= 1.0:
            raise SettingsError(f"downsample ratio must be in (0, 1], got {ratio}")
        self._ratio = ratio

    def reset(self) -> None:
        zeros = np.zeros((1, 1, 1, 1), dtype=self.dtype)
        self._state = [zeros] * 4
        self._key = None
        if self._binding is not None:
            self._binding.reset(zeros)

    def ratio_for(self, width: int, height: int) -> float:
        """The ratio used for a width×height frame: the setting or the automatic one, made valid."""
        if self._ratio is not None:
            return valid_ratio(self._ratio, width, height)
        target = PORTRAIT_LONG_SIDE if self.content_aware and self._portrait else self.target_long_side
        return valid_ratio(auto_downsample_ratio(width, height, target), width, height)

    def _update_content(self, alpha: np.ndarray) -> None:
        """Close-up or not, from the share of pixels the person covers in ``alpha`` (at the model's size: cheap)."""
        fraction = cv2.countNonZero(cv2.compare(alpha, 0.5, cv2.CMP_GE)) / alpha.size
        if self._portrait and fraction < PORTRAIT_LEAVE:
            self._portrait = False
        elif not self._portrait and fraction >= PORTRAIT_ENTER:
            self._portrait = True

    def infer(self, frame: np.ndarray) -> MattingOutput:
        height, width = frame.shape[:2]
        ratio = self.ratio_for(width, height)
        t0 = time.perf_counter()
        padded = _pad_to_min(frame)
        work, work_ratio = self._work_frame(padded, ratio)
        box = self._crop.box if self._crop is not None else None
        key = (width, height, ratio, box)
        if self._key != key:
            if self._key is not None and self._key[:3] == key[:3] and self._binding is None:
                # only the box moved: the recurrent state follows it instead of restarting
                self._state = carry_state(self._state, _box_or_whole(self._key[3], work),
                                          _box_or_whole(box, work), work_ratio)
            else:
                if self._crop is not None and (self._key is None or self._key[:3] != key[:3]):
                    self._crop.reset()  # a box from another size means nothing here
                    box = None
                    key = (width, height, ratio, None)
                self.reset()
            self._key = key
        seen = work if box is None else work[box[1] : box[3], box[0] : box[2]]
        src = cv2.dnn.blobFromImage(seen, scalefactor=1.0 / 255.0)  # NCHW float32, RGB kept
        if self.dtype is np.float16:
            src = src.astype(np.float16)
        ratio_arr = np.array([work_ratio], dtype=np.float32)
        t1 = time.perf_counter()
        if self._binding is not None:
            fgr, pha = self._binding.run(src, ratio_arr)
        else:
            feed = {"src": src, "downsample_ratio": ratio_arr}
            feed.update(zip(STATE_INPUTS, self._state))
            fgr, pha, *self._state = self.session.run(["fgr", "pha", *STATE_OUTPUTS], feed)
        t2 = time.perf_counter()
        alpha = np.ascontiguousarray(pha[0, 0], dtype=np.float32)
        foreground = _chw_to_rgb8(fgr[0])
        if box is not None:  # back into the whole work frame: nobody outside the box
            alpha, foreground = _paste(alpha, foreground, work, box)
        if self.content_aware:
            self._update_content(alpha)
        if self._crop is not None:
            self._crop.update(alpha)
            self._work_size = (frame.shape[:2], alpha.shape) if padded is frame else None
        if work is not padded:
            # bilinear, not guided: RVM's own refiner already fitted the edges at the work size
            # (a guided filter fitted again smooths them: 2.5x the edge error on the portraits)
            size = (padded.shape[1], padded.shape[0])
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
            foreground = cv2.resize(foreground, size, interpolation=cv2.INTER_LINEAR)
        if padded is not frame:  # cut the edge padding off again
            alpha = np.ascontiguousarray(alpha[:height, :width])
            foreground = np.ascontiguousarray(foreground[:height, :width])
        t3 = time.perf_counter()
        return MattingOutput(
            alpha,
            foreground,
            {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3},
        )

    def follow(self, alpha: np.ndarray) -> None:
        """The person box follows a mask made without the model: a reused frame's, carried along the flow.

        ``alpha`` is at the size of the frames ``infer`` is given.
        """
        if self._crop is None or self._work_size is None or alpha.shape != self._work_size[0]:
            return
        height, width = self._work_size[1]
        # nearest: only the box of alpha >= 0.25 is read from it
        self._crop.follow(cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA))

    def _work_frame(self, frame: np.ndarray, ratio: float) -> tuple[np.ndarray, float]:
        """The frame the model sees and its ratio: same internal resolution, less full-size work."""
        height, width = frame.shape[:2]
        long_side = self._work_long_side(width, height)
        if max(width, height) <= long_side:
            return frame, ratio
        work_w, work_h = fit_size(width, height, long_side)
        work_ratio = min(1.0, ratio * max(width, height) / max(work_w, work_h))
        if work_ratio >= 1.0:
            # the internal resolution is the work frame itself: grow the work frame to keep it
            work_w, work_h = fit_size(width, height, round(ratio * max(width, height)))
        return cv2.resize(frame, (work_w, work_h), interpolation=cv2.INTER_AREA), work_ratio


    def _work_long_side(self, width: int, height: int) -> int:
        """The long side of the frame the model is given: the live setting, capped by ``max_work_pixels``."""
        long_side = self.work_long_side or max(width, height)
        if width * height > self.max_work_pixels:
            capped = int(max(width, height) * math.sqrt(self.max_work_pixels / (width * height)))
            while capped > 1 and math.prod(fit_size(width, height, capped)) > self.max_work_pixels:
                capped -= 1  # fit_size rounds the short side: stay within the cap
            long_side = min(long_side, capped)
        return long_side


class _StateBinding:
    """RVM's recurrent tensors kept as ONNX Runtime values between frames (I/O binding).

    The state outputs of one run are bound as the state inputs of the next,
    so they never become numpy arrays.
    """

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.binding = session.io_binding()
        self.state: list[ort.OrtValue] = []

    def reset(self, zeros: np.ndarray) -> None:
        self.state = [ort.OrtValue.ortvalue_from_numpy(zeros)] * 4

    def run(self, src: np.ndarray, ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame: (fgr, pha) as numpy; the new state stays in ORT.

        Raises:
            onnxruntime errors as ``session.run`` (e.g. a state of another size).
        """
        binding = self.binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        binding.bind_cpu_input("src", src)
        binding.bind_cpu_input("downsample_ratio", ratio)
        for name, value in zip(STATE_INPUTS, self.state):
            binding.bind_ortvalue_input(name, value)
        for name in ("fgr", "pha", *STATE_OUTPUTS):
            binding.bind_output(name, "cpu")
        self.session.run_with_iobinding(binding)
        fgr, pha, *self.state = binding.get_outputs()
        return fgr.numpy(), pha.numpy()


def state_shapes(height: int, width: int, ratio: float) -> list[tuple[int, int]]:
    """The spatial sizes of RVM's four recurrent tensors for a height×width input at ``ratio``.

    The model works at floor(size × ratio) (float32 arithmetic, as in the graph)
    and each state level halves that, rounding up; checked against the model's
    own outputs on 40 random sizes and ratios.
    """
    h = math.floor(np.float32(height) * np.float32(ratio))
    w = math.floor(np.float32(width) * np.float32(ratio))
    shapes = []
    for _ in STATE_INPUTS:
        h, w = -(-h // 2), -(-w // 2)
        shapes.append((h, w))
    return shapes


def carry_state(state: list[np.ndarray], old_box: Box, new_box: Box, ratio: float) -> list[np.ndarray]:
    """RVM's recurrent tensors for a box that moved: each level's features shifted to where they now lie.

    A level-``k`` state pixel covers 2^k internal pixels, each 1/ratio work
    pixels, so a box move of (dx, dy) work pixels is a shift of
    (dx, dy) · ratio / 2^k at level k: the same scale, only a translation,
    even when the box also grew or shrank. What comes into view is zero, the
    state a fresh start has there. A state still at its initial [1,1,1,1]
    zeros stays as it is.
    """
    shapes = state_shapes(new_box[3] - new_box[1], new_box[2] - new_box[0], ratio)
    carried = []
    for level, (tensor, shape) in enumerate(zip(state, shapes), start=1):
        if tensor.shape[2:] == (1, 1) and not tensor.any():
            carried.append(tensor)
            continue
        scale = ratio / 2**level
        carried.append(_translate(tensor, (new_box[0] - old_box[0]) * scale, (new_box[1] - old_box[1]) * scale, shape))
    return carried


def _translate(tensor: np.ndarray, dx: float, dy: float, shape: tuple[int, int]) -> np.ndarray:
    """out[..., y, x] = tensor[..., y + dy, x + dx] (bilinear), zero outside; ``shape`` is out's H×W."""
    ix, iy = math.floor(dx), math.floor(dy)
    fx, fy = np.float32(dx - ix), np.float32(dy - iy)
    out = np.zeros((*tensor.shape[:2], *shape), tensor.dtype)
    for ox, oy, weight in ((ix, iy, (1 - fx) * (1 - fy)), (ix + 1, iy, fx * (1 - fy)),
                           (ix, iy + 1, (1 - fx) * fy), (ix + 1, iy + 1, fx * fy)):
        if weight:
            _add_window(out, tensor, ox, oy, weight)
    return out


def _add_window(out: np.ndarray, tensor: np.ndarray, ox: int, oy: int, weight: np.float32) -> None:
    """out[..., y, x] += weight · tensor[..., y + oy, x + ox] where that lies inside ``tensor``."""
    height, width = out.shape[2:]
    src_h, src_w = tensor.shape[2:]
    y0, y1 = max(0, -oy), min(height, src_h - oy)
    x0, x1 = max(0, -ox), min(width, src_w - ox)
    if y0 < y1 and x0 < x1:
        out[..., y0:y1, x0:x1] += weight * tensor[..., y0 + oy : y1 + oy, x0 + ox : x1 + ox]


def _box_or_whole(box: Box | None, work: np.ndarray) -> Box:
    return box if box is not None else (0, 0, work.shape[1], work.shape[0])


def _paste(alpha: np.ndarray, foreground: np.ndarray, work: np.ndarray, box: tuple[int, int, int, int]):
    """The box's alpha and colours placed in a work-size matte (alpha 0 and the frame's own colours outside)."""
    x0, y0, x1, y1 = box
    full_alpha = np.zeros(work.shape[:2], np.float32)
    full_alpha[y0:y1, x0:x1] = alpha
    full_foreground = work.copy()
    full_foreground[y0:y1, x0:x1] = foreground
    return full_alpha, full_foreground


def _pad_to_min(frame: np.ndarray) -> np.ndarray:
    """A frame thinner than MIN_INTERNAL_SIDE, edge-extended to it (``infer`` crops the result back)."""
    height, width = frame.shape[:2]
    if min(height, width) >= MIN_INTERNAL_SIDE:
        return frame
    bottom, right = max(0, MIN_INTERNAL_SIDE - height), max(0, MIN_INTERNAL_SIDE - width)
    return cv2.copyMakeBorder(frame, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def _chw_to_rgb8(chw: np.ndarray) -> np.ndarray:
    """3×H×W float in [0, 1] -> H×W×3 uint8, rounded."""
    planes = [cv2.convertScaleAbs(np.asarray(c, dtype=np.float32), alpha=255.0) for c in chw]
    return cv2.merge(planes)

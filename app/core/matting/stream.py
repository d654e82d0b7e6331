"""The stream pipeline: frames of one stream, in order, with the temporal state they share.

Temporal models (RVM) carry their recurrent tensors inside the adapter; for
single-frame models the pipeline smooths the mask over time with an
exponential moving average that switches itself off where the image moves
(the motion guard), so a fast arm leaves no ghost trail. Either way the
state belongs to one stream and is reset on a new source, a seek, a change
of frame size or ``downsample_ratio``, and a detected scene cut.

Qt-free: the CLI iterates ``run()``; the GUI calls ``process()`` from its
worker thread and hands new settings over with ``update_settings()``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from app.core.media.image_io import check_frame
from app.core.imaging.matte import MatteOptions, apply_matte_options
from app.core.models.base import MattingModel
from app.core.matting.propagation import AdaptiveCadence, KeyFrame, MaskPropagator
from app.core.imaging.refine import area_resize, estimate_foreground
from app.core.matting.results import FrameResult
from app.core.media.sources import Frame
from app.core.timing import StageTimer

THUMB_LONG_SIDE = 96  # motion and scene-cut analysis run on a thumbnail: cheap and noise-robust
SEEK_GAP_S = 2.0  # a forward jump this long between frames is treated as a seek


@dataclass(frozen=True)
class StreamSettings:
    """Immutable per-stream settings; a change is a new object handed over as a snapshot.

    smoothing: EMA weight of the previous mask for single-frame models, in [0, 1); 0 is off.
    motion_guard: image change (0..1 of full scale, per pixel) at which smoothing is fully off.
    threshold, feather, expand, min_blob: see MatteOptions.
    every_n: compute the mask on every N-th frame and reuse it in between; 0 is auto
        (every frame while the model keeps up with ``target_fps``, else the share of
        frames that does, at least every 3rd: see AdaptiveCadence).
    motion_compensation: a reused mask follows the optical flow from its frame (else it is held).
    target_fps: the source rate the auto cadence must keep up with.
    scene_cut: mean thumbnail change (0..1) above which the state resets; 0 disables.
    estimate_foreground: blur-fusion foreground colours for models without their own.
    model_ms: the model's cost the auto cadence works from, fixed; None times each run.
        Measurements set it, so the cadence they replay does not depend on the machine's load.
    """

    smoothing: float = 0.5
    motion_guard: float = 0.1
    threshold: float | None = None
    feather: int = 0
    expand: int = 0
    min_blob: float = 0.0
    every_n: int = 1
    motion_compensation: bool = True
    target_fps: float = 30.0
    scene_cut: float = 0.2
    estimate_foreground: bool = False
    model_ms: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.smoothing < 1.0:
            problems.append("smoothing must be in [0, 1)")
        if not 0.0 < self.motion_guard <= 1.0:
            problems.append("motion_guard must be in (0, 1]")
        if self.every_n < 0:
            problems.append("every_n must be 0 (auto) or at least 1")
        if not self.target_fps > 0:
            problems.append("target_fps must be positive")
        if self.model_ms is not None and not self.model_ms > 0:
            problems.append("model_ms must be positive")
        if not 0.0 <= self.scene_cut <= 1.0:
            problems.append("scene_cut must be in [0, 1]")
        try:
            self.matte_options
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def matte_options(self) -> MatteOptions:
        return MatteOptions(self.threshold, self.feather, self.expand, self.min_blob)

    def replace(self, **changes: object) -> "StreamSettings":
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class _StreamState:
    """What one stream remembers between frames."""

    size_key: tuple[int, int, float | None] | None = None  # (width, height, downsample ratio)
    thumb: np.ndarray | None = None  # RGB thumbnail of the last computed frame, uint8
    alpha: np.ndarray | None = None  # previous temporally-filtered alpha, float32
    key: KeyFrame | None = None  # the last computed frame, then each reused one: what the next reused frame follows on from
    key_frame: tuple[np.ndarray, np.ndarray | None] | None = None  # (frame, foreground) the key is made from
    since_key: int = 0  # frames since the last computed one
    frame_index: int = 0  # frames since the last reset
    last_timestamp: float | None = None
    pending_reset: str | None = "start"
    resets: dict[str, int] = field(default_factory=dict)


class StreamPipeline:
    """Processes the frames of one stream in order; owns its temporal state.

    ``clock`` (seconds, monotonic) measures the model's cost for the auto
    cadence; tests pass a clock they advance themselves, so the cadence they
    see does not depend on how busy the machine is.
    """

    def __init__(
        self,
        model: MattingModel,
        settings: StreamSettings = StreamSettings(),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self._settings = settings
        self._clock = clock
        self._lock = threading.RLock()  # process() and reset() from different threads never interleave
        self._state = _StreamState()
        self._propagator = MaskPropagator()
        self._cadence = AdaptiveCadence()  # kept across resets: it measures the model on this machine

    @property
    def settings(self) -> StreamSettings:
        return self._settings

    @property
    def reset_counts(self) -> dict[str, int]:
        """How often the state was reset, by reason (start, manual, size, ratio, seek, scene_cut)."""
        return dict(self._state.resets)

    def update_settings(self, settings: StreamSettings) -> None:
        """Thread-safe: the next ``process()`` uses this snapshot (one reference swap)."""
        if not isinstance(settings, StreamSettings):
            raise TypeError("update_settings() takes a StreamSettings snapshot")
        self._settings = settings

    def reset(self, reason: str = "manual") -> None:
        """Forgets the stream (new source, seek): the next frame starts fresh."""
        with self._lock:
            resets = self._state.resets
            self._state = _StreamState(pending_reset=reason, resets=resets)
            self.model.reset()

    def run(self, frames: Iterable[Frame], stop: threading.Event | None = None) -> Iterator[tuple[Frame, FrameResult]]:
        """Processes every frame of ``frames`` in order until it ends or ``stop`` is set."""
        for item in frames:
            if stop is not None and stop.is_set():
                return
            image, timestamp = item
            yield Frame(image, timestamp), self.process(image, timestamp)

    def process(self, frame: np.ndarray, timestamp: float) -> FrameResult:
        """Alpha (and foreground where known) for the next frame of the stream.

        Args:
            frame: H×W×3 uint8 RGB.
            timestamp: seconds; going backwards or jumping ahead by more than
                SEEK_GAP_S is taken as a seek and resets the state.

        Raises:
            InputError: the frame is not an RGB uint8 image.
            ModelError: inference failed.
        """
        frame = check_frame(frame)
        settings = self._settings  # one snapshot for the whole frame
        with self._lock:
            timer = StageTimer()
            state = self._state
            with timer.stage("analyse"):
                thumb = _thumbnail(frame)
                size_key = self._key(frame)
                reason = state.pending_reset or self._reset_reason(size_key, timestamp, thumb, settings)
            if reason is not None:
                self._apply_reset(reason)
                state = self._state
            if settings.every_n:
                every, duty = settings.every_n, 1.0 / settings.every_n
                due = state.since_key + 1 >= every
            else:
                every, duty, due = self._cadence.every, self._cadence.duty, self._cadence.due()
            compute = state.alpha is None or due
            foreground = None
            if compute:
                started = self._clock()
                out = self.model.infer(frame)
                if state.frame_index > 0:  # the first run after a start or new size includes ONNX Runtime's set-up
                    cost = settings.model_ms if settings.model_ms is not None else (self._clock() - started) * 1e3
                    self._cadence.observe(cost, settings.target_fps)
                timer.merge(out.timings)
                with timer.stage("temporal"):
                    alpha = self._smooth(out.alpha, thumb, state, settings)
                foreground = out.foreground
                state.alpha, state.thumb, state.since_key = alpha, thumb, 0
                state.key = None  # made on the first frame that reuses it: no cost while every frame is computed
                state.key_frame = (frame, foreground)
            else:
                state.since_key += 1
                alpha, foreground = self._reuse(frame, state, settings, timer)
                follow = getattr(self.model, "follow", None)  # optional: where a model looks follows the person
                if follow is not None:
                    follow(alpha)
            state.size_key = size_key = self._key(frame)  # after inference: a content-aware ratio may have moved
            state.last_timestamp = timestamp
            index = state.frame_index
            state.frame_index += 1
            with timer.stage("matte"):
                alpha = apply_matte_options(alpha, settings.matte_options)
            if foreground is None and settings.estimate_foreground and settings.threshold is None:
                with timer.stage("foreground"):
                    foreground = estimate_foreground(frame, alpha)
            return FrameResult(
                alpha=alpha,
                foreground=foreground,
                timings=timer.ms,
                model=self.model.name,
                provider=self.model.provider,
                extra={"frame_index": index, "timestamp": timestamp, "reset": reason, "computed": compute,
                       "downsample_ratio": size_key[2], "every_n": every, "duty": duty,
                       "model_ms": self._cadence.cost_ms},
            )

    # ------------------------------------------------------------ internals

    def _key(self, frame: np.ndarray) -> tuple[int, int, float | None]:
        height, width = frame.shape[:2]
        ratio_for = getattr(self.model, "ratio_for", None)
        return width, height, (ratio_for(width, height) if ratio_for is not None else None)

    def _reset_reason(
        self, key: tuple[int, int, float | None], timestamp: float, thumb: np.ndarray, settings: StreamSettings
    ) -> str | None:
        state = self._state
        if state.size_key is not None and key[:2] != state.size_key[:2]:
            return "size"
        if state.size_key is not None and key[2] != state.size_key[2]:
            return "ratio"
        last = state.last_timestamp
        if last is not None and (timestamp < last or timestamp - last > SEEK_GAP_S):
            return "seek"
        if settings.scene_cut > 0 and state.thumb is not None and is_scene_cut(state.thumb, thumb, settings.scene_cut):
            return "scene_cut"
        return None

    def _apply_reset(self, reason: str) -> None:
        resets = self._state.resets
        resets[reason] = resets.get(reason, 0) + 1
        self._state = _StreamState(pending_reset=None, resets=resets)
        self.model.reset()

    def _reuse(
        self, frame: np.ndarray, state: _StreamState, settings: StreamSettings, timer: StageTimer
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The last computed mask for this frame: moved along the flow, or held as it was."""
        if not settings.motion_compensation:
            return state.alpha, None
        with timer.stage("propagate"):
            if state.key is None:
                key_image, key_foreground = state.key_frame
                state.key = self._propagator.key(key_image, state.alpha, key_foreground)
            # the next reused frame follows on from this one: neighbouring frames give a surer flow
            alpha, foreground, state.key = self._propagator.follow(state.key, frame)
            return alpha, foreground

    def _smooth(self, raw: np.ndarray, thumb: np.ndarray, state: _StreamState, settings: StreamSettings) -> np.ndarray:
        """EMA of the mask for single-frame models, off where the image moved."""
        if self.model.temporal or settings.smoothing <= 0 or state.alpha is None or state.thumb is None:
            return raw
        if state.alpha.shape != raw.shape:
            return raw
        weight = motion_weight(state.thumb, thumb, settings.smoothing, settings.motion_guard)
        height, width = raw.shape
        weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
        # alpha = raw + w·(prev − raw), all float32, reusing the weight buffer
        diff = cv2.subtract(state.alpha, raw)
        cv2.multiply(diff, weight, dst=diff)
        return cv2.add(raw, diff)


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """Small RGB copy: colour matters, a red shirt over a grey wall can have the wall's brightness."""
    height, width = frame.shape[:2]
    scale = THUMB_LONG_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return area_resize(frame, size)  # two-step: a plain INTER_AREA to 96 px costs ~2.7 ms at 1280x720


def motion_weight(previous: np.ndarray, current: np.ndarray, smoothing: float, guard: float) -> np.ndarray:
    """Per-pixel EMA weight at thumbnail size: ``smoothing`` where still, 0 where the image moved.

    The change is the largest of the three channel differences, blurred and
    then dilated by about 4 % of the long side: a low-resolution model's mask
    spills a few pixels past the moving edge, and that halo must follow the
    motion too or it stays behind as a ghost.
    """
    change = cv2.absdiff(previous, current).max(axis=2).astype(np.float32)
    change = cv2.GaussianBlur(change, (5, 5), 0)
    change = cv2.dilate(change, np.ones((9, 9), np.uint8)) * (1.0 / (255.0 * guard))
    return np.clip(1.0 - change, 0.0, 1.0) * np.float32(smoothing)


def is_scene_cut(previous: np.ndarray, current: np.ndarray, threshold: float) -> bool:
    """A cut changes most of the picture *and* its tone distribution.

    The mean absolute change alone also fires on a fast pan; requiring the
    colour histograms to differ as well (Bhattacharyya distance) keeps pans
    and a person walking through the frame from resetting the state.
    """
    if previous.shape != current.shape:
        return True
    change = float(cv2.absdiff(previous, current).mean()) / 255.0
    if change < threshold:
        return False
    bins, ranges = [8, 8, 8], [0, 256, 0, 256, 0, 256]
    hist_a = cv2.calcHist([previous], [0, 1, 2], None, bins, ranges)
    hist_b = cv2.calcHist([current], [0, 1, 2], None, bins, ranges)
    return cv2.compareHist(hist_a, hist_b, cv2.HISTCMP_BHATTACHARYYA) > 0.3

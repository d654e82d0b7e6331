"""The live view's engine: settings snapshot in, processed view image out.

Qt-free, so the GUI's worker thread and the headless live mode drive the same
code. Models and backgrounds are rebuilt only when the settings that define
them change; the recurrent state resets when the source changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.core.imaging.compose import BackgroundRenderer
from app.core.errors import LiveMatteError, ModelError
from app.core.live.settings import LiveSettings
from app.core.models import SessionConfig, get_spec, load_model
from app.core.matting.results import FrameResult
from app.core.timing import StageTimer
from app.core.live.view import ViewMode, draw_part_boxes, render_view


@dataclass
class LiveFrame:
    """One processed frame, ready to paint."""

    view: np.ndarray  # RGB or RGBA uint8
    source: np.ndarray  # the (mirrored) input frame, for snapshots
    result: FrameResult
    timings: dict[str, float] = field(default_factory=dict)
    mirrored: bool = False  # view and source are flipped left-right (a preview mirror)


# RVM in the live view: the model runs on the frame scaled to 640 px and its
# internal resolution follows the content (close-up 320 px, else 480 px long
# side). At 1280x720 this is about 2-3x faster than full size at ratio 0.375;
# the benchmark's quality guard prints the difference from the full-size run.
LIVE_RVM_OPTIONS: dict[str, object] = {"work_long_side": 640, "content_aware": True, "person_crop": True}
# What replaces a background that cannot be used when no good one was shown before:
# never the plain room (a failed file must not reveal what the user meant to hide).
FALLBACK_BACKGROUND = "blur:25"


def mirrors_source(source: object) -> bool:
    """Whether a source is shown mirrored when the mirror setting is on: cameras only.

    A selfie-view mirror is for a person facing their own camera; a video file
    or an image is shown as it is (its text must stay readable).
    """
    return bool(getattr(source, "realtime", False))


# Single-frame segmenters: cheaper resize and guided upsample (see SingleFrameSegmenter).
LIVE_SEGMENTER_OPTIONS: dict[str, object] = {"guide_long_side": 320, "fast_resize": True}


@dataclass
class PendingFrame:
    """A frame between the two halves of ``LiveProcessor.process``: matted, not yet drawn."""

    frame: np.ndarray
    timestamp: float
    result: FrameResult
    settings: LiveSettings
    background: BackgroundRenderer | None
    timer: StageTimer
    mirrored: bool = False


class LiveProcessor:
    """Processes frames of one live stream with the newest settings snapshot."""

    def __init__(self, models_dir: str | None = None, *, fast: bool = True, model_ms: float | None = None) -> None:
        """``fast``: the live fast path of temporal models (see LIVE_RVM_OPTIONS); False is the fp32 reference.

        ``model_ms``: the model cost the auto cadence decides from, fixed (measurements replay a
        cadence with it); None times the model as it runs.
        """
        self.models_dir = models_dir
        self.fast = fast
        self.model_ms = model_ms
        self.settings: LiveSettings | None = None
        self.model = None
        self.stream = None
        self._background: BackgroundRenderer | None = None
        self.faces = None  # FaceTracker while the overlay is on
        self.poses = None  # PoseEstimator while the skeleton is on
        self.overlay_error: str | None = None
        # set when the last configure() refused a background; the settings keep the one still shown
        self.background_error: str | None = None
        self.background_exception: LiveMatteError | None = None  # the error behind background_error
        self.camera_source = True  # see set_source(); frames fed by hand are treated like a camera's

    def set_source(self, source: object) -> None:
        """Tells the processor what the frames come from: the mirror applies to cameras only."""
        self.camera_source = mirrors_source(source)

    @property
    def mirroring(self) -> bool:
        return bool(self.settings is not None and self.settings.mirror and self.camera_source)

    def configure(self, settings: LiveSettings) -> None:
        """Applies a settings snapshot; rebuilds the model only if model/provider/threads changed.

        Raises:
            LiveMatteError: the model cannot be loaded or the background is invalid.
        """
        old = self.settings
        if old is None or (old.model, old.provider, old.threads) != (settings.model, settings.provider, settings.threads):
            self.model = None  # a failed load must not leave the old model half in place
            spec = get_spec(settings.model)
            options: dict[str, object] = {}
            if spec.adapter == "rvm":
                options = {"downsample_ratio": settings.ratio, **(LIVE_RVM_OPTIONS if self.fast else {})}
            elif spec.adapter == "segmenter" and self.fast:
                options = dict(LIVE_SEGMENTER_OPTIONS)
            # no spinning: the live view always has other threads (composite, capture, GUI) on the same cores
            config = SessionConfig(settings.provider, settings.threads, spinning=False)
            self.model = load_model(settings.model, self.models_dir, config, **options)
            self.stream = self._make_stream(self.model, settings)
        elif old.ratio != settings.ratio and hasattr(self.model, "downsample_ratio"):
            self.model.downsample_ratio = settings.ratio
        if self.stream is not None:
            self.stream.update_settings(stream_settings(settings, self.model_ms))
        settings = self._configure_background(old, settings)
        self._configure_faces(old, settings)
        self._configure_poses(old, settings)
        self.settings = settings

    def _configure_background(self, old: LiveSettings | None, settings: LiveSettings) -> LiveSettings:
        """Builds the background; one that cannot be used is refused and the last good one stays.

        Returns the settings as applied: with the background actually shown, so
        a caller that saves them never keeps the refused one. The reason is in
        ``background_error`` (None when the requested background was used).
        """
        self.background_error = self.background_exception = None
        if old is not None and old.background == settings.background:
            return settings
        try:
            renderer = make_background(settings.background)
        except LiveMatteError as exc:
            kept = old.background if old is not None else FALLBACK_BACKGROUND
            if old is None:
                renderer = make_background(FALLBACK_BACKGROUND)
            else:
                renderer = None  # keep the current renderer
            self.background_exception = exc
            self.background_error = f"Background not changed: {exc}. Still showing {describe_background(kept)}."
            settings = settings.replace(background=kept)
            if renderer is None:
                return settings
        close = getattr(self._background, "close", None)
        self._background = renderer
        if close is not None:
            close()
        return settings

    def _configure_poses(self, old: LiveSettings | None, settings: LiveSettings) -> None:
        """Loads the body keypoint models when the skeleton is switched on; a failure only turns it off."""
        if not settings.skeleton_enabled:
            self.poses = None
            return
        same_session = old is not None and (old.provider, old.threads) == (settings.provider, settings.threads)
        if self.poses is not None and same_session:
            return
        from app.core.body.pose import load_pose_estimator

        try:
            self.poses = load_pose_estimator(self.models_dir, SessionConfig(settings.provider, settings.threads))
        except ModelError as exc:
            self.poses = None
            self.overlay_error = "; ".join(filter(None, [self.overlay_error, f"body skeleton off: {exc}"]))

    def _configure_faces(self, old: LiveSettings | None, settings: LiveSettings) -> None:
        """Loads the face models when the overlay is switched on; a failure only turns the overlay off."""
        if not settings.overlay_enabled:
            self.faces, self.overlay_error = None, None
            return
        same_session = old is not None and (old.provider, old.threads) == (settings.provider, settings.threads)
        if self.faces is not None and same_session:
            return
        from app.core.face.tracking import FaceTracker
        from app.core.face.parsing import ParserSettings, load_face_parser

        try:  # no person segmenter: the stream's own matte keeps the hair inside the person
            parser = load_face_parser(self.models_dir, SessionConfig(settings.provider, settings.threads),
                                      ParserSettings(person=False))
        except ModelError as exc:
            self.faces, self.overlay_error = None, f"face overlay off: {exc}"
            return
        self.faces, self.overlay_error = FaceTracker(parser), None

    def _make_stream(self, model, settings: LiveSettings):
        from app.core.matting.stream import StreamPipeline

        return StreamPipeline(model, stream_settings(settings, self.model_ms))

    def reset(self) -> None:
        """A new source or a seek: forget temporal state."""
        if self.stream is not None:
            self.stream.reset()
        if self.faces is not None:
            self.faces.reset()

    def passthrough(self, frame: np.ndarray, mirror: bool) -> LiveFrame:
        """The plain source frame, for when matting is off (no weights yet, model failed).

        ``mirror``: the setting; it applies only when the source is a camera (see ``set_source``).
        """
        mirror = mirror and self.camera_source
        if mirror:
            frame = cv2.flip(frame, 1)
        alpha = np.ones(frame.shape[:2], np.float32)
        return LiveFrame(frame, frame, FrameResult(alpha=alpha, foreground=frame), {}, mirror)

    def process(self, frame: np.ndarray, timestamp: float) -> LiveFrame:
        """Mattes and composites one frame (both halves, in order).

        Raises:
            RuntimeError: ``configure()`` has not succeeded yet.
            LiveMatteError: inference or the frame itself failed.
        """
        return self.finish(self.matte(frame, timestamp))

    def matte(self, frame: np.ndarray, timestamp: float) -> "PendingFrame":
        """First half of ``process``: mirror and the stream (inference), nothing drawn yet.

        The pipelined processor runs this on its inference thread while the
        previous frame is composited on another.

        Raises:
            RuntimeError: ``configure()`` has not succeeded yet.
            LiveMatteError: inference or the frame itself failed.
        """
        if self.settings is None or self.stream is None:
            raise RuntimeError("configure() must succeed before process()")
        settings = self.settings  # one snapshot for both halves of this frame
        timer = StageTimer()
        mirror = settings.mirror and self.camera_source
        with timer.stage("convert"):
            if mirror:
                frame = cv2.flip(frame, 1)
        result = self.stream.process(frame, timestamp)
        timer.merge(result.timings)
        return PendingFrame(frame, timestamp, result, settings, self._background, timer, mirror)

    def finish(self, pending: "PendingFrame") -> LiveFrame:
        """Second half of ``process``: face overlay and the view, with the frame's own settings snapshot."""
        frame, result, settings, timer = pending.frame, pending.result, pending.settings, pending.timer
        if self.faces is not None:
            self._parse_faces(frame, result, settings, timer)
        with timer.stage("composite"):
            view = render_view(frame, result, ViewMode(settings.view), pending.background, pending.timestamp)
        offset = frame.shape[1] if settings.view == ViewMode.SIDE_BY_SIDE.value else 0
        if self.poses is not None and settings.view != ViewMode.ALPHA.value:
            with timer.stage("skeleton"):
                view = self._draw_poses(frame, view, offset)
        if result.parts and settings.overlay_boxes and settings.view != ViewMode.ALPHA.value:
            with timer.stage("composite"):  # after the skeleton: the part labels stay readable on top
                view = draw_part_boxes(view, result.parts, offset)
        return LiveFrame(view, frame, result, timer.ms, pending.mirrored)

    def _draw_poses(self, frame: np.ndarray, view: np.ndarray, offset: int) -> np.ndarray:
        from app.core.body.pose import draw_skeleton

        poses = self.poses.estimate(frame)
        width = frame.shape[1]
        region = view[:, offset : offset + width]
        drawn = draw_skeleton(np.ascontiguousarray(region[..., :3]), poses)
        out = view.copy()
        out[:, offset : offset + width, :3] = drawn
        if view.shape[2] == 4:  # lines stay visible over a transparent background
            changed = np.any(drawn != region[..., :3], axis=2)
            out[:, offset : offset + width, 3][changed] = 255
        return out

    def _parse_faces(self, frame: np.ndarray, result: FrameResult, settings: LiveSettings, timer: StageTimer) -> None:
        """Labels, part boxes and the palette tint on the foreground the view will show."""
        from app.core.face.parts import part_boxes

        with timer.stage("overlay"):
            parse = self.faces.process(frame, result.alpha)
            result.labels = parse.labels
            result.parts = [b for b in part_boxes(parse.labels, parse.roi) if _class_id(b.label) in settings.overlay_classes]
            base = result.foreground if result.foreground is not None else frame
            result.foreground = parse.overlay(base, settings.overlay_opacity, settings.overlay_classes)


def _class_id(label: str) -> int:
    from app.core.face.regions import LABEL_NAMES

    return LABEL_NAMES.index(label) if label in LABEL_NAMES else -1


def describe_background(spec: str) -> str:
    """A background spec in words, for messages: 'the blur (radius 25)', 'the colour #00b140', a file name."""
    lowered = spec.lower()
    if lowered.startswith("blur"):
        return f"the blur (radius {lowered.partition(':')[2] or 25})"
    if lowered in ("transparent", "none"):
        return "a transparent background"
    if spec.startswith("#") or not Path(spec).suffix:
        return f"the colour {spec}"
    return f"the background {Path(spec).name}"


def make_background(spec: str):
    """A colour/image/blur/transparent renderer, or a looping video background."""
    from app.core.video.export import make_background as make_any_background

    return make_any_background(spec)


def stream_settings(settings: LiveSettings, model_ms: float | None = None):
    from app.core.matting.stream import StreamSettings

    return StreamSettings(
        smoothing=settings.smoothing,
        threshold=settings.threshold if settings.threshold_enabled else None,
        feather=settings.feather,
        expand=settings.expand,
        every_n=settings.every_n,
        target_fps=float(settings.camera_fps),
        model_ms=model_ms,
    )


class LatestFrameMailbox:
    """Holds the newest frame only: a put replaces an unread frame (counted as dropped).

    The capture side never blocks; the consumer always gets the newest frame,
    so latency stays bounded when inference is slower than the camera.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[np.ndarray, float] | None = None
        self.dropped = 0
        self.delivered = 0

    def put(self, frame: np.ndarray, timestamp: float) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = (frame, timestamp)
            self._cond.notify()

    def get(self, timeout: float = 0.1) -> tuple[np.ndarray, float] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._item is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item, self._item = self._item, None
            self.delivered += 1
            return item

    def clear(self) -> None:
        with self._cond:
            self._item = None

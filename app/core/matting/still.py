"""The still pipeline: one image in, alpha / cut-out / composite out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.imaging.compose import Background, BackgroundRenderer, composite, to_rgba
from app.core.media.image_io import check_frame
from app.core.models.base import MattingModel
from app.core.imaging.refine import estimate_foreground, hard_alpha
from app.core.matting.results import FrameResult
from app.core.timing import StageTimer

# Recurrent models converge on a repeated still frame; measured on the shared
# portraits (see README, "Still images and RVM passes"): the mean alpha change
# drops below 0.2 % after the third pass.
DEFAULT_PASSES = 3


@dataclass(frozen=True)
class StillSettings:
    """Immutable settings for still images (safe to hand to another thread)."""

    passes: int = DEFAULT_PASSES
    hard: bool = False
    threshold: float = 0.5
    estimate_foreground: bool = True

    def __post_init__(self) -> None:
        if self.passes < 1:
            raise ValueError("passes must be at least 1")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")


@dataclass
class StillOutputs:
    """The images of one still, made on demand by ``render``."""

    result: FrameResult
    rgba: np.ndarray | None = None
    composite: np.ndarray | None = None


class StillPipeline:
    """Runs a matting model on single images; the same path serves CLI and GUI snapshots."""

    def __init__(self, model: MattingModel, settings: StillSettings = StillSettings()) -> None:
        self.model = model
        self.settings = settings

    def process(self, frame: np.ndarray) -> FrameResult:
        """Alpha and foreground colours for one RGB uint8 frame, at its full size."""
        frame = check_frame(frame)
        timer = StageTimer()
        self.model.reset()  # a still never inherits another image's recurrent state
        passes = self.settings.passes if self.model.temporal else 1
        for _ in range(passes):
            out = self.model.infer(frame)
            timer.merge(out.timings)
        alpha = out.alpha
        if self.settings.hard:
            with timer.stage("refine"):
                alpha = hard_alpha(alpha, self.settings.threshold)
        foreground = out.foreground
        if foreground is None:
            with timer.stage("foreground"):
                foreground = (
                    estimate_foreground(frame, alpha) if self.settings.estimate_foreground and not self.settings.hard
                    else frame
                )
        self.model.reset()
        extra: dict[str, object] = {"passes": passes}
        ratio_for = getattr(self.model, "ratio_for", None)
        if ratio_for is not None:
            extra["downsample_ratio"] = ratio_for(frame.shape[1], frame.shape[0])
        return FrameResult(
            alpha=alpha,
            foreground=foreground,
            timings=timer.ms,
            model=self.model.name,
            provider=self.model.provider,
            extra=extra,
        )

    @staticmethod
    def render(frame: np.ndarray, result: FrameResult, background: Background | BackgroundRenderer | None) -> StillOutputs:
        """RGBA cut-out and composite for ``result``; timings go into ``result.timings``."""
        timer = StageTimer()
        outputs = StillOutputs(result)
        fg = result.foreground if result.foreground is not None else frame
        with timer.stage("composite"):
            outputs.rgba = to_rgba(fg, result.alpha)
            if background is not None:
                renderer = background if isinstance(background, BackgroundRenderer) else BackgroundRenderer(background)
                bg = renderer.render(frame, result.alpha)
                outputs.composite = outputs.rgba if bg is None else composite(fg, result.alpha, bg)
        for name, ms in timer.ms.items():
            result.timings[name] = result.timings.get(name, 0.0) + ms
        return outputs

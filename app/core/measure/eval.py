"""``livematte eval``: the real pipelines scored against annotated masks (DAVIS layout).

Two paths, each exactly as the product runs it:

- ``export``: the ``StreamPipeline`` as ``livematte video`` builds it (the
  model at full frame size, automatic ratio, every frame or a fixed ``every``).
- ``live``: the live view's ``LiveProcessor`` behind the ``PipelinedProcessor``
  (fast path, content-aware internal size, cadence and mask propagation).

The auto cadence normally reads the wall clock while the stream runs, which
would make the scores depend on how busy the machine is. Here it is driven
deterministically: the model is timed on the sequence's first frames (or its
cost is given with ``model_ms``), and the live view's own ``AdaptiveCadence``
then decides from that fixed cost at the camera rate on every frame of the
sequence; the report names the share of frames the model ran on.

Layout: ``ROOT/JPEGImages/<res>/<seq>/*.jpg`` with ``ROOT/Annotations/<res>/<seq>/*.png``
(``ROOT`` may also be a folder holding one such dataset, e.g. ``media/gt``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from app.core.errors import InputError, SettingsError
from app.core.matting.propagation import describe_cadence
from app.core.measure.metrics import Scores, SequenceScorer, mean_scores

PATHS = ("export", "live")
AUTO = 0  # ``every`` value for the auto cadence
RESOLUTION_PREFERENCE = ("480p", "Full-Resolution")


@dataclass(frozen=True)
class Sequence:
    """One annotated clip: frame and mask files, in order, paired by stem."""

    name: str
    images: tuple[Path, ...]
    masks: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.images)

    def frames(self, limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(RGB frame, uint8 mask) pairs, read lazily: a long clip never sits in memory.

        Raises:
            InputError: a file cannot be read or a mask is not the frame's size.
        """
        count = len(self) if limit is None else min(limit, len(self))
        for image_path, mask_path in zip(self.images[:count], self.masks[:count]):
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            if image is None or mask is None:
                raise InputError(f"cannot read {image_path if image is None else mask_path}")
            if image.shape[:2] != mask.shape:
                raise InputError(f"{mask_path} is {mask.shape[1]}x{mask.shape[0]}, its frame "
                                 f"{image.shape[1]}x{image.shape[0]}")
            yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask


def dataset_root(root: str | Path) -> Path:
    """The folder holding ``JPEGImages`` and ``Annotations``: ``root`` itself or its only such child.

    Raises:
        InputError: no DAVIS-layout dataset is there.
    """
    root = Path(root)
    if (root / "JPEGImages").is_dir() and (root / "Annotations").is_dir():
        return root
    children = sorted(p for p in root.glob("*") if (p / "JPEGImages").is_dir() and (p / "Annotations").is_dir()) \
        if root.is_dir() else []
    if len(children) == 1:
        return children[0]
    if not children:
        raise InputError(f"{root}: no JPEGImages/ and Annotations/ folders (DAVIS layout) here or one level down")
    raise InputError(f"{root}: several datasets ({', '.join(p.name for p in children)}); name one")


def find_sequences(root: str | Path, names: tuple[str, ...] = ()) -> list[Sequence]:
    """The annotated sequences under ``root`` (all, or those in ``names``), frames paired with masks.

    Raises:
        InputError: no dataset, an unknown sequence name, or a sequence without masks.
    """
    base = dataset_root(root)
    resolution = _resolution(base)
    image_dir, mask_dir = base / "JPEGImages" / resolution, base / "Annotations" / resolution
    available = sorted(p.name for p in image_dir.iterdir() if p.is_dir())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InputError(f"no sequence {', '.join(unknown)} in {image_dir} (there are: {', '.join(available)})")
    sequences = []
    for name in names or tuple(available):
        masks = {p.stem: p for p in (mask_dir / name).glob("*.png")}
        images = sorted(p for p in (image_dir / name).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                        and p.stem in masks)
        if not images:
            raise InputError(f"sequence {name}: no frame in {image_dir / name} has a mask in {mask_dir / name}")
        sequences.append(Sequence(name, tuple(images), tuple(masks[p.stem] for p in images)))
    return sequences


def _resolution(base: Path) -> str:
    folders = sorted(p.name for p in (base / "JPEGImages").iterdir() if p.is_dir())
    for preferred in RESOLUTION_PREFERENCE:
        if preferred in folders:
            return preferred
    if len(folders) == 1:
        return folders[0]
    raise InputError(f"{base / 'JPEGImages'}: expected one resolution folder such as 480p, found {folders}")


@dataclass(frozen=True)
class EvalConfig:
    """What to run. ``every``: N ≥ 1, or AUTO (live only). ``fps``: the camera rate (timestamps and auto)."""

    path: str = "export"
    every: int = 1
    model: str = "rvm"
    provider: str = "auto"
    threads: int = 0
    ratio: float | None = None
    fps: float = 30.0
    model_ms: float | None = None  # auto: the model's cost per run; None measures it on the first frames
    calibration_frames: int = 8
    frames: int | None = None  # per sequence; None: all
    sequences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.path not in PATHS:
            problems.append(f"path must be one of {', '.join(PATHS)}")
        if self.every < 0:
            problems.append("every must be auto or at least 1")
        if self.every == AUTO and self.path == "export":
            problems.append("an export has no camera clock to keep up with: auto is for --path live")
        if not self.fps > 0:
            problems.append("fps must be positive")
        if self.model_ms is not None and not self.model_ms > 0:
            problems.append("model_ms must be positive")
        if self.frames is not None and self.frames < 1:
            problems.append("frames must be at least 1")
        if problems:
            raise SettingsError("eval: " + "; ".join(problems))

    @property
    def label(self) -> str:
        every = "auto" if self.every == AUTO else f"every {self.every}"
        return f"{self.model}, {self.path} path, {every}"


@dataclass
class SequenceReport:
    name: str
    scores: Scores
    every: int  # the cadence the sequence ran at (auto: the longest gap it left, plus one)
    model_ms: float | None = None  # auto: the model cost the choice was made from
    duty: float = 1.0  # the share of frames the model ran on


@dataclass
class EvalReport:
    config: EvalConfig
    model: str
    provider: str
    sequences: list[SequenceReport] = field(default_factory=list)

    @property
    def overall(self) -> Scores:
        return mean_scores([s.scores for s in self.sequences])

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document."""
        c = self.config
        return {
            "model": self.model, "provider": self.provider, "path": c.path,
            "every": "auto" if c.every == AUTO else c.every, "fps": c.fps,
            "sequences": {s.name: {**_rounded(s.scores.to_dict()), "every": s.every, "duty": round(s.duty, 3),
                                   "model_ms": None if s.model_ms is None else round(s.model_ms, 1)}
                          for s in self.sequences},
            "overall": _rounded(self.overall.to_dict()),
        }

    def lines(self) -> list[str]:
        head = f"{'sequence':<14} {'frames':>6} {'IoU':>6} {'bF':>6} {'MAD':>7} {'coreMAD':>8} {'dtSSD':>7} " \
               f"{'flicker':>8} {'ms/frame':>9}  cadence"
        out = [f"{self.config.label} ({self.model} on {self.provider})", head]
        for s in self.sequences:
            cadence = describe_cadence(s.duty) + (f" (auto: model {s.model_ms:.0f} ms at {self.config.fps:g} fps)"
                                                   if s.model_ms is not None else "")
            out.append(_row(s.name, s.scores) + f"  {cadence}")
        out.append(_row("overall", self.overall))
        return out


def _row(name: str, s: Scores) -> str:
    return (f"{name:<14} {s.frames:>6} {s.iou:>6.3f} {s.boundary_f:>6.3f} {s.mad:>7.4f} {s.core_mad:>8.4f} "
            f"{s.dtssd:>7.4f} {s.flicker:>8.4f} {s.ms_per_frame:>9.1f}")


def _rounded(values: dict[str, float | int]) -> dict[str, float | int]:
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in values.items()}


Progress = Callable[[str, int, int], None]  # (sequence, frames done, frames in it)


def evaluate(config: EvalConfig, root: str | Path, models_dir: str | None = None,
             progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter) -> EvalReport:
    """Runs ``config.path`` over every sequence under ``root`` and scores it against the masks.

    Each sequence starts from a fresh stream (as a new source does). ``clock``
    (seconds, monotonic) times the model for the auto cadence, as in
    ``StreamPipeline``; tests pass one they advance themselves.

    Raises:
        InputError: the dataset is missing or unreadable.
        SettingsError: an invalid combination of options.
        ModelError: the model cannot be loaded or fails.
    """
    sequences = find_sequences(root, config.sequences)
    runner = _LiveRunner(config, models_dir, clock) if config.path == "live" else _ExportRunner(config, models_dir)
    report = EvalReport(config, runner.model_name, runner.provider)
    try:
        for sequence in sequences:
            report.sequences.append(runner.run(sequence, progress))
    finally:
        runner.close()
    return report


class _ExportRunner:
    """``livematte video``'s pipeline: the model at full frame size, every frame in order."""

    def __init__(self, config: EvalConfig, models_dir: str | None) -> None:
        from app.core.models import SessionConfig, get_spec, load_model
        from app.core.matting.stream import StreamPipeline, StreamSettings

        options = {"downsample_ratio": config.ratio} if get_spec(config.model).adapter == "rvm" else {}
        self.model = load_model(config.model, models_dir, SessionConfig(config.provider, config.threads), **options)
        self.config = config
        self.stream = StreamPipeline(self.model, StreamSettings(every_n=config.every, estimate_foreground=True))
        self.model_name, self.provider = self.model.name, self.model.provider

    def run(self, sequence: Sequence, progress: Progress | None) -> SequenceReport:
        self.stream.reset("source")
        scorer = SequenceScorer()
        total = len(sequence) if self.config.frames is None else min(self.config.frames, len(sequence))
        for i, (frame, mask) in enumerate(sequence.frames(self.config.frames)):
            started = time.perf_counter()
            alpha = self.stream.process(frame, i / self.config.fps).alpha
            scorer.add(alpha, mask, (time.perf_counter() - started) * 1e3)
            if progress is not None:
                progress(sequence.name, i + 1, total)
        return SequenceReport(sequence.name, scorer.scores(), self.config.every, duty=1.0 / self.config.every)

    def close(self) -> None:
        pass


class _LiveRunner:
    """The live view: ``LiveProcessor`` (fast path) behind the pipelined processor, one frame behind.

    Each sequence gets a freshly configured processor, as a new source in a
    freshly started app: nothing one sequence taught the model (its recurrent
    state, the close-up judgement) carries into the next.
    """

    def __init__(self, config: EvalConfig, models_dir: str | None, clock: Callable[[], float]) -> None:
        from app.core.live.settings import LiveSettings

        self.config = config
        self.models_dir = models_dir
        self.clock = clock
        self.settings = LiveSettings(
            model=config.model, provider=config.provider, threads=config.threads, ratio=config.ratio,
            mirror=False, background="#00b140", every_n=1, camera_fps=round(config.fps),
        )
        model = self._processor(self.settings).model
        self.model_name, self.provider = model.name, model.provider

    def _processor(self, settings, model_ms: float | None = None):
        from app.core.live.processor import LiveProcessor

        processor = LiveProcessor(self.models_dir, model_ms=model_ms)
        processor.configure(settings)
        return processor

    def run(self, sequence: Sequence, progress: Progress | None) -> SequenceReport:
        from app.core.live.pipelined import PipelinedProcessor

        cost = self._auto_cost(sequence) if self.config.every == AUTO else None
        scorer = SequenceScorer()
        gaps = [0]  # reused frames in a row
        duty = [1.0]  # the share of frames the cadence gives the model, as of the last frame
        total = len(sequence) if self.config.frames is None else min(self.config.frames, len(sequence))
        masks: list[np.ndarray] = []  # the masks of frames in flight (at most one)
        done = 0

        def score(live) -> None:
            nonlocal done
            if live is None:
                return
            # the frame's own work on both threads (the wait for a pipelined result says nothing)
            scorer.add(live.result.alpha, masks.pop(0), sum(live.timings.values()))
            duty[0] = live.result.extra.get("duty", 1.0)
            gaps.append(0 if live.result.extra.get("computed", True) else gaps[-1] + 1)
            done += 1
            if progress is not None:
                progress(sequence.name, done, total)

        settings = self.settings.replace(every_n=self.config.every)
        with PipelinedProcessor(self._processor(settings, cost)) as pipe:
            for i, (frame, mask) in enumerate(sequence.frames(self.config.frames)):
                masks.append(mask)
                score(pipe.submit(frame, i / self.config.fps))
            score(pipe.flush())
        return SequenceReport(sequence.name, scorer.scores(), max(gaps) + 1, cost, duty[0])

    def _auto_cost(self, sequence: Sequence) -> float:
        """The model cost the auto cadence decides from: given, or timed on the sequence's first frames.

        Timing runs the live model (its own processor, thrown away after); the
        costs are summed up as the live view's own ``AdaptiveCadence`` does (a median).
        """
        from app.core.matting.propagation import AdaptiveCadence

        if self.config.model_ms is not None:
            return self.config.model_ms
        model = self._processor(self.settings).model
        cadence = AdaptiveCadence()
        for i, (frame, _) in enumerate(sequence.frames(self.config.calibration_frames + 1)):
            started = self.clock()
            model.infer(frame)
            if i > 0:  # as the stream does: the first run includes ONNX Runtime's set-up
                cadence.observe((self.clock() - started) * 1e3, self.config.fps)
        return float(cadence.cost_ms or 0.0)

    def close(self) -> None:
        pass

"""The benchmark: the real live pipeline on a clip, per-stage times, FPS, latency, memory, quality.

``livematte bench`` prints what ``run_bench`` returns. The pipeline is the one
the GUI and the headless live mode run (``LiveProcessor``, pipelined by
default); the baseline is the plain loop users would write themselves
(``session.run`` per frame, numpy in and out; RVM at ``downsample_ratio``
0.25, segmenters with a bilinear upsample) on the same frames, so "ours / baseline" stays comparable across noisy machines.
The quality guard runs the same frames through the fp32 full-size reference
and reports how far the measured path's alpha is from it; on an annotated
clip (the default when the shared development clips are there) it also
scores both against the human-annotated masks with ``livematte eval``'s
metrics, so a faster path is judged against the truth, not our own output.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator

import cv2
import numpy as np

from pathlib import Path

from app.core.live.processor import LiveFrame, LiveProcessor
from app.core.live.settings import LiveSettings
from app.core.live.pipelined import PipelinedProcessor
from app.core.measure.metrics import Scores, SequenceScorer

# The stages the issue names, and which internal timings fold into each.
STAGES = ("read", "convert", "inference", "refine", "composite", "overlay", "encode")
STAGE_OF = {
    "convert": "convert", "preprocess": "convert", "analyse": "convert",
    "inference": "inference",
    "postprocess": "refine", "upsample": "refine", "temporal": "refine", "matte": "refine", "foreground": "refine",
    "composite": "composite", "overlay": "overlay", "skeleton": "overlay",
}
ENCODINGS = ("none", "bgr", "jpeg")
BASELINE_RATIO = 0.25
CLIP_PERIOD = 100  # distinct generated frames; longer runs cycle them (a 10,000-frame clip would not fit in memory)


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``fast``: the live fast path (False measures the fp32 full-size reference itself)."""

    model: str = "rvm"
    width: int = 1280
    height: int = 720
    frames: int = 120
    provider: str = "auto"
    threads: int = 0
    ratio: float | None = None
    every_n: int = 0  # as LiveSettings: 0 is the auto cadence
    model_ms: float | None = None  # auto: decide from this model cost instead of timing the model
    background: str = "#00b140"
    overlay: bool = False
    pipelined: bool = True
    fast: bool = True
    encode: str = "bgr"
    warmup: int = 5
    baseline: bool = False
    quality_frames: int = 30
    memory_window: int = 1000

    def __post_init__(self) -> None:
        if self.encode not in ENCODINGS:
            raise ValueError(f"encode must be one of {', '.join(ENCODINGS)}")
        if self.frames < 1 or self.width < 16 or self.height < 16:
            raise ValueError("frames must be at least 1 and the size at least 16x16")
        if self.every_n < 0:
            raise ValueError("every must be 0 (auto) or at least 1")

    def settings(self) -> LiveSettings:
        return LiveSettings(
            model=self.model, provider=self.provider, threads=self.threads, ratio=self.ratio,
            background=self.background, mirror=False, overlay_enabled=self.overlay,
            every_n=self.every_n if self.fast else 1,  # the reference computes every frame
        )


@dataclass
class StageStats:
    median_ms: float
    p95_ms: float


@dataclass
class MemoryStats:
    """Resident memory: the process's peak, and the mean over the first and last ``window`` frames."""

    peak_mb: float
    first_mb: float
    last_mb: float
    window: int


@dataclass
class QualityStats:
    """Alpha of the measured path vs the fp32 full-size reference on the same frames (0..1 scale).

    ``truth`` / ``reference_truth``: the measured path's and the reference's
    scores against annotated masks (IoU, boundary F, ...), where the clip has them.
    """

    reference: str
    frames: int
    mean_abs: float
    edge_abs: float  # within a band around the reference's 0.5 contour
    max_frame_mean_abs: float
    truth: Scores | None = None
    reference_truth: Scores | None = None


@dataclass
class BenchReport:
    model: str
    provider: str
    width: int
    height: int
    frames: int
    fps: float
    latency_ms: float  # median, capture start -> encoded view
    latency_p95_ms: float
    added_latency_frames: int  # frames the output trails the input by, beyond its own processing
    added_latency_ms: float  # median latency minus the median work on the frame itself
    peak_memory_mb: float
    pipelined: bool = False
    fast: bool = True
    threads: int = 0
    stages: dict[str, StageStats] = field(default_factory=dict)
    raw_stages: dict[str, StageStats] = field(default_factory=dict)
    memory: MemoryStats | None = None
    quality: QualityStats | None = None
    baseline_fps: float | None = None
    clip: str = "generated"  # what the frames were: "generated", a file, or an annotated sequence
    computed_fraction: float = 1.0  # frames the model ran on; the rest reused a motion-compensated mask
    every_n: int = 1  # the cadence of most frames (auto picks it from the model's speed); the quality guard uses it
    model_ms: float | None = None  # auto: the model cost the cadence ended on; the quality guard replays it

    @property
    def speedup(self) -> float | None:
        return self.fps / self.baseline_fps if self.baseline_fps else None

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document; the keys are documented in the README's performance section."""
        stats = lambda table: {k: {"median_ms": round(v.median_ms, 2), "p95_ms": round(v.p95_ms, 2)}  # noqa: E731
                               for k, v in table.items()}
        return {
            "model": self.model, "provider": self.provider, "width": self.width, "height": self.height,
            "frames": self.frames, "clip": self.clip, "pipelined": self.pipelined, "fast": self.fast, "threads": self.threads,
            "fps": round(self.fps, 2),
            "computed_fraction": round(self.computed_fraction, 3), "every_n": self.every_n,
            "model_ms": None if self.model_ms is None else round(self.model_ms, 1),
            "latency_ms": round(self.latency_ms, 2), "latency_p95_ms": round(self.latency_p95_ms, 2),
            "added_latency_frames": self.added_latency_frames, "added_latency_ms": round(self.added_latency_ms, 2),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "memory": None if self.memory is None else {
                "peak_mb": round(self.memory.peak_mb, 1), "first_mb": round(self.memory.first_mb, 1),
                "last_mb": round(self.memory.last_mb, 1), "window": self.memory.window,
            },
            "stages": stats(self.stages),
            "raw_stages": stats(self.raw_stages),
            "quality": None if self.quality is None else {
                "reference": self.quality.reference, "frames": self.quality.frames,
                "mean_abs_alpha": round(self.quality.mean_abs, 5), "edge_abs_alpha": round(self.quality.edge_abs, 5),
                "max_frame_mean_abs_alpha": round(self.quality.max_frame_mean_abs, 5),
                "truth": _truth_dict(self.quality.truth),
                "reference_truth": _truth_dict(self.quality.reference_truth),
            },
            "baseline_fps": None if self.baseline_fps is None else round(self.baseline_fps, 2),
            "speedup": None if self.speedup is None else round(self.speedup, 2),
        }

    def lines(self) -> list[str]:
        mode = "pipelined" if self.pipelined else "serial"
        path = "fast path" if self.fast else "reference path"
        out = [f"{self.model} on {self.provider}, {self.width}x{self.height}, {self.frames} frames of {self.clip}, "
               f"{mode}, {path}"]
        for name, s in self.stages.items():
            out.append(f"  {name:<12} median {s.median_ms:7.2f} ms   p95 {s.p95_ms:7.2f} ms")
        if self.computed_fraction < 1.0:
            out.append(f"  cadence      model on {100 * self.computed_fraction:.0f} % of frames"
                       + (f" (auto: model {self.model_ms:.0f} ms)" if self.model_ms else "")
                       + ", motion-compensated mask in between")
        out.append(f"  end-to-end   {self.fps:.1f} fps, latency median {self.latency_ms:.1f} ms, p95 "
                   f"{self.latency_p95_ms:.1f} ms, added {self.added_latency_frames} frame(s) / {self.added_latency_ms:.1f} ms")
        if self.memory is not None:
            m = self.memory
            out.append(f"  memory       peak {m.peak_mb:.0f} MB; RSS first {m.window} frames {m.first_mb:.0f} MB, "
                       f"last {m.window} {m.last_mb:.0f} MB")
        if self.quality is not None:
            q = self.quality
            out.append(f"  quality      vs {q.reference} on {q.frames} frames: mean |d alpha| {q.mean_abs:.4f}, "
                       f"edge band |d alpha| {q.edge_abs:.4f}, worst frame {q.max_frame_mean_abs:.4f}")
            for name, t in (("measured", q.truth), ("reference", q.reference_truth)):
                if t is not None:
                    out.append(f"  vs truth     {name:<9} IoU {t.iou:.3f}, boundary F {t.boundary_f:.3f}, core MAD "
                               f"{t.core_mad:.4f}, dtSSD {t.dtssd:.4f}, flicker {t.flicker:.4f}")
        if self.baseline_fps:
            out.append(f"  baseline     {self.baseline_fps:.1f} fps (plain loop)  ->  "
                       f"ours / baseline = {self.speedup:.2f}x")
        return out


# ------------------------------------------------------------------ clips


def synthetic_clip(width: int, height: int, count: int, image: np.ndarray | None = None) -> list[np.ndarray]:
    """Frames of a moving scene: ``image`` (or a drawn figure) panned a little each frame."""
    if image is None:
        image = np.zeros((height, width, 3), np.uint8)
        image[:] = (70, 90, 110)
        cv2.ellipse(image, (width // 2, height // 3), (width // 12, height // 6), 0, 0, 360, (220, 170, 140), -1)
        cv2.rectangle(image, (width // 3, height // 2), (2 * width // 3, height), (40, 60, 160), -1)
    base = cv2.resize(image, (width + 64, height), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        x = int(32 + 24 * np.sin(i / 8.0))
        frames.append(np.ascontiguousarray(base[:, x : x + width]))
    return frames


@dataclass
class Clip:
    """The frames to time, with their annotated masks where known (same size as the frames)."""

    frames: list[np.ndarray]
    masks: list[np.ndarray] | None = None
    name: str = "generated"


def shared_gt_dir() -> Path | None:
    """The shared annotated development clips next to the shared weights (LIVEMATTE_MODELS/../media/gt)."""
    models = os.environ.get("LIVEMATTE_MODELS")
    if not models:
        return None
    folder = Path(models).resolve().parent / "media" / "gt"
    return folder if folder.is_dir() else None


def annotated_clip(root: str | Path, width: int, height: int, count: int, sequence: str | None = None) -> Clip:
    """Real footage: an annotated sequence (DAVIS layout) scaled to ``width``×``height``, masks with it.

    Raises:
        InputError: no such dataset or sequence, or an unreadable file.
    """
    from app.core.measure.eval import find_sequences

    chosen = find_sequences(root, (sequence,) if sequence else ())[0]
    frames, masks = [], []
    for frame, mask in chosen.frames(min(count, CLIP_PERIOD)):
        if frame.shape[:2] != (height, width):
            grow = width > frame.shape[1]
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR if grow else cv2.INTER_AREA)
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        frames.append(frame)
        masks.append(mask)
    return Clip(frames, masks, f"{chosen.name} (annotated)")


def default_clip(width: int, height: int, count: int) -> Clip:
    """Real annotated footage when the shared clips are there, else the generated figure."""
    root = shared_gt_dir()
    if root is not None:
        return annotated_clip(root, width, height, count)
    return Clip(synthetic_clip(width, height, min(count, CLIP_PERIOD)))


def iter_video(path: str, count: int, width: int, height: int) -> Iterator[np.ndarray]:
    from app.core.media.sources import VideoFileSource

    with VideoFileSource(path) as source:
        for i, item in enumerate(source):
            if i >= count:
                break
            frame = getattr(item, "image", item[0] if isinstance(item, tuple) else item)
            if frame.shape[1] != width or frame.shape[0] != height:
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            yield frame


def load_clip(path: str | None, image: np.ndarray | None, width: int, height: int, count: int) -> list[np.ndarray]:
    """The distinct frames of the clip (at most CLIP_PERIOD; ``ClipReader`` cycles them)."""
    count = min(count, CLIP_PERIOD)
    if path:
        return list(iter_video(path, count, width, height))
    return synthetic_clip(width, height, count, image)


class ClipReader:
    """Delivers frame i as a camera does: a fresh buffer each time (the 'read' stage)."""

    def __init__(self, clip: list[np.ndarray]) -> None:
        if not clip:
            raise ValueError("the clip has no frames")
        self.clip = clip

    def read(self, index: int) -> np.ndarray:
        return self.clip[index % len(self.clip)].copy()


def encode_view(view: np.ndarray, encoding: str) -> object:
    """What a sink does with the view: BGR(A) for a virtual camera / video writer, or a JPEG for a stream."""
    if encoding == "none":
        return view
    code = cv2.COLOR_RGBA2BGR if view.shape[2] == 4 else cv2.COLOR_RGB2BGR
    bgr = cv2.cvtColor(view, code)
    if encoding == "jpeg":
        return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
    return bgr


# ------------------------------------------------------------------ measuring


def _stats(values: np.ndarray | list[float]) -> StageStats:
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return StageStats(float(np.median(ordered)), float(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]))


def _where_run(values: np.ndarray) -> np.ndarray:
    """The frames a stage ran on: with a cadence, inference runs on some frames only, and its
    median over all frames would be 0 ms."""
    ran = values[values > 0]
    return ran if ran.size else values


def peak_memory_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def current_memory_mb() -> float:
    """Resident set size now (Linux /proc; elsewhere the peak, which is all the OS tells cheaply)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return peak_memory_mb()


class _Run:
    """Per-frame records of one timed run, in arrays allocated up front.

    Python lists of floats would grow by ~0.6 KB a frame and show up as a
    slow "leak" in the last-1,000-frames memory figure of a 10,000-frame run.
    """

    def __init__(self, frames: int) -> None:
        self.size = frames
        self.count = 0
        self.stages = {name: np.zeros(frames) for name in STAGES}
        self.raw: dict[str, np.ndarray] = {}
        self.latency, self.work, self.rss = np.zeros(frames), np.zeros(frames), np.zeros(frames)
        self.computed = np.zeros(frames, dtype=bool)
        self.every = np.ones(frames, dtype=np.int32)
        self.model_ms: float | None = None  # the auto cadence's model cost after the last frame

    def add_frame(self, live: LiveFrame, read_ms: float, encode_ms: float, started: float) -> None:
        i, timings = self.count, live.timings
        self.computed[i] = live.result.extra.get("computed", True)
        self.every[i] = live.result.extra.get("every_n", 1)
        self.model_ms = live.result.extra.get("model_ms", self.model_ms)
        self.stages["read"][i], self.stages["encode"][i] = read_ms, encode_ms
        for name, ms in timings.items():
            if name not in self.raw:
                self.raw[name] = np.zeros(self.size)
            self.raw[name][i] = ms
            self.stages[STAGE_OF.get(name, "refine")][i] += ms
        self.work[i] = sum(table[i] for table in self.stages.values())
        self.latency[i] = (time.perf_counter() - started) * 1000
        self.rss[i] = current_memory_mb()
        self.count += 1


def _make_processor(config: BenchConfig, models_dir: str | None, fast: bool | None = None) -> LiveProcessor:
    processor = LiveProcessor(models_dir, fast=config.fast if fast is None else fast, model_ms=config.model_ms)
    processor.configure(config.settings())
    return processor


def _time_serial(processor: LiveProcessor, reader: ClipReader, config: BenchConfig, run: _Run) -> None:
    for i in range(config.frames):
        started = time.perf_counter()
        frame = reader.read(i)
        read_ms = (time.perf_counter() - started) * 1000
        live = processor.process(frame, i / 30.0)
        t0 = time.perf_counter()
        encode_view(live.view, config.encode)
        run.add_frame(live, read_ms, (time.perf_counter() - t0) * 1000, started)


def _time_pipelined(processor: LiveProcessor, reader: ClipReader, config: BenchConfig, run: _Run) -> None:
    starts: list[tuple[float, float]] = []  # (capture start, read ms) of frames in flight

    def emit(live: LiveFrame | None) -> None:
        if live is None:
            return
        started, read_ms = starts.pop(0)
        t0 = time.perf_counter()
        encode_view(live.view, config.encode)
        run.add_frame(live, read_ms, (time.perf_counter() - t0) * 1000, started)

    with PipelinedProcessor(processor) as pipe:
        for i in range(config.frames):
            started = time.perf_counter()
            frame = reader.read(i)
            starts.append((started, (time.perf_counter() - started) * 1000))
            emit(pipe.submit(frame, i / 30.0))
        emit(pipe.flush())


def run_pipeline(frames: list[np.ndarray], config: BenchConfig, models_dir: str | None) -> BenchReport:
    """Times the live pipeline on ``config.frames`` frames cycled from ``frames``.

    Raises:
        LiveMatteError: the model cannot be loaded or a frame fails.
    """
    reader = ClipReader(frames)
    processor = _make_processor(config, models_dir)
    for i in range(min(config.warmup, config.frames)):
        processor.process(reader.read(i), i / 30.0)
    processor.reset()
    run = _Run(config.frames)
    start = time.perf_counter()
    (_time_pipelined if config.pipelined else _time_serial)(processor, reader, config, run)
    elapsed = time.perf_counter() - start
    window = max(1, min(config.memory_window, run.count // 2 or 1))
    latency = _stats(run.latency)
    return BenchReport(
        model=processor.model.name, provider=processor.model.provider, width=config.width, height=config.height,
        frames=config.frames, fps=config.frames / elapsed, latency_ms=latency.median_ms,
        latency_p95_ms=latency.p95_ms, added_latency_frames=1 if config.pipelined else 0,
        added_latency_ms=max(0.0, latency.median_ms - float(np.median(run.work))),
        peak_memory_mb=peak_memory_mb(), pipelined=config.pipelined, fast=config.fast, threads=config.threads,
        stages={k: _stats(_where_run(run.stages[k])) for k in STAGES},
        raw_stages={k: _stats(_where_run(v)) for k, v in run.raw.items()},
        memory=MemoryStats(peak_memory_mb(), float(run.rss[:window].mean()), float(run.rss[-window:].mean()), window),
        computed_fraction=float(run.computed[: run.count].mean()),
        every_n=int(np.bincount(run.every[: run.count]).argmax()),
        model_ms=run.model_ms if config.every_n == 0 else None,
    )


# ------------------------------------------------------------------ quality guard


def edge_band(reference: np.ndarray, width: int | None = None) -> np.ndarray:
    """Pixels within ``width`` px (default 0.5 % of the long side, at least 3) of the reference's 0.5 contour,
    plus every partly transparent pixel of it (hair)."""
    width = width or max(3, round(0.005 * max(reference.shape)))
    mask = (reference >= 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    band = cv2.dilate(mask, kernel) != cv2.erode(mask, kernel)
    return band | ((reference > 0.02) & (reference < 0.98))


def alpha_difference(alpha: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(mean |Δα| over the frame, mean |Δα| in the edge band); 0..1 scale.

    Raises:
        ValueError: the two mattes differ in size.
    """
    if alpha.shape != reference.shape:
        raise ValueError(f"alpha {alpha.shape} and reference {reference.shape} differ in size")
    diff = cv2.absdiff(alpha.astype(np.float32, copy=False), reference.astype(np.float32, copy=False))
    band = edge_band(reference)
    return float(diff.mean()), float(diff[band].mean()) if band.any() else 0.0


def quality_guard(
    frames: list[np.ndarray], config: BenchConfig, models_dir: str | None, reference_model: str | None = None,
    masks: list[np.ndarray] | None = None,
) -> QualityStats:
    """The measured path vs the fp32 full-size reference (``fast=False``) on the same first frames.

    Both run serially from a fresh state; the pipelined processor gives the
    same alpha as the serial one (tested), so this is the measured path's quality.
    With ``masks`` (one per frame), both are also scored against them.

    Raises:
        LiveMatteError: a model cannot be loaded.
    """
    reader = ClipReader(frames)
    count = max(1, min(config.quality_frames, config.frames))
    measured = _make_processor(config, models_dir)
    reference_config = BenchConfig(**{**config.__dict__, "model": reference_model or config.model, "fast": False})
    reference = _make_processor(reference_config, models_dir, fast=False)
    means, edges = [], []
    truth, reference_truth = SequenceScorer(), SequenceScorer()
    for i in range(count):
        frame = reader.read(i)
        a = measured.process(frame, i / 30.0).result.alpha
        r = reference.process(frame, i / 30.0).result.alpha
        mean, edge = alpha_difference(a, r)
        means.append(mean)
        edges.append(edge)
        if masks:
            truth.add(a, masks[i % len(masks)])
            reference_truth.add(r, masks[i % len(masks)])
    name = f"{reference_config.model} fp32 full size"
    stats = QualityStats(name, count, statistics.fmean(means), statistics.fmean(edges), max(means))
    if masks:
        stats.truth, stats.reference_truth = truth.scores(), reference_truth.scores()
    return stats


# ------------------------------------------------------------------ baseline


def run_baseline(
    frames: list[np.ndarray], models_dir: str | None, ratio: float = BASELINE_RATIO, threads: int = 0, count: int | None = None
) -> float:
    """FPS of the plain RVM loop: session.run per frame, numpy in and out, state fed back.

    Raises:
        LiveMatteError: the RVM weights are missing or do not load.
    """
    from app.core.models import get_spec
    from app.core.models.session import SessionConfig, create_session
    from app.core.models.store import require_weights

    spec = get_spec("rvm")
    session = create_session(
        require_weights(spec, models_dir).path, spec, SessionConfig("cpu", threads, spinning=True)  # ORT's defaults
    )
    reader = ClipReader(frames)
    count = count or len(frames)
    rec = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    ratio_arr = np.array([ratio], np.float32)
    start = time.perf_counter()
    for i in range(count):
        frame = reader.read(i)
        src = (frame.transpose(2, 0, 1)[None].astype(np.float32)) / 255.0
        fgr, pha, *rec = session.run(None, {"src": src, "r1i": rec[0], "r2i": rec[1], "r3i": rec[2],
                                            "r4i": rec[3], "downsample_ratio": ratio_arr})
        bg = np.array([120, 255, 155], np.float32).reshape(1, 3, 1, 1) / 255.0
        comp = fgr * pha + bg * (1 - pha)
        _ = (comp[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    return count / (time.perf_counter() - start)


def run_segmenter_baseline(
    frames: list[np.ndarray], model: str, models_dir: str | None, threads: int = 0, count: int | None = None
) -> float:
    """FPS of the plain loop for a single-frame segmenter: resize, normalise, session.run, bilinear
    upsample of the probability, float composite; ORT's default session options.

    Raises:
        LiveMatteError: the weights are missing or do not load.
    """
    from app.core.models import load_model
    from app.core.models.session import SessionConfig

    adapter = load_model(model, models_dir, SessionConfig("cpu", threads, spinning=True))
    reader = ClipReader(frames)
    count = count or len(frames)
    bg = np.array([0, 177, 64], np.float32)
    start = time.perf_counter()
    for i in range(count):
        frame = reader.read(i)
        small = cv2.resize(frame, adapter.size, interpolation=cv2.INTER_AREA)
        x = (small.astype(np.float32) - adapter.mean) * adapter.inv_std
        x = x.transpose(2, 0, 1)[None] if adapter.nchw else x[None]
        (out,) = adapter.session.run([adapter.output_name], {adapter.input_name: np.ascontiguousarray(x)})
        prob = adapter._person_probability(out)
        alpha = cv2.resize(prob, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)[..., None]
        _ = (frame * alpha + bg * (1 - alpha)).astype(np.uint8)
    return count / (time.perf_counter() - start)


def run_bench(
    config: BenchConfig, models_dir: str | None = None, clip: Clip | list[np.ndarray] | None = None,
    baseline_frames: int = 100,
) -> BenchReport:
    """Everything ``livematte bench`` prints: the timed run, then the quality guard and the baseline.

    ``clip``: the frames (with masks, as a ``Clip``); None is the generated figure.

    Raises:
        LiveMatteError: a model cannot be loaded or a frame fails.
    """
    if clip is None:
        clip = Clip(synthetic_clip(config.width, config.height, min(config.frames, CLIP_PERIOD)))
    elif not isinstance(clip, Clip):
        clip = Clip(list(clip), name="given frames")
    frames = clip.frames
    report = run_pipeline(frames, config, models_dir)
    report.clip = clip.name
    if config.quality_frames > 0:
        # the guard runs serially, where auto could pick another cadence: it replays the model cost the run
        # ended on (auto) or its fixed cadence
        replay = {"model_ms": report.model_ms} if config.every_n == 0 and report.model_ms else {}
        measured = BenchConfig(**{**config.__dict__, **replay})
        report.quality = quality_guard(frames, measured, models_dir, masks=clip.masks)
    if config.baseline:
        count = min(config.frames, baseline_frames)
        if _adapter_of(config.model) == "segmenter":
            report.baseline_fps = run_segmenter_baseline(frames, config.model, models_dir, config.threads, count)
        else:
            report.baseline_fps = run_baseline(frames, models_dir, BASELINE_RATIO, config.threads, count)
    return report


def _truth_dict(scores: Scores | None) -> dict[str, float] | None:
    if scores is None:
        return None
    return {k: round(v, 5) for k, v in scores.to_dict().items() if k in ("iou", "boundary_f", "mad", "core_mad",
                                                                         "dtssd", "flicker")}


def _adapter_of(model: str) -> str:
    from app.core.models import get_spec

    return get_spec(model).adapter

"""The benchmark: the real live pipeline on a clip, per-stage times, FPS and memory.

``livematte bench`` prints what this returns. The baseline is the plain loop
users would write themselves (session.run per frame, numpy in and out) on
the same frames, so "ours / baseline" stays comparable across noisy machines.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator

import cv2
import numpy as np

from app.core.live import LiveProcessor
from app.core.live_settings import LiveSettings


@dataclass
class StageStats:
    median_ms: float
    p95_ms: float


@dataclass
class BenchReport:
    model: str
    provider: str
    width: int
    height: int
    frames: int
    fps: float
    latency_ms: float
    peak_memory_mb: float
    stages: dict[str, StageStats] = field(default_factory=dict)
    baseline_fps: float | None = None

    @property
    def speedup(self) -> float | None:
        return self.fps / self.baseline_fps if self.baseline_fps else None

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model, "provider": self.provider, "width": self.width, "height": self.height,
            "frames": self.frames, "fps": round(self.fps, 2), "latency_ms": round(self.latency_ms, 2),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "stages": {k: {"median_ms": round(v.median_ms, 2), "p95_ms": round(v.p95_ms, 2)} for k, v in self.stages.items()},
            "baseline_fps": None if self.baseline_fps is None else round(self.baseline_fps, 2),
            "speedup": None if self.speedup is None else round(self.speedup, 2),
        }

    def lines(self) -> list[str]:
        out = [f"{self.model} on {self.provider}, {self.width}x{self.height}, {self.frames} frames"]
        for name, s in self.stages.items():
            out.append(f"  {name:<12} median {s.median_ms:7.2f} ms   p95 {s.p95_ms:7.2f} ms")
        out.append(f"  end-to-end   {self.fps:.1f} fps, latency {self.latency_ms:.1f} ms, peak memory {self.peak_memory_mb:.0f} MB")
        if self.baseline_fps:
            out.append(f"  baseline     {self.baseline_fps:.1f} fps (plain loop)  ->  ours / baseline = {self.speedup:.2f}x")
        return out


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


def _stats(values: list[float]) -> StageStats:
    ordered = sorted(values)
    return StageStats(statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))])


def peak_memory_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def run_pipeline(frames: list[np.ndarray], settings: LiveSettings, models_dir: str | None, warmup: int = 3) -> BenchReport:
    processor = LiveProcessor(models_dir)
    processor.configure(settings)
    for frame in frames[:warmup]:
        processor.process(frame, 0.0)
    processor.reset()
    per_stage: dict[str, list[float]] = {}
    latencies = []
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        live = processor.process(frame, i / 30.0)
        latencies.append((time.perf_counter() - t0) * 1000)
        for name, ms in live.timings.items():
            per_stage.setdefault(name, []).append(ms)
    elapsed = time.perf_counter() - start
    height, width = frames[0].shape[:2]
    return BenchReport(
        model=processor.model.name, provider=processor.model.provider, width=width, height=height,
        frames=len(frames), fps=len(frames) / elapsed, latency_ms=statistics.median(latencies),
        peak_memory_mb=peak_memory_mb(), stages={k: _stats(v) for k, v in per_stage.items()},
    )


def run_baseline(frames: list[np.ndarray], models_dir: str | None, ratio: float = 0.25, threads: int = 0) -> float:
    """FPS of the plain RVM loop: session.run per frame, numpy in and out, state fed back."""
    from app.core.models import get_spec
    from app.core.models.session import SessionConfig, create_session
    from app.core.models.store import require_weights

    spec = get_spec("rvm")
    session = create_session(require_weights(spec, models_dir).path, spec, SessionConfig("cpu", threads))
    rec = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    ratio_arr = np.array([ratio], np.float32)
    start = time.perf_counter()
    for frame in frames:
        src = (frame.transpose(2, 0, 1)[None].astype(np.float32)) / 255.0
        fgr, pha, *rec = session.run(None, {"src": src, "r1i": rec[0], "r2i": rec[1], "r3i": rec[2],
                                            "r4i": rec[3], "downsample_ratio": ratio_arr})
        bg = np.array([120, 255, 155], np.float32).reshape(1, 3, 1, 1) / 255.0
        comp = fgr * pha + bg * (1 - pha)
        _ = (comp[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    return len(frames) / (time.perf_counter() - start)


def iter_video(path: str, count: int, width: int, height: int) -> Iterator[np.ndarray]:
    from app.core.sources import VideoFileSource

    with VideoFileSource(path) as source:
        for i, item in enumerate(source):
            if i >= count:
                break
            frame = getattr(item, "image", item[0] if isinstance(item, tuple) else item)
            if frame.shape[1] != width or frame.shape[0] != height:
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            yield frame


def load_clip(path: str | None, image: np.ndarray | None, width: int, height: int, count: int) -> list[np.ndarray]:
    if path:
        return list(iter_video(path, count, width, height))
    return synthetic_clip(width, height, count, image)

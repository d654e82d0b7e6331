"""Still images in bulk: expand inputs, plan output names, process, summarise."""

from __future__ import annotations

import glob
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from app.core.imaging.compose import Background, BackgroundRenderer, alpha_to_u8
from app.core.errors import LiveMatteError, SettingsError, UnreadableImageError
from app.core.media.image_io import InputLimits, is_image_path, load_image
from app.core.body.pose import PoseEstimator, poses_to_json
from app.core.matting.still import StillPipeline
from app.core.timing import StageTimer
from app.core.media.writers import encode_png, write_json, atomic_write_bytes

_ENCODER = ThreadPoolExecutor(max_workers=3, thread_name_prefix="png-encode")

OUTPUT_KINDS = ("alpha", "rgba", "composite", "json")
DEFAULT_OUTPUTS = ("alpha", "rgba", "composite", "json")
# Named explicitly only (not part of "all"): they need extra models.
OPTIONAL_KINDS = ("keypoints",)
JSON_NAMES = {"json": "{stem}.json", "keypoints": "{stem}.keypoints.json"}


def parse_outputs(text: str, allowed: Iterable[str] = OUTPUT_KINDS, optional: Iterable[str] = ()) -> tuple[str, ...]:
    """Parses ``alpha,rgba`` into a tuple of output kinds (``all`` for every ``allowed`` kind;
    ``optional`` kinds are accepted by name only)."""
    allowed = tuple(allowed)
    if text.strip().lower() == "all":
        return allowed
    kinds = tuple(dict.fromkeys(k.strip().lower() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in allowed and k not in tuple(optional)]
    if unknown or not kinds:
        from app.core.errors import SettingsError

        raise SettingsError(f"unknown output kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}")
    return kinds


@dataclass(frozen=True)
class InputItem:
    """One thing the user named: a file to process, or an error to report for it."""

    path: Path
    error: LiveMatteError | None = None


def expand_inputs(items: Iterable[str], recursive: bool = False) -> list[InputItem]:
    """Files, folders (their images, sorted) and glob patterns, in order, without repeats."""
    seen: set[Path] = set()
    result: list[InputItem] = []

    def add(path: Path, error: LiveMatteError | None = None) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append(InputItem(path, error))

    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern)):
                if child.is_file() and is_image_path(child):
                    add(child)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive))
            files = [m for m in matches if m.is_file()]
            if not files:
                add(path, UnreadableImageError("no file matches this pattern", path=item))
            for match in files:
                add(match)
        else:
            add(path)
    return result


@dataclass(frozen=True)
class StillJob:
    input: InputItem
    outputs: dict[str, Path]


def plan_jobs(inputs: list[InputItem], out_dir: Path, kinds: tuple[str, ...]) -> list[StillJob]:
    """Output names ``<stem>.<kind>.png`` (``<stem>.json``); clashing stems get their suffix added."""
    stems = [item.path.stem for item in inputs]
    jobs = []
    for item in inputs:
        stem = item.path.stem
        if stems.count(stem) > 1:
            stem = f"{stem}_{item.path.suffix.lstrip('.').lower()}"
        outputs = {kind: out_dir / JSON_NAMES.get(kind, "{stem}.%s.png" % kind).format(stem=stem) for kind in kinds}
        jobs.append(StillJob(item, outputs))
    return jobs


@dataclass
class FileReport:
    input: Path
    status: str  # "done" | "failed" | "skipped"
    message: str = ""
    error: LiveMatteError | None = None
    written: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class BatchSummary:
    reports: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.reports)

    @property
    def first_error(self) -> LiveMatteError | None:
        return next((r.error for r in self.reports if r.error is not None), None)

    def line(self) -> str:
        return (
            f"done {self.count('done')}, failed {self.count('failed')}, "
            f"skipped {self.count('skipped')} in {self.seconds:.1f} s"
        )


class FileJobs:
    """The per-file loop shared by ``still`` and ``parse``: skip, decode, write, report.

    Subclasses are dataclasses with ``overwrite`` and ``limits`` fields and a
    ``write_frame(frame, wanted, source, timer)`` method.
    """

    overwrite: bool
    limits: InputLimits

    def write_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer) -> list[Path]:
        raise NotImplementedError

    def run(self, jobs: list[StillJob]) -> Iterator[FileReport]:
        for job in jobs:
            yield self.process(job)

    def process(self, job: StillJob) -> FileReport:
        """One file: never raises for a bad input; the report carries the error."""
        path = job.input.path
        if job.input.error is not None:
            return FileReport(path, "failed", str(job.input.error), job.input.error)
        if not self.overwrite:
            existing = [p for p in job.outputs.values() if p.exists()]
            if existing:
                return FileReport(path, "skipped", f"{existing[0]} exists (use --overwrite)")
        try:
            timer = StageTimer()
            with timer.stage("decode"):
                frame = load_image(path, self.limits)
            written = self.write_frame(frame, job.outputs, str(path), timer)
            return FileReport(path, "done", written=written, timings=timer.ms)
        except LiveMatteError as exc:
            return FileReport(path, "failed", str(exc), exc)


@dataclass
class StillBatch(FileJobs):
    """Everything needed to turn image files into output files."""

    pipeline: StillPipeline | None  # None when only keypoints are wanted
    background: Background | None
    overwrite: bool = False
    limits: InputLimits = InputLimits()
    describe: Callable[[], dict[str, object]] = dict  # extra fields for the JSON report
    poses: PoseEstimator | None = None  # for the "keypoints" output

    def __post_init__(self) -> None:
        self._renderer = BackgroundRenderer(self.background, self.limits) if self.background else None

    def write_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer | None = None) -> list[Path]:
        """Runs the still pipeline on ``frame`` and writes the ``wanted`` outputs (also GUI snapshots).

        Raises:
            OutputExistsError: an output exists and overwrite is off.
            ExportError: a file cannot be written.
            SettingsError: keypoints wanted without a pose estimator (or matting without a pipeline).
        """
        timer = timer or StageTimer()
        written = []
        if "keypoints" in wanted:
            written.append(self._write_keypoints(frame, wanted["keypoints"], source, timer))
        matting = {k: p for k, p in wanted.items() if k != "keypoints"}
        if matting:  # keypoints alone never pay for the matting model
            written += self._write_matting(frame, matting, source, timer)
        return written

    def _write_keypoints(self, frame: np.ndarray, path: Path, source: str, timer: StageTimer) -> Path:
        if self.poses is None:
            raise SettingsError("keypoints need the pose models; none were loaded")
        poses = self.poses.estimate(frame)
        timer.merge(self.poses.timings)
        report = {
            "input": source, "width": frame.shape[1], "height": frame.shape[0],
            "model": self.poses.name, "provider": self.poses.provider,
            **poses_to_json(poses),
            "timings_ms": {k: round(v, 2) for k, v in self.poses.timings.items()},
        }
        return write_json(path, report, overwrite=self.overwrite)

    def _write_matting(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer) -> list[Path]:
        if self.pipeline is None:
            raise SettingsError("no matting model was loaded")
        result = self.pipeline.process(frame)
        background = self._renderer if "composite" in wanted else None
        rendered = self.pipeline.render(frame, result, background)
        timer.merge(result.timings)
        pixels = {"alpha": lambda: alpha_to_u8(result.alpha), "rgba": lambda: rendered.rgba,
                  "composite": lambda: rendered.composite}
        with timer.stage("encode"):
            # OpenCV's PNG encoder releases the GIL: encode the outputs side by side.
            kinds = [k for k in pixels if k in wanted]
            images = dict(zip(kinds, _ENCODER.map(lambda k: encode_png(pixels[k]()), kinds)))
        written = []
        with timer.stage("write"):
            for kind, data in images.items():
                written.append(atomic_write_bytes(wanted[kind], data, overwrite=self.overwrite))
        if "json" in wanted:
            report = {
                "input": source,
                "width": frame.shape[1],
                "height": frame.shape[0],
                "model": result.model,
                "provider": result.provider,
                **result.extra,
                **self.describe(),
                "alpha_coverage": round(float(result.alpha.mean()), 4),
                "outputs": {k: p.name for k, p in wanted.items() if k != "json"},
                "timings_ms": {k: round(v, 2) for k, v in timer.ms.items()},
            }
            written.append(write_json(wanted["json"], report, overwrite=self.overwrite))
        return written


def run_summary(batch: StillBatch, jobs: list[StillJob], progress: Callable[[FileReport], None] | None = None) -> BatchSummary:
    summary = BatchSummary()
    start = time.perf_counter()
    for report in batch.run(jobs):
        summary.reports.append(report)
        if progress:
            progress(report)
    summary.seconds = time.perf_counter() - start
    return summary

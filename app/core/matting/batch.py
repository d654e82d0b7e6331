"""Still images in bulk: expand inputs, plan output names, process, summarise."""

from __future__ import annotations

import glob
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from app.core.imaging.compose import Background, BackgroundRenderer, alpha_to_u8
from app.core.errors import DiskFullError, InferenceError, LiveMatteError, SettingsError, UnreadableImageError
from app.core.media.image_io import InputLimits, is_image_path, load_image
from app.core.body.pose import PoseEstimator, poses_to_json
from app.core.matting.still import StillPipeline
from app.core.timing import StageTimer
from app.core.media.writers import encode_png, json_bytes, write_set

log = logging.getLogger(__name__)
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
    """One thing the user named: a file to process, or an error to report for it.

    ``root``: the folder argument the file was found in (None for a file named
    directly); its sub-folders are kept under the output folder.
    """

    path: Path
    error: LiveMatteError | None = None
    root: Path | None = None


def expand_inputs(items: Iterable[str], recursive: bool = False) -> list[InputItem]:
    """Files, folders (their images, sorted) and glob patterns, in order, without repeats."""
    seen: set[Path] = set()
    result: list[InputItem] = []

    def add(path: Path, error: LiveMatteError | None = None, root: Path | None = None) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append(InputItem(path, error, root))

    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern)):
                if child.is_file() and is_image_path(child):
                    add(child, root=path)
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
    """Output names ``<stem>.<kind>.png`` (``<stem>.json``), one result set per input.

    Files found in a folder keep their sub-folder under ``out_dir``. Inputs
    that would still share a name get, in turn: their folders relative to what
    the clashing inputs have in common (``a/shot.jpg`` and ``b/shot.jpg`` ->
    ``a/shot``, ``b/shot``), their extension added to the stem (``x.png`` and
    ``x.jpg`` -> ``x_png``, ``x_jpg``), and as a last resort a number. No two inputs ever write the same file.
    """
    keys = [_relative_key(item) for item in inputs]
    keys = _split_clashes(keys, inputs, None)
    keys = _split_clashes(keys, inputs, lambda key, item: key.with_name(f"{key.name}_{item.path.suffix.lstrip('.').lower()}"))
    taken: set[Path] = set()
    jobs = []
    for key, item in zip(keys, inputs):
        unique, n = key, 1
        while unique in taken:
            n += 1
            unique = key.with_name(f"{key.name}_{n}")
        taken.add(unique)
        folder, stem = out_dir / unique.parent, unique.name
        outputs = {kind: folder / JSON_NAMES.get(kind, "{stem}.%s.png" % kind).format(stem=stem) for kind in kinds}
        jobs.append(StillJob(item, outputs))
    return jobs


def _relative_key(item: InputItem) -> Path:
    """Sub-folder (under the folder argument) and stem of one input, e.g. ``sub/shot``."""
    if item.root is not None:
        try:
            return item.path.relative_to(item.root).with_suffix("")
        except ValueError:
            pass
    return Path(item.path.stem)


def _split_clashes(keys: list[Path], inputs: list[InputItem], rename: Callable[[Path, InputItem], Path] | None) -> list[Path]:
    """New keys for the inputs whose key is shared: ``rename``, or their folders relative to the group's common folder."""
    groups: dict[Path, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    keys = list(keys)
    for members in groups.values():
        if len(members) < 2:
            continue
        if rename is not None:
            for i in members:
                keys[i] = rename(keys[i], inputs[i])
            continue
        folders = [inputs[i].path.resolve().parent for i in members]
        common = Path(os.path.commonpath(folders))
        for i, folder in zip(members, folders):
            keys[i] = folder.relative_to(common) / keys[i].name
    return keys


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

    Subclasses are dataclasses with ``overwrite`` and ``limits`` fields and an
    ``encode_frame(frame, wanted, source, timer) -> {kind: bytes}`` method.
    A result set is written all or nothing (``write_set``); an input is skipped
    only when its whole set exists, and a partial set (from an older run or the
    user) is completed without touching the files already there.
    """

    overwrite: bool
    limits: InputLimits

    def encode_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer) -> dict[str, bytes]:
        raise NotImplementedError

    def write_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer | None = None) -> list[Path]:
        """Processes ``frame`` and writes the ``wanted`` outputs as one set (also GUI snapshots).

        Raises:
            OutputExistsError: an output exists and overwrite is off (nothing is written).
            DiskFullError / ExportError: a file cannot be written (nothing of the set is left).
            SettingsError: an output needs a model that was not loaded.
        """
        timer = timer or StageTimer()
        data = self.encode_frame(frame, wanted, source, timer)
        with timer.stage("write"):
            return write_set({wanted[kind]: data[kind] for kind in wanted}, overwrite=self.overwrite)

    def run(self, jobs: list[StillJob]) -> Iterator[FileReport]:
        """Every job in order; after a full disk the rest are reported, not attempted."""
        full: DiskFullError | None = None
        for job in jobs:
            if full is not None:
                yield FileReport(job.input.path, "skipped", "not processed: the disk is full")
                continue
            report = self.process(job)
            if isinstance(report.error, DiskFullError):
                full = report.error
            yield report

    def process(self, job: StillJob) -> FileReport:
        """One file: never raises for a bad input or a model failure; the report carries the error."""
        path = job.input.path
        if job.input.error is not None:
            return FileReport(path, "failed", str(job.input.error), job.input.error)
        missing = dict(job.outputs) if self.overwrite else {k: p for k, p in job.outputs.items() if not p.exists()}
        if not missing:
            first = next(iter(job.outputs.values()))
            return FileReport(path, "skipped", f"{first} exists (use --overwrite)")
        try:
            timer = StageTimer()
            with timer.stage("decode"):
                frame = load_image(path, self.limits)
            data = self.encode_frame(frame, job.outputs, str(path), timer)
            del frame  # the full-size pixels are not needed while the files are written
            with timer.stage("write"):
                written = write_set({p: data[k] for k, p in missing.items()}, overwrite=self.overwrite)
            note = "" if len(missing) == len(job.outputs) else f"completed {len(missing)} missing output(s)"
            return FileReport(path, "done", note, written=written, timings=timer.ms)
        except LiveMatteError as exc:
            return FileReport(path, "failed", str(exc), exc)
        except Exception as exc:  # noqa: BLE001 - a model's own error (e.g. ONNX Runtime) must not end the batch
            log.debug("processing %s failed", path, exc_info=True)  # the traceback, with --verbose
            error = InferenceError(f"processing failed ({type(exc).__name__}: {_first_line(exc)})", path=str(path))
            return FileReport(path, "failed", str(error), error)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


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

    def encode_frame(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer | None = None) -> dict[str, bytes]:
        """Runs the still pipeline on ``frame``: the bytes of each ``wanted`` output.

        Raises:
            SettingsError: keypoints wanted without a pose estimator (or matting without a pipeline).
        """
        timer = timer or StageTimer()
        data: dict[str, bytes] = {}
        if "keypoints" in wanted:
            data["keypoints"] = self._keypoints(frame, source, timer)
        matting = {k: p for k, p in wanted.items() if k != "keypoints"}
        if matting:  # keypoints alone never pay for the matting model
            data.update(self._matting(frame, matting, source, timer))
        return data

    def _keypoints(self, frame: np.ndarray, source: str, timer: StageTimer) -> bytes:
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
        return json_bytes(report)

    def _matting(self, frame: np.ndarray, wanted: dict[str, Path], source: str, timer: StageTimer) -> dict[str, bytes]:
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
            data = dict(zip(kinds, _ENCODER.map(lambda k: encode_png(pixels[k]()), kinds)))
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
            data["json"] = json_bytes(report)
        return data


def run_summary(batch: StillBatch, jobs: list[StillJob], progress: Callable[[FileReport], None] | None = None) -> BatchSummary:
    summary = BatchSummary()
    start = time.perf_counter()
    for report in batch.run(jobs):
        summary.reports.append(report)
        if progress:
            progress(report)
    summary.seconds = time.perf_counter() - start
    return summary

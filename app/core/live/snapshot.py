"""Snapshots of the live view: the still pipeline at full resolution on one frame."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from app.core.matting.batch import StillBatch
from app.core.imaging.compose import parse_background
from app.core.live.settings import LiveSettings
from app.core.models import SessionConfig, get_spec, load_model
from app.core.matting.still import StillPipeline, StillSettings

_models: dict[tuple[str, str, int, float | None, str | None], object] = {}
_lock = threading.Lock()


def _still_model(settings: LiveSettings, models_dir: str | None):
    """A model instance of its own: the live stream's recurrent state must not be touched."""
    key = (settings.model, settings.provider, settings.threads, settings.ratio, models_dir)
    with _lock:
        if key not in _models:
            options = {"downsample_ratio": settings.ratio} if get_spec(settings.model).adapter == "rvm" else {}
            _models[key] = load_model(settings.model, models_dir, SessionConfig(settings.provider, settings.threads), **options)
        return _models[key]


def _face_parser(settings: LiveSettings, models_dir: str | None):
    from app.core.face.parsing import load_face_parser

    key = ("faces", settings.provider, settings.threads, None, models_dir)
    with _lock:
        if key not in _models:
            _models[key] = load_face_parser(models_dir, SessionConfig(settings.provider, settings.threads))
        return _models[key]


def snapshot_stem(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return time.strftime("snapshot-%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"


def save_snapshot(frame: np.ndarray, settings: LiveSettings, models_dir: str | None = None,
                  stem: str | None = None) -> list[Path]:
    """Writes the chosen snapshot files for ``frame`` into ``settings.output_dir``.

    Raises:
        LiveMatteError: the model cannot be loaded or a file cannot be written.
    """
    still = StillSettings(hard=settings.threshold_enabled, threshold=settings.threshold)
    model = _still_model(settings, models_dir)
    kinds = settings.snapshot_kinds
    faces = _face_parser(settings, models_dir) if {"labels", "overlay"} & set(kinds) else None
    stem = stem or snapshot_stem()
    out = Path(settings.output_dir).expanduser()
    wanted = {k: out / (f"{stem}.json" if k == "json" else f"{stem}.{k}.png") for k in kinds}
    with _lock:  # one snapshot at a time per model instance
        batch = StillBatch(StillPipeline(model, still), _background(settings.background))
        matte_kinds = {k: p for k, p in wanted.items() if k in ("alpha", "rgba", "composite", "json")}
        written = batch.write_frame(frame, matte_kinds, "live view")
        if faces is not None:
            written += _write_face_outputs(frame, faces.parse(frame), wanted, settings)
    return written


def _write_face_outputs(frame: np.ndarray, parse, wanted: dict[str, Path], settings: LiveSettings) -> list[Path]:
    from app.core.face.palette import write_label_png
    from app.core.media.writers import write_png

    written = []
    if "labels" in wanted:
        written.append(write_label_png(wanted["labels"], parse.labels))
    if "overlay" in wanted:
        written.append(write_png(wanted["overlay"], parse.overlay(frame, settings.overlay_opacity, settings.overlay_classes)))
    return written


def _background(spec: str):
    from app.core.media.sources import VIDEO_SUFFIXES

    if Path(spec).suffix.lower() in VIDEO_SUFFIXES:  # a still has no time: keep the cut-out transparent
        return parse_background("transparent")
    return parse_background(spec)

"""The model manifest: the single source of truth for known models."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO_MODELS_DIR = Path(__file__).resolve().parents[3] / "models"


@dataclass(frozen=True)
class WeightFile:
    name: str
    url: str | None = None
    sha256: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # "float32", "float16" or "any-float"
    rank: int


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    task: str
    adapter: str
    title: str
    licence: str
    files: tuple[WeightFile, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    preprocess: dict[str, Any] = field(default_factory=dict)
    homepage: str | None = None
    default: bool = False

    @property
    def download_url(self) -> str | None:
        return next((f.url for f in self.files if f.url), None)


def _tensors(table: dict[str, list[Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(name, str(dtype), int(rank)) for name, (dtype, rank) in table.items())


def parse_manifest(data: dict[str, Any]) -> dict[str, ModelSpec]:
    """Builds specs from the parsed TOML (a table per model)."""
    specs = {}
    for name, entry in data.items():
        specs[name] = ModelSpec(
            name=name,
            task=entry["task"],
            adapter=entry["adapter"],
            title=entry.get("title", name),
            licence=entry.get("licence", "unknown"),
            files=tuple(WeightFile(**f) for f in entry["files"]),
            inputs=_tensors(entry.get("inputs", {})),
            outputs=_tensors(entry.get("outputs", {})),
            preprocess=dict(entry.get("preprocess", {})),
            homepage=entry.get("homepage"),
            default=bool(entry.get("default", False)),
        )
    return specs


def manifest_path() -> Path:
    """The checked-in manifest in a source tree, else the copy inside the wheel."""
    source = REPO_MODELS_DIR / "manifest.toml"
    if source.is_file():
        return source
    return Path(str(resources.files("app") / "_data" / "manifest.toml"))


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, ModelSpec]:
    with open(manifest_path(), "rb") as fh:
        return parse_manifest(tomllib.load(fh))


def models_for_task(task: str) -> list[str]:
    return [name for name, spec in load_manifest().items() if spec.task == task]


def default_model(task: str = "matting") -> str:
    names = models_for_task(task)
    return next((n for n in names if load_manifest()[n].default), names[0])

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

_CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def source_models_dir() -> Path | None:
    """The checkout's ``models/`` folder when running from a source checkout, else None.

    An installed wheel puts ``app`` into site-packages, where ``parents[3]`` is
    site-packages itself: it has no ``pyproject.toml`` naming this project next
    to a ``models/manifest.toml``, so an installed command never searches there.
    """
    project = _CHECKOUT_ROOT / "pyproject.toml"
    manifest = _CHECKOUT_ROOT / "models" / "manifest.toml"
    try:
        is_ours = project.is_file() and manifest.is_file() and 'name = "livematte"' in project.read_text("utf-8")
    except OSError:
        return None
    return manifest.parent if is_ours else None


@dataclass(frozen=True)
class UpstreamFile:
    """The publisher's original file that a converted weight file is made from (TFLite)."""

    name: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class WeightFile:
    """One accepted weight file of a model.

    ``url``: where the file itself is downloaded from. ``upstream``: for a file
    the app converts itself, the publisher's original it is converted from;
    ``sha256`` is then the converted file's (the conversion is deterministic).
    """

    name: str
    url: str | None = None
    sha256: str | None = None
    note: str | None = None
    upstream: UpstreamFile | None = None

    @property
    def downloadable(self) -> bool:
        """A URL is known for the file or for its upstream original."""
        return bool(self.url or (self.upstream and self.upstream.url))


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
        """The first official address a fetch would use (a converted file's upstream original)."""
        for file in self.files:
            if file.url:
                return file.url
            if file.upstream and file.upstream.url:
                return file.upstream.url
        return None


def _tensors(table: dict[str, list[Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(name, str(dtype), int(rank)) for name, (dtype, rank) in table.items())


def _weight_file(entry: dict[str, Any]) -> WeightFile:
    fields = dict(entry)
    upstream = fields.pop("upstream", None)
    return WeightFile(**fields, upstream=UpstreamFile(**upstream) if upstream else None)


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
            files=tuple(_weight_file(f) for f in entry["files"]),
            inputs=_tensors(entry.get("inputs", {})),
            outputs=_tensors(entry.get("outputs", {})),
            preprocess=dict(entry.get("preprocess", {})),
            homepage=entry.get("homepage"),
            default=bool(entry.get("default", False)),
        )
    return specs


def manifest_path() -> Path:
    """The checked-in manifest in a source tree, else the copy inside the wheel."""
    folder = source_models_dir()
    if folder is not None:
        return folder / "manifest.toml"
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

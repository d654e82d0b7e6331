"""Where weights live: the lookup order and the "what is missing" report."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from app.core.errors import ModelMissingError
from app.core.models.manifest import ModelSpec, WeightFile, source_models_dir

ENV_VAR = "LIVEMATTE_MODELS"


def user_models_dir() -> Path:
    return Path(user_cache_dir("livematte", appauthor=False)) / "models"


@dataclass(frozen=True)
class SearchLocation:
    """One folder of the lookup order and why it is searched (shown to users)."""

    origin: str  # "--models-dir", "$LIVEMATTE_MODELS", "source checkout" or "user cache"
    path: Path


def search_locations(models_dir: str | os.PathLike[str] | None = None) -> list[SearchLocation]:
    """The folders searched for weights with their origin, first hit wins; no duplicates."""
    candidates: list[SearchLocation] = []
    if models_dir:
        candidates.append(SearchLocation("--models-dir", Path(models_dir).expanduser()))
    if os.environ.get(ENV_VAR):
        candidates.append(SearchLocation(f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()))
    checkout = source_models_dir()  # only when running from a source checkout, never site-packages
    if checkout is not None:
        candidates.append(SearchLocation("source checkout", checkout))
    candidates.append(SearchLocation("user cache", user_models_dir()))
    unique: list[SearchLocation] = []
    for location in candidates:
        if all(location.path != seen.path for seen in unique):
            unique.append(location)
    return unique


def search_dirs(models_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for weights, first hit wins."""
    return [location.path for location in search_locations(models_dir)]


@dataclass(frozen=True)
class FoundWeights:
    path: Path
    file: WeightFile
    origin: str = ""  # the search location it was found in ("user cache", ...)


def present_weights(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> list[FoundWeights]:
    """Every accepted file of ``spec`` on disk, in lookup order (the first is the one used)."""
    found = []
    for location in search_locations(models_dir):
        for file in spec.files:
            candidate = location.path / file.name
            if candidate.is_file():
                found.append(FoundWeights(candidate, file, location.origin))
    return found


def find_weights(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> FoundWeights | None:
    """The file that loading ``spec`` would use, or None."""
    present = present_weights(spec, models_dir)
    return present[0] if present else None


def require_weights(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> FoundWeights:
    """Raises:
        ModelMissingError: no accepted file in any search folder; says how to get one.
    """
    found = find_weights(spec, models_dir)
    if found is None:
        raise ModelMissingError(missing_message(spec, models_dir))
    return found


def missing_message(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> str:
    """What is missing, where we looked, and the one command that fetches it."""
    where = ", ".join(str(d) for d in search_dirs(models_dir))
    names = " or ".join(f.name for f in spec.files)
    if spec.download_url:
        # the URL stays in the message for machines that can only download by hand
        converts = any(f.upstream for f in spec.files) and not any(f.url for f in spec.files)
        how = f"downloads {spec.download_url}{' and converts it to ONNX' if converts else ''} into {user_models_dir()}"
        fix = f"run `livematte models fetch {spec.name}` ({how})"
    else:
        fix = f"no download is known; put {spec.files[0].name} into {user_models_dir()}"
    return (
        f"model '{spec.name}' not found ({names}; looked in {where}). To get it: {fix}, "
        f"or point --models-dir / ${ENV_VAR} at a folder that has it"
    )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

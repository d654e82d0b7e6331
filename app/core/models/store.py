"""Where weights live: the lookup order and the "what is missing" report."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from app.core.errors import ModelMissingError
from app.core.models.manifest import REPO_MODELS_DIR, ModelSpec, WeightFile

ENV_VAR = "LIVEMATTE_MODELS"


def user_models_dir() -> Path:
    return Path(user_cache_dir("livematte", appauthor=False)) / "models"


def search_dirs(models_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for weights, first hit wins."""
    dirs: list[Path] = []
    if models_dir:
        dirs.append(Path(models_dir).expanduser())
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser())
    dirs += [REPO_MODELS_DIR, user_models_dir()]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


@dataclass(frozen=True)
class FoundWeights:
    path: Path
    file: WeightFile


def find_weights(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> FoundWeights | None:
    for folder in search_dirs(models_dir):
        for file in spec.files:
            candidate = folder / file.name
            if candidate.is_file():
                return FoundWeights(candidate, file)
    return None


def require_weights(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> FoundWeights:
    """Raises:
        ModelMissingError: no accepted file in any search folder; says how to get one.
    """
    found = find_weights(spec, models_dir)
    if found is None:
        raise ModelMissingError(missing_message(spec, models_dir))
    return found


def missing_message(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> str:
    where = ", ".join(str(d) for d in search_dirs(models_dir))
    names = " or ".join(f.name for f in spec.files)
    fix = f"download {spec.download_url} into {user_models_dir()}" if spec.download_url else (
        f"put {spec.files[0].name} into {user_models_dir()}"
    )
    return (
        f"model '{spec.name}' not found ({names}; looked in {where}). To get it: {fix}, "
        f"or point --models-dir / ${ENV_VAR} at a folder that has it"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

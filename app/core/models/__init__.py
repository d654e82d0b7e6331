"""Model adapters, the manifest, weight lookup and session creation."""

from __future__ import annotations

import os

from app.core.errors import UnknownModelError
from app.core.models import rvm, segmenter  # noqa: F401  (fill the adapter registry)
from app.core.models import face_mesh, hair, yunet  # noqa: F401  (face parsing adapters)
from app.core.models import pose  # noqa: F401  (body keypoint adapters)
from app.core.models.base import ADAPTERS, MattingModel, MattingOutput
from app.core.models.manifest import ModelSpec, load_manifest, models_for_task
from app.core.models.session import SessionConfig, create_session
from app.core.models.store import require_weights

__all__ = ["MattingModel", "MattingOutput", "ModelSpec", "SessionConfig", "get_spec", "load_model", "matting_models"]


def matting_models() -> list[str]:
    return models_for_task("matting")


def get_spec(name: str) -> ModelSpec:
    """Raises:
        UnknownModelError: ``name`` is not in the manifest.
    """
    manifest = load_manifest()
    if name not in manifest:
        raise UnknownModelError(f"unknown model '{name}'; known: {', '.join(manifest)}")
    return manifest[name]


def load_model(
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    config: SessionConfig = SessionConfig(),
    **adapter_options: object,
) -> object:
    """Finds the weights, opens a checked session and wraps it in its adapter.

    Raises:
        UnknownModelError, ModelMissingError, ModelCorruptError.
    """
    spec = get_spec(name)
    found = require_weights(spec, models_dir)
    session = create_session(found.path, spec, config)
    return ADAPTERS[spec.adapter](session, spec, **adapter_options)

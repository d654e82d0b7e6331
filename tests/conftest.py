from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_models import person_image, write_tiny_models

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    return write_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture
def person_frame() -> np.ndarray:
    return person_image()


@pytest.fixture(scope="session")
def real_models_dir() -> Path:
    value = os.environ.get("LIVEMATTE_MODELS")
    if not value or not Path(value).is_dir():
        pytest.skip("real weights not available (set LIVEMATTE_MODELS)")
    return Path(value)


@pytest.fixture(scope="session")
def portraits_dir() -> Path:
    folder = SHARED / "media" / "portraits"
    if not folder.is_dir():
        pytest.skip("shared media not available")
    return folder


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path, monkeypatch):
    """Never read or write the user's own cache or config folders (weights, licences, presets).

    Never download either: a command that misses a model would fetch it on first
    use; tests of that unset LIVEMATTE_OFFLINE and serve files from 127.0.0.1.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("LIVEMATTE_OFFLINE", "1")
    monkeypatch.delenv("LIVEMATTE_MODEL_MIRROR", raising=False)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "soak: long run of the live path (runs by default; -m 'not soak' skips it)")

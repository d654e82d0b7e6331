"""The service under test: each module's ``models_dir`` fixture says which tiny models it serves."""

from __future__ import annotations

import pytest

from app.service.app import create_app
from app.service.engine import load_engine
from tests.service.helpers import LIMITS, local_client


@pytest.fixture(scope="module")
def engine(models_dir):
    return load_engine("selfie", str(models_dir), limits=LIMITS)


@pytest.fixture(scope="module")
def client(engine):
    return local_client(create_app(engine))

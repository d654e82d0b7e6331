"""The real RVM scored on a few frames of the shared annotated clip (skipped without weights or media)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.measure.bench import shared_gt_dir
from app.core.measure.eval import EvalConfig, evaluate

pytestmark = pytest.mark.real_models


@pytest.fixture(scope="module")
def gt_dir(real_models_dir) -> Path:
    """The shared annotated clips next to the shared weights (as ``livematte bench`` finds them)."""
    folder = shared_gt_dir()
    if folder is None:
        pytest.skip("shared annotated clips not available (LIVEMATTE_MODELS/../media/gt)")
    return folder


def test_rvm_finds_the_walking_person_on_both_paths(real_models_dir, gt_dir):
    """A few frames of lucia: the export and the live fast path both find her (DAVIS masks, 854x480)."""
    scores = {}
    for path in ("export", "live"):
        config = EvalConfig(path=path, every=1, model="rvm", sequences=("lucia",), frames=4)
        scores[path] = evaluate(config, gt_dir, str(real_models_dir)).overall
    for s in scores.values():
        assert s.frames == 4 and s.iou > 0.8 and s.boundary_f > 0.6
    assert abs(scores["live"].iou - scores["export"].iou) < 0.05

from __future__ import annotations

import numpy as np
import pytest

from app.core.imaging.compose import parse_background
from app.core.models import load_model
from app.core.matting.still import StillPipeline, StillSettings


@pytest.mark.parametrize("name", ["rvm", "selfie"])
def test_still_result_contract(tiny_models_dir, person_frame, name):
    pipeline = StillPipeline(load_model(name, tiny_models_dir))
    result = pipeline.process(person_frame)
    h, w = person_frame.shape[:2]
    assert result.alpha.shape == (h, w) and result.alpha.dtype == np.float32
    assert result.foreground.shape == (h, w, 3) and result.foreground.dtype == np.uint8
    assert result.model == name and result.provider == "cpu"
    assert result.timings["inference"] > 0
    assert result.alpha[h // 2, w // 2] > 0.9 and result.alpha[3, 3] < 0.1


def test_rvm_runs_passes_and_does_not_leak_state(tiny_models_dir, person_frame):
    model = load_model("rvm", tiny_models_dir)
    first = StillPipeline(model, StillSettings(passes=3)).process(person_frame)
    assert first.extra["passes"] == 3 and first.extra["downsample_ratio"] == 1.0
    assert all(not s.any() for s in model._state)  # the next still starts clean
    second = StillPipeline(model, StillSettings(passes=3)).process(person_frame)
    assert np.array_equal(first.alpha, second.alpha)


def test_hard_cut_is_binary(tiny_models_dir, person_frame):
    result = StillPipeline(load_model("selfie", tiny_models_dir), StillSettings(hard=True, threshold=0.5)).process(person_frame)
    assert set(np.unique(result.alpha)) <= {0.0, 1.0}


def test_render_composite_and_rgba(tiny_models_dir, person_frame):
    pipeline = StillPipeline(load_model("rvm", tiny_models_dir))
    result = pipeline.process(person_frame)
    out = pipeline.render(person_frame, result, parse_background("#00ff00"))
    h, w = person_frame.shape[:2]
    assert out.rgba.shape == (h, w, 4) and out.composite.shape == (h, w, 3)
    assert tuple(out.composite[2, 2]) == (0, 255, 0)  # background replaced
    assert np.abs(out.composite[h // 2, w // 2].astype(int) - person_frame[h // 2, w // 2]).max() <= 2  # person kept
    transparent = pipeline.render(person_frame, result, parse_background("transparent"))
    assert transparent.composite.shape == (h, w, 4)


def test_no_person_gives_empty_alpha_not_error(tiny_models_dir):
    empty = np.zeros((120, 160, 3), np.uint8)
    result = StillPipeline(load_model("meet", tiny_models_dir)).process(empty)
    assert result.alpha.max() < 0.05


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        StillSettings(passes=0)
    with pytest.raises(ValueError):
        StillSettings(threshold=2.0)

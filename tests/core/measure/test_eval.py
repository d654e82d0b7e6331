"""The eval runner on a generated DAVIS-layout clip with the tiny models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import InputError, SettingsError
from app.core.measure.eval import AUTO, EvalConfig, evaluate, find_sequences
from tests.davis import write_davis


@pytest.fixture
def davis(tmp_path) -> Path:
    return write_davis(tmp_path / "gt" / "davis", {"walk": 6, "run": 4})


def test_finds_sequences_in_the_dataset_or_its_parent(davis):
    for root in (davis, davis.parent):
        sequences = find_sequences(root)
        assert [s.name for s in sequences] == ["run", "walk"]
        assert [len(s) for s in sequences] == [4, 6]
    frame, mask = next(find_sequences(davis, ("walk",))[0].frames())
    assert frame.shape == (96, 160, 3) and mask.shape == (96, 160) and set(np.unique(mask)) == {0, 255}


def test_dataset_errors_are_typed(davis, tmp_path):
    with pytest.raises(InputError, match="DAVIS layout"):
        find_sequences(tmp_path / "nothing")
    with pytest.raises(InputError, match="no sequence jump"):
        find_sequences(davis, ("jump",))
    bad = davis / "Annotations" / "480p" / "walk" / "00002.png"
    cv2.imwrite(str(bad), np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="00002.png is 10x10"):
        list(find_sequences(davis, ("walk",))[0].frames())


@pytest.mark.parametrize("model", ["rvm", "selfie"])
def test_export_scores_the_tiny_model_as_nearly_perfect(davis, tiny_models_dir, model):
    report = evaluate(EvalConfig(path="export", model=model), davis, str(tiny_models_dir))
    assert [s.name for s in report.sequences] == ["run", "walk"]
    assert [s.scores.frames for s in report.sequences] == [4, 6]
    overall = report.overall
    assert overall.frames == 10
    assert overall.iou > 0.97 and overall.boundary_f > 0.95 and overall.core_mad < 0.03
    assert overall.ms_per_frame > 0


def test_scores_drop_when_the_truth_disagrees(davis, tiny_models_dir):
    """The same run against masks shifted 8 px scores clearly worse: the scores come from the masks."""
    good = evaluate(EvalConfig(sequences=("walk",)), davis, str(tiny_models_dir)).overall
    for path in (davis / "Annotations" / "480p" / "walk").glob("*.png"):
        cv2.imwrite(str(path), np.roll(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), 8, axis=1))
    bad = evaluate(EvalConfig(sequences=("walk",)), davis, str(tiny_models_dir)).overall
    assert bad.iou < good.iou - 0.1 and bad.boundary_f < good.boundary_f - 0.3


@pytest.mark.parametrize("every", [1, 2])
def test_live_path_scores_every_frame_in_order(davis, tiny_models_dir, every):
    report = evaluate(EvalConfig(path="live", every=every), davis, str(tiny_models_dir))
    assert [s.every for s in report.sequences] == [every, every]
    assert report.overall.frames == 10
    assert report.overall.iou > 0.9 and report.overall.boundary_f > 0.8


@pytest.mark.parametrize(("model_ms", "every", "words"),
                         [(5.0, 1, "every frame"), (40.0, 2, "on 71 % of frames"), (90.0, 3, "every 3rd frame")])
def test_auto_cadence_is_decided_from_the_model_cost(davis, tiny_models_dir, model_ms, every, words):
    config = EvalConfig(path="live", every=AUTO, model_ms=model_ms, fps=30.0, sequences=("walk",))
    report = evaluate(config, davis, str(tiny_models_dir))
    (sequence,) = report.sequences
    assert sequence.every == every and sequence.model_ms == pytest.approx(model_ms)
    assert f"{words} (auto: model {model_ms:.0f} ms at 30 fps)" in "\n".join(report.lines())
    assert report.to_dict()["sequences"]["walk"]["every"] == every


class SteppingClock:
    """A clock that moves ``step_s`` each time it is read: every timed model run costs exactly ``step_s``."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 0.0, step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


@pytest.mark.parametrize(("step_ms", "expected"), [(5.0, 1), (40.0, 2)])
def test_auto_without_a_given_cost_times_the_model(davis, tiny_models_dir, step_ms, expected):
    """The model is run and timed on the injected clock, so the cadence does not depend on the machine."""
    config = EvalConfig(path="live", every=AUTO, sequences=("run",))
    report = evaluate(config, davis, str(tiny_models_dir), clock=SteppingClock(step_ms / 1e3))
    (sequence,) = report.sequences
    assert sequence.every == expected and sequence.model_ms == pytest.approx(step_ms)


def test_invalid_configurations_are_refused():
    with pytest.raises(SettingsError, match="auto is for --path live"):
        EvalConfig(path="export", every=AUTO)
    with pytest.raises(SettingsError, match="path must be"):
        EvalConfig(path="gui")
    with pytest.raises(SettingsError, match="frames"):
        EvalConfig(frames=0)

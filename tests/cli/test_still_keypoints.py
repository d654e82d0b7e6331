"""``livematte still --outputs keypoints`` with tiny models."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.errors import ModelMissingError
from app.core.body.pose import KEYPOINT_NAMES
from tests.tiny_models import write_tiny_models
from tests.tiny_pose_models import write_tiny_pose_models


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("still_pose_models")
    write_tiny_models(folder)
    return write_tiny_pose_models(folder)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in" / "me.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), np.full((240, 320, 3), 180, np.uint8))
    return path


def _still(models_dir, *args) -> int:
    return main(["still", *args, "--models-dir", str(models_dir), "--no-progress"])


def test_keypoints_alone_need_only_the_pose_models(photo, tmp_path):
    pose_only = write_tiny_pose_models(tmp_path / "pose_only")  # no matting weights at all
    out = tmp_path / "out"
    assert _still(pose_only, str(photo), "-o", str(out), "--outputs", "keypoints") == 0
    assert [p.name for p in out.iterdir()] == ["me.keypoints.json"]
    data = json.loads((out / "me.keypoints.json").read_text())
    assert (data["width"], data["height"], data["person_num"]) == (320, 240, 1)
    person = data["person_info"][0]
    assert list(person["body_parts"]) == list(KEYPOINT_NAMES)
    assert set(person["location"]) == {"left", "top", "width", "height", "score"}
    assert person["body_parts"]["left_ankle"]["score"] < 0.05  # reported with its low score
    assert data["model"] == "pose_detector+pose_landmarks" and data["timings_ms"]["pose_detect"] > 0


def test_keypoints_next_to_matting_outputs(models_dir, photo, tmp_path):
    out = tmp_path / "out"
    assert _still(models_dir, str(photo), "-o", str(out), "--outputs", "alpha,json,keypoints") == 0
    assert sorted(p.name for p in out.iterdir()) == ["me.alpha.png", "me.json", "me.keypoints.json"]


def test_nobody_is_an_empty_list_not_an_error(models_dir, tmp_path):
    dark = tmp_path / "dark.png"
    cv2.imwrite(str(dark), np.zeros((240, 320, 3), np.uint8))
    assert _still(models_dir, str(dark), "-o", str(tmp_path / "out"), "--outputs", "keypoints") == 0
    data = json.loads((tmp_path / "out" / "dark.keypoints.json").read_text())
    assert data["person_num"] == 0 and data["person_info"] == []


def test_all_does_not_include_keypoints(models_dir, photo, tmp_path):
    out = tmp_path / "out"
    assert _still(models_dir, str(photo), "-o", str(out), "--outputs", "all") == 0
    assert not (out / "me.keypoints.json").exists()


def test_missing_pose_models_is_a_clear_error(tiny_models_dir, photo, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    code = _still(tiny_models_dir, str(photo), "-o", str(tmp_path / "out"), "--outputs", "keypoints")
    assert code == ModelMissingError.exit_code
    assert "pose_detector" in capsys.readouterr().err

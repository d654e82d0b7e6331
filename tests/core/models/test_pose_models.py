"""The pose adapters and PoseEstimator through the real loading path, with tiny models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from app.core.errors import ModelCorruptError
from app.core.models import load_model
from app.core.models.pose import PoseDetector, PoseLandmarkModel
from app.core.body.pose import PoseSettings, load_pose_estimator
from tests.tiny_pose_models import (
    DETECTOR_FILE, HIP, LANDMARK_FILE, PRESENCE, expected_frame_point, landmark_model, template, write_tiny_pose_models,
)


@pytest.fixture(scope="module")
def pose_models_dir(tmp_path_factory):
    return write_tiny_pose_models(tmp_path_factory.mktemp("pose_models"))


def _bright(width: int = 320, height: int = 240) -> np.ndarray:
    return np.full((height, width, 3), 180, np.uint8)


def test_detector_merges_the_two_anchors_onto_the_targets(pose_models_dir):
    detector = load_model("pose_detector", pose_models_dir)
    assert isinstance(detector, PoseDetector)
    found = detector.detect(_bright())
    assert len(found) == 1 and found[0].score > 0.99
    # hip target (0.5, 0.6) of the letterboxed 224 input -> frame (160, 152)
    assert np.allclose(found[0].keypoints[0], (160.0, (HIP[1] * 224 - 28) * 240 / 168), atol=1e-3)
    assert detector.detect(np.zeros((240, 320, 3), np.uint8)) == []


def test_estimator_maps_template_points_to_frame_pixels(pose_models_dir):
    estimator = load_pose_estimator(pose_models_dir)
    poses = estimator.estimate(_bright())
    assert len(poses) == 1
    pose = poses[0]
    rows = template()
    for name, index in (("nose", 0), ("left_shoulder", 11), ("right_hip", 24)):
        expected = expected_frame_point(*rows[index, :2])
        assert (pose.keypoints[name].x, pose.keypoints[name].y) == pytest.approx(expected, abs=1e-2), name
    assert pose.score == pytest.approx(PRESENCE)
    assert pose.keypoints["left_ankle"].score < 0.05  # low visibility is reported, not dropped
    assert pose.keypoints["nose"].score > 0.99
    box = pose.box
    assert 0 <= box.x and box.x + box.width <= 320 and 0 <= box.y and box.y + box.height <= 240
    assert set(estimator.timings) == {"pose_detect", "pose_landmarks"}
    assert estimator.estimate(np.zeros((240, 320, 3), np.uint8)) == []


def test_portrait_frames_letterbox_the_other_way(pose_models_dir):
    estimator = load_pose_estimator(pose_models_dir)
    pose = estimator.estimate(_bright(240, 320))[0]
    expected = expected_frame_point(*template()[0, :2], width=240, height=320)
    assert (pose.keypoints["nose"].x, pose.keypoints["nose"].y) == pytest.approx(expected, abs=1e-2)


def test_low_presence_means_nobody(pose_models_dir, tmp_path):
    folder = write_tiny_pose_models(tmp_path)
    onnx.save(landmark_model(presence=0.2), str(folder / LANDMARK_FILE))
    assert load_pose_estimator(folder).estimate(_bright()) == []
    assert len(load_pose_estimator(folder, settings=PoseSettings(min_presence=0.1)).estimate(_bright())) == 1


def test_landmark_adapter_without_refinement(pose_models_dir):
    model = load_model("pose_landmarks", pose_models_dir, refine=False)
    assert isinstance(model, PoseLandmarkModel) and not model.refine


def test_wrong_model_is_refused(pose_models_dir, tmp_path):
    (tmp_path / DETECTOR_FILE).write_bytes((pose_models_dir / LANDMARK_FILE).read_bytes())
    with pytest.raises(ModelCorruptError, match="pose_detector"):
        load_model("pose_detector", tmp_path)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        PoseSettings(max_people=0)

"""Body keypoints with the real BlazePose weights on the shared portraits (skipped without LIVEMATTE_MODELS)."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.core.media.image_io import load_image
from app.core.body.pose import load_pose_estimator

pytestmark = pytest.mark.real_models

PORTRAITS = ("bgmatting_0001_img.png", "bgmatting_1000_img.png", "rembg_girl-1.jpg", "rembg_girl-2.jpg", "rembg_girl-3.jpg")
FACING = ("bgmatting_0001_img.png", "bgmatting_1000_img.png", "rembg_girl-1.jpg", "rembg_girl-3.jpg")
SQUARE_ON = ("bgmatting_0001_img.png", "bgmatting_1000_img.png", "rembg_girl-1.jpg")  # shoulders face the camera


@pytest.fixture(scope="module")
def poses(real_models_dir, portraits_dir):
    estimator = load_pose_estimator(real_models_dir)
    return {name: estimator.estimate(load_image(portraits_dir / name)) for name in PORTRAITS}


@pytest.mark.parametrize("name", PORTRAITS)
def test_one_person_per_portrait(poses, name):
    assert len(poses[name]) == 1
    assert poses[name][0].score > 0.9


@pytest.mark.parametrize("name", PORTRAITS)
def test_nose_above_neck_above_hips_where_visible(poses, name):
    pose = poses[name][0]
    nose, neck = pose.visible("nose"), pose.visible("neck")
    assert nose is not None and neck is not None
    assert nose.y < neck.y
    hips = [p for p in (pose.visible("left_hip"), pose.visible("right_hip")) if p is not None]
    assert all(neck.y < hip.y for hip in hips)
    top = pose.keypoints["top_head"]
    assert top.y < nose.y


@pytest.mark.parametrize("name", FACING)
def test_left_is_the_persons_left(poses, name):
    # facing the camera, the person's left eye appears on the image's right
    pose = poses[name][0]
    assert pose.keypoints["left_eye"].x > pose.keypoints["right_eye"].x


@pytest.mark.parametrize("name", SQUARE_ON)
def test_shoulders_by_the_persons_side(poses, name):
    pose = poses[name][0]
    assert pose.visible("left_shoulder").x > pose.visible("right_shoulder").x


def test_raised_arms_have_wrists_above_the_head(poses):
    pose = poses["rembg_girl-1.jpg"][0]  # both arms up
    for side in ("left", "right"):
        assert pose.visible(f"{side}_wrist").y < pose.keypoints["nose"].y


def test_close_up_body_parts_off_frame_are_low_not_missing(poses):
    pose = poses["bgmatting_0001_img.png"][0]  # head and shoulders: ankles are guesses
    assert pose.keypoints["left_ankle"].score < 0.5
    box = pose.box
    assert box.y + box.height <= 1080 and box.x >= 0


def test_cli_still_keypoints_with_real_models(real_models_dir, portraits_dir, tmp_path):
    code = main(["still", str(portraits_dir / "rembg_girl-1.jpg"), "-o", str(tmp_path), "--outputs", "keypoints",
                 "--models-dir", str(real_models_dir), "--no-progress"])
    assert code == 0
    data = json.loads((tmp_path / "rembg_girl-1.keypoints.json").read_text())
    assert data["person_num"] == 1 and data["width"] == 600
    assert data["person_info"][0]["body_parts"]["nose"]["score"] > 0.9

"""Tiny stand-ins for the BlazePose detector and lite landmark model (real tensor names, dtypes, ranks).

- Detector: "a bright frame has a person". Two neighbouring anchors of one
  stride-16 cell fire when the frame's mean brightness is above ~0.1; their
  alignment keypoints straddle HIP/CIRCLE (normalised to the 224 letterboxed
  input) so that the weighted NMS average lands exactly on them. A black frame
  finds nobody.
- Landmarks: always TEMPLATE (an upright person in 256-crop pixels, the
  person's left on the crop's right), presence PRESENCE, a flat heatmap (no
  refinement). Ankles and heels have a low visibility.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.tiny_models import _const, _model

DETECTOR_FILE = "mediapipe_pose_detection_224x224.onnx"
LANDMARK_FILE = "mediapipe_pose_landmark_lite_256x256.onnx"

# Stride-16 grid (14x14) cell x=7, y=8: anchors 1568 + (8*14 + 7)*2 and the next one.
ANCHORS = (1806, 1807)
ANCHOR_CENTRE = (7.5 / 14, 8.5 / 14)
HIP = (0.5, 0.6)  # normalised to the 224 letterboxed input
CIRCLE = (0.5, 0.2)
SPREAD = 0.01  # the two anchors' keypoints sit at ±SPREAD around the targets
PRESENCE = 0.97
LOW_VISIBILITY = ("left_ankle", "right_ankle")


def detector_raw_boxes() -> np.ndarray:
    """1×2254×12 raw box/keypoint offsets (224-pixel units relative to the anchor)."""
    raw = np.zeros((1, 2254, 12), np.float32)
    ax, ay = ANCHOR_CENTRE
    for anchor, sign in zip(ANCHORS, (-1.0, 1.0)):
        shift = sign * SPREAD
        targets = [HIP, CIRCLE, (0.5, 0.45), (0.5, 0.3)]  # kp2/kp3 (shoulders) are not used by the ROI
        raw[0, anchor, 0:4] = ((0.5 + shift - ax) * 224, (0.45 - ay) * 224, 0.2 * 224, 0.2 * 224)
        for k, (x, y) in enumerate(targets):
            raw[0, anchor, 4 + 2 * k] = (x + shift - ax) * 224
            raw[0, anchor, 5 + 2 * k] = (y + shift - ay) * 224
    return raw


def detector_model() -> onnx.ModelProto:
    base = np.full((1, 2254, 1), -10.0, np.float32)
    mask = np.zeros((1, 2254, 1), np.float32)
    for anchor in ANCHORS:
        base[0, anchor, 0], mask[0, anchor, 0] = -2.0, 40.0
    nodes = [
        helper.make_node("ReduceMean", ["input_1"], ["mean"], keepdims=0),  # [-1, 1]
        _const("one", np.array(1.0, np.float32)), _const("half", np.array(0.5, np.float32)),
        helper.make_node("Add", ["mean", "one"], ["m2"]),
        helper.make_node("Mul", ["m2", "half"], ["bright"]),  # [0, 1]
        _const("base", base), _const("mask", mask),
        helper.make_node("Mul", ["mask", "bright"], ["bump"]),
        helper.make_node("Add", ["base", "bump"], ["Identity_1"]),
        _const("zero", np.array(0.0, np.float32)),
        helper.make_node("Mul", ["bright", "zero"], ["z"]),
        _const("boxes", detector_raw_boxes()),
        helper.make_node("Add", ["boxes", "z"], ["Identity"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 224, 224, 3])],
        [helper.make_tensor_value_info("Identity", TensorProto.FLOAT, [1, 2254, 12]),
         helper.make_tensor_value_info("Identity_1", TensorProto.FLOAT, [1, 2254, 1])],
        "tiny_pose_detector",
    )


def template() -> np.ndarray:
    """39×5 rows (x, y, z, visibility logit, presence logit) in 256-crop pixels."""
    rows = np.zeros((39, 5), np.float32)
    rows[:, 3:5] = 8.0
    places = {
        0: (128, 50),  # nose
        1: (133, 44), 2: (136, 44), 3: (139, 44),  # person's left eye: crop right
        4: (123, 44), 5: (120, 44), 6: (117, 44),
        7: (146, 48), 8: (110, 48),  # ears
        9: (134, 60), 10: (122, 60),  # mouth left / right
        11: (160, 80), 12: (96, 80),  # shoulders
        13: (170, 110), 14: (86, 110), 15: (175, 140), 16: (81, 140),  # elbows, wrists
        17: (176, 146), 18: (80, 146), 19: (177, 148), 20: (79, 148), 21: (174, 145), 22: (82, 145),
        23: (145, 128), 24: (111, 128),  # hips
        25: (146, 170), 26: (110, 170), 27: (147, 210), 28: (109, 210),  # knees, ankles
        29: (147, 215), 30: (109, 215), 31: (150, 218), 32: (106, 218),
        33: (128, 128), 34: (128, 0),
    }
    for i, (x, y) in places.items():
        rows[i, :2] = (x, y)
    rows[[27, 28, 29, 30], 3] = -4.0  # ankles and heels barely visible
    return rows


def landmark_model(presence: float = PRESENCE) -> onnx.ModelProto:
    nodes = [
        helper.make_node("ReduceMean", ["input_1"], ["mean"], keepdims=0),
        _const("zero", np.array(0.0, np.float32)),
        helper.make_node("Mul", ["mean", "zero"], ["z"]),
        _const("template", template().reshape(1, 195)),
        helper.make_node("Add", ["template", "z"], ["Identity"]),
        _const("presence", np.full((1, 1), presence, np.float32)),
        helper.make_node("Add", ["presence", "z"], ["Identity_1"]),
        _const("s0", np.array([0], np.int64)), _const("s1", np.array([1], np.int64)), _const("s3", np.array([3], np.int64)),
        helper.make_node("Slice", ["input_1", "s0", "s1", "s3"], ["red"]),
        helper.make_node("Mul", ["red", "zero"], ["Identity_2"]),
        _const("flat", np.array(-10.0, np.float32)),
        _const("hm_shape", np.array([1, 64, 64, 39], np.int64)),
        helper.make_node("Add", ["flat", "z"], ["flat_z"]),
        helper.make_node("Expand", ["flat_z", "hm_shape"], ["Identity_3"]),
        _const("world", np.zeros((1, 117), np.float32)),
        helper.make_node("Add", ["world", "z"], ["Identity_4"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 256, 256, 3])],
        [helper.make_tensor_value_info("Identity", TensorProto.FLOAT, [1, 195]),
         helper.make_tensor_value_info("Identity_1", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("Identity_2", TensorProto.FLOAT, [1, 256, 256, 1]),
         helper.make_tensor_value_info("Identity_3", TensorProto.FLOAT, [1, 64, 64, 39]),
         helper.make_tensor_value_info("Identity_4", TensorProto.FLOAT, [1, 117])],
        "tiny_pose_landmarks",
    )


TINY_POSE_MODELS = {DETECTOR_FILE: detector_model, LANDMARK_FILE: landmark_model}


def write_tiny_pose_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in TINY_POSE_MODELS.items():
        onnx.save(build(), str(folder / name))
    return folder


def expected_frame_point(u: float, v: float, width: int = 320, height: int = 240) -> tuple[float, float]:
    """Where template point (u, v) lands in a width×height frame (upright ROI from HIP/CIRCLE)."""
    scale = 224 / max(width, height)
    cw, ch = round(width * scale), round(height * scale)
    ox, oy = (224 - cw) // 2, (224 - ch) // 2

    def to_frame(x: float, y: float) -> tuple[float, float]:
        return (x * 224 - ox) * width / cw, (y * 224 - oy) * height / ch

    hip, circle = to_frame(*HIP), to_frame(*CIRCLE)
    side = 2 * abs(hip[1] - circle[1]) * 1.25
    return hip[0] + (u / 256 - 0.5) * side, hip[1] + (v / 256 - 0.5) * side

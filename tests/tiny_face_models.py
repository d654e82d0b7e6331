"""Tiny stand-ins for YuNet, the face mesh and the hair model (real tensor names, dtypes, ranks).

- YuNet: "bright red is a face": the stride-32 score is the mean red of each
  32×32 cell, boxes are 4 cells wide; strides 8 and 16 never fire.
- Face mesh: always returns TEMPLATE (a drawn face: known eye/brow/lip/nose
  places, the person's left on the crop's right) and presence logit 8.
- Hair: "green is hair": logit = (green - 0.5)·30.
- Person (the selfie segmenter's signature, replacing tests.tiny_models' "red
  is person" where both are written): "bright red or green is person": logit =
  (max(red, green) - 0.7)·30, so the face and its hair are person; a dull
  green (150) is hair to the hair model but no person.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from app.core.face.regions import (
    FACE_OVAL, LEFT_EYE, LEFT_EYEBROW, LIPS_LOWER_INNER, LIPS_LOWER_OUTER, LIPS_UPPER_INNER, LIPS_UPPER_OUTER,
    NOSE_POINTS, RIGHT_EYE, RIGHT_EYEBROW, ring_from_edges,
)
from tests.tiny_models import _const, _model

YUNET_FILE = "face_detection_yunet_2026may.onnx"
MESH_FILE = "mediapipe_face_landmark_468_192x192.onnx"
HAIR_FILE = "mediapipe_hair_segmentation_512x512.onnx"
PERSON_FILE = "mediapipe_selfie_segmentation_256x256.onnx"


def _ellipse(indices, cx, cy, rx, ry, start=np.pi, end=-np.pi) -> dict[int, tuple[float, float]]:
    angles = np.linspace(start, end, len(indices), endpoint=len(indices) > 0 and start - end < 2 * np.pi - 1e-6)
    return {i: (cx + rx * np.cos(a), cy + ry * np.sin(a)) for i, a in zip(indices, angles)}


def _arc(indices, x0, x1, y_mid, bulge) -> dict[int, tuple[float, float]]:
    """Points from x0 to x1, y = y_mid + bulge·(1 - t²) (bulge < 0 bows up)."""
    t = np.linspace(-1, 1, len(indices))
    xs = np.linspace(x0, x1, len(indices))
    return {i: (x, y_mid + bulge * (1 - s * s)) for i, x, s in zip(indices, xs, t)}


def template_points() -> np.ndarray:
    """468×3 landmarks in 192×192 crop pixels for an upright frontal face."""
    points = np.zeros((468, 3), np.float32)
    points[:, :2] = 96.0
    placed: dict[int, tuple[float, float]] = {}
    placed.update(_ellipse(ring_from_edges(FACE_OVAL), 96, 100, 58, 76, -np.pi / 2, 1.5 * np.pi))
    placed.update(_ellipse(ring_from_edges(RIGHT_EYE), 70, 82, 13, 6))  # person's right: image left
    placed.update(_ellipse(ring_from_edges(LEFT_EYE), 122, 82, 13, 6))
    for edges, x0, x1 in ((RIGHT_EYEBROW, 52, 86), (LEFT_EYEBROW, 140, 106)):
        lower = [edges[0][0]] + [b for _, b in edges[:4]]
        upper = [edges[4][0]] + [b for _, b in edges[4:8]]
        placed.update(_arc(lower, x0, x1, 68, -3))
        placed.update(_arc(upper, x0, x1, 62, -3))
    outline, midline = NOSE_POINTS[:21], NOSE_POINTS[21:]  # bridge sides, walls, alae, base / the ridge
    nose = _ellipse(outline, 96, 104, 11, 18)
    for k, i in enumerate(midline):
        nose[i] = (96.0, 84.0 + 4.0 * k)
    placed.update(nose)
    # where the skin model samples: upper and mid cheeks, chin, forehead (person's right on the image left)
    placed.update({50: (70.0, 100.0), 280: (122.0, 100.0), 205: (72.0, 116.0), 425: (120.0, 116.0),
                   199: (96.0, 164.0), 151: (96.0, 45.0)})
    placed.update(_arc(LIPS_UPPER_OUTER, 78, 114, 140, -6))
    placed.update(_arc(LIPS_UPPER_INNER, 80, 112, 142, -1))
    placed.update(_arc(LIPS_LOWER_INNER, 80, 112, 144, 1))
    placed.update(_arc(LIPS_LOWER_OUTER, 78, 114, 142, 8))
    for i, (x, y) in placed.items():
        points[i, :2] = (x, y)
    return points


def yunet_model() -> onnx.ModelProto:
    nodes, outputs = [], []
    nodes += [
        _const("r_s", np.array([2], np.int64)), _const("r_e", np.array([3], np.int64)), _const("r_a", np.array([1], np.int64)),
        helper.make_node("Slice", ["input", "r_s", "r_e", "r_a"], ["red"]),  # BGR input: channel 2 is red
        _const("inv255", np.array(1 / 255.0, np.float32)),
        helper.make_node("Mul", ["red", "inv255"], ["red01"]),
        _const("flat", np.array([1, -1, 1], np.int64)),
        _const("zero", np.array(0.0, np.float32)),
        _const("logsize", np.array(np.log(4.0), np.float32)),
        _const("eye_dy", np.array(-0.5, np.float32)),
    ]
    for s in (8, 16, 32):
        nodes += [
            helper.make_node("AveragePool", ["red01"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Reshape", [f"pool{s}", "flat"], [f"score{s}"]),
            helper.make_node("Mul", [f"score{s}", "zero"], [f"z{s}"]),
            helper.make_node("Identity" if s == 32 else "Mul", [f"score{s}"] if s == 32 else [f"score{s}", "zero"], [f"cls_{s}"]),
            helper.make_node("Identity", [f"cls_{s}"], [f"obj_{s}"]),
            helper.make_node("Add", [f"z{s}", "logsize"], [f"l{s}"]),
            helper.make_node("Concat", [f"z{s}", f"z{s}", f"l{s}", f"l{s}"], [f"bbox_{s}"], axis=2),
            helper.make_node("Add", [f"z{s}", "eye_dy"], [f"e{s}"]),
            helper.make_node("Concat", [f"z{s}", f"e{s}"] * 2 + [f"z{s}"] * 6, [f"kps_{s}"], axis=2),
        ]
    for kind, width in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)):
        for s in (8, 16, 32):
            outputs.append(helper.make_tensor_value_info(f"{kind}_{s}", TensorProto.FLOAT, [1, "anchors", width]))
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])
    return _model(nodes, [image], outputs, "tiny_yunet")


def face_mesh_model() -> onnx.ModelProto:
    template = template_points().reshape(1, 1, 1, 1404)
    nodes = [
        helper.make_node("ReduceMean", ["input_1"], ["mean"], keepdims=1),  # keeps the input in the graph
        _const("zero", np.array(0.0, np.float32)),
        helper.make_node("Mul", ["mean", "zero"], ["z"]),
        _const("template", template.astype(np.float32)),
        helper.make_node("Add", ["template", "z"], ["conv2d_21"]),
        _const("logit", np.full((1, 1, 1, 1), 8.0, np.float32)),
        helper.make_node("Add", ["logit", "z"], ["conv2d_31"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 192, 192, 3])],
        [helper.make_tensor_value_info("conv2d_21", TensorProto.FLOAT, [1, 1, 1, 1404]),
         helper.make_tensor_value_info("conv2d_31", TensorProto.FLOAT, [1, 1, 1, 1])],
        "tiny_face_mesh",
    )


def hair_model() -> onnx.ModelProto:
    nodes = [
        _const("g_s", np.array([1], np.int64)), _const("g_e", np.array([2], np.int64)), _const("g_a", np.array([3], np.int64)),
        helper.make_node("Slice", ["input_1", "g_s", "g_e", "g_a"], ["green"]),
        _const("half", np.array(0.5, np.float32)), _const("k", np.array(15.0, np.float32)),
        helper.make_node("Sub", ["green", "half"], ["c"]),
        helper.make_node("Mul", ["c", "k"], ["hair"]),
        helper.make_node("Neg", ["hair"], ["back"]),
        helper.make_node("Concat", ["back", "hair"], ["output_1"], axis=3),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 512, 512, 4])],
        [helper.make_tensor_value_info("output_1", TensorProto.FLOAT, [1, 512, 512, 2])],
        "tiny_hair",
    )


def person_model() -> onnx.ModelProto:
    nodes = [
        _const("rg_s", np.array([0], np.int64)), _const("rg_e", np.array([2], np.int64)), _const("rg_a", np.array([3], np.int64)),
        helper.make_node("Slice", ["input_1:0", "rg_s", "rg_e", "rg_a"], ["red_green"]),
        helper.make_node("ReduceMax", ["red_green"], ["brightest"], axes=[3], keepdims=1),  # opset 17: axes attribute
        _const("limit", np.array(0.7, np.float32)), _const("k", np.array(30.0, np.float32)),
        helper.make_node("Sub", ["brightest", "limit"], ["c"]),
        helper.make_node("Mul", ["c", "k"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["activation_10"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [1, 256, 256, 3])],
        [helper.make_tensor_value_info("activation_10", TensorProto.FLOAT, [1, 256, 256, 1])],
        "tiny_person",
    )


TINY_FACE_MODELS = {YUNET_FILE: yunet_model, MESH_FILE: face_mesh_model, HAIR_FILE: hair_model, PERSON_FILE: person_model}


def write_tiny_face_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in TINY_FACE_MODELS.items():
        onnx.save(build(), str(folder / name))
    return folder


def face_image(width: int = 320, height: int = 256) -> np.ndarray:
    """Blue background, a red 64×64 'face' on the 32-px grid at (128, 128), green 'hair' above it."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (20, 40, 120)
    image[64:120, 112:208] = (30, 220, 40)  # hair
    image[128:192, 128:192] = (240, 60, 50)  # face
    return image

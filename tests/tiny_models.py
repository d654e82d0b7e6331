"""Tiny ONNX models with the real models' exact tensor names, dtypes and ranks.

They make "red means person": alpha is high where the red channel is bright.
Built with onnx.helper (IR and opset pinned so the installed ONNX Runtime
accepts them), so the real loading, contract checks and state recycling run
without any download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17
STEEPNESS = 30.0


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name))


def _model(nodes, inputs, outputs, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="livematte-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _red_logit(src: str, axis: int, out: str, offset: float, scale: float) -> list[onnx.NodeProto]:
    """out = (red - offset) * scale, red = channel 0 along ``axis`` (kept)."""
    return [
        _const(f"{out}_s", np.array([0], np.int64)),
        _const(f"{out}_e", np.array([1], np.int64)),
        _const(f"{out}_a", np.array([axis], np.int64)),
        helper.make_node("Slice", [src, f"{out}_s", f"{out}_e", f"{out}_a"], [f"{out}_red"]),
        _const(f"{out}_o", np.array(offset, np.float32)),
        _const(f"{out}_k", np.array(scale, np.float32)),
        helper.make_node("Sub", [f"{out}_red", f"{out}_o"], [f"{out}_c"]),
        helper.make_node("Mul", [f"{out}_c", f"{out}_k"], [out]),
    ]


def rvm_model(dtype: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """RVM signature: src, r1i..r4i, downsample_ratio -> fgr, pha, r1o..r4o.

    Each state output is the red channel at the real model's state size
    (floor(size x ratio), then halved rounding up per level), expanded to the
    real channel count, plus the state input: states from another frame size
    fail to broadcast exactly as the real model does, and a state fed back
    accumulates, so recycling is observable.
    """
    nodes = _red_logit("src", 1, "logit", 0.5, STEEPNESS)
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["pha"]))
    nodes.append(helper.make_node("Identity", ["src"], ["fgr"]))
    nodes.append(helper.make_node("Slice", ["src", "logit_s", "logit_e", "logit_a"], ["red_src"]))
    if dtype == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", ["red_src"], ["red"], to=TensorProto.FLOAT))
    else:
        nodes.append(helper.make_node("Identity", ["red_src"], ["red"]))
    nodes.append(_const("ones2", np.array([1.0, 1.0], np.float32)))
    nodes.append(helper.make_node("Concat", ["ones2", "downsample_ratio", "downsample_ratio"], ["scales"], axis=0))
    nodes.append(helper.make_node("Resize", ["red", "", "scales"], ["small0"], mode="nearest"))
    for k, channels in enumerate((16, 20, 40, 64), start=1):
        nodes += [
            # halving that rounds up, as the real model's strided convolutions do
            helper.make_node("MaxPool", [f"small{k - 1}"], [f"small{k}"], kernel_shape=[1, 1], strides=[2, 2],
                             ceil_mode=1),
            _const(f"shape{k}", np.array([1, channels, 1, 1], np.int64)),
            helper.make_node("Expand", [f"small{k}", f"shape{k}"], [f"big{k}"]),
        ]
        if dtype == TensorProto.FLOAT16:
            nodes.append(helper.make_node("Cast", [f"big{k}"], [f"bigc{k}"], to=dtype))
        else:
            nodes.append(helper.make_node("Identity", [f"big{k}"], [f"bigc{k}"]))
        nodes.append(helper.make_node("Add", [f"bigc{k}", f"r{k}i"], [f"r{k}o"]))
    if dtype == TensorProto.FLOAT16:
        nodes = [n for n in nodes if n.output != ["pha"]]
        for n in nodes:
            if n.op_type == "Constant" and n.output[0] in ("logit_o", "logit_k"):
                n.attribute[0].t.CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(n.attribute[0].t).astype(np.float16), n.output[0]))
        nodes.append(helper.make_node("Sigmoid", ["logit"], ["pha"]))
    image = lambda name, c: helper.make_tensor_value_info(name, dtype, ["batch", c, "height", "width"])  # noqa: E731
    inputs = [image("src", 3)] + [image(f"r{k}i", f"r{k}c") for k in range(1, 5)]
    inputs.append(helper.make_tensor_value_info("downsample_ratio", TensorProto.FLOAT, [1]))
    outputs = [image("fgr", 3), image("pha", 1)] + [image(f"r{k}o", c) for k, c in zip(range(1, 5), (16, 20, 40, 64))]
    return _model(nodes, inputs, outputs, "tiny_rvm")


def selfie_model() -> onnx.ModelProto:
    nodes = _red_logit("input_1:0", 3, "logit", 0.5, STEEPNESS)
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["activation_10"]))
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [1, 256, 256, 3])],
        [helper.make_tensor_value_info("activation_10", TensorProto.FLOAT, [1, 256, 256, 1])],
        "tiny_selfie",
    )


def meet_model() -> onnx.ModelProto:
    nodes = _red_logit("input_1:0", 3, "person", 0.5, STEEPNESS)
    nodes.append(helper.make_node("Neg", ["person"], ["backgr"]))
    nodes.append(helper.make_node("Concat", ["backgr", "person"], ["segment:0"], axis=3))
    return _model(
        nodes,
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [1, 144, 256, 3])],
        [helper.make_tensor_value_info("segment:0", TensorProto.FLOAT, [1, 144, 256, 2])],
        "tiny_meet",
    )


def sinet_model() -> onnx.ModelProto:
    # the real input is (pixel - 102.89) / 16047.89 for red; undo it to get red in [0, 1]
    offset = (127.5 - 102.890434) / 16047.89
    nodes = _red_logit("data", 1, "person", offset, STEEPNESS * 16047.89 / 255.0)
    nodes.append(helper.make_node("Neg", ["person"], ["backgr"]))
    nodes.append(helper.make_node("Concat", ["backgr", "person"], ["logits"], axis=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["Softmax/1"], axis=1))
    return _model(
        nodes,
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("Softmax/1", TensorProto.FLOAT, [1, 2, 320, 320])],
        "tiny_sinet",
    )


TINY_MODELS = {
    "rvm_mobilenetv3_fp32.onnx": rvm_model,
    "mediapipe_selfie_segmentation_256x256.onnx": selfie_model,
    "mediapipe_meet_segmentation_144x256.onnx": meet_model,
    "sinet_softmax_simple_320x320.onnx": sinet_model,
}


def write_tiny_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, build in TINY_MODELS.items():
        onnx.save(build(), str(folder / file_name))
    return folder


def person_image(width: int = 320, height: int = 240) -> np.ndarray:
    """Dark blue background with a bright red ellipse (the 'person') in the middle."""
    import cv2

    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (20, 40, 120)
    cv2.ellipse(image, (width // 2, height // 2), (width // 5, height // 3), 0, 0, 360, (230, 90, 60), -1)
    return image

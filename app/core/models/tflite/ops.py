"""TFLite operators -> ONNX nodes, for exactly the operators the MediaPipe models use.

TFLite keeps activations NHWC; ONNX convolutions want NCHW. Rather than wrap
every convolution in two transposes, 4-D activations live NCHW inside the
graph (``Value.nchw``) and are transposed back to TFLite's layout only where an
operator's meaning depends on it (RESHAPE, a graph output). Constants are
folded while converting: DENSIFY (the reader already densified the data) and
DEQUANTIZE of fp16 weights become float32 initialisers, as in the reference
conversions (tf2onnx folds them the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from app.core.errors import ModelConversionError, UnsupportedOperatorError
from app.core.models.tflite.reader import Graph, Operator, Tensor

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


@dataclass(frozen=True)
class Value:
    """Where a TFLite tensor lives in the ONNX graph."""

    name: str
    nchw: bool = False  # a 4-D activation stored NCHW (TFLite's NHWC, permuted)


@dataclass
class Builder:
    """Collects nodes and initialisers in a fixed order, with names derived from the TFLite graph."""

    graph: Graph
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    values: dict[int, Value] = field(default_factory=dict)  # TFLite tensor index -> ONNX value
    constants: dict[int, np.ndarray] = field(default_factory=dict)  # folded TFLite constants
    _used: set[str] = field(default_factory=set)
    _native: dict[str, str] = field(default_factory=dict)  # NCHW value -> its NHWC transpose, made once

    def __post_init__(self) -> None:
        for tensor in self.graph.tensors:
            if tensor.data is not None:
                self.constants[tensor.index] = tensor.data

    # ---- names and nodes -----------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name not used yet: the hint, else hint_2, hint_3..."""
        name, n = hint, 1
        while name in self._used:
            n += 1
            name = f"{hint}_{n}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._used.add(name)

    def node(self, op_type: str, inputs: list[str], outputs: list[str], **attrs: object) -> None:
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=f"{op_type}_{len(self.nodes)}", **attrs))

    def initializer(self, array: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    # ---- operands -----------------------------------------------------------------------
    def constant(self, index: int) -> np.ndarray:
        """The folded value of a constant input.

        Raises:
            ModelConversionError: the input is computed, not constant.
        """
        if index not in self.constants:
            raise ModelConversionError(f"tensor '{self.tensor(index).name}' must be a constant here")
        return self.constants[index]

    def activation(self, index: int) -> Value:
        if index in self.values:
            return self.values[index]
        if index in self.constants:
            data = self.constants[index].astype(np.float32) if self.constants[index].dtype == np.float16 else self.constants[index]
            value = Value(self.initializer(data, self.tensor(index).name))
            self.values[index] = value
            return value
        raise ModelConversionError(f"tensor '{self.tensor(index).name}' is used before it is computed")

    def nchw(self, index: int) -> str:
        """A 4-D operand in NCHW (constants are broadcast to rank 4 first, as NHWC would)."""
        if index in self.constants and index not in self.values:
            data = self.constants[index].astype(np.float32)
            data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(TO_NCHW)
            return self.initializer(data, self.tensor(index).name)
        value = self.activation(index)
        if value.nchw:
            return value.name
        name = self.fresh(f"{value.name}_nchw")
        self.node("Transpose", [value.name], [name], perm=list(TO_NCHW))
        return name

    def native(self, index: int) -> str:
        """An operand in TFLite's own layout (NHWC for 4-D)."""
        value = self.activation(index)
        if not value.nchw:
            return value.name
        if value.name not in self._native:
            name = self.fresh(f"{value.name}_nhwc")
            self.node("Transpose", [value.name], [name], perm=list(TO_NHWC))
            self._native[value.name] = name
        return self._native[value.name]

    def output(self, op: Operator, nchw: bool, position: int = 0) -> str:
        """Names the ONNX value for ``op``'s output and records its layout."""
        index = op.outputs[position]
        name = self.fresh(self.tensor(index).name)
        self.values[index] = Value(name, nchw)
        return name

    def activate(self, name: str, activation: str | None, final: str) -> None:
        """Applies a fused activation from ``name`` into ``final`` (Identity-free when there is none)."""
        if activation is None:
            return
        if activation == "RELU":
            self.node("Relu", [name], [final])
        elif activation in ("RELU6", "RELU_N1_TO_1"):
            low, high = (0.0, 6.0) if activation == "RELU6" else (-1.0, 1.0)
            bounds = [self.initializer(np.array(v, np.float32), f"clip_{v:g}") for v in (low, high)]
            self.node("Clip", [name, *bounds], [final])
        elif activation == "TANH":
            self.node("Tanh", [name], [final])
        else:
            raise UnsupportedOperatorError(f"fused activation {activation} is not supported")

    def emit(self, op: Operator, op_type: str, inputs: list[str], nchw: bool, **attrs: object) -> None:
        """One node for ``op``'s first output, followed by its fused activation if any."""
        final = self.output(op, nchw)
        activation = op.options.get("activation")
        raw = self.fresh(f"{final}_pre") if activation else final
        self.node(op_type, inputs, [raw], **attrs)
        self.activate(raw, activation, final)


# ---- helpers -------------------------------------------------------------------------------


def same_pads(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> list[int]:
    """TensorFlow's SAME padding as ONNX pads [top, left, bottom, right] (extra pixel at the end)."""
    begin, end = [], []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def _spatial(builder: Builder, index: int) -> tuple[int, int]:
    shape = builder.tensor(index).shape
    if len(shape) != 4:
        raise ModelConversionError(f"tensor '{builder.tensor(index).name}' should be 4-D NHWC, is {shape}")
    return shape[1], shape[2]


def _pads(builder: Builder, op: Operator, kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> list[int]:
    if op.options["padding"] == "VALID":
        return [0, 0, 0, 0]
    return same_pads(_spatial(builder, op.inputs[0]), kernel, op.options["stride"], dilation)


def _bias(builder: Builder, op: Operator) -> list[str]:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return [builder.initializer(builder.constant(op.inputs[2]).astype(np.float32), builder.tensor(op.inputs[2]).name)]
    return []


# ---- operators -----------------------------------------------------------------------------


def conv_2d(builder: Builder, op: Operator) -> None:
    weights = builder.constant(op.inputs[1]).astype(np.float32).transpose(TO_NCHW)  # OHWI -> OIHW
    kernel = (weights.shape[2], weights.shape[3])
    dilation = op.options["dilation"]
    w = builder.initializer(weights, builder.tensor(op.inputs[1]).name)
    builder.emit(
        op, "Conv", [builder.nchw(op.inputs[0]), w, *_bias(builder, op)], True,
        kernel_shape=list(kernel), strides=list(op.options["stride"]), dilations=list(dilation),
        pads=_pads(builder, op, kernel, dilation),
    )


def depthwise_conv_2d(builder: Builder, op: Operator) -> None:
    weights = builder.constant(op.inputs[1]).astype(np.float32)  # 1HW(C*multiplier)
    channels = builder.tensor(op.inputs[0]).shape[3]
    onnx_weights = weights.transpose(3, 0, 1, 2)  # -> (C*m)1HW, group = C
    kernel = (weights.shape[1], weights.shape[2])
    dilation = op.options["dilation"]
    w = builder.initializer(onnx_weights, builder.tensor(op.inputs[1]).name)
    builder.emit(
        op, "Conv", [builder.nchw(op.inputs[0]), w, *_bias(builder, op)], True,
        kernel_shape=list(kernel), strides=list(op.options["stride"]), dilations=list(dilation),
        pads=_pads(builder, op, kernel, dilation), group=channels,
    )


def max_pool_2d(builder: Builder, op: Operator) -> None:
    kernel = op.options["filter"]
    builder.emit(
        op, "MaxPool", [builder.nchw(op.inputs[0])], True,
        kernel_shape=list(kernel), strides=list(op.options["stride"]), pads=_pads(builder, op, kernel),
    )


def _elementwise(builder: Builder, op: Operator, op_type: str) -> None:
    rank = len(builder.tensor(op.outputs[0]).shape)
    if rank == 4:
        builder.emit(op, op_type, [builder.nchw(i) for i in op.inputs], True)
    else:
        builder.emit(op, op_type, [builder.native(i) for i in op.inputs], False)


def add(builder: Builder, op: Operator) -> None:
    _elementwise(builder, op, "Add")


def prelu(builder: Builder, op: Operator) -> None:
    _elementwise(builder, op, "PRelu")


def logistic(builder: Builder, op: Operator) -> None:
    value = builder.activation(op.inputs[0])
    builder.emit(op, "Sigmoid", [value.name], value.nchw)


def concatenation(builder: Builder, op: Operator) -> None:
    rank = len(builder.tensor(op.outputs[0]).shape)
    axis = op.options["axis"] % rank
    if rank == 4:
        builder.emit(op, "Concat", [builder.nchw(i) for i in op.inputs], True, axis=TO_NCHW.index(axis))
    else:
        builder.emit(op, "Concat", [builder.native(i) for i in op.inputs], False, axis=axis)


def pad(builder: Builder, op: Operator) -> None:
    paddings = builder.constant(op.inputs[1]).astype(np.int64)  # [rank, 2] in TFLite's layout
    if len(paddings) == 4:
        nchw = paddings[list(TO_NCHW)]
        pads = builder.initializer(np.concatenate([nchw[:, 0], nchw[:, 1]]), f"{builder.tensor(op.inputs[1]).name}_pads")
        builder.emit(op, "Pad", [builder.nchw(op.inputs[0]), pads], True)
    else:
        pads = builder.initializer(np.concatenate([paddings[:, 0], paddings[:, 1]]), f"{builder.tensor(op.inputs[1]).name}_pads")
        builder.emit(op, "Pad", [builder.native(op.inputs[0]), pads], False)


def reshape(builder: Builder, op: Operator) -> None:
    # the output tensor's static shape says it all (the shape input may hold a -1)
    shape = np.array(builder.tensor(op.outputs[0]).shape, dtype=np.int64)
    target = builder.initializer(shape, f"{builder.tensor(op.outputs[0]).name}_shape")
    builder.emit(op, "Reshape", [builder.native(op.inputs[0]), target], False)


def resize_bilinear(builder: Builder, op: Operator) -> None:
    height, width = (int(v) for v in builder.constant(op.inputs[1]))
    batch, _, _, channels = builder.tensor(op.inputs[0]).shape
    sizes = builder.initializer(np.array([batch, channels, height, width], np.int64), f"{builder.tensor(op.outputs[0]).name}_sizes")
    if op.options["align_corners"]:
        mode = "align_corners"
    elif op.options["half_pixel_centers"]:
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    builder.emit(
        op, "Resize", [builder.nchw(op.inputs[0]), "", "", sizes], True,
        mode="linear", coordinate_transformation_mode=mode,
    )


def depth_to_space(builder: Builder, op: Operator) -> None:
    # TensorFlow's depth_to_space is ONNX's DCR order
    builder.emit(op, "DepthToSpace", [builder.nchw(op.inputs[0])], True, blocksize=op.options["block_size"], mode="DCR")


def dequantize(builder: Builder, op: Operator) -> None:
    source = builder.tensor(op.inputs[0])
    if op.inputs[0] not in builder.constants or source.dtype != np.float16:
        raise UnsupportedOperatorError(
            f"DEQUANTIZE of '{source.name}' ({source.dtype}, {'constant' if op.inputs[0] in builder.constants else 'computed'}) "
            "is not supported; only fp16 constants are"
        )
    builder.constants[op.outputs[0]] = builder.constants[op.inputs[0]].astype(np.float32)


def densify(builder: Builder, op: Operator) -> None:
    builder.constants[op.outputs[0]] = builder.constant(op.inputs[0])  # the reader densified the data


def max_pooling_with_argmax_2d(builder: Builder, op: Operator) -> None:
    """MediaPipe's custom op -> MaxPool with its Indices output.

    MediaPipe's index is the position inside the window, ONNX's a flat tensor
    index; each index tensor only feeds the matching MaxUnpooling2D, so the pair
    is equivalent (both keep the first maximum in scan order).
    """
    kernel = (op.options["filter_h"], op.options["filter_w"])
    stride = (op.options["stride_h"], op.options["stride_w"])
    pads = [0, 0, 0, 0] if op.options["padding"] == "VALID" else same_pads(_spatial(builder, op.inputs[0]), kernel, stride, (1, 1))
    values = builder.output(op, True, 0)
    indices = builder.output(op, True, 1)
    builder.node("MaxPool", [builder.nchw(op.inputs[0])], [values, indices], kernel_shape=list(kernel), strides=list(stride), pads=pads)


def max_unpooling_2d(builder: Builder, op: Operator) -> None:
    kernel = (op.options["filter_h"], op.options["filter_w"])
    stride = (op.options["stride_h"], op.options["stride_w"])
    indices = builder.activation(op.inputs[1])
    if not indices.nchw:
        raise ModelConversionError("MaxUnpooling2D: the indices must come from MaxPoolingWithArgmax2D")
    builder.emit(op, "MaxUnpool", [builder.nchw(op.inputs[0]), indices.name], True, kernel_shape=list(kernel), strides=list(stride))


def convolution_2d_transpose_bias(builder: Builder, op: Operator) -> None:
    """MediaPipe's transposed convolution with bias -> ConvTranspose.

    MediaPipe's SAME rule (transpose_conv_bias.cc): p = max(0, k - (in-1) mod s - 1),
    cropped p//2 at the start and the rest at the end.
    """
    weights = builder.constant(op.inputs[1]).astype(np.float32)  # OHWI
    kernel = (weights.shape[1], weights.shape[2])
    stride = (op.options["stride_h"], op.options["stride_w"])
    size = _spatial(builder, op.inputs[0])
    begin, end = [], []
    for n, k, s in zip(size, kernel, stride):
        total = max(0, k - (n - 1) % s - 1) if op.options["padding"] == "SAME" else 0
        begin.append(total // 2)
        end.append(total - total // 2)
    w = builder.initializer(weights.transpose(3, 0, 1, 2), builder.tensor(op.inputs[1]).name)  # -> IOHW
    builder.emit(
        op, "ConvTranspose", [builder.nchw(op.inputs[0]), w, *_bias(builder, op)], True,
        kernel_shape=list(kernel), strides=list(stride), pads=begin + end,
    )


Converter = Callable[[Builder, Operator], None]

# The operators this converter implements: the union of what MediaPipe's hair
# segmentation, pose detection, pose landmark (lite) and face landmark models use.
OPERATORS: dict[str, Converter] = {
    "ADD": add,
    "CONCATENATION": concatenation,
    "CONV_2D": conv_2d,
    "DENSIFY": densify,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "DEPTH_TO_SPACE": depth_to_space,
    "DEQUANTIZE": dequantize,
    "LOGISTIC": logistic,
    "MAX_POOL_2D": max_pool_2d,
    "PAD": pad,
    "PRELU": prelu,
    "RESHAPE": reshape,
    "RESIZE_BILINEAR": resize_bilinear,
    # MediaPipe custom operators (mediapipe/util/tflite/operations/)
    "MaxPoolingWithArgmax2D": max_pooling_with_argmax_2d,
    "MaxUnpooling2D": max_unpooling_2d,
    "Convolution2DTransposeBias": convolution_2d_transpose_bias,
}

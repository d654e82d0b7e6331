"""Reads a TFLite flatbuffer into plain dataclasses (tensors with numpy data, operators).

The flatbuffer is parsed with the ``tflite`` package (the generated schema
classes, published on PyPI); nothing here runs TensorFlow. Sparse constant
tensors (the pose detector keeps 38 fp16 weights in TFLite's sparse format
behind DENSIFY ops) are densified here from their ``SparsityParameters``, so
the converter only ever sees dense constants.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import tflite

from app.core.errors import ModelConversionError

# TensorType -> numpy dtype (little-endian, as the flatbuffer stores them)
_DTYPES = {
    tflite.TensorType.FLOAT32: np.dtype("<f4"),
    tflite.TensorType.FLOAT16: np.dtype("<f2"),
    tflite.TensorType.INT32: np.dtype("<i4"),
    tflite.TensorType.INT64: np.dtype("<i8"),
    tflite.TensorType.UINT8: np.dtype("u1"),
    tflite.TensorType.INT8: np.dtype("i1"),
}
_BUILTIN_NAMES = {code: name for name, code in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
_CUSTOM = tflite.BuiltinOperator.CUSTOM
_PADDING = {tflite.Padding.SAME: "SAME", tflite.Padding.VALID: "VALID"}
_ACTIVATIONS = {
    tflite.ActivationFunctionType.NONE: None,
    tflite.ActivationFunctionType.RELU: "RELU",
    tflite.ActivationFunctionType.RELU_N1_TO_1: "RELU_N1_TO_1",
    tflite.ActivationFunctionType.RELU6: "RELU6",
    tflite.ActivationFunctionType.TANH: "TANH",
}


@dataclass(frozen=True)
class Tensor:
    """One TFLite tensor: static shape, dtype, and its data when it is a constant."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None  # dense, already reshaped to ``shape``


@dataclass(frozen=True)
class Operator:
    """One TFLite operator: ``kind`` is the builtin name (CONV_2D) or the custom code."""

    index: int
    kind: str
    inputs: tuple[int, ...]  # tensor indices; -1 = optional input left out
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    custom: bool = False


@dataclass(frozen=True)
class Graph:
    """The first subgraph of a TFLite model."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def read_tflite(data: bytes) -> Graph:
    """Parses a TFLite flatbuffer.

    Args:
        data: the file's bytes.

    Returns:
        The first subgraph, constants densified.

    Raises:
        ModelConversionError: not a TFLite flatbuffer, several subgraphs, or a
            tensor type or sparsity layout this reader does not know.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelConversionError("not a TFLite file (no TFL3 identifier)")
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise ModelConversionError(f"expected one subgraph, found {model.SubgraphsLength()}")
        graph = model.Subgraphs(0)
        tensors = tuple(_tensor(model, graph.Tensors(i), i) for i in range(graph.TensorsLength()))
        operators = tuple(_operator(model, graph.Operators(i), i) for i in range(graph.OperatorsLength()))
        inputs = tuple(int(i) for i in graph.InputsAsNumpy())
        outputs = tuple(int(i) for i in graph.OutputsAsNumpy())
    except ModelConversionError:
        raise
    except Exception as exc:  # a truncated or foreign flatbuffer fails deep inside the generated code
        raise ModelConversionError(f"cannot parse the TFLite flatbuffer: {exc!r}") from exc
    return Graph(tensors, operators, inputs, outputs)


def _tensor(model: tflite.Model, tensor: tflite.Tensor, index: int) -> Tensor:
    name = tensor.Name().decode("utf-8", "replace")
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    kind = tensor.Type()
    if kind not in _DTYPES:
        raise ModelConversionError(f"tensor '{name}' has TFLite type {kind}, which is not supported")
    dtype = _DTYPES[kind]
    buffer = model.Buffers(tensor.Buffer())
    raw = buffer.DataAsNumpy() if buffer is not None and buffer.DataLength() else None
    if raw is None or isinstance(raw, int):
        return Tensor(index, name, shape, dtype)
    values = np.frombuffer(raw.tobytes(), dtype=dtype)
    sparsity = tensor.Sparsity()
    data = densify(values, shape, sparsity) if sparsity is not None else values.reshape(shape)
    return Tensor(index, name, shape, dtype, data)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity: tflite.SparsityParameters) -> np.ndarray:
    """The dense array of a sparse TFLite constant (TFLite's FormatConverter, vectorised).

    TFLite stores a sparse tensor as a walk over ``traversal_order`` (the original
    dimensions, then block dimensions named by ``block_map``); each level is
    DENSE (every index 0..dense_size-1) or SPARSE_CSR (the indices listed in
    ``array_indices`` between ``array_segments[parent]`` and the next segment).
    ``values`` holds the non-zeros in that walk's order.

    Raises:
        ModelConversionError: the parameters do not describe ``values``.
    """
    order = [int(v) for v in sparsity.TraversalOrderAsNumpy()] if sparsity.TraversalOrderLength() else []
    block_map = [int(v) for v in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    levels = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    rank = len(shape)
    if len(order) != len(levels) or len(order) != rank + len(block_map):
        raise ModelConversionError("sparse tensor: traversal order, block map and dimension metadata disagree")
    block_sizes = [levels[rank + i].DenseSize() for i in range(len(block_map))]
    position = np.zeros(1, dtype=np.int64)  # index into the current level, per path walked so far
    coords: list[np.ndarray] = []  # per level: the coordinate of every path
    for level in levels:
        if level.Format() == tflite.DimensionType.DENSE:
            size = level.DenseSize()
            position = (position[:, None] * size + np.arange(size)).reshape(-1)
            coords = [np.repeat(c, size) for c in coords] + [np.tile(np.arange(size), len(coords[0]) if coords else 1)]
        else:
            segments = _index_vector(level.ArraySegmentsType(), level.ArraySegments())
            indices = _index_vector(level.ArrayIndicesType(), level.ArrayIndices())
            starts, ends = segments[position], segments[position + 1]
            counts = ends - starts
            # every path p expands into positions starts[p] .. ends[p]-1
            position = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
            coords = [np.repeat(c, counts) for c in coords] + [indices[position]]
    if len(position) != values.size:
        raise ModelConversionError(f"sparse tensor: {values.size} values for {len(position)} positions")
    dense_index = [np.zeros(len(position), dtype=np.int64) for _ in range(rank)]
    for level, dim in enumerate(order[:rank]):
        dense_index[dim] = coords[level]
    for level in range(rank, len(order)):
        block = order[level] - rank
        dim = block_map[block]
        dense_index[dim] = dense_index[dim] * block_sizes[block] + coords[level]
    dense = np.zeros(shape, dtype=values.dtype)
    dense[tuple(dense_index)] = values
    return dense


def _index_vector(kind: int, table: Any) -> np.ndarray:
    """An Int32Vector / Uint16Vector / Uint8Vector union member as an int64 array."""
    classes = {
        tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
        tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
        tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector,
    }
    if kind not in classes or table is None:
        raise ModelConversionError(f"sparse tensor: unknown index vector type {kind}")
    vector = classes[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64) if vector.ValuesLength() else np.zeros(0, np.int64)


# ---- operators ----------------------------------------------------------------------------


def _operator(model: tflite.Model, op: tflite.Operator, index: int) -> Operator:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # old files only fill the deprecated byte
    inputs = tuple(int(i) for i in op.InputsAsNumpy()) if op.InputsLength() else ()
    outputs = tuple(int(i) for i in op.OutputsAsNumpy()) if op.OutputsLength() else ()
    if builtin == _CUSTOM:
        name = code.CustomCode().decode("utf-8", "replace")
        raw = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
        return Operator(index, name, inputs, outputs, _custom_options(raw), custom=True)
    kind = _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
    reader = _OPTION_READERS.get(kind)
    options = reader[1](_table(op, reader[0])) if reader else {}
    return Operator(index, kind, inputs, outputs, options)


def _custom_options(raw: bytes) -> dict[str, Any]:
    """MediaPipe's custom ops store a raw C struct (TfLitePoolParams / TfLiteTransposeConvParams).

    Both start with ``padding, stride_width, stride_height`` (int32); the pool
    params go on with ``filter_width, filter_height, activation``.
    """
    ints = struct.unpack_from(f"<{len(raw) // 4}i", raw) if len(raw) >= 12 else ()
    padding = {1: "SAME", 2: "VALID"}.get(ints[0]) if ints else None
    options: dict[str, Any] = {"raw": raw, "padding": padding}
    if len(ints) >= 3:
        options.update(stride_w=ints[1], stride_h=ints[2])
    if len(ints) >= 6:
        options.update(filter_w=ints[3], filter_h=ints[4], activation=_ACTIVATIONS.get(ints[5], f"#{ints[5]}"))
    return options


def _table(op: tflite.Operator, cls: type) -> Any:
    table = op.BuiltinOptions()
    if table is None:
        return None
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return options


def _activation(value: int) -> str | None:
    if value not in _ACTIVATIONS:
        raise ModelConversionError(f"fused activation {value} is not supported")
    return _ACTIVATIONS[value]


def _conv(o: tflite.Conv2DOptions) -> dict[str, Any]:
    return {
        "padding": _PADDING[o.Padding()], "stride": (o.StrideH(), o.StrideW()),
        "dilation": (o.DilationHFactor(), o.DilationWFactor()), "activation": _activation(o.FusedActivationFunction()),
    }


def _depthwise(o: tflite.DepthwiseConv2DOptions) -> dict[str, Any]:
    return {
        "padding": _PADDING[o.Padding()], "stride": (o.StrideH(), o.StrideW()),
        "dilation": (o.DilationHFactor(), o.DilationWFactor()), "multiplier": o.DepthMultiplier(),
        "activation": _activation(o.FusedActivationFunction()),
    }


def _pool(o: tflite.Pool2DOptions) -> dict[str, Any]:
    return {
        "padding": _PADDING[o.Padding()], "stride": (o.StrideH(), o.StrideW()),
        "filter": (o.FilterHeight(), o.FilterWidth()), "activation": _activation(o.FusedActivationFunction()),
    }


def _add(o: tflite.AddOptions | None) -> dict[str, Any]:
    return {"activation": _activation(o.FusedActivationFunction()) if o is not None else None}


def _concat(o: tflite.ConcatenationOptions) -> dict[str, Any]:
    return {"axis": o.Axis(), "activation": _activation(o.FusedActivationFunction())}


def _resize(o: tflite.ResizeBilinearOptions | None) -> dict[str, Any]:
    if o is None:
        return {"align_corners": False, "half_pixel_centers": False}
    return {"align_corners": bool(o.AlignCorners()), "half_pixel_centers": bool(o.HalfPixelCenters())}


def _depth_to_space(o: tflite.DepthToSpaceOptions) -> dict[str, Any]:
    return {"block_size": o.BlockSize()}


# builtin op -> (its options table class, the function that reads it into a dict)
_OPTION_READERS: dict[str, tuple[type, Callable[[Any], dict[str, Any]]]] = {
    "CONV_2D": (tflite.Conv2DOptions, _conv),
    "DEPTHWISE_CONV_2D": (tflite.DepthwiseConv2DOptions, _depthwise),
    "MAX_POOL_2D": (tflite.Pool2DOptions, _pool),
    "ADD": (tflite.AddOptions, _add),
    "CONCATENATION": (tflite.ConcatenationOptions, _concat),
    "RESIZE_BILINEAR": (tflite.ResizeBilinearOptions, _resize),
    "DEPTH_TO_SPACE": (tflite.DepthToSpaceOptions, _depth_to_space),
}

"""TFLite -> ONNX, deterministic: the same TFLite bytes always give the same ONNX bytes.

Nothing in the output depends on the time, the machine or the installed onnx
version (IR version, opset and producer are pinned; node and value names come
from the TFLite graph and a counter), so the manifest can pin the converted
file's SHA-256 and :mod:`app.core.models.fetch` can check it.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from app.core.errors import ModelConversionError, UnsupportedOperatorError
from app.core.models.tflite.ops import OPERATORS, TO_NCHW, Builder, Value
from app.core.models.tflite.reader import Graph, read_tflite

CONVERTER_VERSION = "1"  # bump when the output bytes change (and update the manifest's hashes)
OPSET = 13
IR_VERSION = 8  # what ONNX Runtime >= 1.14 reads
_ONNX_TYPES = {np.dtype("<f4"): TensorProto.FLOAT, np.dtype("<i4"): TensorProto.INT32, np.dtype("<i8"): TensorProto.INT64}


@dataclass(frozen=True)
class ConversionOptions:
    """What to call the converted graph's tensors.

    ``input_names`` / ``output_names`` rename the TFLite graph's inputs and
    outputs by position (the manifest's tensor contract); None keeps the TFLite
    names. ``metadata`` becomes the model's metadata_props, in the given order.
    """

    input_names: Sequence[str] | None = None
    output_names: Sequence[str] | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    graph_name: str = "converted"


def unsupported_operators(graph: Graph) -> list[str]:
    """The operator kinds in ``graph`` this converter does not implement (sorted, each once)."""
    return sorted({op.kind for op in graph.operators if op.kind not in OPERATORS})


def convert_graph(graph: Graph, options: ConversionOptions = ConversionOptions()) -> onnx.ModelProto:
    """Builds the ONNX model for a parsed TFLite graph.

    Raises:
        UnsupportedOperatorError: the graph uses an operator not in :data:`OPERATORS`.
        ModelConversionError: an operator is used in a way the converter does not handle.
    """
    unknown = unsupported_operators(graph)
    if unknown:
        counts = Counter(op.kind for op in graph.operators if op.kind in unknown)
        listed = ", ".join(f"{kind} (x{counts[kind]})" for kind in unknown)
        raise UnsupportedOperatorError(
            f"the TFLite model uses operators the converter does not support: {listed}; "
            f"supported: {', '.join(sorted(OPERATORS))}"
        )
    builder = Builder(graph)
    inputs = _graph_inputs(builder, graph, options.input_names)
    output_tensors = [graph.tensors[i] for i in graph.outputs]
    output_names = _names(len(output_tensors), options.output_names, [t.name for t in output_tensors], "output")
    for name in output_names:
        builder.reserve(name)  # no internal value may take a graph output's name
    for op in graph.operators:
        try:
            OPERATORS[op.kind](builder, op)
        except (KeyError, IndexError, ValueError) as exc:
            raise ModelConversionError(f"operator #{op.index} {op.kind}: cannot convert ({exc!r})") from exc
    outputs = _graph_outputs(builder, graph, output_names)
    onnx_graph = helper.make_graph(builder.nodes, options.graph_name, inputs, outputs, builder.initializers)
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
        producer_name="livematte-tflite", producer_version=CONVERTER_VERSION,
    )
    for key, value in options.metadata:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def _names(count: int, wanted: Sequence[str] | None, tflite_names: list[str], kind: str) -> list[str]:
    if wanted is None:
        return tflite_names
    if len(wanted) != count:
        raise ModelConversionError(f"the TFLite model has {count} {kind}s, the contract names {len(wanted)}")
    return list(wanted)


def _graph_inputs(builder: Builder, graph: Graph, wanted: Sequence[str] | None) -> list[onnx.ValueInfoProto]:
    tensors = [graph.tensors[i] for i in graph.inputs]
    names = _names(len(tensors), wanted, [t.name for t in tensors], "input")
    infos = []
    for tensor, name in zip(tensors, names):
        builder.reserve(name)
        infos.append(helper.make_tensor_value_info(name, _onnx_type(tensor.dtype, tensor.name), list(tensor.shape)))
        if len(tensor.shape) == 4:
            nchw = builder.fresh(f"{name}_nchw")
            builder.node("Transpose", [name], [nchw], perm=list(TO_NCHW))
            builder.values[tensor.index] = Value(nchw, True)
        else:
            builder.values[tensor.index] = Value(name)
    return infos


def _graph_outputs(builder: Builder, graph: Graph, names: list[str]) -> list[onnx.ValueInfoProto]:
    tensors = [graph.tensors[i] for i in graph.outputs]
    infos = []
    for tensor, name in zip(tensors, names):
        value = builder.activation(tensor.index)
        if value.nchw:  # one transpose straight into the output name
            builder.node("Transpose", [value.name], [name], perm=[0, 2, 3, 1])
        else:
            builder.node("Identity", [value.name], [name])
        infos.append(helper.make_tensor_value_info(name, _onnx_type(tensor.dtype, tensor.name), list(tensor.shape)))
    return infos


def _onnx_type(dtype: np.dtype, name: str) -> int:
    if dtype not in _ONNX_TYPES:
        raise ModelConversionError(f"graph input/output '{name}' has type {dtype}, not supported")
    return _ONNX_TYPES[dtype]


def convert_tflite(data: bytes, options: ConversionOptions = ConversionOptions()) -> bytes:
    """Converts TFLite bytes to serialised ONNX bytes (deterministic).

    Raises:
        ModelConversionError: unreadable file, or a construct the converter does not handle.
        UnsupportedOperatorError: an operator outside :data:`OPERATORS`.
    """
    model = convert_graph(read_tflite(data), options)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # a converter bug, never the user's fault; say what
        raise ModelConversionError(f"the converted graph is not valid ONNX: {str(exc).splitlines()[0]}") from exc
    return model.SerializeToString(deterministic=True)


def convert_file(source: Path, target: Path, options: ConversionOptions = ConversionOptions()) -> str:
    """Converts ``source`` (.tflite) into ``target`` (.onnx), written atomically.

    The ONNX bytes go to ``<target>.tmp`` first and are renamed into place, so a
    failed conversion never leaves a file under ``target``.

    Returns:
        The SHA-256 of the written file.

    Raises:
        ModelConversionError, UnsupportedOperatorError: see :func:`convert_tflite`.
        OSError: the source cannot be read or the target folder not written.
    """
    converted = convert_tflite(Path(source).read_bytes(), options)
    temporary = target.with_name(target.name + ".tmp")
    try:
        with open(temporary, "wb") as sink:
            sink.write(converted)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return hashlib.sha256(converted).hexdigest()

"""The TFLite converter on tiny hand-made graphs: layout, SAME padding, folding, refusals."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from app.core.errors import ModelConversionError, UnsupportedOperatorError
from app.core.models.tflite import OPERATORS, ConversionOptions, convert_graph, convert_tflite
from app.core.models.tflite.ops import same_pads
from app.core.models.tflite.reader import Graph, Operator, Tensor

F32, F16 = np.dtype("<f4"), np.dtype("<f2")


def run(graph: Graph, x: np.ndarray, **options) -> list[np.ndarray]:
    model = convert_graph(graph, ConversionOptions(**options))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def conv_graph(height: int, width: int, stride: int, weights: np.ndarray, activation: str | None = None) -> Graph:
    """input NHWC [1,H,W,1] -> CONV_2D 3x3 SAME (fp16 weights behind DEQUANTIZE) -> output."""
    out_h, out_w = -(-height // stride), -(-width // stride)
    tensors = (
        Tensor(0, "image", (1, height, width, 1), F32),
        Tensor(1, "w16", weights.shape, F16, weights.astype(np.float16)),
        Tensor(2, "w", weights.shape, F32),
        Tensor(3, "bias", (weights.shape[0],), F32, np.full(weights.shape[0], -100.0, np.float32)),
        Tensor(4, "conv", (1, out_h, out_w, weights.shape[0]), F32),
    )
    operators = (
        Operator(0, "DEQUANTIZE", (1,), (2,)),
        Operator(1, "CONV_2D", (0, 2, 3), (4,), {
            "padding": "SAME", "stride": (stride, stride), "dilation": (1, 1), "activation": activation}),
    )
    return Graph(tensors, operators, (0,), (4,))


def tf_same_conv_ones(image: np.ndarray, stride: int) -> np.ndarray:
    """A 3x3 all-ones convolution with TensorFlow's SAME padding (extra row/column at the end)."""
    height, width = image.shape
    pads = same_pads((height, width), (3, 3), (stride, stride), (1, 1))
    padded = np.pad(image, ((pads[0], pads[2]), (pads[1], pads[3])))
    out_h, out_w = -(-height // stride), -(-width // stride)
    return np.array([[padded[r * stride:r * stride + 3, c * stride:c * stride + 3].sum()
                      for c in range(out_w)] for r in range(out_h)], np.float32)


def test_same_padding_puts_the_odd_pixel_at_the_end_and_counts_dilation():
    assert same_pads((4, 4), (3, 3), (2, 2), (1, 1)) == [0, 0, 1, 1]
    assert same_pads((5, 5), (3, 3), (2, 2), (1, 1)) == [1, 1, 1, 1]
    assert same_pads((32, 32), (3, 3), (1, 1), (4, 4)) == [4, 4, 4, 4]


@pytest.mark.parametrize("size, stride", [((4, 6), 2), ((5, 5), 2), ((6, 4), 1)])
def test_conv_matches_tensorflow_same_padding_and_keeps_nhwc_outside(size, stride):
    image = np.arange(size[0] * size[1], dtype=np.float32).reshape(size)
    weights = np.ones((2, 3, 3, 1), np.float32)  # OHWI, two identical filters
    (out,) = run(conv_graph(*size, stride, weights), image[None, :, :, None])
    expected = tf_same_conv_ones(image, stride) - 100.0
    assert out.shape == (1, *expected.shape, 2)
    np.testing.assert_allclose(out[0, :, :, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(out[0, :, :, 1], expected, rtol=1e-6)


def test_fused_relu_and_contract_names():
    image = np.arange(16, dtype=np.float32).reshape(4, 4) * 10.0  # some sums above the -100 bias, some below
    weights = np.ones((1, 3, 3, 1), np.float32)
    (out,) = run(conv_graph(4, 4, 1, weights, "RELU"), image[None, :, :, None],
                 input_names=["input_1"], output_names=["output_1"])
    np.testing.assert_allclose(out[0, :, :, 0], np.maximum(tf_same_conv_ones(image, 1) - 100.0, 0.0), rtol=1e-6)
    assert out.min() == 0.0
    model = convert_graph(conv_graph(4, 4, 1, weights), ConversionOptions(input_names=["a"], output_names=["b"]))
    assert [i.name for i in model.graph.input] == ["a"] and [o.name for o in model.graph.output] == ["b"]


def test_unknown_operator_is_refused_by_name():
    graph = Graph(
        (Tensor(0, "x", (1, 4), F32), Tensor(1, "y", (1, 4), F32)), (Operator(0, "SOFTMAX", (0,), (1,)),), (0,), (1,)
    )
    with pytest.raises(UnsupportedOperatorError) as info:
        convert_graph(graph)
    assert "SOFTMAX (x1)" in str(info.value) and "CONV_2D" in str(info.value)
    assert "SOFTMAX" not in OPERATORS


def test_dequantize_of_int8_weights_is_refused():
    tensors = (
        Tensor(0, "x", (1, 4), F32), Tensor(1, "q", (1, 4), np.dtype("i1"), np.ones((1, 4), np.int8)),
        Tensor(2, "w", (1, 4), F32), Tensor(3, "y", (1, 4), F32),
    )
    operators = (Operator(0, "DEQUANTIZE", (1,), (2,)), Operator(1, "ADD", (0, 2), (3,), {"activation": None}))
    graph = Graph(tensors, operators, (0,), (3,))
    with pytest.raises(UnsupportedOperatorError, match="only fp16 constants"):
        convert_graph(graph)


def test_a_file_that_is_not_tflite_is_a_typed_error():
    with pytest.raises(ModelConversionError, match="not a TFLite file"):
        convert_tflite(b"\x08\x07not a flatbuffer at all")


# ---- sparse constants (TFLite SparsityParameters, built as a real flatbuffer) ----------


def sparsity(traversal: list[int], block_map: list[int], levels: list[tuple]):
    """A SparsityParameters table; each level is ("dense", size) or ("csr", segments, indices)."""
    import flatbuffers
    import tflite

    builder = flatbuffers.Builder(256)

    def ints(values, start_vector):
        start_vector(builder, len(values))
        for value in reversed(values):
            builder.PrependInt32(value)
        return builder.EndVector()

    def index_vector(values):
        vector = ints(values, tflite.Int32VectorStartValuesVector)
        tflite.Int32VectorStart(builder)
        tflite.Int32VectorAddValues(builder, vector)
        return tflite.Int32VectorEnd(builder)

    tables = []
    for level in levels:
        if level[0] == "csr":
            segments, indices = index_vector(level[1]), index_vector(level[2])
        tflite.DimensionMetadataStart(builder)
        if level[0] == "dense":
            tflite.DimensionMetadataAddFormat(builder, tflite.DimensionType.DENSE)
            tflite.DimensionMetadataAddDenseSize(builder, level[1])
        else:
            tflite.DimensionMetadataAddFormat(builder, tflite.DimensionType.SPARSE_CSR)
            tflite.DimensionMetadataAddArraySegmentsType(builder, tflite.SparseIndexVector.Int32Vector)
            tflite.DimensionMetadataAddArraySegments(builder, segments)
            tflite.DimensionMetadataAddArrayIndicesType(builder, tflite.SparseIndexVector.Int32Vector)
            tflite.DimensionMetadataAddArrayIndices(builder, indices)
        tables.append(tflite.DimensionMetadataEnd(builder))
    order = ints(traversal, tflite.SparsityParametersStartTraversalOrderVector)
    blocks = ints(block_map, tflite.SparsityParametersStartBlockMapVector)
    tflite.SparsityParametersStartDimMetadataVector(builder, len(tables))
    for table in reversed(tables):
        builder.PrependUOffsetTRelative(table)
    metadata = builder.EndVector()
    tflite.SparsityParametersStart(builder)
    tflite.SparsityParametersAddTraversalOrder(builder, order)
    tflite.SparsityParametersAddBlockMap(builder, blocks)
    tflite.SparsityParametersAddDimMetadata(builder, metadata)
    builder.Finish(tflite.SparsityParametersEnd(builder))
    return tflite.SparsityParameters.GetRootAs(builder.Output(), 0)


def test_densify_csr_rows():
    from app.core.models.tflite.reader import densify

    params = sparsity([0, 1], [], [("dense", 3), ("csr", [0, 3, 3, 5], [0, 2, 3, 0, 3])])
    dense = densify(np.array([6, 9, 8, 5, 7], np.float16), (3, 4), params)
    np.testing.assert_array_equal(dense, [[6, 0, 9, 8], [0, 0, 0, 0], [5, 0, 0, 7]])


def test_densify_2x2_blocks():
    """TFLite's own block example: a 4x4 matrix stored as its non-zero 2x2 blocks."""
    from app.core.models.tflite.reader import densify

    params = sparsity([0, 1, 2, 3], [0, 1], [("dense", 2), ("csr", [0, 2, 3], [0, 1, 1]), ("dense", 2), ("dense", 2)])
    dense = densify(np.array([1, 0, 0, 4, 2, 3, 0, 0, 5, 0, 0, 6], np.float16), (4, 4), params)
    np.testing.assert_array_equal(dense, [[1, 0, 2, 3], [0, 4, 0, 0], [0, 0, 5, 0], [0, 0, 0, 6]])


def test_densify_refuses_values_that_do_not_fit():
    from app.core.models.tflite.reader import densify

    params = sparsity([0, 1], [], [("dense", 3), ("csr", [0, 3, 3, 5], [0, 2, 3, 0, 3])])
    with pytest.raises(ModelConversionError, match="4 values for 5 positions"):
        densify(np.ones(4, np.float16), (3, 4), params)

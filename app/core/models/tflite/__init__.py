"""A small TFLite -> ONNX converter for the MediaPipe models the app uses.

MediaPipe publishes these models only as TFLite. The app downloads the
official file and converts it on the user's machine (see
:mod:`app.core.models.fetch`). Only the operators those models use are
implemented (:data:`OPERATORS`); any other operator is refused with
:class:`~app.core.errors.UnsupportedOperatorError`.
"""

from app.core.models.tflite.convert import (
    CONVERTER_VERSION,
    ConversionOptions,
    convert_file,
    convert_graph,
    convert_tflite,
    unsupported_operators,
)
from app.core.models.tflite.ops import OPERATORS
from app.core.models.tflite.reader import read_tflite

__all__ = [
    "CONVERTER_VERSION",
    "OPERATORS",
    "ConversionOptions",
    "convert_file",
    "convert_graph",
    "convert_tflite",
    "read_tflite",
    "unsupported_operators",
]

"""One exception family with stable codes.

Every error a user can cause or fix is a ``LiveMatteError``; its ``code`` is a
stable string for programs and its ``exit_code`` is what the CLI returns.
"No person found" is deliberately *not* an error: it is an all-zero alpha.
"""

from __future__ import annotations


class LiveMatteError(Exception):
    """Base of all expected errors; the message says what to do."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.path}: {message}" if self.path else message


class InputError(LiveMatteError):
    code = "input_error"
    exit_code = 3


class UnreadableImageError(InputError):
    code = "unreadable_image"
    exit_code = 3


class UnsupportedFormatError(InputError):
    code = "unsupported_format"
    exit_code = 4


class ImageTooSmallError(InputError):
    code = "image_too_small"
    exit_code = 5


class ImageTooLargeError(InputError):
    code = "image_too_large"
    exit_code = 6


class FileTooLargeError(InputError):
    code = "file_too_large"
    exit_code = 7


class ModelError(LiveMatteError):
    code = "model_error"
    exit_code = 8


class ModelMissingError(ModelError):
    code = "model_missing"
    exit_code = 8


class ModelCorruptError(ModelError):
    code = "model_corrupt"
    exit_code = 9


class UnknownModelError(ModelError):
    code = "unknown_model"
    exit_code = 10


class ExportError(LiveMatteError):
    code = "export_error"
    exit_code = 11


class OutputExistsError(ExportError):
    code = "output_exists"
    exit_code = 12


class DiskFullError(ExportError):
    """No space left on the output's disk; nothing half-written is left behind."""

    code = "disk_full"
    exit_code = 11


class DeviceError(LiveMatteError):
    code = "device_error"
    exit_code = 13


class CameraUnavailableError(DeviceError):
    code = "camera_unavailable"
    exit_code = 14


class SettingsError(LiveMatteError):
    """A setting or option value that cannot be used (bad colour, bad ratio)."""

    code = "bad_setting"
    exit_code = 2


class UnreadableVideoError(InputError):
    """A video file that is missing, corrupt, or has no video stream."""

    code = "unreadable_video"
    exit_code = 15


class CameraStoppedError(DeviceError):
    """A camera that opened but stopped delivering frames (unplugged, taken by another app)."""

    code = "camera_stopped"
    exit_code = 16


class ExportCancelledError(ExportError):
    """The user stopped an export; nothing was left under the final name."""

    code = "cancelled"
    exit_code = 130


class DownloadError(ModelError):
    """A weight download failed; the message names the model, the URL and the target path.

    ``url`` is the address that failed. A partial file is kept next to the target
    (``<name>.part``) when the failure can be resumed by running the fetch again.
    """

    code = "download_failed"
    exit_code = 21

    def __init__(self, message: str, *, path: str | None = None, url: str | None = None) -> None:
        super().__init__(message, path=path)
        self.url = url


class DownloadCancelledError(DownloadError):
    """The user stopped a download; the partial file is kept so the next fetch resumes."""

    code = "download_cancelled"
    exit_code = 130


class VirtualCameraUnavailableError(DeviceError):
    """No virtual-camera backend could be opened; the message says what to install or run on this platform."""

    code = "virtual_camera_unavailable"
    exit_code = 23


class PresetError(SettingsError):
    """A preset that does not exist, cannot be read, or holds values the settings reject."""

    code = "bad_preset"
    exit_code = 24


class ModelConversionError(ModelCorruptError):
    """A publisher's file (TFLite) that the built-in converter cannot turn into ONNX."""

    code = "conversion_failed"
    exit_code = 9


class UnsupportedOperatorError(ModelConversionError):
    """The TFLite file uses an operator the converter does not implement; the message names it."""

    code = "unsupported_operator"
    exit_code = 9


class InferenceError(ModelError):
    """A model failed on one input (e.g. ONNX Runtime rejected its shape); other inputs go on."""

    code = "inference_failed"
    exit_code = 26


def _av_tag(tag: str) -> int:
    """FFmpeg's FFERRTAG: the four characters of an AVERROR code, as PyAV reports it (positive)."""
    return sum(ord(ch) << (8 * i) for i, ch in enumerate(tag))


# FFmpeg error codes a user meets, in words; PyAV shows them as "[Errno 1094995529] ..."
_AV_ERRORS = {
    _av_tag("INDA"): "the file is damaged or not a video (invalid data)",
    _av_tag("\xf8DEM"): "the container format is not supported",
    _av_tag("\xf8DEC"): "no decoder for this video's codec",
    _av_tag("\xf8ENC"): "no encoder for this codec",
    _av_tag("\xf8STR"): "the file has no such stream",
    _av_tag("EOF "): "the file ended early",
    _av_tag("PAWE"): "a feature of this file is not supported",
}


def media_error_text(exc: BaseException) -> str:
    """An OS or FFmpeg (PyAV) error in words, never '[Errno 1094995529] ...'.

    The path is left out: the LiveMatteError that carries this text has it.
    """
    errno = getattr(exc, "errno", None)
    if errno in _AV_ERRORS:
        return _AV_ERRORS[errno]
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return strerror[0].lower() + strerror[1:]
    return str(exc)

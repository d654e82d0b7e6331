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

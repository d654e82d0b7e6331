"""Writing files safely: temp file + rename, never clobbering without permission."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.core.errors import ExportError, OutputExistsError


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Writes ``data`` to ``path`` via a temp file in the same folder and a rename.

    A crash or error never leaves a truncated file under the final name.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        ExportError: the folder is not writable or the disk is full.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError("already exists; pass --overwrite to replace it", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write here ({exc.strerror or exc})", path=str(path)) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        publish(tmp, path, overwrite=overwrite)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Moves a finished temp file into place (no-clobber unless ``overwrite``).

    Raises:
        OutputExistsError, ExportError.
    """
    try:
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # atomic "create only if absent"
        except FileExistsError as exc:
            raise OutputExistsError("already exists; pass --overwrite to replace it", path=str(path)) from exc
        except OSError:
            if path.exists():  # filesystems without hard links
                raise OutputExistsError("already exists; pass --overwrite to replace it", path=str(path)) from None
            os.replace(tmp, path)
            return
        tmp.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write ({exc.strerror or exc})", path=str(path)) from exc


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a gray (H×W), RGB (H×W×3) or RGBA (H×W×4) uint8 image."""
    if image.ndim == 3:
        code = cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        image = cv2.cvtColor(image, code)
    # level 1: 40 % faster than 3 for 5 % more bytes on a 1080p cut-out
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ExportError("PNG encoding failed")
    return buf.tobytes()


def write_png(path: Path, image: np.ndarray, *, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, encode_png(image), overwrite=overwrite)


def write_json(path: Path, data: dict[str, Any], *, overwrite: bool = False) -> Path:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.errors import OutputExistsError
from app.core.media.writers import atomic_write_bytes, encode_png, write_png


def test_never_overwrites_without_permission(tmp_path):
    path = tmp_path / "user.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"precious"
    atomic_write_bytes(path, b"new", overwrite=True)
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["user.png"]  # no temp files left behind


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import app.core.media.writers as writers

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "link", boom)
    monkeypatch.setattr(writers.os, "replace", boom)
    with pytest.raises(writers.ExportError):
        atomic_write_bytes(tmp_path / "x.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_png_round_trip_keeps_channels(tmp_path):
    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    write_png(tmp_path / "a.png", rgba)
    back = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert back.shape == (6, 7, 4) and (back[..., 2] == 255).all() and (back[..., 3] == 128).all()
    gray = cv2.imdecode(np.frombuffer(encode_png(np.full((3, 3), 7, np.uint8)), np.uint8), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and (gray == 7).all()

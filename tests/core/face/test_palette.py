from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core.errors import OutputExistsError
from app.core.face.palette import PALETTE, colorize, encode_label_png, overlay, read_label_png, write_label_png


def _labels() -> np.ndarray:
    labels = np.zeros((40, 60), np.uint8)
    labels[:, :] = np.arange(60)[None, :] % 11
    return labels


def test_palette_matches_design():
    assert PALETTE.shape == (11, 3)
    assert PALETTE[1].tolist() == [0, 153, 255] and PALETTE[10].tolist() == [255, 0, 102]


def test_palette_png_round_trips_to_ids(tmp_path):
    labels = _labels()
    path = write_label_png(tmp_path / "x.labels.png", labels)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert image.getpalette()[: 33] == PALETTE.reshape(-1).tolist()
        shown = np.asarray(image.convert("RGB"))
    assert np.array_equal(read_label_png(path), labels)
    assert np.array_equal(shown, colorize(labels))
    with pytest.raises(OutputExistsError):
        write_label_png(path, labels)


def test_bad_label_ids_are_refused():
    with pytest.raises(ValueError):
        encode_label_png(np.full((4, 4), 11, np.uint8))
    with pytest.raises(ValueError):
        encode_label_png(np.zeros((4, 4), np.int32))


def test_overlay_opacity_and_background():
    frame = np.full((40, 60, 3), 100, np.uint8)
    labels = _labels()
    half = overlay(frame, labels, 0.5)
    assert np.array_equal(half[labels == 0], frame[labels == 0])  # background untouched
    px = half[0, 1].astype(int)
    assert np.all(np.abs(px - (PALETTE[1].astype(int) + 100) / 2) <= 1)
    assert np.array_equal(overlay(frame, labels, 0.0), frame)
    assert np.array_equal(overlay(frame, labels, 1.0)[labels > 0], colorize(labels)[labels > 0])
    with pytest.raises(ValueError):
        overlay(frame, labels, 1.5)

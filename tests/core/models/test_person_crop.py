"""The box around the person that the live RVM runs on."""

from __future__ import annotations

import numpy as np

from app.core.models import load_model
from app.core.models.person_crop import PersonCrop


def matte(width: int = 320, height: int = 180, box: tuple[int, int, int, int] | None = (150, 40, 170, 160)):
    alpha = np.zeros((height, width), np.float32)
    if box is not None:
        x0, y0, x1, y1 = box
        alpha[y0:y1, x0:x1] = 1.0
    return alpha


def test_box_around_a_small_person_with_margins():
    crop = PersonCrop(margin=0.5, min_side=0.3, refresh=0)
    assert crop.box is None  # the first run sees the whole frame
    crop.update(matte())
    x0, y0, x1, y1 = crop.box
    assert x0 < 150 and x1 > 170 and x1 - x0 >= 0.3 * 320  # at least 30 % of the width
    assert y0 == 0 and y1 == 180  # 120 px tall + 60 px margins each side: clipped to the frame
    assert (x1 - x0) * (y1 - y0) < 0.4 * 320 * 180


def test_box_stays_while_the_person_is_inside_and_moves_near_an_edge():
    crop = PersonCrop(refresh=0)
    crop.update(matte())
    first = crop.box
    crop.update(matte(box=(156, 40, 176, 160)))  # 6 px to the right: still well inside
    assert crop.box == first
    crop.update(matte(box=(first[2] - 22, 40, first[2] - 2, 160)))  # at the right cut edge
    assert crop.box != first and crop.box[2] > first[2]


def test_whole_frame_when_nobody_a_close_up_or_a_refresh():
    crop = PersonCrop(refresh=0)
    crop.update(matte())
    crop.update(matte(box=None))
    assert crop.box is None  # nobody found: look everywhere
    crop.update(matte(box=(40, 10, 280, 180)))
    assert crop.box is None  # a close-up: a box would be most of the frame
    refreshing = PersonCrop(refresh=3)
    boxes = []
    for _ in range(6):
        refreshing.update(matte())
        boxes.append(refreshing.box)
    assert [b is None for b in boxes] == [False, False, True, False, False, True]


def test_rvm_runs_on_the_box_with_the_same_matte(tiny_models_dir):
    """A small person in a wide frame: after the first run the model sees the box only, same alpha."""
    frame = np.zeros((180, 640, 3), np.uint8)
    frame[:] = (20, 40, 120)
    frame[40:160, 300:330] = (230, 90, 60)  # the tiny models' "person" is red
    whole = load_model("rvm", tiny_models_dir, downsample_ratio=0.5)
    cropped = load_model("rvm", tiny_models_dir, downsample_ratio=0.5, person_crop=True)
    for i in range(3):
        moved = np.roll(frame, 4 * i, axis=1)
        want, got = whole.infer(moved), cropped.infer(moved)
        assert got.alpha.shape == want.alpha.shape and got.foreground.shape == want.foreground.shape
        assert np.abs(got.alpha - want.alpha).max() < 0.02
        if i > 0:
            box = cropped._key[3]
            assert box is not None and (box[2] - box[0]) < 0.5 * 640  # the model saw under half the width

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


def wide_frame() -> np.ndarray:
    """640x180, a small person (the tiny models' "person" is red) in the middle of a blue wall."""
    frame = np.zeros((180, 640, 3), np.uint8)
    frame[:] = (20, 40, 120)
    frame[40:160, 300:330] = (230, 90, 60)
    return frame


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


def test_a_carried_mask_moves_the_box_earlier_and_is_not_a_run():
    """Between model runs the box follows the carried mask with more room at the edges than a run gets."""
    crop = PersonCrop(refresh=0)
    crop.update(matte())
    first = crop.box
    near_edge = matte(box=(first[2] - 30, 40, first[2] - 10, 160))  # 10 px from the cut edge (edge: 0.03 * 320)
    crop.follow(near_edge)
    assert crop.box != first and crop.box[2] > first[2]  # a run would have kept it (test above: 2 px moves it)
    crop.follow(matte(box=None))
    assert crop.box is None  # the carried mask lost the person: the next run looks everywhere
    assert crop.runs == 1  # the whole-frame refresh counts model runs only


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
    frame = wide_frame()
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


def test_a_box_move_carries_the_recurrent_state_along(tiny_models_dir):
    """Moving the box keeps what the model remembered, shifted to where it now lies (no restart)."""
    frame = wide_frame()
    model = load_model("rvm", tiny_models_dir, downsample_ratio=0.5, person_crop=True)
    model.infer(frame)
    model.infer(frame)  # on the box now; the tiny model's state accumulates the red channel
    before = model._key[3]
    state = [s.copy() for s in model._state]
    moved = np.roll(frame, 200, axis=1)  # the person runs to the box's right edge and beyond
    model.infer(moved)
    model.infer(moved)
    assert model._key[3] != before  # the box followed
    carried = model._state[0]
    assert carried.shape[2:] != (1, 1)  # not the zeros of a restart
    assert carried.max() > state[0].max()  # a restart would have started the sum over


def test_rvm_box_follows_a_mask_it_did_not_make(tiny_models_dir):
    """A reused frame's mask near the box's edge moves the box before the next run."""
    frame = wide_frame()
    model = load_model("rvm", tiny_models_dir, downsample_ratio=0.5, person_crop=True)
    model.infer(frame)
    box = model._crop.box
    carried = np.zeros((180, 640), np.float32)
    carried[40:160, box[2] - 30 : box[2] - 5] = 1.0  # the person reached the box's right edge
    model.follow(carried)
    assert model._crop.box[2] > box[2]
    moved = model._crop.box
    model.follow(np.zeros((90, 320), np.float32))  # not the size of the frames it is given: ignored
    assert model._crop.box == moved
    out = model.infer(np.roll(frame, 60, axis=1))
    assert out.alpha.shape == (180, 640) and model._key[3] == moved


def test_carry_state_shifts_each_level_by_its_own_scale():
    """A box 32 work px to the right at ratio 0.5: level k moves 16 / 2^k px; new ground is zero."""
    from app.core.models.rvm import carry_state, state_shapes

    old_box, new_box = (0, 0, 128, 64), (32, 0, 160, 64)
    shapes = state_shapes(64, 128, 0.5)
    assert shapes == [(16, 32), (8, 16), (4, 8), (2, 4)]
    state = []
    for h, w in shapes:
        tensor = np.zeros((1, 2, h, w), np.float32)
        tensor[..., w - 1] = 1.0  # a mark in the last column
        state.append(tensor)
    carried = carry_state(state, old_box, new_box, 0.5)
    for level, ((h, w), tensor) in enumerate(zip(shapes, carried), start=1):
        shift = 16 // 2**level
        assert tensor.shape == (1, 2, h, w)
        assert (tensor[..., w - 1 - shift] == 1.0).all()  # the mark moved left with the box moving right
        assert not tensor[..., w - shift:].any()  # what came into view starts from zero
    zeros = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    assert all(t is z for t, z in zip(carry_state(zeros, old_box, new_box, 0.5), zeros))

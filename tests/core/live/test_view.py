from __future__ import annotations

import numpy as np

from app.core.imaging.compose import BackgroundRenderer, parse_background
from app.core.matting.results import FrameResult
from app.core.live.view import ViewMode, render_view


def _result(h=20, w=30):
    alpha = np.zeros((h, w), np.float32)
    alpha[:, w // 2 :] = 1.0
    return FrameResult(alpha=alpha, foreground=np.full((h, w, 3), 200, np.uint8))


def test_each_view_mode_shape_and_content():
    frame = np.full((20, 30, 3), 10, np.uint8)
    result = _result()
    green = BackgroundRenderer(parse_background("#00ff00"))
    comp = render_view(frame, result, ViewMode.COMPOSITE, green)
    assert comp.shape == (20, 30, 3) and tuple(comp[0, 0]) == (0, 255, 0) and tuple(comp[0, -1]) == (200, 200, 200)
    alpha = render_view(frame, result, ViewMode.ALPHA, green)
    assert alpha.shape == (20, 30, 3) and alpha[0, 0, 0] == 0 and alpha[0, -1, 0] == 255
    fg = render_view(frame, result, ViewMode.FOREGROUND, green)
    assert fg.shape == (20, 30, 4) and fg[0, 0, 3] == 0
    side = render_view(frame, result, ViewMode.SIDE_BY_SIDE, green)
    assert side.shape == (20, 60, 3) and tuple(side[0, 0]) == (10, 10, 10)


def test_transparent_background_keeps_alpha():
    frame = np.full((20, 30, 3), 10, np.uint8)
    out = render_view(frame, _result(), ViewMode.COMPOSITE, BackgroundRenderer(parse_background("transparent")))
    assert out.shape == (20, 30, 4) and out[0, 0, 3] == 0 and out[0, -1, 3] == 255
    side = render_view(frame, _result(), ViewMode.SIDE_BY_SIDE, None)
    assert side.shape == (20, 60, 4) and side[0, 0, 3] == 255


def test_video_background_follows_the_timestamp(tmp_path):
    from app.core.live.processor import make_background
    from tests.clips import make_clip

    clip = make_clip(tmp_path / "bg.mp4", frames=12, audio=False)
    background = make_background(str(clip))
    frame = np.zeros((60, 80, 3), np.uint8)
    result = FrameResult(alpha=np.zeros((60, 80), np.float32), foreground=frame)
    first = render_view(frame, result, ViewMode.COMPOSITE, background, 0.0)
    later = render_view(frame, result, ViewMode.COMPOSITE, background, 0.3)
    assert first.shape == (60, 80, 3) and not np.array_equal(first, later)  # the background video moves
    background.close()


def test_part_box_labels_never_overlap():
    from app.core.live.view import _overlaps, place_labels

    # three boxes side by side at the same height (eyes and brows): labels above would collide
    boxes = [(40, 50, 30, 10), (55, 50, 30, 10), (70, 52, 30, 10), (40, 0, 20, 8)]
    sizes = [(40, 10)] * 4
    spots = place_labels(boxes, sizes, (200, 120))
    for i, a in enumerate(spots):
        assert 0 <= a[0] and a[0] + a[2] <= 200 and 0 <= a[1] and a[1] + a[3] <= 120
        for b in spots[i + 1:]:
            assert not _overlaps(a, b)


from __future__ import annotations

import numpy as np
import pytest

from app.core.models import load_model


@pytest.mark.parametrize("name", ["selfie", "meet", "sinet"])
def test_single_frame_models_give_full_size_alpha(tiny_models_dir, person_frame, name):
    model = load_model(name, tiny_models_dir)
    assert model.temporal is False and model.provider == "cpu"
    out = model.infer(person_frame)
    h, w = person_frame.shape[:2]
    assert out.alpha.shape == (h, w) and out.alpha.dtype == np.float32
    assert 0.0 <= out.alpha.min() and out.alpha.max() <= 1.0
    assert out.alpha[h // 2, w // 2] > 0.9 and out.alpha[5, 5] < 0.1
    assert out.foreground is None
    assert {"inference", "upsample"} <= out.timings.keys()


def test_upsampled_edge_follows_the_image(tiny_models_dir):
    """A sharp edge in a large frame must stay sharp after upsampling from 256x256."""
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, :] = (20, 40, 120)
    frame[:, 640:] = (230, 90, 60)  # right half is 'person'
    alpha = load_model("selfie", tiny_models_dir).infer(frame).alpha
    assert alpha[:, :620].max() < 0.1 and alpha[:, 660:].min() > 0.9
    # the 0.5 crossing sits on the image edge, and the ramp is narrower than
    # five model pixels (25 px here), so the 256x256 grid does not show
    row = alpha[360]
    assert abs(int(np.argmax(row > 0.5)) - 640) <= 3
    assert np.count_nonzero((row > 0.1) & (row < 0.9)) < 25


def test_live_fast_options_stay_close_to_the_default(tiny_models_dir):
    from app.core.models import load_model
    from tests.tiny_models import person_image

    frame = person_image(640, 480)
    default = load_model("selfie", tiny_models_dir).infer(frame).alpha
    fast = load_model("selfie", tiny_models_dir, guide_long_side=320, fast_resize=True).infer(frame).alpha
    assert fast.shape == default.shape and fast.dtype == np.float32
    assert float(np.abs(fast - default).mean()) < 0.02

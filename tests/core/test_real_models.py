"""Real weights on real photos (run when LIVEMATTE_MODELS points at them).

Boxes were chosen by looking at each photo: ``person`` lies well inside the
body (torso or face), ``background`` far from anyone. Pixel coordinates.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.media.image_io import load_image
from app.core.models import load_model
from app.core.matting.still import StillPipeline

pytestmark = pytest.mark.real_models

BOXES = {
    # name: (person boxes, background boxes) as (x0, y0, x1, y1)
    "bgmatting_0001_img.png": ([(780, 700, 930, 850)], [(0, 0, 300, 200), (1500, 100, 1900, 400)]),
    "rembg_girl-1.jpg": ([(200, 230, 250, 290)], [(450, 200, 590, 380)]),
    "rembg_girl-2.jpg": ([(320, 320, 380, 400)], [(0, 0, 200, 150), (560, 250, 710, 470)]),
    "rembg_girl-3.jpg": ([(360, 250, 430, 350)], [(600, 50, 840, 300)]),
}


@pytest.fixture(scope="module", params=["rvm", "selfie", "meet"])
def pipeline(request, real_models_dir):
    return StillPipeline(load_model(request.param, real_models_dir))


@pytest.mark.parametrize("photo", sorted(BOXES))
def test_person_in_background_out(pipeline, portraits_dir, photo):
    frame = load_image(portraits_dir / photo)
    result = pipeline.process(frame)
    assert result.alpha.shape == frame.shape[:2]
    person, background = BOXES[photo]
    for x0, y0, x1, y1 in person:
        assert result.alpha[y0:y1, x0:x1].mean() > 0.9, f"{pipeline.model.name}: person box {x0, y0} not matted"
    for x0, y0, x1, y1 in background:
        assert result.alpha[y0:y1, x0:x1].mean() < 0.1, f"{pipeline.model.name}: background box {x0, y0} kept"


def test_rgba_round_trip_and_sizes(real_models_dir, portraits_dir, tmp_path):
    photo = portraits_dir / "rembg_girl-3.jpg"
    out = tmp_path / "out"
    assert main(["still", str(photo), "-o", str(out), "--models-dir", str(real_models_dir), "--no-progress"]) == 0
    frame = load_image(photo)
    rgba = cv2.imread(str(out / "rembg_girl-3.rgba.png"), cv2.IMREAD_UNCHANGED)
    alpha = cv2.imread(str(out / "rembg_girl-3.alpha.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (*frame.shape[:2], 4) and alpha.shape == frame.shape[:2]
    assert (rgba[..., 3] == alpha).all()
    # opaque pixels keep the person's colours (RVM's foreground is close to the photo there)
    opaque = alpha == 255
    rgb = cv2.cvtColor(rgba[..., :3], cv2.COLOR_BGR2RGB).astype(int)
    assert np.abs(rgb[opaque] - frame[opaque]).mean() < 12

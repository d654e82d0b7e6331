"""The quality metrics on synthetic masks with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.measure import metrics
from app.core.measure.metrics import SequenceScorer, Scores, mean_scores


def square(x: int, y: int = 20, side: int = 20, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    mask = np.zeros(size, np.float32)
    mask[y : y + side, x : x + side] = 1.0
    return mask


def test_iou_of_shifted_squares():
    # 20x20 squares 3 px apart: overlap 17x20 = 340, union 800 - 340 = 460
    assert metrics.iou(square(13), square(10)) == pytest.approx(340 / 460)
    assert metrics.iou(square(10), square(10)) == 1.0
    assert metrics.iou(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.uint8)) == 1.0  # nobody, found nobody


def test_iou_thresholds_alpha_at_one_half_and_truth_at_128():
    truth = (square(10) * 255).astype(np.uint8)
    soft = square(10) * 0.5  # exactly 0.5 counts as person
    assert metrics.iou(soft, truth) == 1.0
    assert metrics.iou(square(10) * 0.49, truth) == 0.0


def test_boundary_f_within_tolerance_is_perfect():
    assert metrics.boundary_f(square(11), square(10)) == 1.0  # 1 px off, 2 px tolerance
    assert metrics.boundary_f(square(12), square(10)) == 1.0  # 2 px off


def test_boundary_f_of_squares_three_pixels_apart():
    # each square has 76 edge pixels; of the shifted one's, the top and bottom rows match 19 of 20
    # each (the last pixel is 3 px past the true corner), the left column matches the 2 + 2 pixels
    # within 2 px of the true top and bottom rows, the right column none: 42 of 76, both ways
    assert metrics.boundary_f(square(13), square(10)) == pytest.approx(42 / 76)


def test_boundary_f_when_one_side_is_empty():
    empty = np.zeros((64, 80), np.float32)
    assert metrics.boundary_f(empty, empty) == 1.0
    assert metrics.boundary_f(empty, square(10)) == 0.0
    assert metrics.boundary_f(square(10), empty) == 0.0


def test_the_image_border_is_not_an_edge():
    full = np.ones((30, 30), np.float32)
    assert not metrics.boundary(full.astype(bool)).any()
    cut = square(60, side=20, size=(64, 80))  # runs off the right side of the frame
    edge = metrics.boundary(cut.astype(bool))
    assert not edge[21:39, -1].any() and edge[20:40, 60].all()  # top and bottom rows still end there


def test_mad_and_core_mad():
    truth = square(10)
    grown = square(8, y=18, side=24)  # the truth grown by 2 px on every side: all error within the 4 px band
    assert metrics.mad(grown, truth) == pytest.approx((24 * 24 - 400) / (64 * 80))
    assert metrics.core_mad(grown, truth) == 0.0
    hole = truth.copy()
    hole[28:32, 18:22] = 0.0  # 16 px wrong deep inside (8+ px from the edge)
    core = metrics.edge_distance(truth) > 4
    assert metrics.core_mad(hole, truth) == pytest.approx(16 / core.sum())


def test_dtssd_and_flicker_on_a_still_truth():
    truth = square(10)
    still = square(10)
    assert metrics.dtssd(still, still, truth, truth) == 0.0
    assert metrics.flicker(still, still, truth, truth) == 0.0
    noisy = still.copy()
    noisy[0:4, 0:10] = 0.5  # 40 background pixels flicker by 0.5
    n = truth.size
    assert metrics.flicker(noisy, still, truth, truth) == pytest.approx(40 * 0.5 / n)
    assert metrics.dtssd(noisy, still, truth, truth) == pytest.approx(math.sqrt(40 * 0.25 / n))


def test_dtssd_follows_the_truths_own_change():
    """A matte that moves exactly as the mask does has no temporal error; flicker skips the changed pixels."""
    before, after = square(10), square(13)
    assert metrics.dtssd(after, before, after, before) == 0.0
    assert metrics.flicker(after, before, after, before) == 0.0
    held = metrics.dtssd(before, before, after, before)  # the matte did not follow: 2 x 60 pixels off by 1
    assert held == pytest.approx(math.sqrt(120 / before.size))


def test_sequence_scorer_means_and_pairs():
    scorer = SequenceScorer()
    truth = (square(10) * 255).astype(np.uint8)
    scorer.add(square(10), truth, 10.0)
    scorer.add(square(13), truth, 30.0)
    scores = scorer.scores()
    assert scores.frames == 2 and scores.ms_per_frame == 20.0
    assert scores.iou == pytest.approx((1.0 + 340 / 460) / 2)
    assert scores.dtssd == pytest.approx(math.sqrt(120 / truth.size))  # one pair
    with pytest.raises(ValueError, match="size"):
        scorer.add(np.zeros((5, 5), np.float32), truth)


def test_mean_scores_counts_each_sequence_once():
    a = Scores(iou=1.0, boundary_f=1.0, mad=0.0, core_mad=0.0, dtssd=0.0, flicker=0.0, ms_per_frame=10.0, frames=100)
    b = Scores(iou=0.5, boundary_f=0.5, mad=0.2, core_mad=0.1, dtssd=0.1, flicker=0.1, ms_per_frame=30.0, frames=10)
    overall = mean_scores([a, b])
    assert overall.iou == 0.75 and overall.frames == 110 and overall.ms_per_frame == 20.0
    assert math.isnan(mean_scores([]).iou)


def test_truth_must_be_single_channel():
    with pytest.raises(ValueError, match="H×W"):
        metrics.iou(square(10), np.zeros((64, 80, 3), np.uint8))

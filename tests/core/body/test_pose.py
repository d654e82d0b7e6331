"""Pose decoding on synthetic tensors: anchors, NMS, letterbox, ROI, heatmap, name mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.models.pose import (
    NUM_ANCHORS, Letterbox, PoseLandmarks, PoseRoi, decode_landmarks, decode_raw_detections, letterbox,
    refine_from_heatmap, ssd_anchors, weighted_nms,
)
from app.core.body.pose import KEYPOINT_NAMES, Keypoint, Pose, PersonBox, draw_skeleton, map_keypoints, person_box, poses_to_json


def test_anchor_layout_matches_mediapipe():
    anchors = ssd_anchors()
    assert anchors.shape == (NUM_ANCHORS, 2)
    # stride 8: 28x28 cells, 2 anchors each, row-major (y outer, x inner)
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], (0.5 / 28, 0.5 / 28))
    assert np.allclose(anchors[2], (1.5 / 28, 0.5 / 28))
    assert np.allclose(anchors[56], (0.5 / 28, 1.5 / 28))
    # stride 16 starts at 1568; stride 32 (three layers share one 7x7 grid) at 1960 with 6 per cell
    assert np.allclose(anchors[1568], (0.5 / 14, 0.5 / 14))
    assert np.allclose(anchors[1960:1966], (0.5 / 7, 0.5 / 7)) and np.allclose(anchors[1966], (1.5 / 7, 0.5 / 7))
    assert np.allclose(anchors[-1], (6.5 / 7, 6.5 / 7))


def _raw_with(anchor: int, box, points, logit: float):
    raw = np.zeros((1, NUM_ANCHORS, 12), np.float32)
    scores = np.full((1, NUM_ANCHORS, 1), -50.0, np.float32)
    ax, ay = ssd_anchors()[anchor]
    cx, cy, w, h = box
    raw[0, anchor, :4] = ((cx - ax) * 224, (cy - ay) * 224, w * 224, h * 224)
    for k, (x, y) in enumerate(points):
        raw[0, anchor, 4 + 2 * k : 6 + 2 * k] = ((x - ax) * 224, (y - ay) * 224)
    scores[0, anchor, 0] = logit
    return raw, scores


def test_raw_detection_decoding_is_relative_to_the_anchor():
    points = [(0.4, 0.7), (0.42, 0.1), (0.41, 0.4), (0.4, 0.2)]
    raw, scores = _raw_with(1000, (0.45, 0.3, 0.2, 0.25), points, 3.0)
    boxes, keypoints, kept = decode_raw_detections(raw, scores, ssd_anchors(), 0.5)
    assert boxes.shape == (1, 4) and np.allclose(boxes[0], (0.45, 0.3, 0.2, 0.25), atol=1e-6)
    assert np.allclose(keypoints[0], points, atol=1e-6)
    assert kept[0] == pytest.approx(1 / (1 + math.exp(-3.0)))
    raw, scores = _raw_with(1000, (0.45, 0.3, 0.2, 0.25), points, -0.1)  # sigmoid < 0.5: dropped
    assert decode_raw_detections(raw, scores, ssd_anchors(), 0.5)[0].shape == (0, 4)


def test_weighted_nms_averages_overlaps_by_score_and_keeps_the_best_score():
    boxes = np.array([[0.5, 0.5, 0.2, 0.2], [0.52, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]], np.float32)
    keypoints = np.array([[[0.0, 0.0]] * 4, [[1.0, 1.0]] * 4, [[0.1, 0.1]] * 4], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    merged = weighted_nms(boxes, keypoints, scores, 0.3)
    assert [round(s, 3) for _, _, s in merged] == [0.9, 0.7]
    box, points, _ = merged[0]
    assert box[0] == pytest.approx((0.5 * 0.9 + 0.52 * 0.6) / 1.5)
    assert np.allclose(points, 0.6 / 1.5)
    assert np.allclose(merged[1][1], 0.1)  # the far one stays on its own


def test_letterbox_centres_the_frame_and_maps_back():
    frame = np.full((240, 320, 3), 200, np.uint8)
    canvas, box = letterbox(frame)
    assert canvas.shape == (224, 224, 3)
    assert box == Letterbox(0, 28, 224, 168, 320, 240)
    assert canvas[:28].max() == 0 and canvas[28:196].min() == 200 and canvas[196:].max() == 0
    back = box.to_frame(np.array([[0.0, 28 / 224], [1.0, 196 / 224], [0.5, 0.5]], np.float32))
    assert np.allclose(back, [[0, 0], [320, 240], [160, 120]], atol=1e-4)


def test_roi_from_alignment_points_upright_and_rotated():
    upright = PoseRoi.from_alignment(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert (upright.cx, upright.cy, upright.side) == (100.0, 200.0, pytest.approx(200.0))
    assert upright.rotation == pytest.approx(0.0)
    # lying with the head to the image's right: rotated 90°, the circle point is "up" in the crop
    lying = PoseRoi.from_alignment(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert lying.rotation == pytest.approx(math.pi / 2)
    top_centre = lying.to_frame(np.array([[0.5, 0.0]]))[0]
    assert np.allclose(top_centre, (200.0, 200.0), atol=1e-4)  # half a side (100 px) towards the circle
    upside_down = PoseRoi.from_alignment(np.array([0.0, 0.0]), np.array([0.0, 10.0]))
    assert -math.pi <= upside_down.rotation < math.pi and abs(upside_down.rotation) == pytest.approx(math.pi)


def test_roi_warp_and_projection_agree():
    """A dot in the frame is found at the crop pixel that projects back onto it, rotated or not."""
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[148:153, 248:253] = 255  # centre (250, 150)
    for rotation in (0.0, 0.6, -2.0):
        roi = PoseRoi(200.0, 140.0, 180.0, rotation)
        crop = roi.extract(frame)
        ys, xs = np.nonzero(crop[..., 0] > 100)
        u, v = xs.mean() + 0.5, ys.mean() + 0.5  # continuous crop coordinates
        back = roi.to_frame(np.array([[u / 256, v / 256]]))[0]
        assert np.allclose(back, (250.5, 150.5), atol=1.0), rotation


def test_heatmap_refinement_moves_to_the_confident_window():
    heatmap = np.full((64, 64, 2), -10.0, np.float32)
    heatmap[20, 30, 0] = 10.0  # landmark 0: one confident cell
    heatmap[20:23, 30, 1] = 0.0  # landmark 1: nothing reaches 0.5 except ... exactly 0.5
    points = np.array([[31.5 / 64, 21.5 / 64], [30.2 / 64, 21.0 / 64]], np.float32)
    refined = refine_from_heatmap(points, heatmap)
    assert refined[0] == pytest.approx((30 / 64, 20 / 64), abs=1e-3)
    assert refined[1] == pytest.approx((30 / 64, 21 / 64), abs=2e-3)  # three equal cells: their middle
    heatmap[:] = -10.0
    assert np.array_equal(refine_from_heatmap(points, heatmap), points)  # never confident: unchanged
    outside = np.array([[1.2, 0.5]], np.float32)
    assert np.array_equal(refine_from_heatmap(outside, heatmap[..., :1]), outside)


def _landmarks(roi: PoseRoi, rows: np.ndarray) -> PoseLandmarks:
    return decode_landmarks(rows.reshape(1, 195), np.array([[0.9]], np.float32), None, roi)


def test_landmark_decoding_projects_through_the_roi():
    rows = np.zeros((39, 5), np.float32)
    rows[:, :2] = 128.0
    rows[0] = (128, 0, 25.6, 4.0, -4.0)  # top centre of the crop, z = 0.1 crop
    roi = PoseRoi(100.0, 100.0, 80.0, math.pi / 2)
    landmarks = _landmarks(roi, rows)
    # rotated 90°: crop "up" is the frame's +x
    assert np.allclose(landmarks.points[0], (140.0, 100.0, 8.0), atol=1e-4)
    assert landmarks.visibility[0] == pytest.approx(1 / (1 + math.exp(-4)))
    assert landmarks.presence[0] == pytest.approx(1 / (1 + math.exp(4)))
    assert landmarks.pose_presence == pytest.approx(0.9)


def _upright_landmarks() -> PoseLandmarks:
    rows = np.zeros((39, 5), np.float32)
    rows[:, 3:] = 8.0
    coords = {0: (128, 50), 2: (136, 44), 5: (120, 44), 7: (146, 48), 8: (110, 48), 9: (134, 60), 10: (122, 60),
              11: (160, 80), 12: (96, 80), 23: (145, 128), 24: (111, 128), 27: (147, 300), 28: (109, 300)}
    for i, xy in coords.items():
        rows[i, :2] = xy
    rows[11, 3] = -8.0  # left shoulder hidden: neck takes the lower score
    rows[27, 3] = -3.0
    return _landmarks(PoseRoi(128.0, 128.0, 256.0, 0.0), rows)


def test_name_mapping_derived_points_and_low_scores_kept():
    landmarks = _upright_landmarks()
    named = map_keypoints(landmarks)
    assert tuple(named) == KEYPOINT_NAMES
    assert named["left_eye"].x > named["right_eye"].x  # person's left on the image's right (facing us)
    assert (named["left_mouth_corner"].x, named["left_mouth_corner"].y) == pytest.approx((134.0, 60.0), abs=1e-3)
    assert (named["neck"].x, named["neck"].y) == pytest.approx((128.0, 80.0), abs=1e-3)
    assert named["neck"].score == pytest.approx(named["left_shoulder"].score) and named["neck"].score < 0.01
    # top_head = eye_mid + 2·(eye_mid − mouth_mid) = (128, 44) + 2·(0, −16)
    assert (named["top_head"].x, named["top_head"].y) == pytest.approx((128.0, 12.0), abs=1e-3)
    assert 0.0 < named["left_ankle"].score < 0.1  # low, but reported


def test_person_box_clips_and_covers_top_head():
    landmarks = _upright_landmarks()
    box = person_box(landmarks, 256, 200)
    assert box.y == pytest.approx(0.0)  # points at 0 (rows left at the origin) and top_head at 12
    assert box.y + box.height == pytest.approx(200.0)  # ankles at 300 are clipped to the frame
    assert box.score == pytest.approx(0.9)


def test_json_shape_and_drawing():
    landmarks = _upright_landmarks()
    pose = Pose(map_keypoints(landmarks), PersonBox(10, 20, 100, 150, 0.9), 0.9, 0.8, landmarks)
    data = poses_to_json([pose])
    assert data["person_num"] == 1
    info = data["person_info"][0]
    assert set(info["body_parts"]) == set(KEYPOINT_NAMES)
    assert set(info["body_parts"]["nose"]) == {"x", "y", "score"}
    assert info["location"] == {"left": 10, "top": 20, "width": 100, "height": 150, "score": 0.9}
    frame = np.zeros((200, 256, 3), np.uint8)
    drawn = draw_skeleton(frame, [pose])
    assert drawn.shape == frame.shape and drawn.dtype == np.uint8 and not frame.any()
    assert drawn[80, 100:150].any()  # the shoulder line exists between right shoulder and neck
    assert not draw_skeleton(frame, []).any()
    assert pose.visible("left_shoulder") is None and isinstance(pose.visible("nose"), Keypoint)


def test_no_bone_from_the_top_of_the_head_through_the_face():
    from app.core.body.pose import KEYPOINT_NAMES, Keypoint, PersonBox, Pose, draw_skeleton

    hidden = {name: Keypoint(0.0, 0.0, 0.0) for name in KEYPOINT_NAMES}
    points = {**hidden, "top_head": Keypoint(100.0, 20.0, 0.99), "nose": Keypoint(100.0, 100.0, 0.99)}
    pose = Pose(points, PersonBox(0, 0, 0, 0, 0.0), 0.99, 0.99)
    frame = np.zeros((160, 200, 3), np.uint8)
    out = draw_skeleton(frame, [pose], thickness=2)
    assert out[20, 100].any() and out[100, 100].any()  # both points are drawn
    assert not out[60, 100].any()  # but nothing between them, across the forehead and eyes

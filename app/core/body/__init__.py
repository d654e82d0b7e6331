"""Body keypoints: pose estimation over the pose models, skeleton drawing, JSON output."""

"""Person matting pipelines: still images and batches, the temporal stream pipeline,
mask propagation between key frames, and their frame results."""

"""Media in and out: image loading and limits, frame sources (camera, video file,
image folder) and safe writers (temp file + rename)."""

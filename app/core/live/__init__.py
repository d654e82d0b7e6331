"""The live view: the per-frame live processor and its settings, pipelining, capture
thread, view rendering, headless live, virtual camera, presets and snapshots."""

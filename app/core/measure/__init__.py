"""Measuring the engine: benchmarks and accuracy (evaluation against annotations) over the real pipelines."""

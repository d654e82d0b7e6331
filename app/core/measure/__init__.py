"""Measuring the engine: benchmarks (and evaluation) over the real pipelines."""

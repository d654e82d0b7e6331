"""Measurements of the app's own output: benchmarks and accuracy against annotations."""

"""The benchmark runs end to end on the tiny models; its JSON has the documented keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from app.core.measure.bench import BenchConfig, ClipReader, alpha_difference, edge_band, run_bench, synthetic_clip

TOP_KEYS = {
    "model", "provider", "width", "height", "frames", "clip", "pipelined", "fast", "threads", "fps",
    "latency_ms", "latency_p95_ms", "added_latency_frames", "added_latency_ms", "peak_memory_mb",
    "memory", "stages", "raw_stages", "quality", "baseline_fps", "speedup", "computed_fraction", "every_n",
    "model_ms",
}
STAGES = {"read", "convert", "inference", "refine", "composite", "overlay", "encode"}


@pytest.mark.parametrize("pipelined", [True, False])
def test_bench_runs_end_to_end_on_tiny_models(tiny_models_dir, pipelined):
    config = BenchConfig(model="rvm", width=96, height=64, frames=12, pipelined=pipelined, baseline=True,
                         quality_frames=3, memory_window=4, warmup=1)
    report = run_bench(config, str(tiny_models_dir))
    data = report.to_dict()
    assert set(data) == TOP_KEYS
    assert set(data["stages"]) == STAGES
    assert all(set(v) == {"median_ms", "p95_ms"} for v in data["stages"].values())
    assert data["frames"] == 12 and data["fps"] > 0 and data["baseline_fps"] > 0 and data["speedup"] > 0
    assert data["added_latency_frames"] == (1 if pipelined else 0)
    assert set(data["memory"]) == {"peak_mb", "first_mb", "last_mb", "window"} and data["memory"]["window"] == 4
    assert set(data["quality"]) == {"reference", "frames", "mean_abs_alpha", "edge_abs_alpha", "max_frame_mean_abs_alpha",
                                    "truth", "reference_truth"}
    assert data["quality"]["truth"] is None and data["clip"] == "generated"  # a drawn figure has no annotations
    assert data["quality"]["frames"] == 3
    assert report.lines()[0].startswith("rvm on ")


def test_bench_reports_the_cadence_it_measured(tiny_models_dir):
    """--every 2: the model runs on half the frames; the quality guard measures that same cadence."""
    config = BenchConfig(model="rvm", width=96, height=64, frames=12, every_n=2, quality_frames=4,
                         memory_window=4, warmup=1)
    report = run_bench(config, str(tiny_models_dir))
    assert report.every_n == 2 and report.computed_fraction == pytest.approx(0.5)
    assert any("model on 50 % of frames, motion-compensated" in line for line in report.lines())
    assert 0.0 <= report.quality.mean_abs <= report.quality.max_frame_mean_abs


def test_cli_bench_prints_json(tiny_models_dir, capsys):
    code = main(["bench", "--models-dir", str(tiny_models_dir), "-m", "selfie", "--size", "80x48", "--frames", "5",
                 "--quality-frames", "2", "--memory-window", "2", "--encode", "jpeg", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == TOP_KEYS and data["model"] == "selfie" and data["width"] == 80
    assert data["baseline_fps"] is None and data["quality"]["mean_abs_alpha"] >= 0


def test_cli_bench_rejects_a_bad_size(tiny_models_dir, capsys):
    assert main(["bench", "--models-dir", str(tiny_models_dir), "--size", "big"]) != 0


def test_long_runs_cycle_the_clip():
    clip = synthetic_clip(32, 24, 3)
    reader = ClipReader(clip)
    np.testing.assert_array_equal(reader.read(4), clip[1])
    assert reader.read(0) is not clip[0]  # a fresh buffer, as from a camera


def test_quality_figures_of_identical_and_shifted_mattes():
    reference = np.zeros((40, 60), np.float32)
    reference[10:30, 20:40] = 1.0
    assert alpha_difference(reference, reference) == (0.0, 0.0)
    shifted = np.roll(reference, 2, axis=1)
    mean, edge = alpha_difference(shifted, reference)
    assert 0 < mean < edge  # the error sits on the edges
    assert edge_band(reference)[20, 20] and not edge_band(reference)[20, 30]
    with pytest.raises(ValueError):
        alpha_difference(reference[:10], reference)


def test_bench_on_an_annotated_clip_scores_against_the_masks(tiny_models_dir, tmp_path):
    from app.core.measure.bench import annotated_clip
    from tests.davis import write_davis

    clip = annotated_clip(write_davis(tmp_path / "gt", {"walk": 6}), 128, 72, 20)
    assert len(clip.frames) == len(clip.masks) == 6 and clip.frames[0].shape == (72, 128, 3)
    assert clip.masks[0].shape == (72, 128)
    config = BenchConfig(model="rvm", width=128, height=72, frames=8, every_n=2, quality_frames=6, warmup=1,
                         memory_window=2)
    report = run_bench(config, str(tiny_models_dir), clip)
    truth = report.to_dict()["quality"]["truth"]
    assert report.clip == "walk (annotated)" and truth["iou"] > 0.9 and truth["boundary_f"] > 0.8
    assert report.quality.reference_truth.iou > 0.9
    assert any(line.strip().startswith("vs truth     measured  IoU") for line in report.lines())


def test_default_clip_is_the_shared_annotated_footage_when_there(tmp_path, monkeypatch):
    from app.core.measure.bench import default_clip
    from tests.davis import write_davis

    monkeypatch.setenv("LIVEMATTE_MODELS", str(tmp_path / "shared" / "models"))
    assert default_clip(64, 48, 4).name == "generated"  # nothing there: the drawn figure
    write_davis(tmp_path / "shared" / "media" / "gt" / "davis", {"walk": 3})
    clip = default_clip(64, 48, 4)
    assert clip.name == "walk (annotated)" and len(clip.frames) == 3 and clip.masks is not None

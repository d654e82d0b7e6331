"""``livematte still``: matte still images (files, folders, globs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import (
    add_batch_options, add_limit_options, add_model_options, limits, load_matting_model, matting_name, provide_models,
    ranged,
)


def add_parser(commands) -> None:
    still = commands.add_parser(
        "still", help="matte still images (files, folders, globs)",
        description="Matte still images. Writes <stem>.<kind>.png (and <stem>.json) per input.",
    )
    add_batch_options(still)
    still.add_argument(
        "--outputs", default="alpha,rgba,composite,json",
        help="comma list of alpha, rgba, composite, json, or all (default all); "
        "keypoints (body keypoints as <stem>.keypoints.json) only when named",
    )
    still.add_argument(
        "--bg", default="transparent",
        help="composite background: colour (#00ff00, green), image path, blur:N or transparent (default)",
    )
    still.add_argument("--hard", action="store_true", help="binary cut at --threshold instead of soft alpha")
    still.add_argument("--threshold", type=ranged(float, 0.0, 1.0), default=0.5, help="threshold for --hard (default 0.5)")
    still.add_argument("--passes", type=ranged(int, 1, 100), default=None, help="recurrent passes per still (RVM; default 3)")
    add_model_options(still)
    add_limit_options(still)
    still.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.core.matting.batch import OPTIONAL_KINDS, OUTPUT_KINDS, StillBatch, expand_inputs, parse_outputs, plan_jobs, run_summary
    from app.core.imaging.compose import parse_background
    from app.core.errors import SettingsError
    from app.core.matting.still import DEFAULT_PASSES, StillPipeline, StillSettings
    from app.core.body.pose import POSE_MODELS

    kinds = parse_outputs(args.outputs, OUTPUT_KINDS, OPTIONAL_KINDS)
    background = parse_background(args.bg) if "composite" in kinds else None
    try:
        settings = StillSettings(args.passes or DEFAULT_PASSES, args.hard, args.threshold)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    inputs = expand_inputs(args.inputs, args.recursive)
    if not inputs:
        raise SettingsError("no input images found")
    needs_matting = bool(set(kinds) - {"keypoints"})
    provide_models(args, [matting_name(args)] * needs_matting + list(POSE_MODELS) * ("keypoints" in kinds))
    model = load_matting_model(args) if needs_matting else None
    poses = _load_pose_estimator(args) if "keypoints" in kinds else None
    jobs = plan_jobs(inputs, Path(args.output), kinds)
    batch = StillBatch(
        StillPipeline(model, settings) if model else None, background, args.overwrite, limits(args),
        describe=lambda: {"hard": settings.hard, "threshold": settings.threshold, "background": args.bg},
        poses=poses,
    )
    bar = tqdm(total=len(jobs), unit="img", disable=args.no_progress or len(jobs) < 2, file=sys.stderr)

    def progress(report) -> None:
        bar.update(1)
        if report.status != "done":
            bar.write(f"{report.status}: {report.message}", file=sys.stderr)

    summary = run_summary(batch, jobs, progress)
    bar.close()
    used = model or poses
    print(f"{summary.line()} -> {args.output} (model {used.name}, {used.provider})", file=sys.stderr)
    error = summary.first_error
    return error.exit_code if error is not None else 0


def _load_pose_estimator(args: argparse.Namespace):
    from app.core.models import SessionConfig
    from app.core.body.pose import load_pose_estimator

    return load_pose_estimator(args.models_dir, SessionConfig(args.provider, args.threads))

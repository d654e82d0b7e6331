"""``livematte eval``: score the export or live pipeline against annotated masks."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import add_model_options, provide_models


def add_parser(commands) -> None:
    evaluate = commands.add_parser(
        "eval", help="score the export or live pipeline against annotated masks (IoU, boundary F, MAD, ...)",
        description=(
            "Run the real pipeline over annotated sequences in DAVIS layout (JPEGImages/480p/<seq>/*.jpg, "
            "Annotations/480p/<seq>/*.png) and print per sequence and overall: IoU at 0.5, boundary F (2 px), "
            "MAD, core MAD (outside 4 px of the true edge), dtSSD, flicker and ms per frame."
        ),
    )
    evaluate.add_argument("--gt", required=True, help="dataset folder (DAVIS layout, or a folder holding one)")
    evaluate.add_argument("--path", default="export", choices=["export", "live"],
                          help="export: as `livematte video`; live: the live view's fast path (default export)")
    evaluate.add_argument("--every", default="1",
                          help="model every N frames, motion-compensated in between, or auto (live only; default 1)")
    evaluate.add_argument("--fps", type=float, default=30.0, help="camera rate for timestamps and auto (default 30)")
    evaluate.add_argument("--model-ms", type=float, default=None,
                          help="auto: decide from this model cost per run instead of timing it here")
    evaluate.add_argument("--seq", action="append", default=[], help="only this sequence (repeatable)")
    evaluate.add_argument("--frames", type=int, default=None, help="first N frames of each sequence")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_model_options(evaluate)
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """``livematte eval``: a thin layer over ``app.core.measure.eval.evaluate``."""
    import json

    from app.core.errors import SettingsError
    from app.core.measure.eval import AUTO, EvalConfig, evaluate
    from app.core.models.manifest import default_model

    text = args.every.strip().lower()
    if text != "auto" and not text.isdigit():
        raise SettingsError(f"eval: --every takes a number or auto, got {args.every!r}")
    config = EvalConfig(
        path=args.path, every=AUTO if text == "auto" else int(text), model=args.model or default_model("matting"),
        provider=args.provider, threads=args.threads, ratio=args.ratio, fps=args.fps, model_ms=args.model_ms,
        frames=args.frames, sequences=tuple(args.seq),
    )

    provide_models(args, [config.model])

    def progress(name: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{name}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    report = evaluate(config, args.gt, args.models_dir, progress)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0

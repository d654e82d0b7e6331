"""The ``livematte`` command line: a thin layer over ``app.core``.

Heavy modules (numpy, OpenCV, ONNX Runtime, Qt) are imported inside the
commands so ``--help`` answers instantly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger("livematte")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "-m", default=None, help="matting model (see `livematte models`); default rvm")
    group.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    group.add_argument("--provider", default="auto", help="auto, cpu, cuda, directml or coreml (default auto)")
    group.add_argument("--threads", type=int, default=0, help="CPU threads for inference (0 = automatic)")
    group.add_argument(
        "--ratio", type=float, default=None,
        help="RVM downsample_ratio in (0, 1]; default: chosen from the frame size",
    )


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input limits")
    group.add_argument("--min-side", type=int, default=32, help="smallest accepted side in px (default 32)")
    group.add_argument("--max-side", type=int, default=8192, help="largest accepted side in px (default 8192)")
    group.add_argument("--max-file-mb", type=float, default=50.0, help="largest accepted file in MB (default 50)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livematte",
        description="Cut people out of images and video, locally. With no command, opens the desktop app.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and debug logs")
    from app import __version__

    parser.add_argument("--version", action="version", version=f"livematte {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    still = commands.add_parser(
        "still", help="matte still images (files, folders, globs)",
        description="Matte still images. Writes <stem>.<kind>.png (and <stem>.json) per input.",
    )
    still.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    still.add_argument("-o", "--output", default="out", help="output folder (default ./out)")
    still.add_argument(
        "--outputs", default="alpha,rgba,composite,json",
        help="comma list of alpha, rgba, composite, json, or all (default all)",
    )
    still.add_argument(
        "--bg", default="transparent",
        help="composite background: colour (#00ff00, green), image path, blur:N or transparent (default)",
    )
    still.add_argument("--hard", action="store_true", help="binary cut at --threshold instead of soft alpha")
    still.add_argument("--threshold", type=float, default=0.5, help="threshold for --hard (default 0.5)")
    still.add_argument("--passes", type=int, default=None, help="recurrent passes per still (RVM; default 3)")
    still.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders too")
    still.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    still.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_options(still)
    _add_limit_options(still)
    still.set_defaults(run=cmd_still)

    models = commands.add_parser("models", help="list known models and where their weights are")
    models.add_argument("action", nargs="?", default="list", choices=["list", "path"], help="list (default) or path")
    models.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    models.set_defaults(run=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        return _open_gui(parser)
    from app.core.errors import LiveMatteError

    try:
        return run(args)
    except LiveMatteError as exc:
        if args.verbose:
            log.exception("error")
        print(f"livematte: error [{exc.code}]: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livematte: interrupted", file=sys.stderr)
        return 130


def _open_gui(parser: argparse.ArgumentParser) -> int:
    try:
        from app.gui.main import run_app  # type: ignore[import-not-found]
    except ImportError:
        parser.print_help()
        return 0
    return run_app()


def _limits(args: argparse.Namespace):
    from app.core.image_io import InputLimits

    return InputLimits(args.min_side, args.max_side, int(args.max_file_mb * 1024 * 1024))


def _load_matting_model(args: argparse.Namespace):
    from app.core.models import SessionConfig, get_spec, load_model
    from app.core.models.manifest import default_model

    name = args.model or default_model("matting")
    spec = get_spec(name)
    options = {"downsample_ratio": args.ratio} if spec.adapter == "rvm" else {}
    return load_model(name, args.models_dir, SessionConfig(args.provider, args.threads), **options)


def cmd_still(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.core.batch import StillBatch, expand_inputs, parse_outputs, plan_jobs, run_summary
    from app.core.compose import parse_background
    from app.core.errors import SettingsError
    from app.core.still import DEFAULT_PASSES, StillPipeline, StillSettings

    kinds = parse_outputs(args.outputs)
    background = parse_background(args.bg) if "composite" in kinds else None
    try:
        settings = StillSettings(args.passes or DEFAULT_PASSES, args.hard, args.threshold)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    inputs = expand_inputs(args.inputs, args.recursive)
    if not inputs:
        raise SettingsError("no input images found")
    model = _load_matting_model(args)
    jobs = plan_jobs(inputs, Path(args.output), kinds)
    batch = StillBatch(
        StillPipeline(model, settings), background, args.overwrite, _limits(args),
        describe=lambda: {"hard": settings.hard, "threshold": settings.threshold, "background": args.bg},
    )
    bar = tqdm(total=len(jobs), unit="img", disable=args.no_progress or len(jobs) < 2, file=sys.stderr)

    def progress(report) -> None:
        bar.update(1)
        if report.status != "done":
            bar.write(f"{report.status}: {report.message}", file=sys.stderr)

    summary = run_summary(batch, jobs, progress)
    bar.close()
    print(f"{summary.line()} -> {args.output} (model {model.name}, {model.provider})", file=sys.stderr)
    error = summary.first_error
    return error.exit_code if error is not None else 0


def cmd_models(args: argparse.Namespace) -> int:
    from app.core.models.manifest import load_manifest
    from app.core.models.store import find_weights, missing_message, search_dirs

    if args.action == "path":
        for i, folder in enumerate(search_dirs(args.models_dir), 1):
            print(f"{i}. {folder}{'' if folder.is_dir() else '  (does not exist)'}")
        return 0
    missing = []
    for name, spec in load_manifest().items():
        found = find_weights(spec, args.models_dir)
        where = str(found.path) if found else "MISSING"
        print(f"{name:<10} {spec.task:<18} {spec.licence:<11} {where}")
        if not found:
            missing.append(spec)
    for spec in missing:
        print(f"\n{spec.name}: {missing_message(spec, args.models_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

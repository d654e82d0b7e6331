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


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("-o", "--output", default="out", help="output folder (default ./out)")
    parser.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders too")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    _add_batch_options(still)
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
    still.add_argument("--threshold", type=float, default=0.5, help="threshold for --hard (default 0.5)")
    still.add_argument("--passes", type=int, default=None, help="recurrent passes per still (RVM; default 3)")
    _add_model_options(still)
    _add_limit_options(still)
    still.set_defaults(run=cmd_still)

    parse = commands.add_parser(
        "parse", help="face parsing: 11-class label maps, overlays, chosen parts, part boxes",
        description="Parse faces in still images. Writes <stem>.labels.png (palette PNG: pixel = class id), "
        "<stem>.overlay.png, <stem>.parts.png (cut-out of --parts) and <stem>.parse.json (part boxes, faces, timings).",
    )
    _add_batch_options(parse)
    parse.add_argument(
        "--outputs", default="labels,overlay,parts,json",
        help="comma list of labels, overlay, parts, json, or all (default all)",
    )
    parse.add_argument(
        "--parts", default="head",
        help="parts for the cut-out: head, face, hair, body, background or classes such as "
        "left_eye, lips, eyes (comma list; default head). body/background also run the matting model",
    )
    parse.add_argument("--overlay-opacity", type=float, default=0.5, help="colour overlay opacity 0..1 (default 0.5)")
    parse.add_argument("--no-hair", action="store_true", help="skip the hair model (faster; no hair class)")
    _add_model_options(parse)
    _add_limit_options(parse)
    parse.set_defaults(run=cmd_parse)

    models = commands.add_parser(
        "models", help="list, fetch and verify model weights",
        description="list: every known model, where its weights are and whether they verify. "
        "fetch NAME...|all: download into the user cache (resumes partial downloads). "
        "verify [NAME...]: check hashes and tensor contracts. path: the folders searched, in order.",
    )
    models.add_argument(
        "action", nargs="?", default="list", choices=["list", "fetch", "verify", "path"],
        help="list (default), fetch, verify or path",
    )
    models.add_argument("names", nargs="*", metavar="NAME", help="model names (fetch: or 'all'); default all")
    models.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    models.add_argument("--to", default=None, help="fetch: download into this folder (default: the user cache)")
    models.add_argument("--url", default=None, help="fetch: download from this URL (a mirror) instead of the manifest's")
    models.add_argument("--accept-licence", action="store_true", help="fetch: accept non-permissive licences (GPL-3.0)")
    models.add_argument("--force", action="store_true", help="fetch: download again even if a valid file is there")
    models.add_argument("--timeout", type=float, default=30.0, help="fetch: network timeout in seconds (default 30)")
    models.add_argument("--no-progress", action="store_true", help="fetch: no progress bar")
    models.set_defaults(run=cmd_models)

    video = commands.add_parser(
        "video", help="matte a video clip (composite, matte, ProRes 4444, WebM alpha, PNG sequence)",
        description=(
            "Matte every frame of a clip, keeping its audio and exact frame timing. The format follows the "
            "extension (.mp4 composite, .mov ProRes 4444 with alpha, .webm VP9 with alpha, no extension: "
            "PNG folder) unless --format says otherwise. Ctrl-C stops and leaves no partial file."
        ),
    )
    video.add_argument("input", help="video file")
    video.add_argument("-o", "--output", required=True, help="output file (.mp4, .mov, .webm) or folder (PNG sequence)")
    video.add_argument(
        "--format", default=None, choices=["composite", "matte", "prores", "webm", "png"],
        help="output kind (default: from the extension; matte = alpha as gray H.264)",
    )
    video.add_argument(
        "--bg", default=None,
        help="composite background: colour, image, blur:N, or a video file (looped, cover-fit); default blur:25",
    )
    video.add_argument("--smoothing", type=float, default=0.5, help="temporal smoothing for single-frame models, 0-0.99")
    video.add_argument("--threshold", type=float, default=None, help="hard cut at this alpha (default: soft)")
    video.add_argument("--feather", type=int, default=0, help="soft edge in px, outward only (default 0)")
    video.add_argument("--expand", type=int, default=0, help="grow (>0) or shrink (<0) the matte in px")
    video.add_argument("--min-blob", type=float, default=0.0, help="remove islands smaller than this fraction of the frame")
    video.add_argument("--every", type=int, default=1,
                       help="compute the mask every N frames, motion-compensated in between (default 1)")
    video.add_argument("--no-audio", action="store_true", help="drop the audio track")
    video.add_argument("--crf", type=int, default=None, help="quality for H.264/VP9 (lower is better)")
    video.add_argument("--overwrite", action="store_true", help="replace an existing output")
    video.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_model_options(video)
    video.set_defaults(run=cmd_video)

    bench = commands.add_parser(
        "bench", help="measure the live pipeline: per-stage ms, FPS, latency, memory",
        description="Run the real live pipeline without a window on a generated (or given) clip.",
    )
    bench.add_argument("--clip", default=None, help="video file to use instead of a generated clip")
    bench.add_argument("--image", default=None, help="photo to pan across as the generated clip")
    bench.add_argument("--size", default="1280x720", help="frame size WxH (default 1280x720)")
    bench.add_argument("--frames", type=int, default=120, help="frames to time (default 120; longer runs cycle the clip)")
    bench.add_argument("--bg", default="#00b140", help="background, as for still (default green)")
    bench.add_argument("--every", type=int, default=0,
                       help="model every N frames, motion-compensated in between; 0 = auto as in the live view (default 0)")
    bench.add_argument("--overlay", action="store_true", help="with the face-parsing overlay (needs the face models)")
    bench.add_argument("--serial", action="store_true", help="one thread, no pipelining (default: pipelined, +1 frame)")
    bench.add_argument("--reference", action="store_true", help="time the fp32 full-size reference path, not the live fast path")
    bench.add_argument("--encode", default="bgr", choices=["none", "bgr", "jpeg"], help="what a sink gets (default bgr)")
    bench.add_argument("--quality-frames", type=int, default=30,
                       help="frames for the quality guard vs the fp32 reference (0 = skip; default 30)")
    bench.add_argument("--memory-window", type=int, default=1000, help="frames in the first/last memory windows (default 1000)")
    bench.add_argument("--baseline", action="store_true", help="also time the plain RVM loop on the same frames")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_model_options(bench)
    bench.set_defaults(run=cmd_bench)

    serve = commands.add_parser(
        "serve", help="local HTTP service answering JD SelfieSeg, Face++ segment and PicUP matting requests",
        description="Serve the still pipeline over HTTP on this machine (docs at /docs, health at /health). "
        "Programs written for the cloud APIs switch by changing their base URL. Never downloads anything.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--api-key", default=None,
        help="require this key (X-API-Key, Bearer, APIKEY header, appkey/api_key); default $LIVEMATTE_API_KEY or none",
    )
    serve.add_argument("--max-request-mb", type=float, default=32.0, help="largest request body in MB (default 32; 413 beyond)")
    serve.add_argument("--max-file-mb", type=float, default=20.0, help="largest image file in MB (default 20)")
    serve.add_argument("--max-side", type=int, default=8192, help="largest image side in px (default 8192)")
    serve.add_argument("--min-side", type=int, default=32, help="smallest image side in px (default 32)")
    serve.add_argument("--max-pending", type=int, default=8, help="requests in progress at once; more get 'busy' (default 8)")
    serve.add_argument("--max-megapixels", type=float, default=67.1,
                       help="pixels one request may decode, all its images together, checked on the image headers "
                       "before decoding (default 67.1 = 8192x8192)")
    serve.add_argument("--max-images", type=int, default=8, help="images in one face_parser request (default 8)")
    serve.add_argument("--lenient", action="store_true",
                       help="accept what this server can do (the --max-* sizes, every format it reads) instead of "
                       "each cloud API's documented limits (e.g. SelfieSeg 1024 px, Face++ 4096 px and JPG/PNG)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also answer requests for this Host name (repeatable; '*' = any). Default: localhost, "
                       "127.0.0.1, [::1] and the --host address (guards against DNS rebinding)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from this origin (e.g. http://localhost:3000) call the service, with CORS "
                       "(repeatable; '*' = any page). Default: browser requests from other pages are refused")
    _add_model_options(serve)
    serve.set_defaults(run=cmd_serve)

    live = commands.add_parser(
        "live", help="the live view without a window: camera or file in, virtual camera out",
        description="Run the live pipeline without a window, e.g. `livematte live --source 0 --bg blur:25 "
        "--virtual-cam` to use LiveMatte as the webcam in Zoom, Meet, Teams or OBS. Settings start from the "
        "defaults, then --preset, then the options given here. A status line shows FPS, inference time and "
        "dropped frames; Ctrl-C (or SIGTERM) stops cleanly with exit code 0.",
    )
    live.add_argument("--source", "-s", default="0",
                      help="camera index, /dev/videoN, video file (loops), image folder or image (default 0)")
    live.add_argument("--preset", default=None, help="start from this preset (see --list-presets)")
    live.add_argument("--presets-dir", default=None, help="folder of your own presets (default: the user config folder)")
    live.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    live.add_argument("--save-preset", metavar="NAME", default=None,
                      help="save the resulting settings as a preset and exit (with --overwrite to replace one)")
    live.add_argument("--overwrite", action="store_true", help="--save-preset: replace a preset of the same name")
    source = live.add_argument_group("source")
    source.add_argument("--size", default=None, help="camera resolution WxH (default 1280x720)")
    source.add_argument("--fps", type=int, default=None, help="camera frame rate (default 30)")
    source.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                        help="mirror the picture like a selfie view (default on)")
    source.add_argument("--loop", action=argparse.BooleanOptionalAction, default=None,
                        help="loop a video file (default on)")
    look = live.add_argument_group("background, view and matte")
    look.add_argument("--bg", default=None,
                      help="background: colour (#00ff00, green), image path, blur:N or transparent (default blur:25)")
    look.add_argument("--view", default=None, choices=["composite", "alpha", "foreground", "side_by_side"],
                      help="what is shown and sent (default composite)")
    look.add_argument("--threshold", type=float, default=None, help="hard cut at this alpha (default: soft edges)")
    look.add_argument("--soft", action="store_true", help="soft edges even if the preset sets a threshold")
    look.add_argument("--feather", type=int, default=None, help="soft edge in px, outward only (default 0)")
    look.add_argument("--expand", type=int, default=None, help="grow (>0) or shrink (<0) the matte in px (default 0)")
    look.add_argument("--smoothing", type=float, default=None, help="temporal smoothing, 0-0.99 (default 0.5)")
    look.add_argument("--every", type=int, default=None,
                      help="compute the mask every N frames, motion-compensated in between; 0 = auto: every frame "
                           "while the model keeps up with the camera (default 0)")
    face = live.add_argument_group("face overlay")
    face.add_argument("--face-overlay", action=argparse.BooleanOptionalAction, default=None,
                      help="tint face parts in their palette colours (needs the face models)")
    face.add_argument("--overlay-opacity", type=float, default=None, help="overlay opacity 0..1 (default 0.5)")
    face.add_argument("--overlay-parts", default=None,
                      help="comma list of face classes to tint, e.g. hair,lips (default all)")
    face.add_argument("--overlay-boxes", action=argparse.BooleanOptionalAction, default=None,
                      help="outline and label each face part")
    face.add_argument("--skeleton", action=argparse.BooleanOptionalAction, default=None,
                      help="draw the body skeleton (needs the pose models)")
    out = live.add_argument_group("output")
    out.add_argument("--virtual-cam", action="store_true", help="send the view to a virtual camera")
    out.add_argument("--virtual-cam-backend", default="auto",
                     choices=["auto", "v4l2loopback", "obs", "unitycapture", "fake"],
                     help="virtual camera backend (default auto; fake: no device, for testing)")
    out.add_argument("--virtual-cam-device", default=None, help="device to use, e.g. /dev/video10 (default: first free)")
    out.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    out.add_argument("--preview-png", default=None,
                     help="at the end, save the last frame (as the virtual camera got it, if on) to this PNG")
    out.add_argument("--no-status", action="store_true", help="no status line")
    _add_model_options(live)
    live.set_defaults(run=cmd_live)
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
    import os

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        # Qt would abort the process without a display; say what to do instead
        print("livematte: no display found (DISPLAY/WAYLAND_DISPLAY unset), so the desktop app cannot open.\n"
              "Use a command instead, e.g. `livematte still photo.jpg -o out/` or `livematte live --source 0`, "
              "or run the app under a display (xvfb-run livematte).", file=sys.stderr)
        parser.print_usage(sys.stderr)
        return 2
    try:
        from app.gui.main import run_app
    except ImportError as exc:  # e.g. Qt's system libraries missing
        print(f"livematte: the desktop app cannot start ({exc}); the commands still work (livematte --help)",
              file=sys.stderr)
        return 1
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

    from app.core.batch import OPTIONAL_KINDS, OUTPUT_KINDS, StillBatch, expand_inputs, parse_outputs, plan_jobs, run_summary
    from app.core.compose import parse_background
    from app.core.errors import SettingsError
    from app.core.still import DEFAULT_PASSES, StillPipeline, StillSettings

    kinds = parse_outputs(args.outputs, OUTPUT_KINDS, OPTIONAL_KINDS)
    background = parse_background(args.bg) if "composite" in kinds else None
    try:
        settings = StillSettings(args.passes or DEFAULT_PASSES, args.hard, args.threshold)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    inputs = expand_inputs(args.inputs, args.recursive)
    if not inputs:
        raise SettingsError("no input images found")
    model = _load_matting_model(args) if set(kinds) - {"keypoints"} else None
    poses = _load_pose_estimator(args) if "keypoints" in kinds else None
    jobs = plan_jobs(inputs, Path(args.output), kinds)
    batch = StillBatch(
        StillPipeline(model, settings) if model else None, background, args.overwrite, _limits(args),
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
    from app.core.pose import load_pose_estimator

    return load_pose_estimator(args.models_dir, SessionConfig(args.provider, args.threads))


def cmd_parse(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.core.batch import expand_inputs, parse_outputs, run_summary
    from app.core.errors import SettingsError
    from app.core.models import SessionConfig
    from app.core.parse_batch import PARSE_OUTPUTS, ParseBatch, plan_parse_jobs
    from app.core.parsing import ParserSettings, load_face_parser
    from app.core.parts import PartSelection
    from app.core.still import StillPipeline, StillSettings

    kinds = parse_outputs(args.outputs, PARSE_OUTPUTS)
    parts = PartSelection.parse(args.parts)
    if not 0.0 <= args.overlay_opacity <= 1.0:
        raise SettingsError(f"--overlay-opacity must be between 0 and 1, got {args.overlay_opacity}")
    inputs = expand_inputs(args.inputs, args.recursive)
    if not inputs:
        raise SettingsError("no input images found")
    config = SessionConfig(args.provider, args.threads)
    parser = load_face_parser(args.models_dir, config, ParserSettings(hair=not args.no_hair))
    person_matte = None
    if parts.needs_person:
        pipeline = StillPipeline(_load_matting_model(args), StillSettings())
        person_matte = lambda frame: pipeline.process(frame).alpha  # noqa: E731
    jobs = plan_parse_jobs(inputs, Path(args.output), kinds)
    batch = ParseBatch(parser, parts, args.overlay_opacity, args.overwrite, _limits(args), person_matte)
    bar = tqdm(total=len(jobs), unit="img", disable=args.no_progress or len(jobs) < 2, file=sys.stderr)

    def progress(report) -> None:
        bar.update(1)
        if report.status != "done":
            bar.write(f"{report.status}: {report.message}", file=sys.stderr)

    summary = run_summary(batch, jobs, progress)  # type: ignore[arg-type]
    bar.close()
    print(f"{summary.line()} -> {args.output} (face parsing, {parser.detector.provider})", file=sys.stderr)
    error = summary.first_error
    return error.exit_code if error is not None else 0


def cmd_models(args: argparse.Namespace) -> int:
    """``livematte models list|fetch|verify|path``."""
    actions = {"list": _models_list, "fetch": _models_fetch, "verify": _models_verify, "path": _models_path}
    return actions[args.action](args)


def _model_specs(names: list[str]) -> list:
    """The manifest entries named (all of them for none or 'all').

    Raises:
        UnknownModelError: a name not in the manifest.
    """
    from app.core.models import get_spec
    from app.core.models.manifest import load_manifest

    if not names or names == ["all"]:
        return list(load_manifest().values())
    return [get_spec(name) for name in names]


def _megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _models_path(args: argparse.Namespace) -> int:
    from app.core.models.store import search_locations

    for i, location in enumerate(search_locations(args.models_dir), 1):
        exists = "" if location.path.is_dir() else "  (does not exist)"
        print(f"{i}. {location.path}  [{location.origin}]{exists}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from app.core.models.fetch import verify_file
    from app.core.models.store import find_weights, missing_message

    row = "{:<13} {:<18} {:>9}  {:<11} {:<12} {}"
    print(row.format("NAME", "TASK", "SIZE", "LICENCE", "STATUS", "WHERE"))
    notes = []
    for spec in _model_specs(args.names):
        found = find_weights(spec, args.models_dir)
        if found is None:
            print(row.format(spec.name, spec.task, "-", spec.licence, "MISSING", ""))
            notes.append(f"{spec.name}: {missing_message(spec, args.models_dir)}")
            continue
        check = verify_file(spec, found.path, found.file)
        where = f"{found.path} ({found.origin})"
        print(row.format(spec.name, spec.task, _megabytes(found.path), spec.licence, check.summary, where))
        if not check.ok:
            notes.append(f"{spec.name}: {found.path}: {check.problem}")
    for note in notes:
        print(f"\n{note}")
    return 0


def _models_verify(args: argparse.Namespace) -> int:
    """Checks every present file; exit code: corrupt > missing (when named) > 0."""
    from app.core.errors import ModelCorruptError, ModelMissingError
    from app.core.models.fetch import verify_model
    from app.core.models.store import missing_message

    named = bool(args.names) and args.names != ["all"]
    corrupt = missing = False
    for spec in _model_specs(args.names):
        checks = verify_model(spec, args.models_dir)
        if not checks:
            print(f"{spec.name:<13} MISSING")
            if named:  # asked about this model by name: its absence is an error
                print(f"livematte: {missing_message(spec, args.models_dir)}", file=sys.stderr)
                missing = True
            continue
        for check in checks:
            if check.ok:
                how = "SHA-256 matches, contract ok" if check.hash_status == "match" else "no known SHA-256, contract ok"
            else:
                how = check.problem
                corrupt = True
            print(f"{spec.name:<13} {check.summary:<12} {check.path}: {how}")
    if corrupt:
        return ModelCorruptError.exit_code
    return ModelMissingError.exit_code if missing else 0


def _models_fetch(args: argparse.Namespace) -> int:
    """Fetches the named models (or all with a URL); with several, one failure does not stop the rest."""
    from app.core.errors import LiveMatteError, SettingsError
    from app.core.models.fetch import LicenceBook, downloadable_files

    if not args.names:
        raise SettingsError("name the model to fetch: `livematte models fetch NAME` (or `all`); see `livematte models`")
    specs = _model_specs(args.names)
    if args.names == ["all"]:
        specs = [spec for spec in specs if downloadable_files(spec)]  # `all` = everything that can be downloaded
    if args.url and len(specs) != 1:
        raise SettingsError("--url needs exactly one model name")
    book = LicenceBook()
    if len(specs) == 1:
        _fetch_one(specs[0], args, book)
        return 0
    first_error: LiveMatteError | None = None
    for spec in specs:
        try:
            _fetch_one(spec, args, book)
        except LiveMatteError as exc:
            print(f"livematte: error [{exc.code}]: {exc}", file=sys.stderr)
            first_error = first_error or exc
    return first_error.exit_code if first_error else 0


def _fetch_one(spec, args: argparse.Namespace, book) -> None:
    """Skips a model that is already present and valid (unless --force), asks for its licence, downloads."""
    from app.core.models.fetch import fetch_model, verify_file
    from app.core.models.store import find_weights, search_dirs

    if not args.force:
        found = find_weights(spec, args.models_dir)
        if found is not None and verify_file(spec, found.path, found.file).ok:
            print(f"{spec.name}: already present at {found.path} ({found.origin}); --force downloads it again")
            return
    if not book.is_accepted(spec):
        _accept_licence(spec, args, book)
    if args.url:
        spec = _with_url(spec, args.url)
    dest = Path(args.to).expanduser() if args.to else None
    bar = _DownloadBar(enabled=not args.no_progress)
    try:
        result = fetch_model(spec, dest_dir=dest, licences=book, progress=bar, timeout=args.timeout, force=args.force)
    except KeyboardInterrupt:
        bar.close()
        print(f"\n{spec.name}: interrupted; the same command resumes the download", file=sys.stderr)
        raise
    finally:
        bar.close()
    hashed = "SHA-256 matches" if result.hash_checked else "no known SHA-256"
    source = f"from {result.url}" if result.downloaded else "already there"
    print(f"{spec.name}: {result.path} ({_megabytes(result.path)}, {hashed}, contract ok) {source}")
    if result.path.parent not in search_dirs(args.models_dir):
        print(f"note: {result.path.parent} is not searched; use --models-dir {result.path.parent}", file=sys.stderr)


def _accept_licence(spec, args: argparse.Namespace, book) -> None:
    """Shows a non-permissive licence and records acceptance (flag or interactive prompt).

    Raises:
        LicenceNotAcceptedError: declined, or no terminal to ask and no --accept-licence.
    """
    from app.core.errors import LicenceNotAcceptedError
    from app.core.models.fetch import licence_notice

    print(licence_notice(spec), file=sys.stderr)
    if not args.accept_licence:
        if not sys.stdin.isatty():
            book.require(spec)  # raises, naming --accept-licence
        answer = input(f"Accept the {spec.licence} licence and download '{spec.name}'? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise LicenceNotAcceptedError(f"licence {spec.licence} of '{spec.name}' not accepted; nothing was downloaded")
    book.accept(spec)


def _with_url(spec, url: str):
    """``spec`` downloading from ``url``; the URL's file name picks the manifest entry (and its hash)."""
    import dataclasses

    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    entry = next((f for f in spec.files if f.name == name), spec.files[0])
    return dataclasses.replace(spec, files=(dataclasses.replace(entry, url=url),))


class _DownloadBar:
    """A tqdm bar fed by fetch progress reports; a new bar for each file tried."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._key: tuple[str, str] | None = None

    def __call__(self, report) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if (report.file, report.url) != self._key:
            self.close()
            self._key = (report.file, report.url)
            self._bar = tqdm(
                total=report.total, initial=report.done, unit="B", unit_scale=True,  # decimal MB, as `list`
                desc=report.file, file=sys.stderr, leave=False,
            )
        self._bar.n = report.done  # set, not add: a restarted download goes back to 0
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._key = None, None


def cmd_video(args: argparse.Namespace) -> int:
    import signal
    import threading

    from tqdm import tqdm

    from app.core.errors import ExportCancelledError, SettingsError
    from app.core.stream import StreamPipeline, StreamSettings
    from app.core.video_export import ExportOptions, export_video, format_for

    if args.every < 1:  # auto keeps a live view up with a camera; an export has no clock to keep up with
        raise SettingsError(f"--every must be at least 1 for an export, got {args.every}")
    try:
        settings = StreamSettings(
            smoothing=args.smoothing, threshold=args.threshold, feather=args.feather, expand=args.expand,
            min_blob=args.min_blob, every_n=args.every, estimate_foreground=args.threshold is None,
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    fmt = format_for(args.output, args.format)
    if args.bg and fmt.content != "composite":
        print(f"livematte: note: --bg is not used for the {fmt.name} format", file=sys.stderr)
    options = ExportOptions(fmt.name, args.bg, args.overwrite, not args.no_audio, args.crf)
    model = _load_matting_model(args)
    stop = threading.Event()
    bar = tqdm(unit="frame", disable=args.no_progress, file=sys.stderr, dynamic_ncols=True)

    def progress(update) -> None:
        if update.total and bar.total != update.total:
            bar.total = update.total
        bar.update(update.frames - bar.n)  # tqdm's own rate and ETA come from these updates

    def on_sigint(signum, frame) -> None:
        stop.set()  # finish the current frame, then clean up: no partial file under the final name
        bar.write("stopping...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None
    try:
        report = export_video(args.input, args.output, StreamPipeline(model, settings), options, stop=stop, progress=progress)
    except ExportCancelledError:
        bar.close()
        print("livematte: cancelled; nothing was written", file=sys.stderr)
        return 130
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    print(
        f"{report.frames} frames in {report.seconds:.1f} s ({report.fps:.1f} fps), audio {report.audio} "
        f"-> {report.path} ({report.format}, model {model.name}, {model.provider})",
        file=sys.stderr,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from app.core.errors import SettingsError
    from app.core.image_io import InputLimits
    from app.core.models import SessionConfig
    from app.service.app import create_app
    from app.service.browser import BrowserPolicy
    from app.service.engine import ServiceLimits, load_engine

    api_key = args.api_key or os.environ.get("LIVEMATTE_API_KEY") or None
    try:
        image = InputLimits(args.min_side, args.max_side, int(args.max_file_mb * 1024 * 1024))
        limits = ServiceLimits(int(args.max_request_mb * 1024 * 1024), image, args.max_pending,
                               int(args.max_megapixels * 1e6), args.max_images, args.lenient)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    if not _is_loopback(args.host) and not api_key:
        print(f"livematte: warning: serving on {args.host} without --api-key: anyone on the network can use it",
              file=sys.stderr)
    engine = load_engine(args.model, args.models_dir, SessionConfig(args.provider, args.threads), limits, api_key)
    print(f"livematte: serving model {engine.model_name} ({engine.provider}) on http://{args.host}:{args.port} "
          f"(docs: /docs){'; API key required' if api_key else ''}", file=sys.stderr)
    policy = BrowserPolicy(args.host, tuple(args.allow_host), tuple(args.allow_origin))
    uvicorn.run(create_app(engine, policy), host=args.host, port=args.port,
                log_level="debug" if args.verbose else "warning")
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_bench(args: argparse.Namespace) -> int:
    """``livematte bench``: a thin layer over ``app.core.bench.run_bench``."""
    import json

    from app.core.bench import BenchConfig, load_clip, run_bench
    from app.core.errors import SettingsError
    from app.core.image_io import load_image
    from app.core.models.manifest import default_model

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        config = BenchConfig(
            model=args.model or default_model("matting"), width=width, height=height, frames=args.frames,
            provider=args.provider, threads=args.threads, ratio=args.ratio, every_n=args.every, background=args.bg,
            overlay=args.overlay, pipelined=not args.serial, fast=not args.reference, encode=args.encode,
            baseline=args.baseline, quality_frames=args.quality_frames, memory_window=args.memory_window,
        )
    except ValueError as exc:
        raise SettingsError(f"bench: {exc} (--size looks like 1280x720)") from exc
    image = load_image(args.image) if args.image else None
    frames = load_clip(args.clip, image, width, height, args.frames)
    report = run_bench(config, args.models_dir, frames)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """``livematte live``: the headless live view (see the parser's description)."""
    import signal
    import threading

    from app.core.headless import HeadlessLive, open_live_source, source_fps
    from app.core.presets import Preset, PresetStore

    store = PresetStore(args.presets_dir)
    if args.list_presets:
        return _print_presets(store)
    settings = _live_settings(args, store)
    if args.save_preset:
        path = store.save(Preset.from_settings(args.save_preset, settings), overwrite=args.overwrite)
        print(f"saved preset '{args.save_preset}' to {path}", file=sys.stderr)
        return 0
    source = open_live_source(args.source, settings)
    camera = _live_camera(args, source_fps(source, settings.camera_fps)) if args.virtual_cam else None
    live = HeadlessLive(source, settings, models_dir=args.models_dir, camera=camera)
    stop = threading.Event()
    status = _StatusLine(enabled=not args.no_status)

    def on_signal(signum, frame) -> None:
        stop.set()  # ends between two frames; the loop then closes the camera and the device

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    target = f"virtual camera ({args.virtual_cam_backend})" if camera is not None else "no output"
    print(f"livematte live: {getattr(source, 'name', args.source)} -> {target}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        final = live.run(stop, duration=args.duration, on_status=status.show, status_every=status.every,
                         on_warning=lambda text: print(f"livematte: warning: {text}", file=sys.stderr, flush=True))
    finally:
        status.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.preview_png and live.last_frame is not None:
        _save_preview(Path(args.preview_png), live.last_frame.view, camera)
    how = "stopped" if stop.is_set() else "finished"
    print(_live_summary(how, final, live, camera), file=sys.stderr)
    return 0


def _live_settings(args: argparse.Namespace, store):
    """Defaults, then the preset, then the options given on the command line.

    Raises:
        SettingsError: a bad option value (PresetError: an unknown or broken preset).
    """
    from app.core.errors import SettingsError
    from app.core.live_settings import LiveSettings

    settings = LiveSettings(provider=args.provider, threads=args.threads)
    if args.preset:
        settings = store.get(args.preset).apply(settings)
    try:
        return settings.replace(**_live_changes(args))
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from exc


def _live_changes(args: argparse.Namespace) -> dict:
    """Only the settings the user gave (None = not given), so a preset's values stay otherwise."""
    from app.core.errors import SettingsError

    given = {
        "model": args.model, "ratio": args.ratio, "camera_fps": args.fps, "mirror": args.mirror,
        "loop_video": args.loop, "background": args.bg, "view": args.view, "feather": args.feather,
        "expand": args.expand, "smoothing": args.smoothing, "every_n": args.every,
        "overlay_enabled": args.face_overlay, "overlay_opacity": args.overlay_opacity,
        "overlay_boxes": args.overlay_boxes, "skeleton_enabled": args.skeleton,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if args.source.strip().isdigit():
        changes["camera_index"] = int(args.source)
    if args.size:
        try:
            changes["camera_width"], changes["camera_height"] = (int(v) for v in args.size.lower().split("x"))
        except ValueError as exc:
            raise SettingsError(f"--size must look like 1280x720, got {args.size!r}") from exc
    if args.threshold is not None:
        changes.update(threshold_enabled=True, threshold=args.threshold)
    if args.soft:
        changes["threshold_enabled"] = False
    if args.overlay_parts:
        changes["overlay_classes"] = _overlay_classes(args.overlay_parts)
    return changes


def _overlay_classes(text: str) -> tuple[int, ...]:
    """'hair,lips' -> class ids; 'lips' and 'brows'/'eyes' name both of a pair.

    Raises:
        SettingsError: an unknown part name.
    """
    from app.core.errors import SettingsError
    from app.core.face_regions import LABEL_NAMES

    groups = {"lips": ("upper_lip", "lower_lip"), "eyes": ("left_eye", "right_eye"),
              "brows": ("left_brow", "right_brow"), "mouth": ("upper_lip", "inner_mouth", "lower_lip")}
    ids: list[int] = []
    for part in (p.strip().lower().replace(" ", "_") for p in text.split(",") if p.strip()):
        names = groups.get(part, (part,))
        for name in names:
            if name not in LABEL_NAMES[1:]:
                raise SettingsError(f"unknown face part '{part}'; use {', '.join(LABEL_NAMES[1:])}, "
                                    f"or {', '.join(groups)}")
            ids.append(LABEL_NAMES.index(name))
    return tuple(sorted(set(ids)))


def _print_presets(store) -> int:
    for preset in store.list():
        kind = "built-in" if preset.builtin else f"yours, {preset.path}"
        print(f"{preset.name}  ({kind})\n    {preset.description or '-'}")
    print(f"\nyour presets are saved in {store.folder}", file=sys.stderr)
    return 0


def _live_camera(args: argparse.Namespace, fps: float):
    from app.core.virtual_camera import PacedVirtualCamera, make_sink

    return PacedVirtualCamera(make_sink(args.virtual_cam_backend, args.virtual_cam_device), fps)


def _save_preview(path: Path, view, camera) -> None:
    from app.core.virtual_camera import to_camera_frame
    from app.core.writers import write_png

    image = to_camera_frame(view, *camera.size, camera.fill) if camera is not None and camera.size else view
    write_png(path, image, overwrite=True)
    print(f"last frame saved to {path}", file=sys.stderr)


def _live_summary(how: str, final, live, camera) -> str:
    average = final.frames / final.elapsed if final.elapsed > 0 else 0.0
    model = live.processor.model
    text = (
        f"livematte live: {how} after {final.elapsed:.1f} s: {final.frames} frames, {average:.1f} fps, "
        f"inference {final.inference_ms:.1f} ms{f' every {final.every_n} frames' if final.every_n > 1 else ''}, "
        f"dropped {final.dropped} (model {getattr(model, 'name', '-')}, {getattr(model, 'provider', '-')})"
    )
    if camera is not None and camera.size is not None:
        stats = camera.stats()
        width, height = camera.size
        text += (f"; virtual camera {camera.sink.name} {width}x{height} @ {camera.fps:g} fps: "
                 f"{stats.sent} frames sent, {stats.repeated} repeated")
    return text


class _StatusLine:
    """The one-line status on stderr: rewritten in place on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else 5.0  # a log file gets a line now and then, not a flood
        self._shown = False

    def show(self, status) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\r" + status.line() + "\x1b[K")  # \x1b[K clears what a longer line left
        else:
            sys.stderr.write(status.line() + "\n")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main())

"""``livematte video``: matte a clip (composite, matte, ProRes 4444, WebM alpha, PNG sequence)."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import (
    TERMINATION_SIGNALS, add_model_options, load_matting_model, matting_name, provide_models, ranged,
)


def add_parser(commands) -> None:
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
    video.add_argument("--smoothing", type=ranged(float, 0.0, 0.99), default=0.5, help="temporal smoothing for single-frame models, 0-0.99")
    video.add_argument("--threshold", type=ranged(float, 0.0, 1.0), default=None, help="hard cut at this alpha (default: soft)")
    video.add_argument("--feather", type=ranged(int, 0, 1000), default=0, help="soft edge in px, outward only (default 0)")
    video.add_argument("--expand", type=ranged(int, -1000, 1000), default=0, help="grow (>0) or shrink (<0) the matte in px")
    video.add_argument("--min-blob", type=ranged(float, 0.0, 1.0), default=0.0, help="remove islands smaller than this fraction of the frame")
    video.add_argument("--every", type=ranged(int, 1, 1000), default=1,
                       help="compute the mask every N frames, motion-compensated in between (default 1)")
    video.add_argument("--no-audio", action="store_true", help="drop the audio track")
    video.add_argument("--crf", type=ranged(int, 0, 63), default=None,
                       help="quality for H.264 (0-51) or VP9 (0-63); lower is better")
    video.add_argument("--overwrite", action="store_true", help="replace an existing output")
    video.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_options(video)
    video.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from tqdm import tqdm

    from app.core.errors import ExportCancelledError, SettingsError
    from app.core.matting.stream import StreamPipeline, StreamSettings
    from app.core.video.export import ExportOptions, export_video, format_for

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
    _check_crf(args.crf, fmt)
    options = ExportOptions(fmt.name, args.bg, args.overwrite, not args.no_audio, args.crf)
    provide_models(args, [matting_name(args)])
    model = load_matting_model(args)
    stop = threading.Event()
    bar = tqdm(unit="frame", disable=args.no_progress, file=sys.stderr, dynamic_ncols=True)

    def progress(update) -> None:
        if update.total and bar.total != update.total:
            bar.total = update.total
        bar.update(update.frames - bar.n)  # tqdm's own rate and ETA come from these updates

    def on_stop_signal(signum, frame) -> None:
        stop.set()  # finish the current frame, then clean up: no partial file under the final name
        bar.write("stopping...", file=sys.stderr)

    handled = [signal.SIGINT] + [getattr(signal, n) for n in TERMINATION_SIGNALS if hasattr(signal, n)]
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_stop_signal) for sig in handled}
    try:
        report = export_video(args.input, args.output, StreamPipeline(model, settings), options, stop=stop, progress=progress)
    except ExportCancelledError:
        bar.close()
        print("livematte: cancelled; nothing was written", file=sys.stderr)
        return 130
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for warning in report.warnings:
        print(f"livematte: warning: {warning}", file=sys.stderr)
    print(
        f"{report.frames} frames in {report.seconds:.1f} s ({report.fps:.1f} fps), audio {report.audio} "
        f"-> {report.path} ({report.format}, model {model.name}, {model.provider})",
        file=sys.stderr,
    )
    return 0


def _check_crf(crf: int | None, fmt) -> None:
    """--crf within the chosen encoder's own range (the parser allows 0-63, VP9's).

    Raises:
        SettingsError: out of range for this format.
    """
    from app.core.errors import SettingsError

    if crf is None:
        return
    top = {"libx264": 51, "libvpx-vp9": 63}.get(fmt.codec or "")
    if top is None:
        raise SettingsError(f"--crf does not apply to the {fmt.name} format")
    if crf > top:
        raise SettingsError(f"--crf for {fmt.name} ({fmt.codec}) must be 0-{top}, got {crf}")

"""``livematte bench``: time the live pipeline (per-stage ms, FPS, latency, memory)."""

from __future__ import annotations

import argparse

from app.cli.common import add_model_options, provide_models


def add_parser(commands) -> None:
    bench = commands.add_parser(
        "bench", help="measure the live pipeline: per-stage ms, FPS, latency, memory",
        description="Run the real live pipeline without a window on a generated (or given) clip.",
    )
    bench.add_argument("--clip", default=None, help="video file to time instead of the default clip")
    bench.add_argument("--image", default=None, help="photo to pan across as a generated clip")
    bench.add_argument("--gt", default=None,
                       help="annotated clips (DAVIS layout) to time and score against; default: the shared "
                            "development clips next to LIVEMATTE_MODELS (../media/gt), else a generated figure")
    bench.add_argument("--seq", default=None, help="which annotated sequence (default: the first)")
    bench.add_argument("--synthetic", action="store_true", help="time the generated figure even if real footage is there")
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
    add_model_options(bench)
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """``livematte bench``: a thin layer over ``app.core.measure.bench.run_bench``."""
    import json

    from app.core.measure.bench import BenchConfig, Clip, annotated_clip, default_clip, load_clip, run_bench
    from app.core.errors import SettingsError
    from app.core.media.image_io import load_image
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
    provide_models(args, [config.model], config.settings().overlay_models())
    if args.gt:
        clip = annotated_clip(args.gt, width, height, args.frames, args.seq)
    elif args.clip or args.image or args.synthetic:
        image = load_image(args.image) if args.image else None
        name = args.clip or (f"{args.image} (panned)" if args.image else "generated")
        clip = Clip(load_clip(args.clip, image, width, height, args.frames), name=name)
    else:
        clip = default_clip(width, height, args.frames)
    report = run_bench(config, args.models_dir, clip)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0

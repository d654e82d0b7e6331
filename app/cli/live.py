"""``livematte live``: the live view without a window (camera or file in, virtual camera out), presets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import add_model_options, provide_models


def add_parser(commands) -> None:
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
    add_model_options(live)
    live.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """``livematte live``: the headless live view (see the parser's description)."""
    import signal
    import threading

    from app.core.live.headless import HeadlessLive, open_live_source, source_fps
    from app.core.live.presets import Preset, PresetStore

    store = PresetStore(args.presets_dir)
    if args.list_presets:
        return _print_presets(store)
    settings = _live_settings(args, store)
    if args.save_preset:
        path = store.save(Preset.from_settings(args.save_preset, settings), overwrite=args.overwrite)
        print(f"saved preset '{args.save_preset}' to {path}", file=sys.stderr)
        return 0
    # the overlay and skeleton switch themselves off with a warning when their models are missing
    provide_models(args, [settings.model], settings.overlay_models())
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
    from app.core.live.settings import LiveSettings

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
    from app.core.face.regions import LABEL_NAMES

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
    from app.core.live.virtual_camera import PacedVirtualCamera, make_sink

    return PacedVirtualCamera(make_sink(args.virtual_cam_backend, args.virtual_cam_device), fps)


def _save_preview(path: Path, view, camera) -> None:
    from app.core.live.virtual_camera import to_camera_frame
    from app.core.media.writers import write_png

    image = to_camera_frame(view, *camera.size, camera.fill) if camera is not None and camera.size else view
    write_png(path, image, overwrite=True)
    print(f"last frame saved to {path}", file=sys.stderr)


def _live_summary(how: str, final, live, camera) -> str:
    from app.core.matting.propagation import describe_cadence

    average = final.frames / final.elapsed if final.elapsed > 0 else 0.0
    model = live.processor.model
    text = (
        f"livematte live: {how} after {final.elapsed:.1f} s: {final.frames} frames, {average:.1f} fps, "
        f"inference {final.inference_ms:.1f} ms{f' {describe_cadence(final.duty)}' if final.duty < 1.0 else ''}, "
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

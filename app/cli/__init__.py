"""The ``livematte`` command line: a thin layer over ``app.core``, one module per command.

``common`` holds the shared option groups and the error -> exit-code mapping; each
command module (``still``, ``parse``, ``models``, ``video``, ``bench``, ``eval``,
``serve``, ``live``) owns its options (``add_parser``) and its handler (``run``). Heavy modules
(numpy, OpenCV, ONNX Runtime, Qt) are imported inside the handlers so ``--help``
answers instantly. The desktop app and the HTTP service are handed in by the
launcher (``app.main``), so this package never imports them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from app.cli import bench, eval, live, models, parse, serve, still, video
from app.cli.common import FrontEnds, run_command

__all__ = ["FrontEnds", "build_parser", "main"]


def build_parser(front_ends: FrontEnds | None = None) -> argparse.ArgumentParser:
    front_ends = front_ends or FrontEnds()
    parser = argparse.ArgumentParser(
        prog="livematte",
        description="Cut people out of images and video, locally. With no command, opens the desktop app.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and debug logs")
    from app import __version__

    parser.add_argument("--version", action="version", version=f"livematte {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    still.add_parser(commands)
    parse.add_parser(commands)
    models.add_parser(commands)
    video.add_parser(commands)
    bench.add_parser(commands)
    eval.add_parser(commands)
    serve.add_parser(commands, front_ends.service)
    live.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, front_ends: FrontEnds | None = None) -> int:
    """Parses ``argv`` and runs the command; with no command, opens the desktop app (if handed one).

    Returns:
        The exit code: 0, a LiveMatteError's stable code, 2 for bad usage, 130 after Ctrl-C.
    """
    front_ends = front_ends or FrontEnds()
    parser = build_parser(front_ends)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a bad option (exit 2, before any work) or --help/--version (0)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        return _open_gui(parser, front_ends)
    return run_command(run, args)


def _open_gui(parser: argparse.ArgumentParser, front_ends: FrontEnds) -> int:
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
    if front_ends.gui is None:
        print("livematte: the desktop app is not part of this entry point; run `livematte` or `python -m app`",
              file=sys.stderr)
        return 1
    try:
        run_app = front_ends.gui()
    except ImportError as exc:  # e.g. Qt's system libraries missing
        print(f"livematte: the desktop app cannot start ({exc}); the commands still work (livematte --help)",
              file=sys.stderr)
        return 1
    return run_app()

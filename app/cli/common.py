"""What the commands share: option groups (model, batch, input limits), model loading,
first-use model downloads (progress bar, licence line), the error -> exit-code mapping,
and the front ends the launcher hands over.

Heavy modules are imported inside the functions so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("livematte")

GuiRunner = Callable[[], int]
ServiceRunner = Callable[..., int]


@dataclass(frozen=True)
class FrontEnds:
    """The front ends the command line can start, handed over by the launcher (``app.main``).

    Each is a loader that imports its front end and returns its run function, so the
    CLI never imports ``app.gui`` or ``app.service`` and ``--help`` loads neither.
    """

    gui: Callable[[], GuiRunner] | None = None
    service: Callable[[], ServiceRunner] | None = None


def ranged(kind: type, low: float | None = None, high: float | None = None, *, open_low: bool = False):
    """An argparse ``type`` that also checks the range: an out-of-range value is exit 2 before any work."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
        if value != value or (low is not None and (value <= low if open_low else value < low)) or (
                high is not None and value > high):
            lo = "" if low is None else f"{'>' if open_low else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {' and '.join(b for b in (lo, hi) if b)})")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "-m", default=None, help="matting model (see `livematte models`); default rvm")
    group.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    group.add_argument(
        "--offline", action="store_true",
        help="never download a missing model (also: LIVEMATTE_OFFLINE=1); default: download it on first use",
    )
    group.add_argument("--provider", default="auto", help="auto, cpu, cuda, directml or coreml (default auto)")
    group.add_argument("--threads", type=ranged(int, 0, 1024), default=0, help="CPU threads for inference (0 = automatic)")
    group.add_argument(
        "--ratio", type=ranged(float, 0.0, 1.0, open_low=True), default=None,
        help="RVM downsample_ratio in (0, 1]; default: chosen from the frame size",
    )


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("-o", "--output", default="out", help="output folder (default ./out)")
    parser.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders too")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input limits")
    group.add_argument("--min-side", type=ranged(int, 1), default=32, help="smallest accepted side in px (default 32)")
    group.add_argument("--max-side", type=ranged(int, 1), default=8192, help="largest accepted side in px (default 8192)")
    group.add_argument("--max-file-mb", type=ranged(float, 0.0, open_low=True), default=50.0,
                       help="largest accepted file in MB (default 50)")
    group.add_argument("--max-pixels", type=ranged(float, 0.0, open_low=True), default=50.0, metavar="MP",
                       help="largest accepted image in megapixels, width x height, checked before decoding; "
                            "bounds memory (default 50)")


def limits(args: argparse.Namespace):
    """The input limits the options ask for.

    Raises:
        SettingsError: --min-side above --max-side.
    """
    from app.core.errors import SettingsError
    from app.core.media.image_io import InputLimits

    if args.min_side > args.max_side:
        raise SettingsError(f"--min-side {args.min_side} is larger than --max-side {args.max_side}")
    return InputLimits(args.min_side, args.max_side, int(args.max_file_mb * 1024 * 1024), int(args.max_pixels * 1e6))


def load_matting_model(args: argparse.Namespace):
    from app.core.models import SessionConfig, get_spec, load_model
    from app.core.models.manifest import default_model

    name = args.model or default_model("matting")
    spec = get_spec(name)
    options = {"downsample_ratio": args.ratio} if spec.adapter == "rvm" else {}
    return load_model(name, args.models_dir, SessionConfig(args.provider, args.threads), **options)


def matting_name(args: argparse.Namespace) -> str:
    from app.core.models.manifest import default_model

    return args.model or default_model("matting")


def provide_models(args: argparse.Namespace, required: list[str], optional: tuple[str, ...] = ()):
    """Downloads the missing models a command needs (progress bar, licence line), unless offline.

    Raises:
        DownloadError: a required model could not be downloaded (one line, exit 21).
        ModelMissingError: --offline / LIVEMATTE_OFFLINE and a required model is missing.
    """
    from app.core.models.provision import ensure_models

    bar = DownloadBar(enabled=not getattr(args, "no_progress", False))
    try:
        return ensure_models(
            required, optional, args.models_dir, offline=args.offline, progress=bar,
            on_fetched=lambda result, spec: (bar.close(), print_fetched(result, spec)),
        )
    finally:
        bar.close()


def print_fetched(result, spec) -> None:
    """One line per model that landed on disk; its licence is shown here, once."""
    from app.core.models.fetch import licence_notice

    how = f"converted from {result.converted_from}" if result.converted_from else "downloaded"
    hashed = "SHA-256 checked" if result.hash_checked else "contract checked"
    print(f"livematte: model '{spec.name}' {how} -> {result.path} ({megabytes(result.path)}, {hashed}). "
          f"{licence_notice(spec)}", file=sys.stderr)


def megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


class DownloadBar:
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


def error_line(exc) -> str:
    """The one-line message of a LiveMatteError: ``livematte: error [code]: message``."""
    return f"livematte: error [{exc.code}]: {exc}"


def run_command(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs one command; a LiveMatteError becomes its stable exit code, Ctrl-C (SIGTERM, SIGHUP) exit 130."""
    from app.core.errors import LiveMatteError

    try:
        with termination_interrupts():
            return run(args)
    except LiveMatteError as exc:
        if args.verbose:
            log.exception("error")
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livematte: interrupted", file=sys.stderr)
        return 130


TERMINATION_SIGNALS = ("SIGTERM", "SIGHUP")  # kill, a closed terminal: handled like Ctrl-C


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so every temporary is removed on the way out."""


@contextlib.contextmanager
def termination_interrupts():
    """While a command runs, SIGTERM and SIGHUP raise like Ctrl-C (the default would end the
    process on the spot, leaving hidden .part files); commands may install their own handlers."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise Terminated(signal.Signals(signum).name)

    signals = [getattr(signal, name) for name in TERMINATION_SIGNALS if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

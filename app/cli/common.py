"""What the commands share: option groups (model, batch, input limits), model loading,
first-use model downloads (progress bar, licence line), the error -> exit-code mapping,
and the front ends the launcher hands over.

Heavy modules are imported inside the functions so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
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


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "-m", default=None, help="matting model (see `livematte models`); default rvm")
    group.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    group.add_argument(
        "--offline", action="store_true",
        help="never download a missing model (also: LIVEMATTE_OFFLINE=1); default: download it on first use",
    )
    group.add_argument("--provider", default="auto", help="auto, cpu, cuda, directml or coreml (default auto)")
    group.add_argument("--threads", type=int, default=0, help="CPU threads for inference (0 = automatic)")
    group.add_argument(
        "--ratio", type=float, default=None,
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
    group.add_argument("--min-side", type=int, default=32, help="smallest accepted side in px (default 32)")
    group.add_argument("--max-side", type=int, default=8192, help="largest accepted side in px (default 8192)")
    group.add_argument("--max-file-mb", type=float, default=50.0, help="largest accepted file in MB (default 50)")


def limits(args: argparse.Namespace):
    from app.core.media.image_io import InputLimits

    return InputLimits(args.min_side, args.max_side, int(args.max_file_mb * 1024 * 1024))


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
    """Runs one command; a LiveMatteError becomes its stable exit code, Ctrl-C exit 130."""
    from app.core.errors import LiveMatteError

    try:
        return run(args)
    except LiveMatteError as exc:
        if args.verbose:
            log.exception("error")
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livematte: interrupted", file=sys.stderr)
        return 130

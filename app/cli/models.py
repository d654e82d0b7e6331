"""``livematte models list|fetch|verify|path``: the model weights."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import error_line


def add_parser(commands) -> None:
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
    models.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
            print(error_line(exc), file=sys.stderr)
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

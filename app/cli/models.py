"""``livematte models list|fetch|verify|path``: the model weights."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import DownloadBar, error_line, megabytes, print_fetched


def add_parser(commands) -> None:
    models = commands.add_parser(
        "models", help="list, fetch and verify model weights",
        description="list: every known model, where its weights are and whether they verify. "
        "fetch NAME...|all: download into the user cache (resumes partial downloads; MediaPipe's TFLite "
        "originals are converted to ONNX here). verify [NAME...]: check hashes and tensor contracts. "
        "path: the folders searched, in order. Commands download a missing model on first use anyway; "
        "LIVEMATTE_MODEL_MIRROR=URL tries URL/<file name> first.",
    )
    models.add_argument(
        "action", nargs="?", default="list", choices=["list", "fetch", "verify", "path"],
        help="list (default), fetch, verify or path",
    )
    models.add_argument("names", nargs="*", metavar="NAME", help="model names (fetch: or 'all'); default all")
    models.add_argument("--models-dir", default=None, help="folder with model weights (searched first)")
    models.add_argument("--to", default=None, help="fetch: download into this folder (default: the user cache)")
    models.add_argument("--url", default=None, help="fetch: download from this URL (a mirror) instead of the manifest's")
    # licences are shown, never a gate (GPL-3.0 s. 9); the flag stays so old scripts keep working
    models.add_argument("--accept-licence", action="store_true", help=argparse.SUPPRESS)
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


def _models_path(args: argparse.Namespace) -> int:
    from app.core.models.store import search_locations

    for i, location in enumerate(search_locations(args.models_dir), 1):
        exists = "" if location.path.is_dir() else "  (does not exist)"
        print(f"{i}. {location.path}  [{location.origin}]{exists}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    """A table of every model: task, size, licence, status and where it is (or where it comes from)."""
    from app.core.models.fetch import download_sources, verify_file
    from app.core.models.store import find_weights, user_models_dir

    rows = [("NAME", "TASK", "SIZE", "LICENCE", "STATUS", "WHERE")]
    problems = []
    missing = 0
    for spec in _model_specs(args.names):
        found = find_weights(spec, args.models_dir)
        if found is None:
            missing += 1
            sources = download_sources(spec)
            how = ("download + convert (TFLite)" if sources[0].convert else "download") if sources else "no download known"
            rows.append((spec.name, spec.task, "-", spec.licence, "MISSING", how))
            continue
        check = verify_file(spec, found.path, found.file)
        rows.append((spec.name, spec.task, megabytes(found.path), spec.licence, check.summary,
                     f"{found.path} ({found.origin})"))
        if not check.ok:
            problems.append(f"{spec.name}: {found.path}: {check.problem}")
    print(_table(rows, right_aligned={2}))
    for problem in problems:
        print(problem)
    if missing:
        print(f"\n{missing} missing: commands download them on first use (--offline: never), "
              f"or `livematte models fetch NAME|all` now; they go to {user_models_dir()}")
    return 0


def _table(rows: list[tuple[str, ...]], right_aligned: set[int] = frozenset()) -> str:
    """Rows as aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right_aligned else cell if i == len(row) - 1 else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


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
    """Fetches the named models (or all); with several, one failure does not stop the rest.

    ``all`` ends with a report: what was fetched, what was already there, and
    what was skipped and why.
    """
    from app.core.errors import DownloadError, LiveMatteError, SettingsError

    if not args.names:
        raise SettingsError("name the model to fetch: `livematte models fetch NAME` (or `all`); see `livematte models`")
    specs = _model_specs(args.names)
    if args.url and len(specs) != 1:
        raise SettingsError("--url needs exactly one model name")
    if len(specs) == 1 and args.names != ["all"]:
        _fetch_one(specs[0], args)
        return 0
    outcome: dict[str, list[str]] = {"fetched": [], "present": [], "skipped": []}
    first_error: LiveMatteError | None = None
    for spec in specs:
        try:
            outcome[_fetch_one(spec, args)].append(spec.name)
        except LiveMatteError as exc:
            reason = _short_reason(exc) if isinstance(exc, DownloadError) else str(exc)
            outcome["skipped"].append(f"{spec.name} ({reason})")
            print(error_line(exc), file=sys.stderr)
            first_error = first_error or exc
    print(f"fetched: {', '.join(outcome['fetched']) or 'none'}; already present: {', '.join(outcome['present']) or 'none'}; "
          f"skipped: {', '.join(outcome['skipped']) or 'none'}")
    return first_error.exit_code if first_error else 0


def _short_reason(error) -> str:
    from app.core.models.fetch import failure_reason

    return failure_reason(error)


def _fetch_one(spec, args: argparse.Namespace) -> str:
    """Skips a model that is already present and valid (unless --force), else downloads it.

    Returns:
        "present" or "fetched".
    """
    from app.core.models.fetch import fetch_model, verify_file
    from app.core.models.store import find_weights, search_dirs

    if not args.force:
        found = find_weights(spec, args.models_dir)
        if found is not None and verify_file(spec, found.path, found.file).ok:
            print(f"{spec.name}: already present at {found.path} ({found.origin}); --force downloads it again")
            return "present"
    if args.url:
        spec = _with_url(spec, args.url)
    dest = Path(args.to).expanduser() if args.to else None
    bar = DownloadBar(enabled=not args.no_progress)
    try:
        result = fetch_model(spec, dest_dir=dest, progress=bar, timeout=args.timeout, force=args.force)
    except KeyboardInterrupt:
        bar.close()
        print(f"\n{spec.name}: interrupted; the same command resumes the download", file=sys.stderr)
        raise
    finally:
        bar.close()
    print_fetched(result, spec)
    if result.path.parent not in search_dirs(args.models_dir):
        print(f"note: {result.path.parent} is not searched; use --models-dir {result.path.parent}", file=sys.stderr)
    return "fetched" if result.downloaded else "present"


def _with_url(spec, url: str):
    """``spec`` downloading from ``url``; the URL's file name picks the manifest entry (and its hash).

    A URL naming a file's upstream original (``hair_segmentation.tflite``) is downloaded and converted.
    """
    import dataclasses

    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    original = next((f for f in spec.files if f.upstream and f.upstream.name == name), None)
    if original is not None:
        entry = dataclasses.replace(original, url=None, upstream=dataclasses.replace(original.upstream, url=url))
    else:
        entry = dataclasses.replace(next((f for f in spec.files if f.name == name), spec.files[0]), url=url, upstream=None)
    return dataclasses.replace(spec, files=(entry,))

"""First use: make sure the models a command needs are on disk, downloading what is missing.

Adapters never download (they get a session); the commands call
:func:`ensure_models` once, before loading, with every model they need. That
way a missing model is fetched with progress and the command goes on, and a
failure names every missing model at once, in one line, with the one command
that fetches them.

Offline (``--offline``, or ``LIVEMATTE_OFFLINE=1``) nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from app.core.errors import DownloadCancelledError, DownloadError, ModelMissingError
from app.core.models.fetch import DEFAULT_TIMEOUT_S, FetchResult, ProgressCallback, failure_reason, fetch_model
from app.core.models.manifest import ModelSpec
from app.core.models.store import find_weights

OFFLINE_ENV = "LIVEMATTE_OFFLINE"


def offline_setting() -> bool:
    """True when ``$LIVEMATTE_OFFLINE`` asks never to download (1, true, yes, on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Provisioned:
    """What :func:`ensure_models` did.

    ``skipped``: optional models that are still missing, with the reason.
    """

    present: list[str] = field(default_factory=list)
    fetched: list[FetchResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def fetch_command(names: Sequence[str]) -> str:
    return f"livematte models fetch {' '.join(names)}"


def ensure_models(
    required: Sequence[str],
    optional: Sequence[str] = (),
    models_dir: str | os.PathLike[str] | None = None,
    *,
    offline: bool = False,
    progress: ProgressCallback | None = None,
    on_fetched: Callable[[FetchResult, ModelSpec], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Provisioned:
    """Downloads every missing model of ``required`` and ``optional`` into the user cache.

    Args:
        required: models the caller cannot work without.
        optional: models it can do without (e.g. the hair model of ``parse``);
            a failure to get one is reported in ``skipped``, not raised.
        models_dir: the ``--models-dir`` searched first.
        offline: never download (also when :func:`offline_setting` is on).
        progress: download progress, called on this thread.
        on_fetched: called after each model landed on disk (e.g. to show its licence).
        cancel: set to stop a download (the part file is kept for resuming).
        timeout: seconds a connect or read may block.

    Returns:
        Which models were there, which were downloaded, which optional ones are missing.

    Raises:
        ModelMissingError: offline, and a required model is missing.
        DownloadError: a required model could not be downloaded (no network...);
            the message is one line naming the missing and present models and the
            command that fetches them.
        DownloadCancelledError: ``cancel`` was set.
        UnknownModelError: a name not in the manifest.
    """
    from app.core.models import get_spec

    names = list(dict.fromkeys([*required, *optional]))
    specs = {name: get_spec(name) for name in names}
    report = Provisioned()
    missing = []
    for name in names:
        (report.present if find_weights(specs[name], models_dir) is not None else missing).append(name)
    if not missing:
        return report
    if offline or offline_setting():
        _give_up(report, missing, required, {}, offline=True)
        return report
    failures: dict[str, DownloadError] = {}
    for name in missing:
        try:
            result = fetch_model(specs[name], progress=progress, cancel=cancel, timeout=timeout)
        except DownloadCancelledError:
            raise
        except DownloadError as exc:
            failures[name] = exc
            continue
        report.fetched.append(result)
        if on_fetched is not None:
            on_fetched(result, specs[name])
    _give_up(report, [n for n in missing if n in failures], required, failures, offline=False)
    return report


def _give_up(
    report: Provisioned, missing: list[str], required: Sequence[str], failures: dict[str, DownloadError], *, offline: bool
) -> None:
    """Raises for missing required models (naming the optional ones too); records missing optional ones."""
    for name in missing:
        if name not in required:
            report.skipped[name] = "offline" if offline else failure_reason(failures[name])
    if not any(name in required for name in missing):
        return
    listed = ", ".join(name if name in required else f"{name} (optional)" for name in missing)
    present = ", ".join(report.present + [r.model for r in report.fetched]) or "none"
    if offline:
        raise ModelMissingError(
            f"offline, and the models this needs are missing: {listed}; present: {present}; "
            f"fetch them with `{fetch_command(missing)}` when online"
        )
    reason = failure_reason(*(failures[name] for name in missing))
    raise DownloadError(
        f"cannot download the models this needs: {listed} ({reason}); present: {present}; "
        f"fetch them with `{fetch_command(missing)}` once the network is back",
        url=failures[missing[0]].url,
    )

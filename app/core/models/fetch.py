"""Getting weights onto disk: licence acceptance, download, verification.

Qt-free so the CLI and the GUI share it. The GUI calls :func:`fetch_model` on a
worker thread with a progress callback (called on that thread, so it must only
hand the value over, e.g. emit a signal) and a ``threading.Event`` to cancel.

A download goes to ``<target>.part`` first. Running the fetch again resumes a
partial file with an HTTP Range request. Only a file that passed its SHA-256
check (where the manifest knows one) and its tensor contract is renamed into
place, atomically, so a half-written or wrong file never sits under a name the
loader would pick up.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from platformdirs import user_config_dir

from app import __version__
from app.core.errors import DownloadCancelledError, DownloadError, LicenceNotAcceptedError, ModelCorruptError
from app.core.models.manifest import ModelSpec, WeightFile
from app.core.models.store import present_weights, sha256_of, user_models_dir

# Licences that need no click-through: use and redistribution only ask for attribution.
PERMISSIVE_LICENCES = frozenset(
    {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "Unlicense", "CC0-1.0"}
)
CHUNK_BYTES = 256 * 1024
DEFAULT_TIMEOUT_S = 30.0
USER_AGENT = f"livematte/{__version__}"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


# ---- progress and results ----------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A progress report for one file download.

    ``done`` counts bytes on disk, including any resumed from an earlier run;
    ``total`` is None when the server did not say how large the file is.
    """

    model: str
    file: str
    url: str
    done: int
    total: int | None
    resumed_from: int = 0

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class FetchResult:
    """Where a model's weights ended up and how they were checked."""

    model: str
    path: Path
    url: str | None  # None when a valid file was already there
    sha256: str
    hash_checked: bool  # the manifest had a SHA-256 and it matched
    downloaded: bool


# ---- licences ----------------------------------------------------------------------


def needs_licence_acceptance(spec: ModelSpec) -> bool:
    """True when ``spec``'s licence must be shown and accepted before a download."""
    return spec.licence not in PERMISSIVE_LICENCES


def licence_notice(spec: ModelSpec) -> str:
    """The text shown to a user before the first download of a non-permissive model."""
    where = f" ({spec.homepage})" if spec.homepage else ""
    return (
        f"'{spec.name}' ({spec.title}) is licensed under {spec.licence}{where}. You may download and "
        f"use it, but software or weights you redistribute with it are bound by the {spec.licence} terms."
    )


def default_licence_file() -> Path:
    """Where accepted licences are remembered: the user config folder."""
    return Path(user_config_dir("livematte", appauthor=False)) / "accepted_licences.json"


@dataclass
class LicenceBook:
    """Remembers which model licences the user accepted (model name -> licence id).

    Acceptance is tied to the licence id: if a model's licence changes in the
    manifest, the user is asked again. Tests pass a temporary ``path``.
    """

    path: Path = field(default_factory=default_licence_file)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no file yet, or unreadable: nothing accepted
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def is_accepted(self, spec: ModelSpec) -> bool:
        return not needs_licence_acceptance(spec) or self._read().get(spec.name) == spec.licence

    def accept(self, spec: ModelSpec) -> None:
        """Records acceptance of ``spec``'s licence (written atomically)."""
        accepted = self._read()
        accepted[spec.name] = spec.licence
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(accepted, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)

    def require(self, spec: ModelSpec) -> None:
        """Raises:
            LicenceNotAcceptedError: the licence needs acceptance and was not accepted yet.
        """
        if not self.is_accepted(spec):
            raise LicenceNotAcceptedError(
                f"{licence_notice(spec)} Accept it first: `livematte models fetch {spec.name} --accept-licence`"
            )


# ---- verification ------------------------------------------------------------------

HashStatus = Literal["match", "mismatch", "unknown"]


@dataclass(frozen=True)
class Verification:
    """The result of checking one weight file against the manifest."""

    model: str
    path: Path
    ok: bool
    hash_status: HashStatus
    problem: str | None = None

    @property
    def summary(self) -> str:
        if not self.ok:
            return "CORRUPT"
        return "verified" if self.hash_status == "match" else "contract ok"


def verify_file(spec: ModelSpec, path: Path, file: WeightFile | None = None) -> Verification:
    """Checks a file's SHA-256 (when the manifest knows it) and its tensor contract (always).

    Args:
        spec: the model the file should be.
        path: the file.
        file: its manifest entry; looked up by file name when None (a file under
            another name has no known hash, only the contract is checked).
    """
    from app.core.models.session import SessionConfig, create_session  # ORT is heavy: only when checking

    entry = file or next((f for f in spec.files if f.name == path.name), None)
    hash_status: HashStatus = "unknown"
    if entry is not None and entry.sha256:
        digest = sha256_of(path)
        if digest != entry.sha256.lower():
            problem = f"SHA-256 is {digest}, expected {entry.sha256}"
            return Verification(spec.name, path, False, "mismatch", problem)
        hash_status = "match"
    try:
        create_session(path, spec, SessionConfig(provider="cpu", threads=1))
    except ModelCorruptError as exc:
        return Verification(spec.name, path, False, hash_status, str(exc.args[0]))
    return Verification(spec.name, path, True, hash_status)


def verify_model(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> list[Verification]:
    """Verifies every file of ``spec`` found in the search folders (first = the one used)."""
    return [verify_file(spec, found.path, found.file) for found in present_weights(spec, models_dir)]


# ---- downloading one URL -----------------------------------------------------------


@dataclass
class _Transfer:
    """What one download attempt is about; keeps the helpers' signatures short."""

    model: str
    url: str
    target: Path
    timeout: float
    progress: ProgressCallback | None
    cancel: threading.Event | None

    @property
    def part(self) -> Path:
        return self.target.with_name(self.target.name + ".part")

    def fail(self, reason: str) -> DownloadError:
        return DownloadError(
            f"cannot download model '{self.model}' from {self.url}: {reason}",  # the path prefix names the file
            path=str(self.target),
            url=self.url,
        )

    def report(self, done: int, total: int | None, resumed_from: int) -> None:
        if self.progress is not None:
            self.progress(Progress(self.model, self.target.name, self.url, done, total, resumed_from))


def download_file(
    url: str,
    target: Path,
    *,
    model: str = "",
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Downloads ``url`` into ``target.part``, resuming what is already there.

    The caller renames the part into place after its own checks (see
    :func:`fetch_model`); this function only gets the bytes right.

    Args:
        url: http(s) address.
        target: final path; the bytes go to ``<target>.part``.
        model: the model name, for messages and progress reports.
        sha256: expected hex digest; a mismatch deletes the part file.
        progress: called after every chunk (on the calling thread).
        cancel: set it to stop between chunks; the part file is kept for resuming.
        timeout: seconds a connect or a read may block.

    Returns:
        The complete ``.part`` file.

    Raises:
        DownloadError: HTTP error, no network, server stopped mid-file (part kept),
            wrong size or SHA-256 (part deleted), cannot write the folder.
        DownloadCancelledError: ``cancel`` was set.
    """
    transfer = _Transfer(model, url, target, timeout, progress, cancel)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise transfer.fail(f"cannot create folder {target.parent}: {exc.strerror or exc}") from exc
    _receive(transfer)
    if sha256:
        digest = sha256_of(transfer.part)
        if digest != sha256.lower():
            transfer.part.unlink(missing_ok=True)  # a complete but wrong file cannot be resumed
            raise transfer.fail(f"SHA-256 mismatch: got {digest}, expected {sha256}; the download was deleted")
    return transfer.part


def _receive(transfer: _Transfer) -> None:
    """Brings ``transfer.part`` to the full size of the remote file."""
    offset = transfer.part.stat().st_size if transfer.part.is_file() else 0
    for start in (offset, 0) if offset else (0,):
        response = _open(transfer, start)
        if response is None:  # 416 with a part that is already complete
            return
        with response:
            body = _body_range(response, start)
            if body is not None:
                _copy_body(transfer, response, *body)
                return
        # a 206 for a range we did not ask for cannot be appended safely: start over
        transfer.part.unlink(missing_ok=True)
    raise transfer.fail("the server answered with a byte range that was not asked for")


def _open(transfer: _Transfer, offset: int) -> http.client.HTTPResponse | None:
    """Opens the URL (with a Range header when resuming); maps failures to DownloadError."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(transfer.url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=transfer.timeout)  # noqa: S310 (URLs come from the manifest)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset and _complete_size(exc.headers.get("Content-Range")) == offset:
            return None  # an earlier run got every byte but stopped before the rename
        if exc.code == 416 and offset:
            transfer.part.unlink(missing_ok=True)  # the part is longer than the file: it is not this file
            return _open(transfer, 0)
        raise transfer.fail(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise transfer.fail(_network_reason(exc.reason, transfer.timeout)) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise transfer.fail(_network_reason(exc, transfer.timeout)) from exc


def _complete_size(content_range: str | None) -> int | None:
    """The total from a 416 answer's ``Content-Range: bytes */TOTAL``."""
    match = re.fullmatch(r"bytes\s+\*/(\d+)", (content_range or "").strip())
    return int(match.group(1)) if match else None


def _body_range(response: http.client.HTTPResponse, offset: int) -> tuple[int, int | None] | None:
    """(first byte of the file in this body, total size or None); None for an unusable 206.

    A 200 answer to a Range request means the server ignored the range: the body
    is the whole file, so the part is rewritten from byte 0 rather than appended to.
    """
    if response.status != 206:
        length = response.headers.get("Content-Length")
        return 0, None if length is None else int(length)
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if not match or int(match.group(1)) != offset:
        return None
    return offset, None if match.group(3) == "*" else int(match.group(3))


def _copy_body(transfer: _Transfer, response: http.client.HTTPResponse, offset: int, total: int | None) -> None:
    """Appends the body to the part file, reporting progress and honouring cancel."""
    done = offset
    transfer.report(done, total, offset)
    try:
        sink = open(transfer.part, "ab" if offset else "wb")
    except OSError as exc:
        raise transfer.fail(f"cannot write {transfer.part}: {exc.strerror or exc}") from exc
    with sink:
        while True:
            if transfer.cancel is not None and transfer.cancel.is_set():
                raise DownloadCancelledError(
                    f"download of model '{transfer.model}' cancelled after {done} bytes; "
                    "fetching again resumes it",
                    path=str(transfer.part),
                    url=transfer.url,
                )
            chunk = _read_chunk(transfer, response, done, total)
            if not chunk:
                break
            _write(transfer, sink, chunk)
            done += len(chunk)
            transfer.report(done, total, offset)
        sink.flush()
        os.fsync(sink.fileno())
    if total is not None and done != total:
        raise transfer.fail(
            f"the server stopped sending after {done} of {total} bytes; "
            f"the partial file {transfer.part} is kept and fetching again resumes it"
        )


def _read_chunk(transfer: _Transfer, response: http.client.HTTPResponse, done: int, total: int | None) -> bytes:
    try:
        return response.read(CHUNK_BYTES)
    except http.client.IncompleteRead as exc:
        return exc.partial  # the size check after the loop reports the short file
    except (OSError, http.client.HTTPException) as exc:
        of_total = f" of {total}" if total is not None else ""
        raise transfer.fail(
            f"connection lost after {done}{of_total} bytes ({_network_reason(exc, transfer.timeout)}); "
            f"the partial file {transfer.part} is kept and fetching again resumes it"
        ) from exc


def _write(transfer: _Transfer, sink, chunk: bytes) -> None:
    try:
        sink.write(chunk)
    except OSError as exc:  # disk full, quota, removed folder
        raise transfer.fail(f"cannot write {transfer.part}: {exc.strerror or exc}") from exc


def _network_reason(reason: object, timeout: float) -> str:
    """A one-line, user-facing reason for a network failure."""
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name (no network connection, or a DNS/proxy problem?)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (no network connection, a firewall, or the server is down?)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s (slow or no network connection?)"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason}); a proxy that intercepts HTTPS needs its certificate installed"
    if isinstance(reason, ConnectionError):
        return f"connection failed ({reason})"
    return str(reason) or type(reason).__name__


# ---- fetching a model --------------------------------------------------------------


def downloadable_files(spec: ModelSpec) -> list[WeightFile]:
    """The manifest files of ``spec`` that have a URL, in order of preference."""
    return [f for f in spec.files if f.url]


def fetch_model(
    spec: ModelSpec,
    *,
    dest_dir: Path | None = None,
    licences: LicenceBook | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    force: bool = False,
) -> FetchResult:
    """Downloads and checks ``spec``'s weights into ``dest_dir`` (the user cache by default).

    Tries the manifest's URLs in order; when one fails (HTTP error, network, wrong
    hash, wrong tensor contract) the next is tried. To download from somewhere
    else (a mirror, a test server) pass a spec with other files, e.g.
    ``dataclasses.replace(spec, files=(WeightFile(name, url=...),))``.

    Args:
        spec: the model.
        dest_dir: where the file goes; default :func:`user_models_dir`.
        licences: acceptance store; default the user config file. A model whose
            licence is not permissive must be accepted there first (the caller shows
            :func:`licence_notice` and calls ``LicenceBook.accept``).
        progress: called with a :class:`Progress` after every chunk, on this thread.
        cancel: set from another thread to stop; the partial file is kept for resuming.
        timeout: seconds a connect or read may block.
        force: download again even if a valid file is already in ``dest_dir``.

    Returns:
        Where the file is and how it was checked.

    Raises:
        LicenceNotAcceptedError: the licence needs acceptance first.
        DownloadCancelledError: ``cancel`` was set.
        DownloadError: no URL is known, or every URL failed (the message lists each).
    """
    (licences or LicenceBook()).require(spec)
    folder = dest_dir or user_models_dir()
    candidates = downloadable_files(spec)
    if not candidates:
        raise DownloadError(
            f"no download is known for model '{spec.name}'; put {spec.files[0].name} into {folder} "
            "or point --models-dir at a folder that has it",
            path=str(folder),
        )
    if not force:
        existing = _valid_existing(spec, folder, candidates)
        if existing is not None:
            return existing
    failures: list[DownloadError] = []
    for file in candidates:
        try:
            return _fetch_file(spec, file, folder, progress, cancel, timeout)
        except DownloadCancelledError:
            raise
        except DownloadError as exc:
            failures.append(exc)
    raise _combined(spec, failures, folder)


def _valid_existing(spec: ModelSpec, folder: Path, candidates: list[WeightFile]) -> FetchResult | None:
    for file in candidates:
        path = folder / file.name
        if path.is_file():
            check = verify_file(spec, path, file)
            if check.ok:
                return FetchResult(spec.name, path, None, sha256_of(path), check.hash_status == "match", False)
    return None


def _fetch_file(
    spec: ModelSpec,
    file: WeightFile,
    folder: Path,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> FetchResult:
    """One candidate: download, check hash and contract on the part file, rename into place."""
    url = file.url or ""  # downloadable_files() only passes files with a URL
    target = folder / file.name
    part = download_file(
        url, target, model=spec.name, sha256=file.sha256, progress=progress, cancel=cancel, timeout=timeout
    )
    # the contract is checked before the rename so a wrong file never lands under a loadable name
    check = verify_file(spec, part, WeightFile(part.name, url, None))  # hash was checked while downloading
    if not check.ok:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"the file downloaded from {url} is not a valid '{spec.name}' model ({check.problem}); it was deleted",
            path=str(target),
            url=url,
        )
    os.replace(part, target)
    return FetchResult(spec.name, target, url, sha256_of(target), bool(file.sha256), True)


def _combined(spec: ModelSpec, failures: list[DownloadError], folder: Path) -> DownloadError:
    """One error for all failed URLs; a single failure is passed on unchanged."""
    if len(failures) == 1:
        return failures[0]
    reasons = "; ".join(f"({i}) {exc.args[0]}" for i, exc in enumerate(failures, 1))
    error = DownloadError(
        f"every download of model '{spec.name}' failed: {reasons}", path=str(folder), url=failures[-1].url
    )
    error.__cause__ = failures[-1]
    return error

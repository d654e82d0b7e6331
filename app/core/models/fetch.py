"""Getting weights onto disk: download, local conversion, verification.

Qt-free so the CLI and the GUI share it. The GUI calls :func:`fetch_model` on a
worker thread with a progress callback (called on that thread, so it must only
hand the value over, e.g. emit a signal) and a ``threading.Event`` to cancel.

A download goes to ``<target>.part`` first. Running the fetch again resumes a
partial file with an HTTP Range request. Only a file that passed its SHA-256
check (where the manifest knows one) and its tensor contract is renamed into
place, atomically, so a half-written or wrong file never sits under a name the
loader would pick up.

Where the publisher ships only TFLite (MediaPipe), the manifest names the
official original (``upstream``): it is downloaded, checked against its
SHA-256, converted here (:mod:`app.core.models.tflite`), and the converted bytes
are checked against the converted file's SHA-256 before the rename.

Licences are shown, never a gate: GPL-3.0 (section 9) needs no acceptance to
receive or run a copy.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal
from urllib.parse import quote

from app import __version__
from app.core.errors import DownloadCancelledError, DownloadError, ModelConversionError, ModelCorruptError
from app.core.models.manifest import ModelSpec, WeightFile
from app.core.models.store import present_weights, sha256_of, user_models_dir

MIRROR_ENV = "LIVEMATTE_MODEL_MIRROR"
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
    converted_from: str | None = None  # the upstream original (TFLite) it was converted from here


# ---- licences ----------------------------------------------------------------------


def licence_notice(spec: ModelSpec) -> str:
    """One line on a model's licence, shown where it is listed and when it is downloaded."""
    where = f" ({spec.homepage})" if spec.homepage else ""
    return (
        f"Licence: {spec.licence}{where}; using it needs no acceptance, "
        "redistributing it (or software bundling it) is bound by its terms."
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
        return _download_error(
            f"cannot download model '{self.model}' from {self.url}: {reason}",  # the path prefix names the file
            reason, path=str(self.target), url=self.url,
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
        # a fresh opener per request: it reads the proxy settings now, not when the first download ran
        return urllib.request.build_opener().open(request, timeout=transfer.timeout)  # noqa: S310 (manifest URLs)
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


def _download_error(message: str, reason: str, *, path: str | None, url: str | None) -> DownloadError:
    """A DownloadError that also carries (host, short reason) pairs for one-line summaries."""
    error = DownloadError(message, path=path, url=url)
    error.reasons = [(urllib.parse.urlsplit(url).netloc if url else "", reason)]  # type: ignore[attr-defined]
    return error


def failure_reason(*errors: DownloadError) -> str:
    """Why downloads failed, short: each reason once, with the hosts it happened at.

    A 404 at one address is expected when another failed for a network reason
    (a mirror need not hold every name), so HTTP 4xx answers are left out then.
    """
    pairs = [pair for error in errors for pair in getattr(error, "reasons", [("", str(error.args[0]))])]
    network = [(host, reason) for host, reason in pairs if not reason.startswith("HTTP 4")]
    hosts_by_reason: dict[str, list[str]] = {}
    for host, reason in network or pairs:
        hosts = hosts_by_reason.setdefault(reason, [])
        if host and host not in hosts:
            hosts.append(host)
    return "; ".join(f"{reason} at {', '.join(hosts)}" if hosts else reason for reason, hosts in hosts_by_reason.items())


@dataclass(frozen=True)
class Source:
    """One place a fetch can get a manifest file from.

    ``convert``: ``url`` is the file's upstream original (TFLite), converted here.
    """

    file: WeightFile
    url: str
    convert: bool = False

    @property
    def remote_name(self) -> str:
        return self.file.upstream.name if self.convert and self.file.upstream else self.file.name


def model_mirror() -> str | None:
    """``$LIVEMATTE_MODEL_MIRROR`` without a trailing slash, or None."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value.rstrip("/") or None


def download_sources(spec: ModelSpec, mirror: str | None = None) -> list[Source]:
    """Where ``spec``'s files can come from, in the order a fetch tries them.

    With a mirror (argument, else ``$LIVEMATTE_MODEL_MIRROR``) every file and
    every upstream original is tried there first, at ``<mirror>/<its name>``;
    then the official addresses from the manifest.
    """
    mirror = mirror or model_mirror()
    sources: list[Source] = []
    if mirror:
        for file in spec.files:
            sources.append(Source(file, f"{mirror}/{quote(file.name)}"))
            if file.upstream:
                sources.append(Source(file, f"{mirror}/{quote(file.upstream.name)}", convert=True))
    for file in spec.files:
        if file.url:
            sources.append(Source(file, file.url))
        if file.upstream and file.upstream.url:
            sources.append(Source(file, file.upstream.url, convert=True))
    return sources


def downloadable_files(spec: ModelSpec) -> list[WeightFile]:
    """The manifest files of ``spec`` a fetch can get (mirror included), in order of preference."""
    files: list[WeightFile] = []
    for source in download_sources(spec):
        if source.file not in files:
            files.append(source.file)
    return files


def conversion_options(spec: ModelSpec, file: WeightFile):
    """How a file of ``spec`` is converted: the contract's tensor names, provenance as metadata.

    The metadata holds only what is fixed by the manifest (no URL, no time), so
    the converted bytes, and so their SHA-256, stay the same everywhere.
    """
    from app.core.models.tflite import CONVERTER_VERSION, ConversionOptions

    upstream = file.upstream
    metadata = (
        ("source", upstream.name if upstream else ""),
        ("source_sha256", (upstream.sha256 or "") if upstream else ""),
        ("license", spec.licence),
        ("conversion", f"livematte-tflite {CONVERTER_VERSION}"),
    )
    return ConversionOptions(
        input_names=[t.name for t in spec.inputs], output_names=[t.name for t in spec.outputs],
        metadata=metadata, graph_name=spec.name,
    )


def fetch_model(
    spec: ModelSpec,
    *,
    dest_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    force: bool = False,
    mirror: str | None = None,
) -> FetchResult:
    """Downloads (and where needed converts) and checks ``spec``'s weights into ``dest_dir``.

    Tries :func:`download_sources` in order; when one fails (HTTP error, network,
    wrong hash, failed conversion, wrong tensor contract) the next is tried.

    Args:
        spec: the model.
        dest_dir: where the file goes; default :func:`user_models_dir`.
        progress: called with a :class:`Progress` after every chunk, on this thread.
        cancel: set from another thread to stop; the partial file is kept for resuming.
        timeout: seconds a connect or read may block.
        force: download again even if a valid file is already in ``dest_dir``.
        mirror: try ``<mirror>/<file name>`` first (default ``$LIVEMATTE_MODEL_MIRROR``).

    Returns:
        Where the file is and how it was checked.

    Raises:
        DownloadCancelledError: ``cancel`` was set.
        DownloadError: no source is known, or every source failed (the message lists each).
    """
    folder = dest_dir or user_models_dir()
    sources = download_sources(spec, mirror)
    if not sources:
        raise _download_error(
            f"no download is known for model '{spec.name}'; put {spec.files[0].name} into {folder} "
            "or point --models-dir at a folder that has it",
            "no download is known", path=str(folder), url=None,
        )
    if not force:
        existing = _valid_existing(spec, folder, [s.file for s in sources])
        if existing is not None:
            return existing
    failures: list[DownloadError] = []
    for source in sources:
        try:
            if source.convert:
                return _fetch_converted(spec, source, folder, progress, cancel, timeout)
            return _fetch_file(spec, source, folder, progress, cancel, timeout)
        except DownloadCancelledError:
            raise
        except DownloadError as exc:
            failures.append(exc)
    raise _combined(spec, failures, folder)


def _valid_existing(spec: ModelSpec, folder: Path, candidates: list[WeightFile]) -> FetchResult | None:
    for file in dict.fromkeys(candidates):
        path = folder / file.name
        if path.is_file():
            check = verify_file(spec, path, file)
            if check.ok:
                return FetchResult(spec.name, path, None, sha256_of(path), check.hash_status == "match", False)
    return None


def _fetch_file(
    spec: ModelSpec,
    source: Source,
    folder: Path,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> FetchResult:
    """One ready-made file: download, check hash and contract on the part file, rename into place."""
    file, url = source.file, source.url
    target = folder / file.name
    part = download_file(
        url, target, model=spec.name, sha256=file.sha256, progress=progress, cancel=cancel, timeout=timeout
    )
    return _install(spec, part, target, url, bool(file.sha256))


def _fetch_converted(
    spec: ModelSpec,
    source: Source,
    folder: Path,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> FetchResult:
    """The upstream original: download, check its hash, convert, check the converted hash, install."""
    from app.core.models.tflite import convert_tflite  # the converter pulls in onnx: only when converting

    file, url = source.file, source.url
    upstream = file.upstream
    assert upstream is not None  # download_sources only makes convert sources for files with one
    target = folder / file.name
    original = download_file(
        url, folder / upstream.name, model=spec.name, sha256=upstream.sha256,
        progress=progress, cancel=cancel, timeout=timeout,
    )
    try:
        converted = convert_tflite(original.read_bytes(), conversion_options(spec, file))
    except ModelConversionError as exc:
        raise _download_error(
            f"cannot convert {upstream.name} from {url} for model '{spec.name}': {exc}",
            f"conversion failed ({exc})", path=str(target), url=url,
        ) from exc
    finally:
        original.unlink(missing_ok=True)  # ours, and not needed once converted (or unusable)
    digest = hashlib.sha256(converted).hexdigest()
    if file.sha256 and digest != file.sha256.lower():
        reason = f"the converted file's SHA-256 is {digest}, the manifest expects {file.sha256}"
        raise _download_error(
            f"converting {upstream.name} from {url} for model '{spec.name}' gave other bytes than expected: "
            f"{reason}; nothing was installed", reason, path=str(target), url=url,
        )
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as sink:
            sink.write(converted)
            sink.flush()
            os.fsync(sink.fileno())
    except OSError as exc:
        part.unlink(missing_ok=True)
        reason = f"cannot write {part}: {exc.strerror or exc}"
        raise _download_error(f"cannot install model '{spec.name}': {reason}", reason, path=str(target), url=url) from exc
    return _install(spec, part, target, url, bool(file.sha256), converted_from=upstream.name)


def _install(
    spec: ModelSpec, part: Path, target: Path, url: str, hash_checked: bool, converted_from: str | None = None
) -> FetchResult:
    """Checks the tensor contract of a finished part file and renames it into place."""
    # the contract is checked before the rename so a wrong file never lands under a loadable name
    check = verify_file(spec, part, WeightFile(part.name, url, None))  # the hash was checked already
    if not check.ok:
        part.unlink(missing_ok=True)
        raise _download_error(
            f"the file from {url} is not a valid '{spec.name}' model ({check.problem}); it was deleted",
            f"not a valid '{spec.name}' model", path=str(target), url=url,
        )
    os.replace(part, target)
    return FetchResult(spec.name, target, url, sha256_of(target), hash_checked, True, converted_from)


def _combined(spec: ModelSpec, failures: list[DownloadError], folder: Path) -> DownloadError:
    """One error for all failed sources; a single failure is passed on unchanged."""
    if len(failures) == 1:
        return failures[0]
    reasons = "; ".join(f"({i}) {exc.args[0]}" for i, exc in enumerate(failures, 1))
    error = DownloadError(f"every download of model '{spec.name}' failed: {reasons}", path=str(folder), url=failures[-1].url)
    error.reasons = [pair for exc in failures for pair in getattr(exc, "reasons", [])]  # type: ignore[attr-defined]
    error.__cause__ = failures[-1]
    return error

"""Helpers the API families share: where keys come from, safe messages, running blocking work."""

from __future__ import annotations

import re
import time
from typing import Callable, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from app.core.errors import LiveMatteError, ModelError, ModelMissingError

T = TypeVar("T")

# "<ALGORITHM> Credential=<key id>/<date>/..." as JD (JDCLOUD2-HMAC-SHA256, sometimes
# written without the space) and Tencent (TC3-HMAC-SHA256) sign requests
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# an absolute file path (POSIX or Windows); "/" inside a URL follows a word character and is left alone
SERVER_PATH = re.compile(r"(?<![\w:/.~-])(?:[A-Za-z]:\\|/)[^\s'\",;()]*[\\/]([^\s'\",;()\\/]*)")
MISSING_MODEL = re.compile(r"^(model '[^']+' not found \([^;)]+)")


def credential_key(request: Request) -> str | None:
    """The key id of a signed ``Authorization: <ALG> Credential=<key>/...`` header (the
    signature itself is not verified: the key id is this service's API key)."""
    match = CREDENTIAL.search(request.headers.get("authorization", ""))
    return match.group(1) if match else None


def request_keys(request: Request) -> list[str | None]:
    """API keys a client may send, in any family's usual place: ``X-API-Key``,
    ``Authorization: Bearer``, the key id of a signed ``Authorization`` header
    (JD's JDCLOUD2-HMAC-SHA256, Tencent's TC3-HMAC-SHA256), PicUP's ``APIKEY``
    header, JD's ``appkey`` query and Face++'s ``api_key`` query (its form field
    is checked by its route)."""
    bearer = request.headers.get("authorization", "")
    return [
        request.headers.get("x-api-key"),
        bearer[7:].strip() if bearer.lower().startswith("bearer ") else None,
        credential_key(request),
        request.headers.get("apikey"),
        request.query_params.get("appkey"),
        request.query_params.get("api_key"),
    ]


def public_message(exc: LiveMatteError) -> str:
    """The error's message for a client: no file path of this server in it.

    A missing model names the model and its file (the operator's fix), not
    the folders searched; any other absolute path is cut to its file name.
    """
    text = str(exc)
    if isinstance(exc, ModelMissingError):
        match = MISSING_MODEL.match(exc.args[0] if exc.args else text)
        if match:
            return f"{match.group(1)}) on this server; its operator can install it with `livematte models fetch`"
    if isinstance(exc, ModelError) and exc.path:
        text = f"{scrub_paths(exc.path)}: {exc.args[0] if exc.args else ''}"
    return scrub_paths(text)


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its last component."""
    return SERVER_PATH.sub(lambda m: m.group(1) or "<path>", text)


class FormError(Exception):
    """A form body that cannot be parsed (bad boundary, too many parts, broken encoding)."""


async def read_form(request: Request, max_part_size: int) -> FormData:
    """The multipart or url-encoded form of ``request``, a text field as large as ``max_part_size``.

    The framework's default (1 MiB a field) refused Face++'s ``image_base64``
    for photos over ~768 KB; the whole body is already bounded by the body
    limit, so a field may be as large as that.

    Raises:
        FormError: the body is not a well-formed form.
    """
    try:
        return await request.form(max_files=8, max_fields=64, max_part_size=max_part_size)
    except (HTTPException, MultiPartException) as exc:
        raise FormError(getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormError(f"the form cannot be read ({exc})") from exc


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Runs CPU work (decode, inference, PNG encoding) in the thread pool so the
    event loop keeps answering /health and refusing over-limit requests."""
    return await run_in_threadpool(fn, *args)


def now_ms() -> int:
    return int(time.time() * 1000)


def elapsed_ms(start: float) -> int:
    return int(round((time.perf_counter() - start) * 1000))

"""The FastAPI application: limits, browser safety, API key, health, and the cloud-compatible routes.

Each API family (``jd``, ``facepp``, ``picup``, ``tencent``) answers in its own
envelope, including for the errors the framework raises before or instead of
a route (unknown path, wrong method, malformed body, body too large, refused
browser request, a crash): ``FAMILIES`` maps a path prefix to the function
that shapes them, ``EXACT`` a whole path (Tencent answers on ``/``, a prefix
of every path). Paths of no family get a plain ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.service import facepp, jd, picup, tencent
from app.service.browser import BrowserPolicy
from app.service.engine import Engine

ErrorShaper = Callable[[int, str], Response]
LARGE_BODY = 8 * 1024 * 1024  # a request body this large is worth returning its memory for
log = logging.getLogger(__name__)

# path prefix -> (HTTP status, message) -> the family's error response
FAMILIES: dict[str, ErrorShaper] = {
    "/jdai/": jd.gateway_error,
    "/humanbodypp/": facepp.gateway_error,
    "/facepp/": facepp.gateway_error,  # other Face++ APIs a client may try: API_NOT_FOUND, in shape
    "/api/": picup.gateway_error,
}
EXACT: dict[str, ErrorShaper] = {"/": tencent.gateway_error}


def shaped_error(path: str, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error response of the API family that owns ``path``."""
    if path in EXACT:
        response = EXACT[path](status, message)
    else:
        shaper = next((s for prefix, s in FAMILIES.items() if path.startswith(prefix)), None)
        response = shaper(status, message) if shaper else JSONResponse({"detail": message}, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses bodies over ``limit`` bytes with 413, before the route reads them.

    Checks Content-Length up front, and counts streamed bytes too (chunked
    uploads have no length), so an oversize body is never buffered whole.
    """

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send, path)
            return
        seen = 0
        started = exceeded = replaced = False

        async def counting_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # a parser caught our signal and answered 400: the 413 is the truth
                    replaced = True
                    await self._refuse(scope, receive, send, path)
                    return
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, path)

    async def _refuse(self, scope, receive, send, path: str) -> None:
        response = shaped_error(path, 413, f"Request Entity Too Large: the limit is {self.limit} bytes")
        response.headers["connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


class BrowserGuardMiddleware:
    """Refuses requests for a foreign Host or from a foreign page (see ``app.service.browser``);
    answers CORS preflights and tags responses for origins the user allowed."""

    def __init__(self, app, policy: BrowserPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host, origin, path = headers.get("host"), headers.get("origin"), scope.get("path", "")
        if not self.policy.host_allowed(host):
            response = shaped_error(path, 403, f"Host '{host}' is not this server; start it with --allow-host "
                                    "to answer that name")
            await response(scope, receive, send)
            return
        if not self.policy.origin_allowed(origin, host):
            response = shaped_error(path, 403, f"requests from the web page {origin} are refused; start the "
                                    "server with --allow-origin to let that page call it")
            await response(scope, receive, send)
            return
        allow = self.policy.cors_origin(origin)
        if scope["method"] == "OPTIONS" and allow and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, allow, headers)
            return
        if allow is None:
            await self.app(scope, receive, send)
            return

        async def tagged_send(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"access-control-allow-origin", allow.encode("latin-1")), (b"vary", b"Origin")]
            await send(message)

        await self.app(scope, receive, tagged_send)

    @staticmethod
    async def _preflight(scope, receive, send, allow: str, headers: dict[str, str]) -> None:
        response = Response(status_code=204, headers={
            "access-control-allow-origin": allow,
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": headers.get("access-control-request-headers", ""),
            "access-control-max-age": "600", "vary": "Origin",
        })
        await response(scope, receive, send)


class MemoryReleaseMiddleware:
    """After a response is sent, returns memory to the system if the request decoded a large image
    or had a large body (its JSON and base64 copies are gone by then too)."""

    def __init__(self, app, engine: Engine, large_body: int = LARGE_BODY) -> None:
        self.app = app
        self.engine = engine
        self.large_body = large_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            if seen >= self.large_body:
                self.engine.mark_large()
            await run_in_threadpool(self.engine.release_if_large)


def create_app(engine: Engine, policy: BrowserPolicy = BrowserPolicy()) -> FastAPI:
    """The service over ``engine`` (already loaded: one model per process).

    ``policy``: which Host and Origin headers are answered (default: this
    machine's names only, no foreign web page).
    """
    limits = engine.limits
    api = FastAPI(
        title="LiveMatte local service",
        version="1",
        description=(
            "Person matting, confidence maps, body keypoints and face parsing on this machine, answering the "
            "requests of JD SelfieSeg and face_parser, Face++ HumanBody Segment V2, PicUP matting and Tencent "
            "SegmentCustomizedPortraitPic. Nothing leaves the machine: image URLs are refused. Each API keeps "
            "the limits of its own document (sizes, file size, formats) unless the server runs with --lenient."
        ),
    )
    api.state.engine = engine

    @api.get("/health", tags=["service"])
    def health() -> dict[str, object]:
        """Liveness and what is loaded; needs no API key."""
        return {
            "status": "ok", "model": engine.model_name, "provider": engine.provider,
            "pending": engine.pending, "max_pending": limits.max_pending,
            "max_request_bytes": limits.max_request_bytes, "max_side": limits.image.max_side,
            "max_request_pixels": limits.max_request_pixels, "max_images": limits.max_images,
            "lenient": limits.lenient, "api_key_required": bool(engine.api_key),
        }

    @api.exception_handler(RequestValidationError)
    async def bad_arguments(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return shaped_error(request.url.path, 400, f"BAD_ARGUMENTS: {fields}")

    @api.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        """404, 405 and malformed bodies the framework finds itself, in the family's shape."""
        return shaped_error(request.url.path, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @api.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return shaped_error(request.url.path, 500, "internal error; the server log has the details")

    api.include_router(jd.router(engine))
    api.include_router(facepp.router(engine))
    api.include_router(picup.router(engine))
    api.include_router(tencent.router(engine))
    # added innermost first: the browser guard runs before anything reads the body
    api.add_middleware(BodyLimitMiddleware, limit=limits.max_request_bytes)
    api.add_middleware(MemoryReleaseMiddleware, engine=engine)
    api.add_middleware(BrowserGuardMiddleware, policy=policy)
    return api

"""The FastAPI application: limits, API key, health, and the cloud-compatible routes.

Each API family (``jd``, ``facepp``, ``picup``, ``tencent``) answers in its own
envelope, including for the errors raised here before a route runs (body too
large, wrong key): ``FAMILIES`` maps a path prefix to the function that shapes
them, ``EXACT`` a whole path (Tencent answers on ``/``, a prefix of every path).
"""

from __future__ import annotations

import json
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.service import facepp, jd, picup, tencent
from app.service.engine import Engine

ErrorShaper = Callable[[int, str], tuple[int, dict]]

# path prefix -> (status, message) -> (HTTP status, family-shaped body)
FAMILIES: dict[str, ErrorShaper] = {
    "/jdai/": jd.gateway_error,
    "/humanbodypp/": facepp.gateway_error,
    "/api/v1/": picup.gateway_error,
}
EXACT: dict[str, ErrorShaper] = {"/": tencent.gateway_error}


def _shape(path: str, status: int, message: str) -> tuple[int, dict]:
    if path in EXACT:
        return EXACT[path](status, message)
    for prefix, shaper in FAMILIES.items():
        if path.startswith(prefix):
            return shaper(status, message)
    return status, {"detail": message}


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
            await self._refuse(path, send)
            return
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(path, send)

    async def _refuse(self, path: str, send) -> None:
        status, body = _shape(path, 413, f"Request Entity Too Large: the limit is {self.limit} bytes")
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


def create_app(engine: Engine) -> FastAPI:
    """The service over ``engine`` (already loaded: one model per process)."""
    api = FastAPI(
        title="LiveMatte local service",
        version="1",
        description=(
            "Person matting, confidence maps, body keypoints and face parsing on this machine, answering the "
            "requests of JD SelfieSeg and face_parser, Face++ HumanBody Segment V2, PicUP matting and Tencent "
            "SegmentCustomizedPortraitPic. Nothing leaves the machine: image URLs are refused."
        ),
    )
    api.state.engine = engine

    @api.get("/health", tags=["service"])
    def health() -> dict[str, object]:
        """Liveness and what is loaded; needs no API key."""
        return {
            "status": "ok", "model": engine.model_name, "provider": engine.provider,
            "pending": engine.pending, "max_pending": engine.limits.max_pending,
            "max_request_bytes": engine.limits.max_request_bytes,
            "max_side": engine.limits.image.max_side, "api_key_required": bool(engine.api_key),
        }

    @api.exception_handler(RequestValidationError)
    async def bad_arguments(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        status, body = _shape(request.url.path, 400, f"BAD_ARGUMENTS: {fields}")
        return JSONResponse(body, status_code=status)

    api.include_router(jd.router(engine))
    api.include_router(facepp.router(engine))
    api.include_router(picup.router(engine))
    api.include_router(tencent.router(engine))
    api.add_middleware(BodyLimitMiddleware, limit=engine.limits.max_request_bytes)
    return api

"""Helpers the API families share: where keys come from, running blocking work."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

T = TypeVar("T")


def request_keys(request: Request) -> list[str | None]:
    """API keys a client may send, in any family's usual place: ``X-API-Key``,
    ``Authorization: Bearer``, PicUP's ``APIKEY`` header, JD's ``appkey`` query and
    Face++'s ``api_key`` query (its form field is checked by its route)."""
    bearer = request.headers.get("authorization", "")
    return [
        request.headers.get("x-api-key"),
        bearer[7:].strip() if bearer.lower().startswith("bearer ") else None,
        request.headers.get("apikey"),
        request.query_params.get("appkey"),
        request.query_params.get("api_key"),
    ]


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Runs CPU work (decode, inference, PNG encoding) in the thread pool so the
    event loop keeps answering /health and refusing over-limit requests."""
    return await run_in_threadpool(fn, *args)


def now_ms() -> int:
    return int(time.time() * 1000)


def elapsed_ms(start: float) -> int:
    return int(round((time.perf_counter() - start) * 1000))

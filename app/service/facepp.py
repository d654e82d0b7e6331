"""Face++ HumanBody Segment V2: ``POST /humanbodypp/v2/segment``.

Request (multipart or url-encoded form): one of ``image_file`` (upload),
``image_base64``, ``image_url`` (first present wins in that order);
``return_grayscale`` 0 or 1 (default 1); ``api_key``/``api_secret`` accepted
(``api_key`` is checked when the service has a key).

Success: ``{"request_id", "time_used", "image_id", "result", "body_image"}``:
``result`` = grayscale PNG, V = round(confidence·255) (only with
``return_grayscale`` = 1), ``body_image`` = RGBA PNG keeping the pixels with
confidence > 0.5 (alpha 255, others 0), both at the input's size.

Errors, as Face++ sends them: ``{"request_id", "time_used", "error_message"}``
with HTTP 400 ``MISSING_ARGUMENTS: image_url, image_file, image_base64``,
``BAD_ARGUMENTS: <field>`` (also ``image_url``: this server is offline and
never downloads), ``IMAGE_ERROR_UNSUPPORTED_FORMAT: <field>``,
``INVALID_IMAGE_SIZE: <field>``, ``IMAGE_FILE_TOO_LARGE``; 401
``AUTHENTICATION_ERROR``; 403 ``CONCURRENCY_LIMIT_EXCEEDED``; 413 ``Request
Entity Too Large``; 500 ``INTERNAL_ERROR``.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, UnreadableImageError,
    UnsupportedFormatError,
)
from app.service.common import elapsed_ms, off_loop, request_keys
from app.service.engine import BadBase64Error, Engine, ServiceBusyError, b64decode_image, b64png, hard_cutout, image_id

GATEWAY_MESSAGES = {
    401: "AUTHENTICATION_ERROR", 403: "CONCURRENCY_LIMIT_EXCEEDED", 413: "Request Entity Too Large",
    500: "INTERNAL_ERROR",
}


def request_id() -> str:
    return f"{int(time.time())},{uuid.uuid4()}"


def error(status: int, message: str, start: float | None = None) -> JSONResponse:
    body = {"request_id": request_id(), "time_used": elapsed_ms(start) if start else 0, "error_message": message}
    return JSONResponse(body, status_code=status)


def gateway_error(status: int, message: str) -> tuple[int, dict]:
    text = GATEWAY_MESSAGES.get(status, message)
    return status, {"request_id": request_id(), "time_used": 0, "error_message": text}


def message_for(exc: LiveMatteError, field: str) -> str | None:
    """Face++'s error_message for an input error (None: not the caller's fault)."""
    if isinstance(exc, BadBase64Error):
        return f"BAD_ARGUMENTS: {field}"
    if isinstance(exc, FileTooLargeError):
        return f"IMAGE_FILE_TOO_LARGE: {field}"
    if isinstance(exc, (ImageTooSmallError, ImageTooLargeError)):
        return f"INVALID_IMAGE_SIZE: {field}"
    if isinstance(exc, (UnsupportedFormatError, UnreadableImageError)):
        return f"IMAGE_ERROR_UNSUPPORTED_FORMAT: {field}"
    return None


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["Face++ HumanBody Segment V2"])

    @api.post("/humanbodypp/v2/segment")
    async def segment(
        request: Request,
        image_file: UploadFile | None = File(None, description="the image file"),
        image_base64: str | None = Form(None, description="the image file, base64"),
        image_url: str | None = Form(None, description="not supported: this server never downloads"),
        return_grayscale: str | None = Form("1", description="1: also return `result` (grayscale confidence); 0: only body_image"),
        api_key: str | None = Form(None),
        api_secret: str | None = Form(None),
    ) -> JSONResponse:
        """Person confidence map and cut-out, in Face++'s response shape."""
        start = time.perf_counter()
        if not engine.key_matches(api_key, *request_keys(request)):
            return error(401, "AUTHENTICATION_ERROR", start)
        grayscale = (return_grayscale or "1").strip()
        if grayscale not in ("0", "1"):
            return error(400, "BAD_ARGUMENTS: return_grayscale", start)
        if image_file is not None:
            field, data = "image_file", await image_file.read()
        elif image_base64:
            field, data = "image_base64", None
        elif image_url:
            return error(400, "BAD_ARGUMENTS: image_url is not supported by this offline server; "
                         "send image_file or image_base64", start)
        else:
            return error(400, "MISSING_ARGUMENTS: image_url, image_file, image_base64", start)
        try:
            with engine.admit():
                raw = data if data is not None else b64decode_image(image_base64 or "")
                frame = await off_loop(engine.decode, raw, field)
                cutout = await off_loop(engine.matte, frame)
                body = await off_loop(b64png, hard_cutout(cutout.rgba, cutout.result.alpha))
                gray = await off_loop(b64png, cutout.alpha_u8) if grayscale == "1" else None
        except ServiceBusyError:
            return error(403, "CONCURRENCY_LIMIT_EXCEEDED", start)
        except LiveMatteError as exc:
            message = message_for(exc, field)
            return error(400, message, start) if message else error(500, "INTERNAL_ERROR", start)
        answer = {"request_id": request_id(), "time_used": elapsed_ms(start), "image_id": image_id(raw)}
        if gray is not None:
            answer["result"] = gray
        answer["body_image"] = body
        return JSONResponse(answer)

    return api

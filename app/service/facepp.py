"""Face++ HumanBody Segment V2: ``POST /humanbodypp/v2/segment``.

Request (multipart or url-encoded form, as the document's curl example and
python-facepp send it): one of ``image_file`` (upload), ``image_base64``,
``image_url``: ``image_file`` wins, then ``image_base64`` (the document's
order); ``return_grayscale`` 0 or 1 (default 1); ``api_key``/``api_secret``
accepted (``api_key`` is checked when the service has a key). Form fields may
be as large as the whole request (a 2 MB photo is 2.7 MB of base64).

Limits, from the document: JPG (JPEG) or PNG, 48 to 4096 px a side, files up
to 2 MB (``--lenient``: the service's own limits and every format it reads).

Success: ``{"request_id", "time_used", "image_id", "result", "body_image"}``:
``result`` = grayscale PNG, V = round(confidence·255) (only with
``return_grayscale`` = 1), ``body_image`` = RGBA PNG of the photo's own
pixels where confidence > 0.5 (alpha 255, others 0), both at the input's size.

Errors, as Face++ sends them: ``{"request_id", "time_used", "error_message"}``
with HTTP 400 ``MISSING_ARGUMENTS: image_url, image_file, image_base64``,
``BAD_ARGUMENTS: <field>`` (also a malformed form), ``INVALID_IMAGE_URL``
(``image_url`` alone: this server is offline and never downloads),
``IMAGE_ERROR_UNSUPPORTED_FORMAT: <field>``, ``INVALID_IMAGE_SIZE: <field>``,
``IMAGE_FILE_TOO_LARGE: <field>``; 401 ``AUTHENTICATION_ERROR``; 403
``CONCURRENCY_LIMIT_EXCEEDED`` and ``AUTHORIZATION_ERROR: <reason>`` (a web
page or Host the server does not answer); 404 ``API_NOT_FOUND`` (also a
wrong method, with 405); 500 ``INTERNAL_ERROR``. 413 is the plain text
``Request Entity Too Large``, not JSON, as the document says.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, UnreadableImageError,
    UnsupportedFormatError,
)
from app.service.common import FormError, elapsed_ms, off_loop, read_form, request_keys
from app.service.engine import BadBase64Error, Engine, ServiceBusyError, b64decode_image, b64png, hard_cutout, image_id
from app.service.limits import JPEG_PNG, MB, ImageRules

RULES = ImageRules(min_side=48, max_side=4096, max_file_bytes=2 * MB, formats=JPEG_PNG)
TOO_LARGE = "Request Entity Too Large"
FIXED_MESSAGES = {
    401: "AUTHENTICATION_ERROR", 404: "API_NOT_FOUND", 405: "API_NOT_FOUND", 429: "CONCURRENCY_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
}
CODES = ("MISSING_ARGUMENTS", "BAD_ARGUMENTS", "AUTHENTICATION_ERROR", "AUTHORIZATION_ERROR", "INVALID_IMAGE_URL")
REQUEST_SCHEMA = {
    "required": True,
    "content": {media: {"schema": {
        "type": "object",
        "properties": {
            "api_key": {"type": "string"}, "api_secret": {"type": "string"},
            "image_file": {"type": "string", "format": "binary", "description": "the image file (JPG or PNG)"},
            "image_base64": {"type": "string", "description": "the image file, base64"},
            "image_url": {"type": "string", "description": "not supported: this server never downloads"},
            "return_grayscale": {"type": "integer", "enum": [0, 1], "default": 1,
                                 "description": "1: also return `result` (grayscale confidence); 0: only body_image"},
        },
    }} for media in ("multipart/form-data", "application/x-www-form-urlencoded")},
}


def request_id() -> str:
    return f"{int(time.time())},{uuid.uuid4()}"


def error(status: int, message: str, start: float | None = None) -> JSONResponse:
    body = {"request_id": request_id(), "time_used": elapsed_ms(start) if start else 0, "error_message": message}
    return JSONResponse(body, status_code=status)


def gateway_error(status: int, message: str) -> Response:
    """Errors found before or instead of the route, in Face++'s shape (413: plain text, as documented)."""
    if status == 413:
        return PlainTextResponse(TOO_LARGE, status_code=413)
    if status == 429:  # Face++ says "busy" with 403
        return error(403, FIXED_MESSAGES[429])
    if status == 403:
        return error(403, f"AUTHORIZATION_ERROR: {message}")
    text = FIXED_MESSAGES.get(status)
    if text is None:
        text = message if message.startswith(CODES) else f"BAD_ARGUMENTS: {message}"
    return error(status, text)


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

    @api.post("/humanbodypp/v2/segment", openapi_extra={"requestBody": REQUEST_SCHEMA})
    async def segment(request: Request) -> JSONResponse:
        """Person confidence map and cut-out, in Face++'s response shape."""
        start = time.perf_counter()
        try:
            form = await read_form(request, engine.limits.max_request_bytes)
        except FormError as exc:
            return error(400, f"BAD_ARGUMENTS: {exc}", start)
        try:
            return await answer(engine, request, form, start)
        finally:
            await form.close()

    return api


async def answer(engine: Engine, request: Request, form, start: float) -> JSONResponse:
    """The response to one parsed segment request."""
    fields = {name: form.get(name) for name in ("image_file", "image_base64", "image_url", "return_grayscale",
                                                 "api_key")}
    text = {k: v for k, v in fields.items() if isinstance(v, str)}
    if not engine.key_matches(text.get("api_key"), *request_keys(request)):
        return error(401, "AUTHENTICATION_ERROR", start)
    grayscale = (text.get("return_grayscale") or "1").strip()
    if grayscale not in ("0", "1"):
        return error(400, "BAD_ARGUMENTS: return_grayscale", start)
    upload = fields["image_file"]
    if isinstance(upload, UploadFile):
        field, data = "image_file", await upload.read()
    elif text.get("image_file"):  # a part without a filename: its bytes were decoded as text, so lost
        return error(400, "BAD_ARGUMENTS: image_file (send it as a file, with a filename)", start)
    elif text.get("image_base64"):
        field, data = "image_base64", None
    elif text.get("image_url"):
        return error(400, "INVALID_IMAGE_URL", start)  # this server never downloads
    else:
        return error(400, "MISSING_ARGUMENTS: image_url, image_file, image_base64", start)
    rules = engine.limits.rules(RULES)
    try:
        with engine.admit():
            raw = data if data is not None else b64decode_image(text["image_base64"])
            frame = await off_loop(engine.decode, raw, rules, field)
            cutout = await off_loop(engine.matte, frame)
            body = await off_loop(b64png, hard_cutout(frame, cutout.result.alpha))
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

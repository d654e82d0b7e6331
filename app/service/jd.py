"""JD (NeuHub / wx) selfie segmentation ``POST /jdai/SelfieSeg`` and face parsing ``POST /jdai/face_parser``.

SelfieSeg request: JSON ``{"image": "<base64>"}``. Response, always in JD's envelope:
``{"code": "10000", "charge": false, "msg": ..., "result": {...}}``. ``code``
"10000" means the gateway accepted the call; success or failure of the work
is ``result.status``: 1000 ok, 1002 missing image, 1003 bad base64, 1004 bad
image size (sides or bytes), 1005 bad JSON body, 1007 unsupported image
format. Business errors come with HTTP 200, as JD's do. ``result.image`` is a
grayscale PNG, V = round(confidence·255), at the input's size.

face_parser request: a JSON list ``[{"image": "<base64>"}, ...]`` (a single
object is taken as a list of one). Success: ``result`` = ``{"status": 1000,
"message": "ok", "used_time": <ms>, "images": [{"image": <base64 PNG>,
"face_num": N}, ...]}``, one entry per input in order. Each ``image`` is the
11-class label map at the input's size: a palette PNG (mode "P", DESIGN.md's
colours) whose pixel values are the class ids 0 background, 1 face skin, 2/3
left/right brow, 4/5 left/right eye, 6 nose, 7 upper lip, 8 inner mouth,
9 lower lip, 10 hair (left/right = the person's). The call succeeds or fails
as a whole: every image is decoded before any model runs, and the first bad
one decides ``result.status`` (its index is in ``message``: ``image[2]:
...``). An image in which no face is found fails the call with status 1006
(not a published JD code; JD's list has no such case): send photos that may
hold no face one per request. The face models load on the first face_parser
call; without them the call answers 500 (gateway shape) naming the missing
file, and SelfieSeg keeps working.

Gateway-level refusals (not JD's codes, which are not published for these
cases): 401 wrong API key, 413 body too large, 429 busy; the envelope keeps
``code`` = the HTTP status as a string and ``result`` = null.
"""

from __future__ import annotations

import base64
import json
import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, UnreadableImageError,
    UnsupportedFormatError,
)
from app.core.face.palette import encode_label_png
from app.service.common import elapsed_ms, off_loop, request_keys
from app.service.engine import BadBase64Error, Engine, ServiceBusyError, b64decode_image, b64png

OK, MISSING_IMAGE, BAD_BASE64, BAD_SIZE, BAD_JSON, NO_FACE, BAD_FORMAT = 1000, 1002, 1003, 1004, 1005, 1006, 1007
SUCCESS_MSG = "查询成功"  # JD's gateway text for an accepted call

REQUEST_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["image"],
        "properties": {"image": {"type": "string", "description": "the image file (JPEG, PNG, ...), base64"}},
    }}},
}


FACE_PARSER_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "array", "minItems": 1,
        "items": REQUEST_SCHEMA["content"]["application/json"]["schema"],
    }}},
}


class _BadRequest(Exception):
    """A JD business error found while reading a request (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def envelope(result: dict) -> dict:
    return {"code": "10000", "charge": False, "msg": SUCCESS_MSG, "result": result}


def business_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(envelope({"status": status, "message": message}))


def gateway_error(status: int, message: str) -> tuple[int, dict]:
    return status, {"code": str(status), "charge": False, "msg": message, "result": None}


def gateway_response(status: int, message: str) -> JSONResponse:
    """A gateway-level error (auth, busy, server fault) as JD's HTTP answer."""
    status, body = gateway_error(status, message)
    return JSONResponse(body, status_code=status)


def status_for(exc: LiveMatteError) -> int | None:
    """JD business status for an input error (None: not the caller's fault)."""
    if isinstance(exc, BadBase64Error):
        return BAD_BASE64
    if isinstance(exc, (ImageTooSmallError, ImageTooLargeError, FileTooLargeError)):
        return BAD_SIZE
    if isinstance(exc, (UnsupportedFormatError, UnreadableImageError)):
        return BAD_FORMAT
    return None


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["JD NeuHub"])

    @api.post("/jdai/SelfieSeg", openapi_extra={"requestBody": REQUEST_SCHEMA})
    async def selfie_seg(request: Request) -> JSONResponse:
        """Person confidence map as a grayscale PNG, in JD's envelope."""
        if not engine.key_matches(*request_keys(request)):
            return gateway_response(401, "invalid or missing API key")
        start = time.perf_counter()
        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return business_error(BAD_JSON, "the body is not valid JSON")
        if not isinstance(payload, dict):
            return business_error(BAD_JSON, "the body must be a JSON object")
        text = payload.get("image")
        if text is None or text == "":
            return business_error(MISSING_IMAGE, "missing parameter: image")
        if not isinstance(text, str):
            return business_error(BAD_BASE64, "image must be a base64 string")
        try:
            with engine.admit():
                frame = await off_loop(lambda: engine.decode(b64decode_image(text)))
                cutout = await off_loop(engine.matte, frame)
                image = await off_loop(b64png, cutout.alpha_u8)
        except ServiceBusyError as exc:
            return gateway_response(429, str(exc))
        except LiveMatteError as exc:
            code = status_for(exc)
            if code is None:  # a model that cannot run: the service's fault, not the image's
                return gateway_response(500, str(exc))
            return business_error(code, str(exc))
        return JSONResponse(envelope({"status": OK, "message": "ok", "image": image, "used_time": elapsed_ms(start)}))

    @api.post("/jdai/face_parser", openapi_extra={"requestBody": FACE_PARSER_SCHEMA})
    async def face_parser(request: Request) -> JSONResponse:
        """11-class face label maps (palette PNGs, pixel = class id), one per input image, in JD's envelope."""
        if not engine.key_matches(*request_keys(request)):
            return gateway_response(401, "invalid or missing API key")
        start = time.perf_counter()
        try:
            texts = image_texts(await request.body())
        except _BadRequest as exc:
            return business_error(exc.status, str(exc))
        try:
            with engine.admit():
                frames = [await off_loop(decode_item, engine, i, text) for i, text in enumerate(texts)]
                images = [await off_loop(parse_item, engine, i, frame) for i, frame in enumerate(frames)]
        except _BadRequest as exc:
            return business_error(exc.status, str(exc))
        except ServiceBusyError as exc:
            return gateway_response(429, str(exc))
        except LiveMatteError as exc:  # face models missing or broken: the service's fault
            return gateway_response(500, str(exc))
        return JSONResponse(envelope({"status": OK, "message": "ok", "used_time": elapsed_ms(start), "images": images}))

    return api


def image_texts(raw: bytes) -> list[str]:
    """The base64 texts of a face_parser body, in order.

    Raises:
        _BadRequest: 1005 not JSON / not a list of objects, 1002 no image, 1003 image not a string.
    """
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _BadRequest(BAD_JSON, "the body is not valid JSON") from exc
    items = [payload] if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise _BadRequest(BAD_JSON, 'the body must be a JSON list of {"image": <base64>}')
    if not items:
        raise _BadRequest(MISSING_IMAGE, "missing parameter: image (the list is empty)")
    texts = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _BadRequest(BAD_JSON, f'image[{i}]: each item must be an object {{"image": <base64>}}')
        text = item.get("image")
        if text is None or text == "":
            raise _BadRequest(MISSING_IMAGE, f"image[{i}]: missing parameter: image")
        if not isinstance(text, str):
            raise _BadRequest(BAD_BASE64, f"image[{i}]: image must be a base64 string")
        texts.append(text)
    return texts


def decode_item(engine: Engine, index: int, text: str) -> np.ndarray:
    """RGB frame of item ``index``.

    Raises:
        _BadRequest: 1003 / 1004 / 1007 for that item.
    """
    try:
        return engine.decode(b64decode_image(text), f"image[{index}]")
    except LiveMatteError as exc:
        code = status_for(exc)
        if code is None:
            raise
        raise _BadRequest(code, f"image[{index}]: {exc}") from exc


def parse_item(engine: Engine, index: int, frame: np.ndarray) -> dict[str, object]:
    """``{"image": <base64 label PNG>, "face_num": N}`` for one decoded frame.

    Raises:
        _BadRequest: 1006 no face found.
        ModelMissingError, ModelCorruptError: the face models are not available.
    """
    parse = engine.parse_faces(frame)
    if not parse.faces:
        raise _BadRequest(NO_FACE, f"image[{index}]: no face found")
    png = base64.b64encode(encode_label_png(parse.labels)).decode("ascii")
    return {"image": png, "face_num": len(parse.faces)}

"""JD (NeuHub / wx) selfie segmentation ``POST /jdai/SelfieSeg`` and face parsing ``POST /jdai/face_parser``.

Both answer in JD's envelope ``{"code": "10000", "charge": false, "msg":
"查询成功", "result": {...}}`` plus the documented quota fields: SelfieSeg
``remain``, face_parser ``remainTimes`` and ``remainSeconds``, all -1 (JD's
"unlimited"). ``code`` "10000" means the gateway accepted the call; success
or failure of the work is ``result.status``. Business errors come with HTTP
200, as JD's do, with the document's ``message`` (1002 ``parameter error,
"image" is required``, 1003 ``invalid image base64 data``, 1004 ``incorrect
image size`` (sides, pixels or file bytes), 1005 ``not valid json string``,
1006 ``other error``, 1007 ``image format error``) and, additive, ``detail``
saying what exactly was wrong.

Limits, from the documents (``--lenient``: the service's own): SelfieSeg 50 to
1024 px a side, file under 2 MB, JPEG/BMP/PNG/GIF; face_parser 50 to 2048 px,
under 2 MB, JPG/JPEG/PNG.

SelfieSeg request: JSON ``{"image": "<base64>"}``. Success: ``result`` =
``{"status": 1000, "message": "ok", "image": <grayscale PNG, V =
round(confidence·255), input size>, "used_time": <ms>}``.

face_parser request: a JSON list ``[{"image": "<base64>"}, ...]`` (a single
object is taken as a list of one), at most ``--max-images`` items (default 8;
more: 1006). Success, as the document: ``result`` = ``{"status": 200,
"message": "ok", "image": <label PNG>, "used_time": <ms>}``; additive:
``face_num`` (faces in that image) and, when more than one image was sent,
``images`` = ``[{"image", "face_num"}, ...]`` for every input in order
(``image`` is the first of them). A label PNG is the 11-class map at the
input's size: a palette PNG (mode "P", DESIGN.md's colours) whose pixel
values are the class ids 0 background, 1 face skin, 2/3 left/right brow, 4/5
left/right eye, 6 nose, 7 upper lip, 8 inner mouth, 9 lower lip, 10 hair
(left/right = the person's). The call succeeds or fails as a whole: every
image's base64, format and size (and the request's pixel budget) are checked
before any is decoded; then the images are decoded and parsed one at a time,
so memory holds one decoded image, not all of them. An image in which no
face is found fails the call with 1006 (``detail``: ``image[i]: no face
found``). The face models load on the first face_parser call; without them
the call answers 500 (gateway shape) naming the missing model.

Gateway-level refusals (JD's system codes are not in the documents): 401
wrong API key, 403 a web page or Host the server does not answer, 404/405,
413 body too large, 429 busy, 500 a model that cannot run; the envelope keeps
``code`` = the HTTP status as a string and ``result`` = null.
"""

from __future__ import annotations

import base64
import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, UnreadableImageError,
    UnsupportedFormatError,
)
from app.core.face.palette import encode_label_png
from app.service.common import elapsed_ms, off_loop, public_message, request_keys
from app.service.engine import BadBase64Error, Engine, ServiceBusyError, b64decode_image, b64png
from app.service.limits import JPEG_PNG, JPEG_PNG_BMP_GIF, MB, ImageRules

SELFIE_OK, FACE_OK = 1000, 200  # the two documents' success statuses differ
MISSING_IMAGE, BAD_BASE64, BAD_SIZE, BAD_JSON, OTHER, BAD_FORMAT = 1002, 1003, 1004, 1005, 1006, 1007
MESSAGES = {
    MISSING_IMAGE: 'parameter error, "image" is required', BAD_BASE64: "invalid image base64 data",
    BAD_SIZE: "incorrect image size", BAD_JSON: "not valid json string", OTHER: "other error",
    BAD_FORMAT: "image format error",
}
SUCCESS_MSG = "查询成功"  # JD's gateway text for an accepted call
UNLIMITED = -1  # JD's quota value for "no limit"
SELFIE_RULES = ImageRules(min_side=50, max_side=1024, max_file_bytes=2 * MB - 1, formats=JPEG_PNG_BMP_GIF)
FACE_RULES = ImageRules(min_side=50, max_side=2048, max_file_bytes=2 * MB - 1, formats=JPEG_PNG)

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
    """A JD business error found while reading a request (status, detail)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def selfie_envelope(result: dict) -> dict:
    return {"code": "10000", "charge": False, "remain": UNLIMITED, "msg": SUCCESS_MSG, "result": result}


def face_envelope(result: dict) -> dict:
    return {"code": "10000", "charge": False, "remainTimes": UNLIMITED, "remainSeconds": UNLIMITED,
            "msg": SUCCESS_MSG, "result": result}


def business_error(status: int, detail: str, envelope=selfie_envelope) -> JSONResponse:
    return JSONResponse(envelope({"status": status, "message": MESSAGES[status], "detail": detail}))


def gateway_error(status: int, message: str) -> JSONResponse:
    """A gateway-level error (auth, busy, refused, server fault) as JD's HTTP answer."""
    return JSONResponse({"code": str(status), "charge": False, "msg": message, "result": None}, status_code=status)


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
            return gateway_error(401, "invalid or missing API key")
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
        rules = engine.limits.rules(SELFIE_RULES)
        try:
            with engine.admit():
                frame = await off_loop(lambda: engine.decode(b64decode_image(text), rules, "image"))
                cutout = await off_loop(engine.matte, frame)
                image = await off_loop(b64png, cutout.alpha_u8)
        except ServiceBusyError as exc:
            return gateway_error(429, str(exc))
        except LiveMatteError as exc:
            code = status_for(exc)
            if code is None:  # a model that cannot run: the service's fault, not the image's
                return gateway_error(500, public_message(exc))
            return business_error(code, public_message(exc))
        result = {"status": SELFIE_OK, "message": "ok", "image": image, "used_time": elapsed_ms(start)}
        return JSONResponse(selfie_envelope(result))

    @api.post("/jdai/face_parser", openapi_extra={"requestBody": FACE_PARSER_SCHEMA})
    async def face_parser(request: Request) -> JSONResponse:
        """11-class face label maps (palette PNGs, pixel = class id), in JD's envelope."""
        if not engine.key_matches(*request_keys(request)):
            return gateway_error(401, "invalid or missing API key")
        start = time.perf_counter()
        try:
            texts = image_texts(await request.body(), engine.limits.max_images)
            with engine.admit():
                images = await off_loop(checked_images, engine, texts)
                del texts  # the base64 copies are not needed any more
                parsed = []
                for i, data in enumerate(images):  # one decoded image in memory at a time
                    parsed.append(await off_loop(parse_item, engine, i, data))
                    images[i] = b""
        except _BadRequest as exc:
            return business_error(exc.status, str(exc), face_envelope)
        except ServiceBusyError as exc:
            return gateway_error(429, str(exc))
        except LiveMatteError as exc:  # face models missing or broken: the service's fault
            return gateway_error(500, public_message(exc))
        result = {"status": FACE_OK, "message": "ok", "image": parsed[0]["image"], "used_time": elapsed_ms(start),
                  "face_num": parsed[0]["face_num"]}
        if len(parsed) > 1:
            result["images"] = parsed
        return JSONResponse(face_envelope(result))

    return api


def image_texts(raw: bytes, max_images: int) -> list[str]:
    """The base64 texts of a face_parser body, in order.

    Raises:
        _BadRequest: 1005 not JSON / not a list of objects, 1002 no image, 1003 image not
        a string, 1006 more than ``max_images`` items.
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
    if len(items) > max_images:
        raise _BadRequest(OTHER, f"{len(items)} images in one request; the limit is {max_images} "
                          "(send them in several requests)")
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


def checked_images(engine: Engine, texts: list[str]) -> list[bytes]:
    """The encoded images, every one's base64, header and size checked, and the request's pixel budget.

    Raises:
        _BadRequest: 1003 / 1004 / 1007 naming the first bad item, or 1004 for the budget.
    """
    rules = engine.limits.rules(FACE_RULES)
    images, pixels = [], 0
    for i, text in enumerate(texts):
        name = f"image[{i}]"
        try:
            data = b64decode_image(text)
            pixels += engine.header(data, rules, name).pixels
        except LiveMatteError as exc:
            code = status_for(exc)
            if code is None:
                raise
            detail = public_message(exc)
            raise _BadRequest(code, detail if detail.startswith(name) else f"{name}: {detail}") from exc
        images.append(data)
    if pixels > engine.limits.max_request_pixels:
        raise _BadRequest(BAD_SIZE, f"the images hold {pixels / 1e6:.1f} MP together; one request may hold "
                          f"{engine.limits.max_request_pixels / 1e6:.1f} MP")
    return images


def parse_item(engine: Engine, index: int, data: bytes) -> dict[str, object]:
    """``{"image": <base64 label PNG>, "face_num": N}`` for one encoded image.

    Raises:
        _BadRequest: 1007 the pixels do not decode, 1006 no face found.
        ModelMissingError, ModelCorruptError: the face models are not available.
    """
    name = f"image[{index}]"
    try:
        frame = engine.decode(data, engine.limits.rules(FACE_RULES), name)
    except LiveMatteError as exc:
        code = status_for(exc)
        if code is None:
            raise
        raise _BadRequest(code, public_message(exc)) from exc
    parse = engine.parse_faces(frame)
    if not parse.faces:
        raise _BadRequest(OTHER, f"{name}: no face found")
    png = base64.b64encode(encode_label_png(parse.labels)).decode("ascii")
    return {"image": png, "face_num": len(parse.faces)}

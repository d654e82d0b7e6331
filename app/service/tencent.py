"""Tencent Cloud BDA custom portrait segmentation: ``POST /`` with ``X-TC-Action: SegmentCustomizedPortraitPic``.

Request (API 3.0, as the SDKs send it): JSON ``{"Image": <base64>,
"SegmentationOptions": {<option>: bool, ...}}``; ``X-TC-Version``/``X-TC-Region``
are accepted and ignored, ``Url`` is refused (this server never downloads).
The TC3 signature is not verified; when the service has an API key, the
``SecretId`` in ``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/...``
(or any of the service's usual key places) must equal it, so an SDK client
sets its SecretId to the key and any SecretKey.

Success: ``{"Response": {"PortraitImage", "MaskImage", "ImageRects", "RequestId"}}``
(Tencent's documented meanings): ``PortraitImage`` = RGBA PNG of the photo
with the chosen parts opaque and everything else transparent; ``MaskImage`` =
grayscale PNG of the same mask, V = round(coverage·255), at the input's size;
``ImageRects`` = one ``{"X", "Y", "Width", "Height", "Label"}`` per chosen
option whose mask is not empty (coverage > 0.5), ``Label`` = the option name,
a union over all faces.

Limits, from the document: PNG, JPG/JPEG, BMP (no GIF: ``ImageNotSupported``);
resolution under 2000×2000 (each side at most 1999 px); base64 at most 5 MB
(``ImageSizeExceed``, checked before decoding). ``--lenient``: the service's
own limits and every format it reads.

How the options map onto LiveMatte's models (face parsing: YuNet + face mesh
+ hair model; person matte: the served matting model):

- ``Hair``, ``LeftEyebrow``, ``RightEyebrow``, ``LeftEye``, ``RightEye``,
  ``Nose``, ``UpperLip``, ``LowerLip``: the face-parsing class of that name
  (left/right = the person's, as in DESIGN.md).
- ``Face``: face skin only. Tencent defines it as the face without eyes, ears,
  mouth, nose (the 五官, brows included) and hair, so the features are holes.
- ``Tooth`` and ``Mouth`` (mouth without teeth): both the inner-mouth class
  (the opening between the lips); the models cannot tell teeth from the rest
  of the mouth, so both give the same region.
- ``Head``: face classes + hair + the person matte inside the widened face
  oval (catches the ears); hats and other accessories are not told apart.
- ``Body``: person matte minus head (neck included, as Tencent's Body).
- ``Background``: 1 - person matte.
- ``LeftEar``, ``RightEar`` (approximation): the person matte in a band beside
  that side of the face mesh's oval, brow to nose base, reaching 0.3 face
  widths outward, minus face and hair (hair over an ear hides it, as in the
  photo). No model here outlines ears; the band follows the mesh's pose.
- ``Hat`` (approximation): the person matte above the oval's upper arc (the
  hairline), up to 0.8 face heights above it, that the hair model does not
  call hair: what sits on the head and is neither hair nor skin. Without a
  hat it is what the hair model missed there, usually little.
- ``Headdress`` (approximation): the same region as ``Hat``; the models cannot
  tell a hat from other headwear, and headwear inside the hair (clips, bands)
  is counted as hair.

Not produced (no model here can tell them from skin, hair or clothes):
``Earrings``, ``Necklace``, ``Belongings``. When any produced option is also
true they are ignored: the response keeps Tencent's shape and lists them in
the ``X-LiveMatte-Ignored-Options`` header. When only such options are true
the call fails with ``InvalidParameter.InvalidParameter`` saying why for each.

Errors, Tencent's API 3.0 envelope with HTTP 200 (as Tencent answers, so SDKs
raise their usual exception with the code): ``{"Response": {"Error": {"Code",
"Message"}, "RequestId"}}``. Codes: ``MissingParameter`` (no action, Image or
SegmentationOptions), ``InvalidAction`` (another X-TC-Action),
``InvalidParameter`` (body not a JSON object, Image not a string, an option
not a boolean), ``UnknownParameter`` (an unknown option name),
``InvalidParameter.InvalidParameter`` (no option true, or only unsupported
ones), ``InvalidParameterValue.UrlIllegal`` (Url given),
``FailedOperation.ImageDecodeFailed`` (bad base64, corrupt image),
``FailedOperation.ImageNotSupported`` (not an image format we read),
``FailedOperation.ImageResolutionExceed`` / ``ImageResolutionInsufficient``
(sides outside the limits), ``FailedOperation.ImageSizeExceed`` (base64 or
file over the limit),
``InvalidParameterValue.NoFaceInPhoto`` (a face option was chosen and no face
was found; ``Background`` and ``Body`` alone need no face),
``FailedOperation.RequestEntityTooLarge`` (body over the limit),
``AuthFailure.SecretIdNotFound`` (wrong key), ``RequestLimitExceeded`` (busy),
``UnauthorizedOperation`` (a web page or Host the server does not answer),
``UnsupportedProtocol`` (not POST),
``ResourceUnavailable.NotExist`` (the face models are not installed: the
message names the file), ``FailedOperation.InnerError`` (a model failed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.imaging.compose import alpha_to_u8
from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, ModelMissingError,
    UnreadableImageError, UnsupportedFormatError,
)
from app.core.face.regions import NUM_LABELS
from app.core.face.parsing import FaceParse
from app.core.face.parts import PartSelection, cutout, mask_box, part_mask
from app.service.common import credential_key, off_loop, public_message, request_keys
from app.service.engine import BadBase64Error, Engine, ServiceBusyError, b64decode_image, b64png
from app.service.limits import JPEG_PNG_BMP, MB, ImageRules

ACTION = "SegmentCustomizedPortraitPic"
IGNORED_HEADER = "X-LiveMatte-Ignored-Options"

# Tencent option -> LiveMatte part (app.core.face.parts.PART_NAMES), in Tencent's documented order.
OPTION_PARTS: dict[str, str] = {
    "Background": "background", "Hair": "hair", "LeftEyebrow": "left_brow", "RightEyebrow": "right_brow",
    "LeftEye": "left_eye", "RightEye": "right_eye", "Nose": "nose", "UpperLip": "upper_lip",
    "LowerLip": "lower_lip", "Tooth": "inner_mouth", "Mouth": "inner_mouth", "Face": "face_skin",
    "Head": "head", "Body": "body", "LeftEar": "left_ear", "RightEar": "right_ear", "Hat": "hat",
    "Headdress": "hat",
}
# why each option that is not produced is not (the message a client gets)
UNSUPPORTED_OPTIONS: dict[str, str] = {
    "Earrings": "no model here can tell an earring from the ear, hair or skin around it",
    "Necklace": "no model here can tell a necklace from the neck or clothes",
    "Belongings": "no model here can tell what a person carries from the person",
}
TENCENT_ORDER = ("Background", "Hair", "LeftEyebrow", "RightEyebrow", "LeftEye", "RightEye", "Nose", "UpperLip",
                 "LowerLip", "Tooth", "Mouth", "LeftEar", "RightEar", "Face", "Head", "Body", "Hat", "Headdress",
                 "Earrings", "Necklace", "Belongings")
ALL_OPTIONS = TENCENT_ORDER
PERSON_OPTIONS = frozenset({"Background", "Body", "Head", "LeftEar", "RightEar", "Hat", "Headdress"})  # need the matte
FACELESS_OPTIONS = frozenset({"Background", "Body"})  # answerable when no face is found
# validated once at import: a mapping typo fails loudly here, not in a request
SELECTIONS = {option: PartSelection.parse([part]) for option, part in OPTION_PARTS.items()}
RULES = ImageRules(min_side=32, max_side=1999, max_file_bytes=5 * MB, formats=JPEG_PNG_BMP)  # "小于2000*2000"
MAX_BASE64_CHARS = 5 * MB  # "base64 编码后大小不可超过5M"

GATEWAY_CODES = {
    400: "InvalidParameter", 401: "AuthFailure.SecretIdNotFound", 403: "UnauthorizedOperation",
    404: "InvalidAction", 405: "UnsupportedProtocol", 413: "FailedOperation.RequestEntityTooLarge",
    429: "RequestLimitExceeded", 500: "InternalError",
}

REQUEST_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["Image", "SegmentationOptions"],
        "properties": {
            "Image": {"type": "string", "description": "the image file (JPEG, PNG, ...), base64"},
            "SegmentationOptions": {
                "type": "object", "description": "parts to cut out; at least one supported option true",
                "properties": {name: {"type": "boolean"} for name in ALL_OPTIONS},
            },
        },
    }}},
}
ACTION_PARAMETER = {
    "name": "X-TC-Action", "in": "header", "required": True,
    "schema": {"type": "string", "enum": [ACTION]}, "description": "Tencent Cloud API 3.0 action",
}


class TencentError(Exception):
    """An error to answer in Tencent's envelope (``code`` such as ``FailedOperation.ImageDecodeFailed``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Options:
    """The true options of a request: those we produce (Tencent's order) and those ignored."""

    chosen: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def needs_person(self) -> bool:
        return any(o in PERSON_OPTIONS for o in self.chosen)

    @property
    def needs_faces(self) -> bool:
        return any(o != "Background" for o in self.chosen)

    @property
    def needs_a_face(self) -> bool:
        """A face must be found (else NoFaceInPhoto); Background and Body make sense without one."""
        return any(o not in FACELESS_OPTIONS for o in self.chosen)


def request_id() -> str:
    return str(uuid.uuid4())


def error_body(code: str, message: str) -> dict:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id()}}


def error(code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message))


def gateway_error(status: int, message: str) -> JSONResponse:
    """Refusals before or instead of the route, in Tencent's envelope and, like Tencent, with HTTP 200."""
    if status == 405:
        message = "use POST with a JSON body and the X-TC-Action header (Tencent Cloud API 3.0)"
    return error(GATEWAY_CODES.get(status, "InternalError"), message)


def code_for(exc: LiveMatteError) -> str:
    """Tencent's code for a LiveMatte error."""
    if isinstance(exc, (BadBase64Error, UnreadableImageError)):
        return "FailedOperation.ImageDecodeFailed"
    if isinstance(exc, UnsupportedFormatError):
        return "FailedOperation.ImageNotSupported"
    if isinstance(exc, ImageTooLargeError):
        return "FailedOperation.ImageResolutionExceed"
    if isinstance(exc, ImageTooSmallError):
        return "FailedOperation.ImageResolutionInsufficient"
    if isinstance(exc, FileTooLargeError):
        return "FailedOperation.ImageSizeExceed"
    if isinstance(exc, ModelMissingError):
        return "ResourceUnavailable.NotExist"
    return "FailedOperation.InnerError"


def parse_options(options: object) -> Options:
    """Validates ``SegmentationOptions``.

    Raises:
        TencentError: not an object, unknown names, non-boolean values, nothing
        (or nothing supported) chosen.
    """
    if not isinstance(options, dict):
        raise TencentError("InvalidParameter", "SegmentationOptions must be an object of booleans")
    unknown = [name for name in options if name not in ALL_OPTIONS]
    if unknown:
        raise TencentError("UnknownParameter", f"unknown SegmentationOptions: {', '.join(map(str, unknown))}; "
                           f"known: {', '.join(ALL_OPTIONS)}")
    for name, value in options.items():
        if not isinstance(value, bool):
            raise TencentError("InvalidParameter", f"SegmentationOptions.{name} must be true or false")
    chosen = tuple(o for o in TENCENT_ORDER if o in OPTION_PARTS and options.get(o) is True)
    ignored = tuple(o for o in TENCENT_ORDER if o in UNSUPPORTED_OPTIONS and options.get(o) is True)
    if not chosen and not ignored:
        raise TencentError("InvalidParameter.InvalidParameter", "at least one SegmentationOptions value must be true")
    if not chosen:
        reasons = "; ".join(f"{o}: {UNSUPPORTED_OPTIONS[o]}" for o in ignored)
        raise TencentError(
            "InvalidParameter.InvalidParameter",
            f"not produced by this server ({reasons}); produced: {', '.join(o for o in TENCENT_ORDER if o in OPTION_PARTS)}",
        )
    return Options(chosen, ignored)


def read_request(raw: bytes, lenient: bool = False) -> tuple[str, Options]:
    """(base64 image text, options) from the body.

    Raises:
        TencentError: malformed body, Url instead of Image, missing fields.
    """
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TencentError("InvalidParameter", "the request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise TencentError("InvalidParameter", "the request body must be a JSON object")
    if payload.get("Url"):  # Tencent uses Url over Image when both are given
        raise TencentError("InvalidParameterValue.UrlIllegal",
                           "Url is not supported: this offline server never downloads; send the image in Image")
    image = payload.get("Image")
    if image is None or image == "":
        raise TencentError("MissingParameter", "the request is missing a required parameter `Image`")
    if not isinstance(image, str):
        raise TencentError("InvalidParameter", "Image must be a base64 string")
    if len(image) > MAX_BASE64_CHARS and not lenient:
        raise TencentError("FailedOperation.ImageSizeExceed",
                           f"Image is {len(image) / MB:.2f} MB of base64; the limit is {MAX_BASE64_CHARS / MB:.0f} MB")
    if "SegmentationOptions" not in payload:
        raise TencentError("MissingParameter", "the request is missing a required parameter `SegmentationOptions`")
    return image, parse_options(payload["SegmentationOptions"])


def empty_parse(shape: tuple[int, int]) -> FaceParse:
    """A parse with no faces, for Background-only requests (no face models run)."""
    return FaceParse(np.zeros(shape, np.uint8), np.zeros((NUM_LABELS, 0, 0), np.uint8), (0, 0, 0, 0))


def segment(engine: Engine, frame: np.ndarray, options: Options) -> dict[str, object]:
    """PortraitImage, MaskImage and ImageRects of the chosen options.

    Raises:
        TencentError: NoFaceInPhoto.
        LiveMatteError: a model is missing or failed.
    """
    alpha = engine.matte(frame).result.alpha if options.needs_person else None
    parse = engine.parse_faces(frame) if options.needs_faces else empty_parse(frame.shape[:2])
    if options.needs_a_face and not parse.faces:
        raise TencentError("InvalidParameterValue.NoFaceInPhoto", "no face found in the photo")
    masks = {option: part_mask(parse, SELECTIONS[option], alpha, frame) for option in options.chosen}
    mask = union_mask(parse, options, alpha, masks, frame)
    rects = []
    for option, part in masks.items():
        box = mask_box(part, option)
        if box is not None:
            rects.append({"X": box.x, "Y": box.y, "Width": box.width, "Height": box.height, "Label": box.label})
    return {"PortraitImage": b64png(cutout(frame, mask)), "MaskImage": b64png(alpha_to_u8(mask)), "ImageRects": rects}


def union_mask(
    parse: FaceParse, options: Options, alpha: np.ndarray | None, masks: dict[str, np.ndarray],
    frame: np.ndarray | None = None,
) -> np.ndarray:
    """The soft union of the chosen options, without seams where two of them meet.

    Soft masks of neighbours add up to 1 across their shared edge; a max of
    them leaves a half-transparent seam there (hair/face, head/body). So the
    face-level options go through one selection (the parser's weights are
    summed), and Body (person - head) and Background (1 - person), which are
    complements of the rest, are added to it.
    """
    face_level = [OPTION_PARTS[o] for o in options.chosen if o not in FACELESS_OPTIONS]
    mask = (part_mask(parse, PartSelection.parse(face_level), alpha, frame) if face_level
            else np.zeros(parse.labels.shape, np.float32))
    for option in options.chosen:
        if option in FACELESS_OPTIONS:
            mask += masks[option]
    return np.clip(mask, 0.0, 1.0, out=mask)


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["Tencent SegmentCustomizedPortraitPic"])

    @api.post("/", openapi_extra={"requestBody": REQUEST_SCHEMA, "parameters": [ACTION_PARAMETER]})
    async def tencent_action(request: Request) -> JSONResponse:
        """Custom portrait segmentation (hair, face parts, head, body, background), in Tencent's envelope."""
        if not engine.key_matches(credential_key(request), *request_keys(request)):
            return error("AuthFailure.SecretIdNotFound", "the SecretId (API key) is missing or wrong")
        action = request.headers.get("x-tc-action")
        if not action:
            return error("MissingParameter", "the request is missing a required parameter `Action` (X-TC-Action)")
        if action != ACTION:
            return error("InvalidAction", f"action `{action}` is not supported here; this server answers {ACTION}")
        try:
            text, options = read_request(await request.body(), engine.limits.lenient)
            rules = engine.limits.rules(RULES)
            with engine.admit():
                frame = await off_loop(lambda: engine.decode(b64decode_image(text), rules, "Image"))
                answer = await off_loop(segment, engine, frame, options)
        except TencentError as exc:
            return error(exc.code, str(exc))
        except ServiceBusyError as exc:
            return error("RequestLimitExceeded", str(exc))
        except LiveMatteError as exc:
            return error(code_for(exc), public_message(exc))
        headers = {IGNORED_HEADER: ",".join(options.ignored)} if options.ignored else None
        return JSONResponse({"Response": {**answer, "RequestId": request_id()}}, headers=headers)

    return api

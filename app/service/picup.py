"""PicUP (皮卡智能) matting: ``POST /api/v1/matting``, ``/matting2``, ``/mattingAndAnalysis``.

Request: multipart ``file``; query ``mattingType`` (1 person, 6 general: both
use the person matting model here; others are refused), ``crop`` (true: cut
to the person's bounding box), ``bgcolor`` (hex such as ``FFFFFF``: flatten
onto that colour instead of transparency). The key goes in the ``APIKEY``
header, as with PicUP.

- ``matting``: the PNG itself (``image/png``).
- ``matting2``: ``{"code": 0, "data": {"imageBase64": ...}, "msg": null, "time": <epoch ms>}``.
- ``mattingAndAnalysis``: the same plus ``data.bodyAnalysis`` =
  ``{"person_num": N, "person_info": [{"body_parts": {name: {x, y, score}},
  "location": {left, top, width, height, score}}]}`` (keypoints in input pixels).

Limits, from the document's FAQ: PNG, JPG/JPEG, BMP, GIF; files up to 15 MB.
The FAQ first gives 2000×2000 px, then says the resolution is no longer
limited; this server keeps 4096 px a side (``--lenient``: the service's own
limits and every format it reads), since an unbounded image is an unbounded
amount of memory and time. Cut-outs keep the photo's own colour wherever the
alpha is 255; estimated foreground colours are used only where it is partial.

Errors (all three routes): ``{"code": <non-zero>, "data": null, "msg": ..., "time": ...}``
with the same number as HTTP status: 400 missing file or bad parameter, 401
wrong key, 413 body too large (or image file over the limit), 415 not a
supported image, 422 image sides outside the limits, 429 busy, 403 a web page
or Host the server does not answer, 404/405, 500 model failure. PicUP does
not publish its own error numbers, so these follow HTTP.
"""

from __future__ import annotations


import numpy as np
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from PIL import ImageColor

from app.core.imaging.compose import composite
from app.core.errors import (
    FileTooLargeError, ImageTooLargeError, ImageTooSmallError, LiveMatteError, UnreadableImageError,
    UnsupportedFormatError,
)
from app.core.body.pose import poses_to_json
from app.core.media.writers import encode_png
from app.service.common import now_ms, off_loop, public_message, request_keys
from app.service.engine import Cutout, Engine, ServiceBusyError, alpha_bounds
from app.service.limits import JPEG_PNG_BMP_GIF, MB, ImageRules

RULES = ImageRules(min_side=32, max_side=4096, max_file_bytes=15 * MB, formats=JPEG_PNG_BMP_GIF)

SUPPORTED_TYPES = (1, 6)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "data": None, "msg": message, "time": now_ms()}, status_code=status)


def gateway_error(status: int, message: str) -> JSONResponse:
    return error(status, message)


def status_for(exc: LiveMatteError) -> int:
    if isinstance(exc, FileTooLargeError):
        return 413
    if isinstance(exc, (ImageTooSmallError, ImageTooLargeError)):
        return 422
    if isinstance(exc, (UnsupportedFormatError, UnreadableImageError)):
        return 415
    return 500


def parse_bgcolor(text: str | None) -> tuple[int, int, int] | None:
    """``FFFFFF`` / ``#ffffff`` -> RGB; None for no colour.

    Raises:
        ValueError: not a colour.
    """
    if not text:
        return None
    value = text.strip()
    return ImageColor.getrgb(value if value.startswith("#") else f"#{value}")[:3]


def render_png(frame: np.ndarray, cutout: Cutout, crop: bool, bgcolor: tuple[int, int, int] | None) -> bytes:
    """The cut-out (or the person flattened onto ``bgcolor``) as PNG, cropped to the person when asked."""
    image = cutout.rgba
    if bgcolor is not None:
        background = np.empty_like(frame)
        background[:] = bgcolor
        image = composite(cutout.rgba[..., :3], cutout.result.alpha, background)
    if crop:
        top, bottom, left, right = alpha_bounds(cutout.rgba[..., 3])
        image = image[top:bottom, left:right]
    return encode_png(np.ascontiguousarray(image))


class _Job:
    """Parsed query parameters of one PicUP request."""

    def __init__(self, matting_type: int, crop: bool, bgcolor: str | None) -> None:
        if matting_type not in SUPPORTED_TYPES:
            raise ValueError(f"mattingType {matting_type} is not supported; use 1 (person) or 6 (general)")
        try:
            self.bgcolor = parse_bgcolor(bgcolor)
        except ValueError as exc:
            raise ValueError(f"bgcolor '{bgcolor}' is not a hex colour such as FFFFFF") from exc
        self.crop = crop


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["PicUP matting"])

    async def run(request: Request, file: UploadFile | None, job_args: tuple, analyse: bool):
        """(png bytes, body analysis or None) or an error response."""
        if not engine.key_matches(*request_keys(request)):
            return error(401, "invalid or missing APIKEY")
        if file is None:
            return error(400, "missing parameter: file")
        try:
            job = _Job(*job_args)
        except ValueError as exc:
            return error(400, str(exc))
        data = await file.read()
        try:
            with engine.admit():
                frame = await off_loop(engine.decode, data, engine.limits.rules(RULES), "file")
                cutout = await off_loop(engine.matte, frame)
                png = await off_loop(render_png, frame, cutout, job.crop, job.bgcolor)
                analysis = poses_to_json(await off_loop(engine.poses, frame)) if analyse else None
        except ServiceBusyError as exc:
            return error(429, str(exc))
        except LiveMatteError as exc:
            return error(status_for(exc), public_message(exc))
        return png, analysis

    def json_answer(png: bytes, analysis: dict | None) -> JSONResponse:
        import base64

        data: dict[str, object] = {"imageBase64": base64.b64encode(png).decode("ascii")}
        if analysis is not None:
            data["bodyAnalysis"] = analysis
        return JSONResponse({"code": 0, "data": data, "msg": None, "time": now_ms()})

    matting_type = Query(6, alias="mattingType", description="1 person, 6 general (both: person matting)")
    crop = Query(False, description="crop to the person's bounding box")
    bgcolor = Query(None, description="hex colour (FFFFFF) to put behind the person instead of transparency")

    @api.post("/api/v1/matting", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def matting(
        request: Request, file: UploadFile | None = File(None), mattingType: int = matting_type,  # noqa: N803
        crop: bool = crop, bgcolor: str | None = bgcolor,
    ) -> Response:
        """The cut-out PNG bytes."""
        out = await run(request, file, (mattingType, crop, bgcolor), analyse=False)
        return out if isinstance(out, Response) else Response(out[0], media_type="image/png")

    @api.post("/api/v1/matting2")
    async def matting2(
        request: Request, file: UploadFile | None = File(None), mattingType: int = matting_type,  # noqa: N803
        crop: bool = crop, bgcolor: str | None = bgcolor,
    ) -> Response:
        """The cut-out PNG, base64, in PicUP's JSON envelope."""
        out = await run(request, file, (mattingType, crop, bgcolor), analyse=False)
        return out if isinstance(out, Response) else json_answer(*out)

    @api.post("/api/v1/mattingAndAnalysis")
    async def matting_and_analysis(
        request: Request, file: UploadFile | None = File(None), mattingType: int = matting_type,  # noqa: N803
        crop: bool = crop, bgcolor: str | None = bgcolor,
    ) -> Response:
        """As matting2, plus body keypoints and person boxes in ``data.bodyAnalysis``."""
        out = await run(request, file, (mattingType, crop, bgcolor), analyse=True)
        return out if isinstance(out, Response) else json_answer(*out)

    return api

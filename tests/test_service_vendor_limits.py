"""``livematte serve`` keeps each vendor document's limits and error shapes (tiny models, in-process client).

Limits (``shared/reference/cloud-apis``): SelfieSeg 50–1024 px, under 2 MB, JPEG/BMP/PNG/GIF; Face++
48–4096 px, 2 MB, JPG/PNG; Tencent under 2000×2000, base64 ≤ 5 MB, no GIF; face_parser 50–2048 px,
under 2 MB, JPG/JPEG/PNG. ``--lenient`` accepts what the service itself can do.
"""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import onnx
import pytest

from app.service.app import create_app
from app.service.engine import ServiceLimits, load_engine
from tests.service.helpers import blank_png, claimed_png, encode, local_client, noise
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import _const, person_image, rvm_model, write_tiny_models

TC = {"X-TC-Action": "SegmentCustomizedPortraitPic"}
PHOTO = person_image()  # 320x240, red 'person' (the tiny models' person colour)
KEY_HEADER = "JDCLOUD2-HMAC-SHA256 Credential=s3cret/20260101/cn-north-1/aiapi/jdcloud2_request, " \
             "SignedHeaders=content-type;host, Signature=abc"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return write_tiny_face_models(write_tiny_models(tmp_path_factory.mktemp("vendor_models")))


@pytest.fixture(scope="module")
def client(models_dir):
    return local_client(create_app(load_engine("selfie", str(models_dir))))


@pytest.fixture(scope="module")
def lenient(models_dir):
    return local_client(create_app(load_engine("selfie", str(models_dir), limits=ServiceLimits(lenient=True))))


def selfie(client, data: bytes) -> dict:
    answer = client.post("/jdai/SelfieSeg", json={"image": b64(data)})
    assert answer.status_code == 200
    return answer.json()["result"]


def facepp(client, data: bytes, field: str = "image_file"):
    if field == "image_file":
        return client.post("/humanbodypp/v2/segment", files={"image_file": ("photo", data)})
    return client.post("/humanbodypp/v2/segment", data={"image_base64": b64(data)})


def tencent(client, data: bytes, options=None) -> dict:
    body = {"Image": b64(data), "SegmentationOptions": options or {"Background": True}}
    answer = client.post("/", json=body, headers=TC)
    assert answer.status_code == 200
    return answer.json()["Response"]


def face_parser(client, images: list[bytes]) -> dict:
    answer = client.post("/jdai/face_parser", json=[{"image": b64(d)} for d in images])
    assert answer.status_code == 200
    return answer.json()["result"]


# --- the blocker: Face++ image_base64 over 1 MiB --------------------------------


def test_facepp_image_base64_over_one_mebibyte(client):
    photo = noise(700, 700)
    photo[150:550, 250:450, 0] = 255  # a red 'person' in the noise
    data = encode(photo)
    assert 1024 * 1024 < len(b64(data)) and len(data) < 2 * 1024 * 1024  # a legal 1.5 MB photo
    answer = facepp(client, data, "image_base64")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"request_id", "time_used", "image_id", "result", "body_image"}


# --- sizes, files and formats per document ----------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (encode(np.zeros((60, 1025, 3), np.uint8)), 1004),  # wider than 1024
        (encode(np.zeros((49, 60, 3), np.uint8)), 1004),  # smaller than 50
        (encode(noise(850, 850)), 1004),  # a 2.2 MB file
        (blank_png(8192, 8192), 1004),  # 200 KB that would decode to 200 MB
        (claimed_png(30000, 30000), 1004),  # a header claiming 30000²: too large, not corrupt
        (encode(PHOTO, "WEBP"), 1007),
        (encode(PHOTO, "GIF"), 1000),
        (encode(PHOTO, "BMP"), 1000),
        (encode(PHOTO, "JPEG"), 1000),
    ],
)
def test_selfieseg_limits(client, data, status):
    result = selfie(client, data)
    assert result["status"] == status
    if status != 1000:
        assert result["message"] in ("incorrect image size", "image format error") and result["detail"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encode(np.zeros((48, 4097, 3), np.uint8)), "INVALID_IMAGE_SIZE: image_file"),
        (encode(np.zeros((47, 100, 3), np.uint8)), "INVALID_IMAGE_SIZE: image_file"),
        (claimed_png(30000, 30000), "INVALID_IMAGE_SIZE: image_file"),
        (encode(noise(850, 850)), "IMAGE_FILE_TOO_LARGE: image_file"),
        (encode(PHOTO, "BMP"), "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_file"),
        (encode(PHOTO, "GIF"), "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_file"),
        (b"not an image at all", "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_file"),
    ],
)
def test_facepp_limits(client, data, message):
    answer = facepp(client, data)
    assert answer.status_code == 400 and answer.json()["error_message"] == message


def test_facepp_limits_apply_to_base64_too(client):
    assert facepp(client, encode(PHOTO, "BMP"), "image_base64").json()["error_message"] == (
        "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_base64")
    assert facepp(client, encode(PHOTO, "JPEG"), "image_base64").status_code == 200


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (encode(np.zeros((40, 2000, 3), np.uint8)), "FailedOperation.ImageResolutionExceed"),  # "小于2000*2000"
        (claimed_png(30000, 30000), "FailedOperation.ImageResolutionExceed"),
        (encode(PHOTO, "GIF"), "FailedOperation.ImageNotSupported"),
        (encode(PHOTO, "WEBP"), "FailedOperation.ImageNotSupported"),
    ],
)
def test_tencent_limits(client, data, code):
    assert tencent(client, data)["Error"]["Code"] == code


def test_tencent_base64_over_five_megabytes(client):
    body = {"Image": "A" * (5 * 1024 * 1024 + 4), "SegmentationOptions": {"Background": True}}
    response = client.post("/", json=body, headers=TC).json()["Response"]
    assert response["Error"]["Code"] == "FailedOperation.ImageSizeExceed"


def test_tencent_accepts_its_formats(client):
    for fmt in ("PNG", "JPEG", "BMP"):
        assert "MaskImage" in tencent(client, encode(PHOTO, fmt)), fmt


def test_face_parser_limits(client):
    face = encode(face_image())
    assert face_parser(client, [face])["status"] == 200
    assert face_parser(client, [face, encode(np.zeros((60, 2049, 3), np.uint8))])["status"] == 1004
    assert face_parser(client, [encode(face_image(), "BMP")])["status"] == 1007
    assert face_parser(client, [encode(face_image(), "GIF")])["status"] == 1007
    too_many = face_parser(client, [face] * 9)
    assert too_many["status"] == 1006 and too_many["message"] == "other error" and "limit is 8" in too_many["detail"]


def test_lenient_accepts_what_the_service_can_do(lenient):
    assert selfie(lenient, encode(np.zeros((60, 2000, 3), np.uint8)))["status"] == 1000
    assert selfie(lenient, encode(PHOTO, "WEBP"))["status"] == 1000
    assert facepp(lenient, encode(PHOTO, "BMP")).status_code == 200
    assert "MaskImage" in tencent(lenient, encode(PHOTO, "GIF"))
    assert selfie(lenient, claimed_png(30000, 30000))["status"] == 1004  # still too large, never "corrupt"
    assert lenient.get("/health").json()["lenient"] is True


def test_request_pixel_budget_is_checked_before_decoding(models_dir):
    limits = ServiceLimits(max_request_pixels=320 * 256 * 2, lenient=True)
    client = local_client(create_app(load_engine("selfie", str(models_dir), limits=limits)))
    face = encode(face_image())
    assert face_parser(client, [face, face])["status"] == 200
    over = face_parser(client, [face, face, face])
    assert over["status"] == 1004 and "MP" in over["detail"]


# --- errors the framework raises, in each vendor's shape ---------------------------


def test_unknown_paths_and_methods_in_vendor_shape(client):
    answer = client.post("/humanbodypp/v1/nothing")
    assert answer.status_code == 404 and answer.json()["error_message"] == "API_NOT_FOUND"
    assert {"request_id", "time_used"} <= set(answer.json())
    answer = client.get("/humanbodypp/v2/segment")
    assert answer.status_code == 405 and answer.json()["error_message"] == "API_NOT_FOUND"
    answer = client.get("/jdai/SelfieSeg")
    assert answer.status_code == 405 and answer.json()["code"] == "405" and answer.json()["result"] is None
    answer = client.post("/jdai/nothing", json={})
    assert answer.status_code == 404 and answer.json()["charge"] is False
    answer = client.post("/api/v1/nothing")
    assert answer.status_code == 404 and answer.json()["code"] == 404 and answer.json()["data"] is None
    answer = client.get("/")
    assert answer.status_code == 200 and answer.json()["Response"]["Error"]["Code"] == "UnsupportedProtocol"


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=xyz", "multipart/form-data"])
def test_malformed_multipart_in_vendor_shape(client, content_type):
    garbage = b"--xyz\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"a\r\n\r\n\x00\x01"
    answer = client.post("/humanbodypp/v2/segment", content=garbage, headers={"content-type": content_type})
    assert answer.status_code == 400
    assert answer.json()["error_message"].startswith("BAD_ARGUMENTS" if "boundary" not in content_type else
                                                     ("BAD_ARGUMENTS", "MISSING_ARGUMENTS"))
    answer = client.post("/api/v1/matting2", content=garbage, headers={"content-type": content_type})
    assert answer.status_code == 400 and answer.json()["code"] == 400 and answer.json()["data"] is None


def test_chunked_bodies_over_the_limit_in_vendor_shape(models_dir):
    client = local_client(create_app(load_engine("selfie", str(models_dir), limits=ServiceLimits(max_request_bytes=100_000))))

    def chunks(field: str = "image_file"):
        yield (f'--x\r\nContent-Disposition: form-data; name="{field}"; filename="a.png"\r\n'
               'Content-Type: image/png\r\n\r\n').encode()
        for _ in range(10):
            yield bytes(20_000)

    answer = client.post("/humanbodypp/v2/segment", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 413 and answer.text == "Request Entity Too Large"
    answer = client.post("/", content=chunks(), headers={**TC, "content-type": "application/json"})
    assert answer.json()["Response"]["Error"]["Code"] == "FailedOperation.RequestEntityTooLarge"
    answer = client.post("/api/v1/matting", content=chunks("file"), headers={"content-type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 413 and answer.json()["code"] == 413


def test_no_server_path_in_any_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    folder = write_tiny_models(tmp_path / "only_matting")
    client = local_client(create_app(load_engine("selfie", str(folder))))
    face = b64(encode(face_image()))
    messages = [
        client.post("/", json={"Image": face, "SegmentationOptions": {"Hair": True}}, headers=TC).json()["Response"]["Error"]["Message"],
        client.post("/jdai/face_parser", json=[{"image": face}]).json()["msg"],
    ]
    for message in messages:
        assert "yunet" in message.lower()  # names what is missing...
        assert str(tmp_path) not in message and not re.search(r"(^|[\s(=])/\w", message)  # ...but no path


# --- keys, quota fields ---------------------------------------------------------------


def test_jd_signed_authorization_carries_the_key(models_dir):
    keyed = local_client(create_app(load_engine("selfie", str(models_dir), api_key="s3cret")))
    body = {"image": b64(encode(PHOTO))}
    assert keyed.post("/jdai/SelfieSeg", json=body).status_code == 401
    assert keyed.post("/jdai/SelfieSeg", json=body, headers={"Authorization": KEY_HEADER}).json()["result"]["status"] == 1000
    as_in_the_doc = KEY_HEADER.replace("SHA256 Credential", "SHA256Credential")  # the document's example has no space
    assert keyed.post("/jdai/SelfieSeg", json=body, headers={"Authorization": as_in_the_doc}).status_code == 200
    wrong = KEY_HEADER.replace("s3cret", "other")
    assert keyed.post("/jdai/SelfieSeg", json=body, headers={"Authorization": wrong}).status_code == 401


def test_selfieseg_has_remain(client):
    body = client.post("/jdai/SelfieSeg", json={"image": b64(encode(PHOTO))}).json()
    assert body["remain"] == -1 and body["code"] == "10000" and body["result"]["status"] == 1000


# --- opaque pixels keep the photo's colour ---------------------------------------------


def negative_fgr_rvm() -> onnx.ModelProto:
    """The tiny RVM with fgr = 1 - src: every estimated colour differs from the photo."""
    model = rvm_model()
    for node in model.graph.node:
        if list(node.output) == ["fgr"]:
            node.op_type = "Sub"
            del node.input[:]
            node.input.extend(["fgr_one", "src"])
    model.graph.node.insert(0, _const("fgr_one", np.array(1.0, np.float32)))
    onnx.checker.check_model(model)
    return model


def test_opaque_pixels_keep_the_input_colour(tmp_path):
    folder = write_tiny_models(tmp_path)
    onnx.save(negative_fgr_rvm(), str(folder / "rvm_mobilenetv3_fp32.onnx"))
    client = local_client(create_app(load_engine("rvm", str(folder))))
    photo = noise(320, 240, seed=3)
    person = np.zeros((240, 320), np.uint8)
    cv2.ellipse(person, (160, 120), (64, 80), 0, 0, 360, 255, -1)  # red channel high: the tiny models' person
    photo[..., 0] = np.where(person == 255, np.uint8(250) - photo[..., 1] // 16, photo[..., 0] // 3)
    data = encode(photo)
    rgba = cv2.cvtColor(cv2.imdecode(np.frombuffer(client.post("/api/v1/matting", files={"file": ("p.png", data)}).content,
                                                   np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    opaque = rgba[..., 3] == 255
    partial = (rgba[..., 3] > 0) & ~opaque
    assert opaque.sum() > 5000 and partial.any()
    assert np.array_equal(rgba[..., :3][opaque], photo[opaque])  # the photo's own colours, exactly
    assert np.abs(rgba[..., :3][partial].astype(int) - photo[partial]).max() > 50  # the model's colours elsewhere
    body = client.post("/humanbodypp/v2/segment", files={"image_file": ("p.png", data)}).json()
    cut = cv2.cvtColor(cv2.imdecode(np.frombuffer(base64.b64decode(body["body_image"]), np.uint8),
                                    cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    kept = cut[..., 3] == 255
    assert kept.sum() > 5000 and np.array_equal(cut[..., :3][kept], photo[kept])

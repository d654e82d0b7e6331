"""``livematte serve`` through FastAPI's test client, with tiny models (no network, no real weights)."""

from __future__ import annotations

import base64
import socket
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from tests.service.helpers import LIMITS, local_client

from app.core.body.pose import KEYPOINT_NAMES
from app.service.app import create_app
from app.service.engine import ServiceLimits, load_engine
from tests.tiny_models import person_image, write_tiny_models
from tests.tiny_pose_models import write_tiny_pose_models



@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service_models")
    write_tiny_models(folder)
    return write_tiny_pose_models(folder)


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


PHOTO = _png(person_image())  # 320x240, red person in the middle
PHOTO_B64 = base64.b64encode(PHOTO).decode()
TINY = _png(np.full((16, 16, 3), 200, np.uint8))


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "selfie" and health["api_key_required"] is False
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/jdai/SelfieSeg", "/humanbodypp/v2/segment", "/api/v1/matting", "/api/v1/matting2",
                 "/api/v1/mattingAndAnalysis", "/health"):
        assert path in paths
    assert client.get("/docs").status_code == 200


# --- JD ----------------------------------------------------------------------


def test_jd_success_shape(client, engine):
    answer = client.post("/jdai/SelfieSeg", json={"image": PHOTO_B64})
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == "10000" and body["charge"] is False and isinstance(body["msg"], str)
    result = body["result"]
    assert result["status"] == 1000 and result["message"] == "ok" and isinstance(result["used_time"], int)
    mask = _decode(base64.b64decode(result["image"]))
    assert mask.shape == (240, 320) and mask.dtype == np.uint8
    expected = np.rint(engine.pipeline.process(person_image()).alpha * 255)
    assert np.abs(mask.astype(int) - expected).max() <= 1
    assert mask[120, 160] > 200 and mask[5, 5] < 30


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 1002),
        ({"image": ""}, 1002),
        ({"image": PHOTO_B64[:-3]}, 1003),  # truncated mid-quantum: not base64
        ({"image": "@@@@"}, 1003),
        ({"image": 123}, 1003),  # wrong type
        ({"image": base64.b64encode(TINY).decode()}, 1004),
        ({"image": base64.b64encode(b"GIF89 not really an image at all").decode()}, 1007),
        ({"image": PHOTO_B64[: len(PHOTO_B64) // 8 * 4]}, 1007),  # truncated on a quantum: a broken PNG
    ],
)
def test_jd_business_errors(client, body, status):
    answer = client.post("/jdai/SelfieSeg", json=body)
    assert answer.status_code == 200
    assert answer.json()["code"] == "10000" and answer.json()["result"]["status"] == status


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_jd_bad_json(client, raw):
    answer = client.post("/jdai/SelfieSeg", content=raw, headers={"content-type": "application/json"})
    assert answer.json()["result"]["status"] == 1005


def test_jd_accepts_a_data_url(client):
    answer = client.post("/jdai/SelfieSeg", json={"image": "data:image/png;base64," + PHOTO_B64})
    assert answer.json()["result"]["status"] == 1000


# --- Face++ --------------------------------------------------------------------


def test_facepp_success_with_file_and_base64(client, engine):
    by_file = client.post("/humanbodypp/v2/segment", files={"image_file": ("me.png", PHOTO)})
    assert by_file.status_code == 200
    body = by_file.json()
    assert set(body) == {"request_id", "time_used", "image_id", "result", "body_image"}
    gray = _decode(base64.b64decode(body["result"]))
    cut = _decode(base64.b64decode(body["body_image"]))
    assert gray.shape == (240, 320) and cut.shape == (240, 320, 4)
    alpha = engine.pipeline.process(person_image()).alpha
    assert np.abs(gray.astype(int) - np.rint(alpha * 255)).max() <= 1
    assert set(np.unique(cut[..., 3])) <= {0, 255}
    assert np.array_equal(cut[..., 3] == 255, alpha > 0.5)
    by_b64 = client.post("/humanbodypp/v2/segment", data={"image_base64": PHOTO_B64, "return_grayscale": "0"}).json()
    assert "result" not in by_b64 and "body_image" in by_b64
    assert by_b64["image_id"] == body["image_id"]  # same input bytes, same id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": {}}, "MISSING_ARGUMENTS: image_url, image_file, image_base64"),
        ({"data": {"image_base64": PHOTO_B64, "return_grayscale": "2"}}, "BAD_ARGUMENTS: return_grayscale"),
        ({"data": {"image_base64": PHOTO_B64[:-3]}}, "BAD_ARGUMENTS: image_base64"),
        ({"data": {"image_url": "http://example.com/me.jpg"}}, "INVALID_IMAGE_URL"),
        ({"files": {"image_file": ("a.txt", b"plain text")}}, "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_file"),
        ({"files": {"image_file": ("a.png", TINY)}}, "INVALID_IMAGE_SIZE: image_file"),
        ({"files": {"image_file": ("a.png", b"\x89PNG" + bytes(400_000))}}, "IMAGE_FILE_TOO_LARGE: image_file"),
    ],
)
def test_facepp_errors(client, kwargs, message):
    answer = client.post("/humanbodypp/v2/segment", **kwargs)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_message"].startswith(message)
    assert "request_id" in body and "time_used" in body


def test_request_over_the_limit_is_413_in_each_family(client):
    big = b"\x89PNG" + bytes(700_000)
    answer = client.post("/humanbodypp/v2/segment", files={"image_file": ("a.png", big)})
    assert answer.status_code == 413 and answer.text == "Request Entity Too Large"  # plain text, as Face++'s doc says
    assert answer.headers["content-type"].startswith("text/plain")
    answer = client.post("/api/v1/matting", files={"file": ("a.png", big)})
    assert answer.status_code == 413 and answer.json()["code"] == 413
    answer = client.post("/jdai/SelfieSeg", json={"image": base64.b64encode(big).decode()})
    assert answer.status_code == 413 and answer.json()["charge"] is False


def test_streamed_body_without_length_is_counted(client):
    def chunks():
        for _ in range(20):
            yield bytes(50_000)

    answer = client.post("/jdai/SelfieSeg", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413


# --- PicUP -------------------------------------------------------------------


def test_picup_matting_returns_png_bytes(client):
    answer = client.post("/api/v1/matting?mattingType=6", files={"file": ("me.png", PHOTO)})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    rgba = _decode(answer.content)
    assert rgba.shape == (240, 320, 4) and rgba[120, 160, 3] > 200 and rgba[5, 5, 3] < 30


def test_picup_matting2_crop_and_bgcolor(client):
    answer = client.post("/api/v1/matting2?mattingType=1&crop=true&bgcolor=00FF00", files={"file": ("me.png", PHOTO)})
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == 0 and body["msg"] is None and body["time"] > 1e12
    image = _decode(base64.b64decode(body["data"]["imageBase64"]))
    assert image.ndim == 3 and image.shape[2] == 3  # flattened onto the colour
    assert image.shape[0] < 240 and image.shape[1] < 320  # cropped to the person


def test_picup_analysis_shape(client):
    body = client.post("/api/v1/mattingAndAnalysis", files={"file": ("me.png", PHOTO)}).json()
    assert body["code"] == 0 and "imageBase64" in body["data"]
    analysis = body["data"]["bodyAnalysis"]
    assert analysis["person_num"] == 1 and len(analysis["person_info"]) == 1
    person = analysis["person_info"][0]
    assert set(person["body_parts"]) == set(KEYPOINT_NAMES)
    assert set(person["body_parts"]["neck"]) == {"x", "y", "score"}
    assert set(person["location"]) == {"left", "top", "width", "height", "score"}


def test_picup_no_person_is_empty_not_an_error(client):
    dark = _png(np.zeros((240, 320, 3), np.uint8))
    body = client.post("/api/v1/mattingAndAnalysis", files={"file": ("dark.png", dark)}).json()
    assert body["code"] == 0 and body["data"]["bodyAnalysis"] == {"person_num": 0, "person_info": []}
    rgba = _decode(base64.b64decode(body["data"]["imageBase64"]))
    assert rgba[..., 3].max() < 30


@pytest.mark.parametrize(
    ("url", "files", "status"),
    [
        ("/api/v1/matting", None, 400),
        ("/api/v1/matting2?mattingType=3", {"file": ("me.png", PHOTO)}, 400),
        ("/api/v1/matting2?bgcolor=nope", {"file": ("me.png", PHOTO)}, 400),
        ("/api/v1/matting2?mattingType=abc", {"file": ("me.png", PHOTO)}, 400),
        ("/api/v1/matting2", {"file": ("a.txt", b"plain text")}, 415),
        ("/api/v1/matting", {"file": ("a.png", TINY)}, 422),
        ("/api/v1/mattingAndAnalysis", {"file": ("a.png", b"\x89PNG" + bytes(400_000))}, 413),
    ],
)
def test_picup_errors(client, url, files, status):
    answer = client.post(url, files=files) if files else client.post(url)
    assert answer.status_code == status
    body = answer.json()
    assert body["code"] == status and body["data"] is None and isinstance(body["msg"], str)


# --- key, concurrency, network -------------------------------------------------


@pytest.fixture(scope="module")
def keyed(models_dir):
    engine = load_engine("selfie", str(models_dir), limits=LIMITS, api_key="s3cret")
    return local_client(create_app(engine))


def test_api_key_in_each_familys_place(keyed):
    assert keyed.get("/health").status_code == 200
    assert keyed.post("/jdai/SelfieSeg", json={"image": PHOTO_B64}).status_code == 401
    ok = keyed.post("/jdai/SelfieSeg?appkey=s3cret", json={"image": PHOTO_B64})
    assert ok.status_code == 200 and ok.json()["result"]["status"] == 1000
    wrong = keyed.post("/humanbodypp/v2/segment", data={"api_key": "nope", "image_base64": PHOTO_B64})
    assert wrong.status_code == 401 and wrong.json()["error_message"] == "AUTHENTICATION_ERROR"
    right = keyed.post("/humanbodypp/v2/segment", data={"api_key": "s3cret", "image_base64": PHOTO_B64})
    assert right.status_code == 200
    assert keyed.post("/api/v1/matting", files={"file": ("me.png", PHOTO)}).status_code == 401
    assert keyed.post("/api/v1/matting", files={"file": ("me.png", PHOTO)}, headers={"APIKEY": "s3cret"}).status_code == 200
    headers = {"Authorization": "Bearer s3cret"}
    assert keyed.post("/api/v1/matting2", files={"file": ("me.png", PHOTO)}, headers=headers).status_code == 200
    assert keyed.post("/api/v1/matting2", files={"file": ("me.png", PHOTO)}, headers={"X-API-Key": "s3cret"}).status_code == 200


def test_concurrent_requests_within_the_limit(client, engine):
    def call(_):
        return client.post("/api/v1/matting2", files={"file": ("me.png", PHOTO)})

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    images = {a.json()["data"]["imageBase64"] for a in answers}
    assert len(images) == 1  # a shared model gives every request the same answer
    assert engine.pending == 0


def test_busy_beyond_the_limit(models_dir):
    engine = load_engine("selfie", str(models_dir), limits=ServiceLimits(600_000, LIMITS.image, max_pending=1))
    client = local_client(create_app(engine))
    with engine.admit():  # one request in progress: the next is refused at once, never queued
        assert client.post("/humanbodypp/v2/segment", data={"image_base64": PHOTO_B64}).json()["error_message"] == (
            "CONCURRENCY_LIMIT_EXCEEDED"
        )
        assert client.post("/api/v1/matting", files={"file": ("me.png", PHOTO)}).status_code == 429
        assert client.post("/jdai/SelfieSeg", json={"image": PHOTO_B64}).status_code == 429
    assert client.post("/api/v1/matting", files={"file": ("me.png", PHOTO)}).status_code == 200


def test_never_touches_the_network(client, monkeypatch):
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    answer = client.post("/humanbodypp/v2/segment", data={"image_url": "http://127.0.0.1:9/me.jpg"})
    assert answer.status_code == 400 and answer.json()["error_message"] == "INVALID_IMAGE_URL"
    assert client.post("/api/v1/mattingAndAnalysis", files={"file": ("me.png", PHOTO)}).status_code == 200
    assert attempts == []


def test_cli_serve_binds_loopback_by_default():
    from app.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8000 and args.api_key is None

"""Clients nobody here wrote, against a real ``livematte serve`` (uvicorn on 127.0.0.1, ephemeral port).

- Tencent: the official SDK (``tencentcloud-sdk-python-bda``), endpoint set to the local server,
  scheme http, SecretId = the service's API key.
- JD, Face++, PicUP: request code written from each vendor document's own examples
  (``shared/reference/cloud-apis``), with ``requests`` as those examples use it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time

import numpy as np
import pytest
import requests
from PIL import Image

from app.service.app import create_app
from app.service.engine import load_engine
from tests.local_http import no_proxies
from tests.service.helpers import encode, noise, running_server
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import person_image, write_tiny_models
from tests.tiny_pose_models import write_tiny_pose_models

KEY, SECRET = "s3cret", "not-checked"

tencentcloud = pytest.importorskip("tencentcloud.bda.v20200324")  # the test extra installs it


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = write_tiny_pose_models(write_tiny_face_models(write_tiny_models(tmp_path_factory.mktemp("client_models"))))
    with running_server(create_app(load_engine("selfie", str(folder), api_key=KEY))) as url:
        yield url


@pytest.fixture(autouse=True)
def _direct(monkeypatch):
    no_proxies(monkeypatch)  # requests (and the SDK) must not send 127.0.0.1 to a proxy


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "file.jpg"
    path.write_bytes(encode(person_image(), "JPEG"))
    return path


def png_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- Tencent: the official SDK ------------------------------------------------------


def tencent_client(url: str, key: str = KEY):
    from tencentcloud.bda.v20200324 import bda_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(protocol="http", endpoint=url.removeprefix("http://"), reqTimeout=120)
    return bda_client.BdaClient(credential.Credential(key, SECRET), "ap-beijing", ClientProfile(httpProfile=http))


def tencent_request(image: bytes, **options):
    from tencentcloud.bda.v20200324 import models

    request = models.SegmentCustomizedPortraitPicRequest()
    request.from_json_string(json.dumps({"Image": base64.b64encode(image).decode(), "SegmentationOptions": options}))
    return request


def test_tencent_sdk_parses_the_answer(server):
    response = tencent_client(server).SegmentCustomizedPortraitPic(
        tencent_request(encode(face_image()), Hair=True, Face=True, LeftEar=True))
    assert response.RequestId
    portrait = png_of(base64.b64decode(response.PortraitImage))
    mask = png_of(base64.b64decode(response.MaskImage))
    assert portrait.mode == "RGBA" and portrait.size == (320, 256) and mask.mode == "L"
    labels = {rect.Label for rect in response.ImageRects}
    assert labels == {"Hair", "Face"}  # no ears drawn: LeftEar is empty and has no box
    assert all(rect.Width > 0 and rect.Height > 0 for rect in response.ImageRects)


def test_tencent_sdk_raises_the_documented_codes(server):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    client = tencent_client(server)
    cases = [
        (encode(face_image(), "GIF"), {"Hair": True}, "FailedOperation.ImageNotSupported"),
        (encode(np.zeros((40, 2000, 3), np.uint8)), {"Background": True}, "FailedOperation.ImageResolutionExceed"),
        (encode(np.zeros((256, 320, 3), np.uint8)), {"Hair": True}, "InvalidParameterValue.NoFaceInPhoto"),
        (encode(face_image()), {"Necklace": True}, "InvalidParameter.InvalidParameter"),
    ]
    for image, options, code in cases:
        with pytest.raises(TencentCloudSDKException) as caught:
            client.SegmentCustomizedPortraitPic(tencent_request(image, **options))
        assert caught.value.get_code() == code, caught.value.get_message()
        assert caught.value.get_request_id()
    with pytest.raises(TencentCloudSDKException) as caught:
        tencent_client(server, key="wrong").SegmentCustomizedPortraitPic(tencent_request(encode(face_image()), Hair=True))
    assert caught.value.get_code() == "AuthFailure.SecretIdNotFound"


# --- PicUP: the document's python example ----------------------------------------------


def test_picup_python_example(server, photo_file, tmp_path):
    response = requests.post(
        f"{server}/api/v1/matting",
        files={'file': open(photo_file, 'rb')},
        headers={'APIKEY': KEY},
    )
    with open(tmp_path / 'out.png', 'wb') as out:
        out.write(response.content)
    image = png_of((tmp_path / "out.png").read_bytes())
    assert response.status_code == 200 and image.mode == "RGBA" and image.size == (320, 240)


def test_picup_matting2_and_analysis_examples(server, photo_file):
    response = requests.post(f"{server}/api/v1/matting2", files={'file': open(photo_file, 'rb')}, headers={'APIKEY': KEY})
    body = response.json()
    assert body["code"] == 0 and body["msg"] is None and isinstance(body["time"], int)
    assert png_of(base64.b64decode(body["data"]["imageBase64"])).size == (320, 240)
    response = requests.post(f"{server}/api/v1/mattingAndAnalysis", files={'file': open(photo_file, 'rb')},
                             headers={'APIKEY': KEY})
    analysis = response.json()["data"]["bodyAnalysis"]
    assert analysis["person_num"] == len(analysis["person_info"]) == 1
    person = analysis["person_info"][0]
    assert {"nose", "left_ear", "top_head", "neck"} <= set(person["body_parts"])
    assert set(person["location"]) == {"score", "top", "left", "width", "height"}
    refused = requests.post(f"{server}/api/v1/matting2", files={'file': open(photo_file, 'rb')})
    assert refused.status_code == 401 and refused.json()["code"] == 401


# --- Face++: the document's curl example (-F api_key, api_secret, image_file) ------------


def test_facepp_curl_example(server, photo_file):
    response = requests.post(
        f"{server}/humanbodypp/v2/segment",
        data={"api_key": KEY, "api_secret": SECRET},
        files={"image_file": open(photo_file, "rb")},
    )
    body = response.json()
    assert response.status_code == 200 and "error_message" not in body
    assert set(body) == {"request_id", "time_used", "image_id", "result", "body_image"}
    assert png_of(base64.b64decode(body["result"])).mode == "L"
    assert png_of(base64.b64decode(body["body_image"])).mode == "RGBA"


def test_facepp_image_base64_of_a_large_photo(server):
    photo = noise(700, 700)
    photo[150:550, 250:450, 0] = 255
    data = encode(photo)
    assert len(data) > 1024 * 1024
    response = requests.post(f"{server}/humanbodypp/v2/segment",
                             data={"api_key": KEY, "api_secret": SECRET, "image_base64": base64.b64encode(data),
                                   "return_grayscale": 0})
    body = response.json()
    assert response.status_code == 200 and "body_image" in body and "result" not in body


def test_facepp_errors_are_readable_by_facepp_clients(server):
    """Every refusal carries ``error_message`` (python-facepp reads it), except 413, documented as plain text."""
    missing = requests.post(f"{server}/humanbodypp/v2/segment", data={"api_key": KEY, "api_secret": SECRET})
    assert missing.status_code == 400 and missing.json()["error_message"].startswith("MISSING_ARGUMENTS")
    url = requests.post(f"{server}/humanbodypp/v2/segment",
                        data={"api_key": KEY, "api_secret": SECRET, "image_url": "https://example.com/a.jpg"})
    assert url.status_code == 400 and url.json()["error_message"] == "INVALID_IMAGE_URL"
    wrong = requests.post(f"{server}/humanbodypp/v2/segment", data={"api_key": "nope", "api_secret": SECRET})
    assert wrong.status_code == 401 and wrong.json()["error_message"] == "AUTHENTICATION_ERROR"
    absent = requests.post(f"{server}/humanbodypp/v2/nothing", data={"api_key": KEY})
    assert absent.status_code == 404 and absent.json()["error_message"] == "API_NOT_FOUND"


# --- JD: the documents' request parameters --------------------------------------------


def test_jd_selfieseg_with_the_documented_header(server, photo_file):
    response = requests.post(
        f"{server}/jdai/SelfieSeg",
        headers={"Authorization": f"JDCLOUD2-HMAC-SHA256 Credential={KEY}/20260101/cn-north-1/aiapi/jdcloud2_request, "
                                  "SignedHeaders=content-type;host;x-jdcloud-date, Signature=0f"},
        data=json.dumps({"image": base64.b64encode(photo_file.read_bytes()).decode()}),
    )
    body = response.json()
    assert body["code"] == "10000" and body["charge"] is False and body["remain"] == -1
    result = body["result"]
    assert result["status"] == 1000 and result["message"] == "ok" and isinstance(result["used_time"], int)
    assert png_of(base64.b64decode(result["image"])).size == (320, 240)


def test_jd_face_parser_with_the_documented_query(server):
    timestamp = int(time.time() * 1000)
    sign = hashlib.md5(f"{SECRET}{timestamp}".encode()).hexdigest()  # MD5(secretkey + timestamp)
    images = [{"image": base64.b64encode(encode(face_image())).decode()}]
    response = requests.post(f"{server}/jdai/face_parser", params={"appkey": KEY, "timestamp": timestamp, "sign": sign},
                             data=json.dumps(images))
    body = response.json()
    assert body["code"] == "10000" and body["remainTimes"] == -1 and body["remainSeconds"] == -1
    result = body["result"]
    assert result["status"] == 200 and result["message"] == "ok" and isinstance(result["used_time"], int)
    labels = png_of(base64.b64decode(result["image"]))
    assert labels.mode == "P" and labels.size == (320, 256) and set(np.unique(np.asarray(labels))) <= set(range(11))

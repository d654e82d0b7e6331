"""``livematte serve``'s face endpoints (Tencent SegmentCustomizedPortraitPic, JD face_parser) with tiny models."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from tests.service.helpers import LIMITS, local_client
from PIL import Image

from app.core.face.regions import HAIR, LABEL_NAMES, SKIN
from app.service.app import create_app
from app.service.engine import load_engine
from tests.tiny_face_models import face_image, write_tiny_face_models
from tests.tiny_models import write_tiny_models

TC = {"X-TC-Action": "SegmentCustomizedPortraitPic"}


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _decode(text: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(text), np.uint8), cv2.IMREAD_UNCHANGED)


FACE = _b64(_png(face_image()))  # 320×256: red face at (128..192, 128..192), green hair above
NO_FACE = _b64(_png(np.zeros((256, 320, 3), np.uint8)))
TINY = _b64(_png(np.full((16, 16, 3), 200, np.uint8)))
WIDE = _b64(_png(np.zeros((40, 2100, 3), np.uint8)))
HUGE_FILE = _b64(b"\x89PNG" + bytes(400_000))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return write_tiny_face_models(write_tiny_models(tmp_path_factory.mktemp("face_service_models")))


def _tc(client, body, headers=TC):
    answer = client.post("/", json=body, headers=headers)
    assert answer.status_code == 200  # Tencent answers errors with 200 too
    return answer


def _tc_error(client, body, headers=TC) -> str:
    response = _tc(client, body, headers).json()["Response"]
    assert set(response) == {"Error", "RequestId"} and response["Error"]["Message"]
    return response["Error"]["Code"]


# --- Tencent -------------------------------------------------------------------


def test_face_models_load_lazily_once(models_dir):
    engine = load_engine("selfie", str(models_dir), limits=LIMITS)
    client = local_client(create_app(engine))
    assert engine._faces.loaded is None  # matting-only use never loads them
    client.post("/jdai/SelfieSeg", json={"image": FACE})
    assert engine._faces.loaded is None
    client.post("/jdai/face_parser", json=[{"image": FACE}])
    first = engine._faces.loaded
    client.post("/", json={"Image": FACE, "SegmentationOptions": {"Hair": True}}, headers=TC)
    assert first is not None and engine._faces.loaded is first


def test_tencent_success_shape(client, engine):
    answer = _tc(client, {"Image": FACE, "SegmentationOptions": {"Hair": True, "Face": True}})
    assert "X-LiveMatte-Ignored-Options" not in answer.headers
    response = answer.json()["Response"]
    assert set(response) == {"PortraitImage", "MaskImage", "ImageRects", "RequestId"}
    portrait, mask = _decode(response["PortraitImage"]), _decode(response["MaskImage"])
    assert portrait.shape == (256, 320, 4) and mask.shape == (256, 320)
    assert np.array_equal(portrait[..., 3], mask)
    assert np.array_equal(portrait[..., 2::-1][mask == 255], face_image()[mask == 255])  # the photo's own colours
    assert mask[200, 100] == 255  # face skin, away from the drawn features
    assert mask[80, 160] == 255  # hair
    assert mask[20, 20] == 0 and mask[240, 160] == 0  # background, below the chin
    rects = {r["Label"]: r for r in response["ImageRects"]}
    assert set(rects) == {"Hair", "Face"}
    assert all(set(r) == {"X", "Y", "Width", "Height", "Label"} for r in rects.values())
    labels = engine.parse_faces(face_image()).labels
    for label, cls in (("Face", SKIN), ("Hair", HAIR)):
        x, y, w, h = cv2.boundingRect((labels == cls).astype(np.uint8))
        got = rects[label]
        assert np.abs(np.array([got["X"], got["Y"], got["Width"], got["Height"]]) - (x, y, w, h)).max() <= 2


def test_tencent_face_excludes_features_and_head_includes_them(client, engine):
    face = _decode(_tc(client, {"Image": FACE, "SegmentationOptions": {"Face": True}}).json()["Response"]["MaskImage"])
    head = _decode(_tc(client, {"Image": FACE, "SegmentationOptions": {"Head": True}}).json()["Response"]["MaskImage"])
    labels = engine.parse_faces(face_image()).labels
    # brows, eyes, nose, lips, mouth away from their anti-aliased edges
    features = cv2.erode(((labels >= 2) & (labels <= 9)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert features.sum() > 100
    assert face[features].max() < 128 and face[features].mean() < 5  # holes in Face (Tencent: no features)...
    assert head[features].min() > 250  # ...and part of Head


def test_tencent_head_and_body_meet_without_a_seam(client):
    both = _tc(client, {"Image": FACE, "SegmentationOptions": {"Head": True, "Body": True}}).json()["Response"]
    person = _tc(client, {"Image": FACE, "SegmentationOptions": {"Background": True}}).json()["Response"]
    union, background = _decode(both["MaskImage"]).astype(int), _decode(person["MaskImage"]).astype(int)
    # head ∪ body is at least the person everywhere (a max of soft masks dips to 0.5 on their shared edge)
    assert (union - (255 - background)).min() >= -1


def test_tencent_unsupported_options_are_ignored_and_named(client):
    answer = _tc(client, {"Image": FACE, "SegmentationOptions": {"Hair": True, "Earrings": True, "Necklace": True}})
    assert answer.headers["X-LiveMatte-Ignored-Options"] == "Earrings,Necklace"
    assert [r["Label"] for r in answer.json()["Response"]["ImageRects"]] == ["Hair"]


def test_tencent_background_only_needs_no_face(client):
    response = _tc(client, {"Image": NO_FACE, "SegmentationOptions": {"Background": True}}).json()["Response"]
    assert "Error" not in response and _decode(response["MaskImage"]).min() > 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"SegmentationOptions": {"Hair": True}}, "MissingParameter"),
        ({"Image": FACE}, "MissingParameter"),
        ({"Image": 123, "SegmentationOptions": {"Hair": True}}, "InvalidParameter"),  # wrong type
        ({"Image": FACE, "SegmentationOptions": {"Hair": "yes"}}, "InvalidParameter"),
        ({"Image": FACE, "SegmentationOptions": ["Hair"]}, "InvalidParameter"),
        ({"Image": FACE, "SegmentationOptions": {"Fringe": True}}, "UnknownParameter"),
        ({"Image": FACE, "SegmentationOptions": {"Hair": False}}, "InvalidParameter.InvalidParameter"),
        ({"Image": FACE, "SegmentationOptions": {"Necklace": True, "Belongings": True}}, "InvalidParameter.InvalidParameter"),
        ({"Url": "http://127.0.0.1:9/a.jpg", "SegmentationOptions": {"Hair": True}}, "InvalidParameterValue.UrlIllegal"),
        ({"Image": FACE[:-3], "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageDecodeFailed"),
        ({"Image": FACE[: len(FACE) // 8 * 4], "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageDecodeFailed"),
        ({"Image": _b64(b"plain text, not an image"), "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageNotSupported"),
        ({"Image": WIDE, "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageResolutionExceed"),
        ({"Image": TINY, "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageResolutionInsufficient"),
        ({"Image": HUGE_FILE, "SegmentationOptions": {"Hair": True}}, "FailedOperation.ImageSizeExceed"),
        ({"Image": NO_FACE, "SegmentationOptions": {"Hair": True, "Background": True}}, "InvalidParameterValue.NoFaceInPhoto"),
    ],
)
def test_tencent_errors(client, body, code):
    assert _tc_error(client, body) == code


def test_tencent_action_header_and_bad_json(client):
    assert _tc_error(client, {"Image": FACE, "SegmentationOptions": {"Hair": True}}, headers={}) == "MissingParameter"
    assert _tc_error(client, {"Image": FACE}, headers={"X-TC-Action": "SegmentPortraitPic"}) == "InvalidAction"
    answer = client.post("/", content=b"{nope", headers={**TC, "content-type": "application/json"})
    assert answer.json()["Response"]["Error"]["Code"] == "InvalidParameter"


def test_tencent_oversize_body_in_tencents_envelope(client):
    answer = client.post("/", json={"Image": _b64(bytes(700_000)), "SegmentationOptions": {"Hair": True}}, headers=TC)
    assert answer.status_code == 200
    assert answer.json()["Response"]["Error"]["Code"] == "FailedOperation.RequestEntityTooLarge"


def test_tencent_key_is_the_secret_id(models_dir):
    keyed = local_client(create_app(load_engine("selfie", str(models_dir), limits=LIMITS, api_key="s3cret")))
    body = {"Image": FACE, "SegmentationOptions": {"Hair": True}}
    assert _tc_error(keyed, body) == "AuthFailure.SecretIdNotFound"
    auth = "TC3-HMAC-SHA256 Credential=s3cret/2026-01-01/bda/tc3_request, SignedHeaders=content-type;host, Signature=x"
    assert "Error" not in _tc(keyed, body, {**TC, "Authorization": auth}).json()["Response"]
    wrong = auth.replace("s3cret", "other")
    assert _tc_error(keyed, body, {**TC, "Authorization": wrong}) == "AuthFailure.SecretIdNotFound"


def test_missing_face_weights_is_a_clear_error_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)  # the real weights must not be found there either
    engine = load_engine("selfie", str(write_tiny_models(tmp_path)), limits=LIMITS)  # no face models
    client = local_client(create_app(engine))
    error = _tc(client, {"Image": FACE, "SegmentationOptions": {"Hair": True}}).json()["Response"]["Error"]
    assert error["Code"] == "ResourceUnavailable.NotExist" and "yunet" in error["Message"].lower()
    jd = client.post("/jdai/face_parser", json=[{"image": FACE}])
    assert jd.status_code == 500 and "yunet" in jd.json()["msg"].lower()
    assert client.post("/jdai/SelfieSeg", json={"image": FACE}).json()["result"]["status"] == 1000  # matting still works
    background = _tc(client, {"Image": FACE, "SegmentationOptions": {"Background": True}}).json()["Response"]
    assert "MaskImage" in background  # needs no face models


# --- JD face_parser ------------------------------------------------------------


def test_jd_face_parser_success_shape_is_the_documents(client):
    answer = client.post("/jdai/face_parser", json=[{"image": FACE}])
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == "10000" and body["charge"] is False
    assert body["remainTimes"] == -1 and body["remainSeconds"] == -1 and body["msg"] == "查询成功"
    result = body["result"]
    assert result["status"] == 200 and result["message"] == "ok" and isinstance(result["used_time"], int)
    assert set(result) == {"status", "message", "image", "used_time", "face_num"}  # face_num: additive
    assert result["face_num"] == 1
    with Image.open(io.BytesIO(base64.b64decode(result["image"]))) as png:
        assert png.mode == "P" and png.size == (320, 256)
        labels = np.asarray(png)
    assert labels[200, 100] == SKIN and labels[80, 160] == HAIR and labels[20, 20] == 0
    assert set(np.unique(labels)) <= set(range(len(LABEL_NAMES)))
    assert {2, 3, 4, 5, 6} <= set(np.unique(labels))  # brows, eyes, nose drawn by the tiny mesh


def test_jd_face_parser_several_images_add_a_list(client):
    result = client.post("/jdai/face_parser", json=[{"image": FACE}, {"image": "data:image/png;base64," + FACE}]).json()["result"]
    assert result["status"] == 200 and len(result["images"]) == 2
    assert result["images"][0] == result["images"][1] == {"image": result["image"], "face_num": 1}


def test_jd_face_parser_accepts_a_single_object(client):
    assert client.post("/jdai/face_parser", json={"image": FACE}).json()["result"]["status"] == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([], 1002),
        ([{}], 1002),
        ([{"image": FACE}, {"image": ""}], 1002),
        ([{"image": FACE[:-3]}], 1003),  # truncated mid-quantum
        ([{"image": 123}], 1003),  # wrong type
        ([{"image": TINY}], 1004),
        ([{"image": HUGE_FILE}], 1004),
        (["not an object"], 1005),
        ("just a string", 1005),
        ([{"image": FACE}, {"image": NO_FACE}], 1006),
        ([{"image": _b64(b"GIF89 not really an image at all")}], 1007),
        ([{"image": FACE[: len(FACE) // 8 * 4]}], 1007),  # truncated on a quantum: a broken PNG
    ],
)
def test_jd_face_parser_business_errors(client, body, status):
    answer = client.post("/jdai/face_parser", json=body)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["status"] == status and "images" not in result


def test_jd_face_parser_error_names_the_image(client):
    result = client.post("/jdai/face_parser", json=[{"image": FACE}, {"image": NO_FACE}]).json()["result"]
    assert result["message"] == "other error" and result["detail"] == "image[1]: no face found"


def test_jd_face_parser_bad_json(client):
    answer = client.post("/jdai/face_parser", content=b"[{", headers={"content-type": "application/json"})
    assert answer.json()["result"]["status"] == 1005


def test_face_routes_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/jdai/face_parser" in paths and "/" in paths


# --- real weights ----------------------------------------------------------------


def test_real_hair_and_face(real_models_dir, portraits_dir):
    photo = portraits_dir / "bgmatting_0001_img.png"
    if not photo.is_file():
        pytest.skip("bgmatting_0001_img.png not available")
    client = local_client(create_app(load_engine("selfie", str(real_models_dir))))
    body = {"Image": _b64(photo.read_bytes()), "SegmentationOptions": {"Hair": True, "Face": True}}
    response = _tc(client, body).json()["Response"]
    rects = {r["Label"]: r for r in response["ImageRects"]}
    assert set(rects) == {"Hair", "Face"}
    face, hair = rects["Face"], rects["Hair"]
    assert 150 <= face["Width"] <= 400 and 150 <= face["Height"] <= 450
    assert hair["Y"] < face["Y"]  # hair starts above the face
    mask = _decode(response["MaskImage"])
    cx, cy = face["X"] + face["Width"] // 2, face["Y"] + face["Height"] // 2
    # the cheek below the eyes, clear of the nose's soft edge: face skin, opaque
    cheek = mask[cy + face["Height"] // 10, face["X"] + face["Width"] // 5: face["X"] + face["Width"] // 4]
    assert cheek.min() == 255
    assert mask[:50, :50].max() == 0  # the corner is background


# --- ears and hat (approximations) ------------------------------------------------


def ears_and_hat_image() -> np.ndarray:
    """face_image with ears of the face's colour beside the tiny mesh's oval and a purple hat above it
    (red enough to be person for the tiny matte, not green: not hair).

    The patches are narrow and straddle the tiny detector's 32-px cells, so they are not faces themselves.
    """
    image = face_image()
    image[104:150, 218:230] = (240, 60, 50)  # the person's left ear: the image's right
    image[90:136, 26:38] = (240, 60, 50)  # the person's right ear
    image[26:38, 104:152] = (200, 40, 220)  # a hat above the hairline
    return image


@pytest.mark.parametrize(
    ("option", "box"),
    [("LeftEar", (218, 104, 12, 46)), ("RightEar", (26, 90, 12, 46)), ("Hat", (104, 26, 48, 12)),
     ("Headdress", (104, 26, 48, 12))],
)
def test_tencent_ears_and_hat(client, option, box):
    response = _tc(client, {"Image": _b64(_png(ears_and_hat_image())), "SegmentationOptions": {option: True}}).json()
    response = response["Response"]
    rects = response["ImageRects"]
    assert [r["Label"] for r in rects] == [option]
    got = np.array([rects[0][k] for k in ("X", "Y", "Width", "Height")])
    assert np.abs(got - box).max() <= 2  # the drawn patch, not the face, hair or the other side
    mask = _decode(response["MaskImage"])
    x, y, w, h = box
    assert mask[y + 3:y + h - 3, x + 3:x + w - 3].min() > 128
    assert mask[140:180, 140:180].max() == 0 and mask[70:110, 120:200].max() == 0  # not the face, not the hair


def test_tencent_ears_are_skin_and_the_hat_is_not(client):
    image = ears_and_hat_image()
    image[104:150, 218:230] = (200, 40, 220)  # hat-coloured where the left ear would be: not an ear
    image[26:38, 104:152] = (240, 60, 50)  # skin-coloured above the hairline: forehead, not a hat
    response = _tc(client, {"Image": _b64(_png(image)), "SegmentationOptions": {"LeftEar": True, "RightEar": True,
                                                                                 "Hat": True}}).json()["Response"]
    assert [r["Label"] for r in response["ImageRects"]] == ["RightEar"]


def test_tencent_ears_are_empty_without_ears(client):
    response = _tc(client, {"Image": FACE, "SegmentationOptions": {"LeftEar": True, "RightEar": True, "Hair": True}})
    rects = {r["Label"] for r in response.json()["Response"]["ImageRects"]}
    assert rects == {"Hair"}  # both asked, none found: only the hair has a box

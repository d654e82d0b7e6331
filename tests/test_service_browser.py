"""Browser safety of ``livematte serve``: Host names (DNS rebinding) and foreign web pages (Origin)."""

from __future__ import annotations

import base64

import pytest

from app.service.app import create_app
from app.service.browser import BrowserPolicy
from app.service.engine import load_engine
from tests.service.helpers import encode, local_client
from tests.tiny_models import person_image, write_tiny_models

PHOTO = base64.b64encode(encode(person_image())).decode()
TC = {"X-TC-Action": "SegmentCustomizedPortraitPic"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return load_engine("selfie", str(write_tiny_models(tmp_path_factory.mktemp("browser_models"))))


def client_for(engine, **policy):
    return local_client(create_app(engine, BrowserPolicy(**policy)))


def selfie(client, **headers):
    return client.post("/jdai/SelfieSeg", json={"image": PHOTO}, headers=headers)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"])
def test_this_machines_names_are_answered(engine, host):
    answer = selfie(client_for(engine), host=host)
    assert answer.status_code == 200 and answer.json()["result"]["status"] == 1000


def test_a_rebinding_name_is_refused_in_each_vendors_shape(engine):
    client = client_for(engine)
    host = {"host": "attacker.example:8000"}
    jd = selfie(client, **host)
    assert jd.status_code == 403 and jd.json()["code"] == "403" and jd.json()["result"] is None
    facepp = client.post("/humanbodypp/v2/segment", data={"image_base64": PHOTO}, headers=host)
    assert facepp.status_code == 403 and facepp.json()["error_message"].startswith("AUTHORIZATION_ERROR")
    tencent = client.post("/", json={"Image": PHOTO, "SegmentationOptions": {"Background": True}}, headers={**TC, **host})
    assert tencent.status_code == 200 and tencent.json()["Response"]["Error"]["Code"] == "UnauthorizedOperation"
    picup = client.post("/api/v1/matting", files={"file": ("p.png", encode(person_image()))}, headers=host)
    assert picup.status_code == 403 and picup.json()["code"] == 403
    assert client.get("/health", headers=host).status_code == 403


def test_bound_address_and_allowed_names(engine):
    bound = client_for(engine, bound_host="192.168.1.5")
    assert selfie(bound, host="192.168.1.5:8000").status_code == 200
    assert selfie(bound, host="10.0.0.7:8000").status_code == 403
    everywhere = client_for(engine, bound_host="0.0.0.0")
    assert selfie(everywhere, host="10.0.0.7:8000").status_code == 200  # an address cannot be rebound
    assert selfie(everywhere, host="[fe80::1]:8000").status_code == 200
    assert selfie(everywhere, host="my-pc.lan:8000").status_code == 403  # a name can
    named = client_for(engine, bound_host="0.0.0.0", allowed_hosts=("my-pc.lan",))
    assert selfie(named, host="my-pc.lan:8000").status_code == 200
    assert selfie(client_for(engine, allowed_hosts=("*",)), host="anything.example").status_code == 200


def test_foreign_web_pages_are_refused(engine):
    client = client_for(engine)
    answer = selfie(client, origin="https://some-site.example")
    assert answer.status_code == 403 and "--allow-origin" in answer.json()["msg"]
    # a plain HTML form POST (no CORS involved) is refused just the same, before the image is read
    form = client.post("/humanbodypp/v2/segment", data={"image_base64": PHOTO}, headers={"origin": "null"})
    assert form.status_code == 403
    # the service's own pages (e.g. /docs) are same-origin
    assert selfie(client, origin="http://127.0.0.1").status_code == 200
    assert "access-control-allow-origin" not in selfie(client, origin="http://127.0.0.1").headers


def test_allowed_origins_get_cors(engine):
    client = client_for(engine, allowed_origins=("http://localhost:3000",))
    answer = selfie(client, origin="http://localhost:3000")
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "http://localhost:3000"
    preflight = client.options("/jdai/SelfieSeg", headers={
        "origin": "http://localhost:3000", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type,authorization"
    refused = client.options("/jdai/SelfieSeg", headers={"origin": "http://localhost:4000",
                                                         "access-control-request-method": "POST"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    anyone = client_for(engine, allowed_origins=("*",))
    assert selfie(anyone, origin="https://elsewhere.example").headers["access-control-allow-origin"] == (
        "https://elsewhere.example")


def test_cli_options():
    from app.cli import build_parser

    args = build_parser().parse_args(["serve", "--allow-origin", "http://localhost:3000", "--allow-host", "pc.lan",
                                      "--lenient", "--max-images", "4", "--max-megapixels", "16"])
    assert args.allow_origin == ["http://localhost:3000"] and args.allow_host == ["pc.lan"] and args.lenient
    assert args.max_images == 4 and args.max_megapixels == 16
    defaults = build_parser().parse_args(["serve"])
    assert defaults.allow_origin == [] and defaults.allow_host == [] and not defaults.lenient

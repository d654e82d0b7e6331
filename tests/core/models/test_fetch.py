"""Downloads against a local HTTP server: resume, hashes, contract, failures, mirror; licences never gate."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import pytest

from app.core.errors import DownloadCancelledError, DownloadError
from app.core.models import fetch
from app.core.models.fetch import Progress, download_sources, fetch_model, verify_file, verify_model
from app.core.models.manifest import ModelSpec, WeightFile, load_manifest
from app.core.models.store import user_models_dir
from tests.local_http import LocalServer, Route, refused_url, no_proxies, padded_selfie_model
from tests.tiny_models import meet_model



SELFIE = padded_selfie_model(8000)
MEET = meet_model().SerializeToString()
SELFIE_SHA = hashlib.sha256(SELFIE).hexdigest()
NAME = "mediapipe_selfie_segmentation_256x256.onnx"


@pytest.fixture(autouse=True)
def _offline_and_isolated(tmp_path, monkeypatch):
    """No proxy may catch 127.0.0.1."""
    no_proxies(monkeypatch)


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


def selfie_spec(*files: WeightFile, licence: str = "Apache-2.0") -> ModelSpec:
    """The real selfie entry (real contract), pointed at the test server."""
    return dataclasses.replace(load_manifest()["selfie"], files=files, licence=licence)


def serve(server: LocalServer, body: bytes = SELFIE, path: str = "/selfie.onnx", **route) -> str:
    server.routes[path] = Route(body, **route)
    return server.url(path)


def test_download_checks_hash_and_lands_atomically(server, tmp_path):
    url = serve(server)
    reports: list[Progress] = []
    result = fetch_model(
        selfie_spec(WeightFile(NAME, url, SELFIE_SHA)), dest_dir=tmp_path / "dest",
        progress=reports.append,
    )
    assert result.path == tmp_path / "dest" / NAME and result.path.read_bytes() == SELFIE
    assert result.downloaded and result.hash_checked and result.sha256 == SELFIE_SHA and result.url == url
    assert not (tmp_path / "dest" / f"{NAME}.part").exists()
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].done == reports[-1].total == len(SELFIE) and reports[-1].fraction == 1.0


def test_default_destination_is_the_user_cache(server, tmp_path):
    result = fetch_model(selfie_spec(WeightFile(NAME, serve(server))))
    assert result.path == user_models_dir() / NAME
    assert str(tmp_path) in str(result.path)  # conftest points the cache into the test's folder


def test_partial_file_is_resumed_with_a_range_request(server, tmp_path):
    url = serve(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / f"{NAME}.part").write_bytes(SELFIE[:1000])
    reports: list[Progress] = []
    result = fetch_model(
        selfie_spec(WeightFile(NAME, url, SELFIE_SHA)), dest_dir=dest, progress=reports.append
    )
    assert result.path.read_bytes() == SELFIE
    assert server.ranges("/selfie.onnx") == ["bytes=1000-"]
    assert reports[0].resumed_from == 1000 and reports[0].done == 1000


def test_server_ignoring_range_restarts_instead_of_appending(server, tmp_path):
    url = serve(server, honour_range=False)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / f"{NAME}.part").write_bytes(b"x" * 500)
    result = fetch_model(selfie_spec(WeightFile(NAME, url)), dest_dir=dest)
    assert result.path.read_bytes() == SELFIE


def test_complete_part_from_an_interrupted_run_is_finished_without_downloading(server, tmp_path):
    url = serve(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / f"{NAME}.part").write_bytes(SELFIE)
    result = fetch_model(selfie_spec(WeightFile(NAME, url, SELFIE_SHA)), dest_dir=dest)
    assert result.path.read_bytes() == SELFIE and server.ranges("/selfie.onnx") == [f"bytes={len(SELFIE)}-"]


def test_hash_mismatch_is_refused_and_deleted(server, tmp_path):
    url = serve(server)
    with pytest.raises(DownloadError) as info:
        fetch_model(selfie_spec(WeightFile(NAME, url, "0" * 64)), dest_dir=tmp_path / "dest")
    message = str(info.value)
    assert "SHA-256 mismatch" in message and url in message and SELFIE_SHA in message
    assert list((tmp_path / "dest").iterdir()) == []


def test_server_stopping_mid_file_keeps_the_part_and_the_next_run_resumes(server, tmp_path):
    half = len(SELFIE) // 2
    url = serve(server, stop_after=half)
    spec = selfie_spec(WeightFile(NAME, url, SELFIE_SHA))
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as info:
        fetch_model(spec, dest_dir=dest)
    assert f"after {half} of {len(SELFIE)} bytes" in str(info.value) and info.value.url == url
    assert (dest / f"{NAME}.part").stat().st_size == half and not (dest / NAME).exists()

    server.routes["/selfie.onnx"] = Route(SELFIE)  # the server recovers
    assert fetch_model(spec, dest_dir=dest).path.read_bytes() == SELFIE
    assert server.ranges("/selfie.onnx") == [None, f"bytes={half}-"]


def test_http_404_names_the_url_and_target(server, tmp_path):
    url = server.url("/gone.onnx")
    with pytest.raises(DownloadError) as info:
        fetch_model(selfie_spec(WeightFile(NAME, url)), dest_dir=tmp_path / "dest")
    message = str(info.value)
    assert "HTTP 404" in message and url in message and "selfie" in message and str(tmp_path / "dest") in message
    assert info.value.exit_code == DownloadError.exit_code


def test_no_network_is_a_clear_error(tmp_path):
    url = refused_url()
    with pytest.raises(DownloadError) as info:
        fetch_model(selfie_spec(WeightFile(NAME, url)), dest_dir=tmp_path / "dest", timeout=5)
    assert "connection refused" in str(info.value) and url in str(info.value)


def test_next_url_is_tried_when_one_fails(server, tmp_path):
    good = serve(server, path="/mirror.onnx")
    spec = selfie_spec(WeightFile("first.onnx", server.url("/missing.onnx")), WeightFile(NAME, good, SELFIE_SHA))
    result = fetch_model(spec, dest_dir=tmp_path / "dest")
    assert result.path.name == NAME and result.url == good


def test_every_failure_is_listed_when_all_urls_fail(server, tmp_path):
    spec = selfie_spec(WeightFile("a.onnx", server.url("/a")), WeightFile("b.onnx", refused_url()))
    with pytest.raises(DownloadError) as info:
        fetch_model(spec, dest_dir=tmp_path / "dest", timeout=5)
    message = str(info.value)
    assert "(1)" in message and "HTTP 404" in message and "(2)" in message and "connection refused" in message


def test_file_with_the_wrong_contract_never_lands(server, tmp_path):
    url = serve(server, body=MEET)
    with pytest.raises(DownloadError) as info:
        fetch_model(selfie_spec(WeightFile(NAME, url)), dest_dir=tmp_path / "dest")
    assert "not a valid 'selfie' model" in str(info.value) and "activation_10" in str(info.value)
    assert list((tmp_path / "dest").iterdir()) == []


def test_cancel_keeps_the_part_for_resuming(server, tmp_path):
    assert len(SELFIE) > fetch.CHUNK_BYTES
    url = serve(server)
    spec = selfie_spec(WeightFile(NAME, url, SELFIE_SHA))
    cancel = threading.Event()

    def stop_after_first_chunk(report: Progress) -> None:
        if report.done > 0:
            cancel.set()

    dest = tmp_path / "dest"
    with pytest.raises(DownloadCancelledError):
        fetch_model(spec, dest_dir=dest, progress=stop_after_first_chunk, cancel=cancel)
    assert (dest / f"{NAME}.part").stat().st_size == fetch.CHUNK_BYTES and not (dest / NAME).exists()
    assert fetch_model(spec, dest_dir=dest).path.read_bytes() == SELFIE
    assert server.ranges("/selfie.onnx")[-1] == f"bytes={fetch.CHUNK_BYTES}-"


def test_valid_file_already_there_is_not_downloaded_again(server, tmp_path):
    spec = selfie_spec(WeightFile(NAME, serve(server), SELFIE_SHA))
    fetch_model(spec, dest_dir=tmp_path)
    again = fetch_model(spec, dest_dir=tmp_path)
    assert not again.downloaded and again.path == tmp_path / NAME and len(server.requests) == 1
    assert fetch_model(spec, dest_dir=tmp_path, force=True).downloaded


def test_model_without_any_source_says_where_to_put_it(tmp_path):
    spec = selfie_spec(WeightFile(NAME))
    with pytest.raises(DownloadError) as info:
        fetch_model(spec, dest_dir=tmp_path)
    assert "no download is known" in str(info.value) and NAME in str(info.value)


def test_gpl_model_downloads_without_any_acceptance(server, tmp_path):
    spec = selfie_spec(WeightFile(NAME, serve(server)), licence="GPL-3.0")
    assert fetch_model(spec, dest_dir=tmp_path).downloaded
    assert not (tmp_path / "config").exists()  # nothing about licences is recorded anywhere


def test_mirror_is_tried_first_for_every_file_and_upstream_original(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url("/mirror/"))
    serve(server, path=f"/mirror/{NAME}")
    official = serve(server, path="/official.onnx")
    spec = selfie_spec(WeightFile(NAME, official, SELFIE_SHA))
    result = fetch_model(spec, dest_dir=tmp_path)
    assert result.url == server.url(f"/mirror/{NAME}") and [p for p, _ in server.requests] == [f"/mirror/{NAME}"]
    hair = load_manifest()["hair"]
    urls = [s.url for s in download_sources(hair)]
    mirror = server.url("/mirror")
    assert urls[:3] == [f"{mirror}/hair_segmentation.onnx", f"{mirror}/hair_segmentation.tflite",
                        f"{mirror}/mediapipe_hair_segmentation_512x512.onnx"]
    assert urls[3:] == ["https://storage.googleapis.com/mediapipe-assets/models/hair_segmentation.tflite"]


def test_mirror_without_the_file_falls_back_to_the_official_url(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url("/mirror"))
    official = serve(server, path="/official.onnx")
    result = fetch_model(selfie_spec(WeightFile(NAME, official, SELFIE_SHA)), dest_dir=tmp_path)
    assert result.url == official and [p for p, _ in server.requests] == [f"/mirror/{NAME}", "/official.onnx"]


def test_verify_checks_known_hash_then_contract(tmp_path):
    spec = load_manifest()["selfie"]  # the real entry knows the real file's SHA-256
    (tmp_path / NAME).write_bytes(SELFIE)
    tiny = verify_file(spec, tmp_path / NAME)
    assert not tiny.ok and tiny.hash_status == "mismatch" and spec.files[0].sha256 in tiny.problem
    assert tiny.summary == "CORRUPT"

    no_hash = selfie_spec(WeightFile(NAME))
    check = verify_file(no_hash, tmp_path / NAME)
    assert check.ok and check.hash_status == "unknown" and check.summary == "contract ok"
    with_hash = selfie_spec(WeightFile(NAME, sha256=SELFIE_SHA))
    assert verify_file(with_hash, tmp_path / NAME).summary == "verified"

    (tmp_path / NAME).write_bytes(MEET)
    wrong = verify_file(no_hash, tmp_path / NAME)
    assert not wrong.ok and "activation_10" in wrong.problem


def test_verify_model_covers_every_present_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    spec = selfie_spec(WeightFile(NAME), WeightFile("other.onnx"))
    (tmp_path / NAME).write_bytes(SELFIE)
    (tmp_path / "other.onnx").write_bytes(b"not onnx")
    checks = verify_model(spec, tmp_path)
    assert [(c.path.name, c.ok) for c in checks] == [(NAME, True), ("other.onnx", False)]
    assert verify_model(spec, tmp_path / "empty") == []


def test_real_weights_verify(real_models_dir):
    for name in ("selfie", "meet", "sinet", "rvm", "yunet", "face_mesh", "hair"):
        checks = verify_model(load_manifest()[name], real_models_dir)
        assert checks and checks[0].ok, (name, checks)
        assert checks[0].path.parent == Path(real_models_dir)

"""`livematte models list|fetch|verify|path` against tiny models and a local HTTP server."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.core.errors import DownloadError, ModelCorruptError, ModelMissingError
from tests.local_http import LocalServer, Route, no_proxies
from tests.tiny_models import rvm_model

RVM = rvm_model().SerializeToString()
RVM_NAME = "rvm_mobilenetv3_fp32.onnx"


@pytest.fixture(autouse=True)
def _offline_and_isolated(tmp_path, monkeypatch):
    no_proxies(monkeypatch)
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)  # real weights would make fetch skip as "present"


@pytest.fixture
def server():
    with LocalServer() as running:
        running.routes[f"/{RVM_NAME}"] = Route(RVM)
        yield running


def _fetch_rvm(server, tmp_path, *extra: str) -> int:
    url = server.url(f"/{RVM_NAME}")
    return main(["models", "fetch", "rvm", "--url", url, "--to", str(tmp_path / "dest"), "--no-progress", *extra])


def test_list_shows_task_size_licence_status_and_where(tiny_models_dir, capsys):
    assert main(["models", "list", "--models-dir", str(tiny_models_dir)]) == 0
    out = capsys.readouterr().out
    rvm_line = next(line for line in out.splitlines() if line.startswith("rvm "))
    assert "matting" in rvm_line and "GPL-3.0" in rvm_line and "MB" in rvm_line and "contract ok" in rvm_line
    assert f"{tiny_models_dir / RVM_NAME} (--models-dir)" in rvm_line
    # the tiny selfie has the real name but not the real bytes: its known hash refuses it
    selfie_line = next(line for line in out.splitlines() if line.startswith("selfie "))
    assert "CORRUPT" in selfie_line and "SHA-256 is" in out
    hair_line = next(line for line in out.splitlines() if line.startswith("hair "))
    assert "MISSING" in hair_line and "download + convert (TFLite)" in hair_line
    assert "download them on first use" in out and "livematte models fetch NAME|all" in out


def test_verify_exit_codes(tiny_models_dir, capsys):
    folder = str(tiny_models_dir)
    assert main(["models", "verify", "rvm", "--models-dir", folder]) == 0
    assert "contract ok" in capsys.readouterr().out
    assert main(["models", "verify", "selfie", "--models-dir", folder]) == ModelCorruptError.exit_code
    assert "SHA-256 is" in capsys.readouterr().out
    assert main(["models", "verify", "hair", "--models-dir", folder]) == ModelMissingError.exit_code
    assert main(["models", "verify", "--models-dir", folder]) == ModelCorruptError.exit_code  # all: selfie is bad


def test_path_prints_the_search_order_with_origins(tmp_path, capsys):
    assert main(["models", "path", "--models-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"1. {tmp_path}") and "[--models-dir]" in lines[0]
    assert "[user cache]" in lines[-1]


def test_fetch_gpl_needs_no_acceptance_and_shows_the_licence_once(server, tmp_path, capsys):
    assert _fetch_rvm(server, tmp_path) == 0
    assert (tmp_path / "dest" / RVM_NAME).read_bytes() == RVM
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("Licence: GPL-3.0") == 1 and "not searched" in captured.err
    assert not (tmp_path / "config").exists()  # nothing is recorded about licences
    # a file already there is not fetched again
    assert _fetch_rvm(server, tmp_path) == 0
    assert len(server.requests) == 1


def test_old_accept_licence_flag_still_works(server, tmp_path):
    assert _fetch_rvm(server, tmp_path, "--accept-licence") == 0


def test_fetch_404_is_one_line_with_the_url(server, tmp_path, capsys):
    url = server.url("/nope/rvm_mobilenetv3_fp32.onnx")
    code = main(["models", "fetch", "rvm", "--url", url, "--to", str(tmp_path), "--no-progress"])
    assert code == DownloadError.exit_code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("livematte: error [download_failed]") and "HTTP 404" in err and url in err


def test_fetch_skips_a_model_already_present(tiny_models_dir, server, capsys):
    code = main(["models", "fetch", "rvm", "--models-dir", str(tiny_models_dir), "--url", server.url(f"/{RVM_NAME}")])
    assert code == 0 and "already present" in capsys.readouterr().out and server.requests == []


def test_fetch_into_the_user_cache_is_found_afterwards(server, capsys, tmp_path):
    url = server.url(f"/{RVM_NAME}")
    assert main(["models", "fetch", "rvm", "--url", url, "--no-progress"]) == 0
    assert main(["models", "list", "rvm"]) == 0
    out = capsys.readouterr().out
    assert "(user cache)" in out and str(tmp_path) in out


def test_fetch_usage_errors(capsys):
    assert main(["models", "fetch"]) == 2
    assert main(["models", "fetch", "all", "--url", "http://127.0.0.1:9/x.onnx"]) == 2
    assert main(["models", "fetch", "nope"]) == 10


# ---- first use: download on demand, offline, no network, fetch all --------------------


def _cut_off_the_internet(monkeypatch) -> None:
    """Official URLs go through a proxy nobody listens on: refused at once, like no network.

    127.0.0.1 (the test mirror) stays direct through NO_PROXY.
    """
    from tests.local_http import refused_url

    proxy = refused_url("").rstrip("/")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, proxy)


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed (the suite runs offline by default), but only to 127.0.0.1."""
    monkeypatch.delenv("LIVEMATTE_OFFLINE", raising=False)
    _cut_off_the_internet(monkeypatch)


@pytest.fixture
def photo(tmp_path):
    import cv2

    from tests.tiny_models import person_image

    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(person_image(), cv2.COLOR_RGB2BGR))
    return path


def test_list_with_nothing_installed_is_one_aligned_table(capsys):
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[: lines.index("")]
    assert table[0].split() == ["NAME", "TASK", "SIZE", "LICENCE", "STATUS", "WHERE"]
    starts = [table[0].index(column) for column in ("TASK", "LICENCE", "STATUS", "WHERE")]
    for row in table[1:]:
        assert [row[i - 1] for i in starts] == [" "] * 4 and all(row[i] != " " for i in starts)  # columns line up
    assert len(table) == 11 and len(lines) == 13  # header, 10 models, a blank line, one closing line


def test_still_downloads_a_missing_model_on_first_use_then_goes_on(server, online, photo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url(""))
    code = main(["still", str(photo), "-o", str(tmp_path / "out"), "--outputs", "alpha", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and (tmp_path / "out" / "photo.alpha.png").is_file()
    assert (tmp_path / "cache" / "livematte" / "models" / RVM_NAME).read_bytes() == RVM
    assert "model 'rvm' downloaded" in captured.err and captured.err.count("Licence: GPL-3.0") == 1
    # second run: nothing is downloaded again
    requests = len(server.requests)
    assert main(["still", str(photo), "-o", str(tmp_path / "out2"), "--outputs", "alpha", "--no-progress"]) == 0
    assert len(server.requests) == requests


def test_offline_never_downloads_and_says_what_is_missing_in_one_line(server, online, photo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url(""))
    code = main(["still", str(photo), "-o", str(tmp_path / "out"), "--outputs", "keypoints,alpha", "--offline"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ModelMissingError.exit_code and server.requests == [] and len(err) == 1
    assert "rvm, pose_detector, pose_landmarks" in err[0]
    assert "livematte models fetch rvm pose_detector pose_landmarks" in err[0]
    monkeypatch.setenv("LIVEMATTE_OFFLINE", "1")  # the setting does the same
    assert main(["still", str(photo), "-o", str(tmp_path / "out"), "--outputs", "alpha"]) == ModelMissingError.exit_code
    assert server.requests == []


def test_no_network_is_exit_21_and_one_line_naming_missing_and_present(tiny_models_dir, online, photo, tmp_path, capsys):
    code = main(["still", str(photo), "-o", str(tmp_path / "out"), "--outputs", "keypoints,alpha",
                 "--models-dir", str(tiny_models_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == DownloadError.exit_code == 21 and len(err) == 1, err
    assert "pose_detector, pose_landmarks" in err[0] and "present: rvm" in err[0]
    assert "connection refused" in err[0] and "`livematte models fetch pose_detector pose_landmarks`" in err[0]
    assert not (tmp_path / "out").exists()


def test_parse_without_the_hair_model_degrades_with_one_warning(tmp_path, capsys):
    import cv2

    from tests.tiny_face_models import HAIR_FILE, face_image, write_tiny_face_models

    folder = write_tiny_face_models(tmp_path / "models")
    (folder / HAIR_FILE).unlink()
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(face_image(), cv2.COLOR_RGB2BGR))
    code = main(["parse", str(tmp_path / "face.png"), "-o", str(tmp_path / "out"), "--models-dir", str(folder),
                 "--parts", "face"])
    err = capsys.readouterr().err
    assert code == 0 and (tmp_path / "out" / "face.labels.png").is_file()
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "--no-hair" in warnings[0] and "livematte models fetch hair" in warnings[0]
    assert main(["parse", str(tmp_path / "face.png"), "-o", str(tmp_path / "out2"), "--models-dir", str(folder),
                 "--no-hair"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_fetch_all_fetches_what_it_can_and_says_what_it_skipped(server, online, monkeypatch, capsys):
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url(""))  # the mirror only has rvm
    code = main(["models", "fetch", "all", "--no-progress"])
    captured = capsys.readouterr()
    report = captured.out.strip().splitlines()[-1]
    assert code == DownloadError.exit_code
    assert report.startswith("fetched: rvm; already present: none; skipped: ")
    for name in ("rvm_resnet50", "selfie", "yunet", "hair", "pose_detector"):
        assert f"{name} (" in report
    assert "connection refused" in report


@pytest.mark.real_models
def test_first_run_fetches_converts_verifies_and_uses_the_official_tflite_files(
    real_models_dir, online, tmp_path, monkeypatch, capsys
):
    """A 127.0.0.1 mirror serves MediaPipe's TFLite files (and YuNet's ONNX): parse and keypoints just work."""
    from app.core.models.manifest import load_manifest
    from app.core.models.store import sha256_of, user_models_dir
    from app.core.face.palette import read_label_png

    upstream, photos = real_models_dir / "upstream", real_models_dir.parent / "media" / "portraits"
    if not upstream.is_dir() or not photos.is_dir():
        pytest.skip("no upstream TFLite files or photos next to $LIVEMATTE_MODELS")
    photo = photos / "rembg_girl-3.jpg"
    with LocalServer() as mirror:
        for path in [*upstream.glob("*.tflite"), real_models_dir / "face_detection_yunet_2026may.onnx"]:
            mirror.routes[f"/{path.name}"] = Route(path.read_bytes())
        monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", mirror.url(""))
        assert main(["parse", str(photo), "-o", str(tmp_path / "parsed"), "--no-progress"]) == 0
        assert main(["still", str(photo), "-o", str(tmp_path / "still"), "--outputs", "keypoints", "--no-progress"]) == 0
        fetched = {path for path, _ in mirror.requests if mirror.routes.get(path)}
    err = capsys.readouterr().err
    assert fetched == {"/face_detection_yunet_2026may.onnx", "/face_landmark.tflite", "/hair_segmentation.tflite",
                       "/pose_detection.tflite", "/pose_landmark_lite.tflite"}
    for name in ("face_mesh", "hair", "pose_detector", "pose_landmarks"):
        file = next(f for f in load_manifest()[name].files if f.upstream)
        assert sha256_of(user_models_dir() / file.name) == file.sha256  # converted here, byte for byte
        assert f"model '{name}' converted from {file.upstream.name}" in err
    assert not list(user_models_dir().glob("*.tflite*")) and not list(user_models_dir().glob("*.part"))
    labels = read_label_png(tmp_path / "parsed" / "rembg_girl-3.labels.png")
    assert (labels == 10).mean() > 0.02 and (labels == 1).mean() > 0.01  # hair and face skin found
    keypoints = json.loads((tmp_path / "still" / "rembg_girl-3.keypoints.json").read_text())
    assert keypoints["person_num"] == 1
    assert main(["models", "verify", "hair", "face_mesh", "pose_detector", "pose_landmarks"]) == 0
    assert capsys.readouterr().out.count("SHA-256 matches") == 4

"""`livematte models list|fetch|verify|path` against tiny models and a local HTTP server."""

from __future__ import annotations

import io
import json
import sys

import pytest

from app.cli import main
from app.core.errors import DownloadError, LicenceNotAcceptedError, ModelCorruptError, ModelMissingError
from app.core.models.fetch import default_licence_file
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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


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
    assert "MISSING" in out and "livematte models fetch hair" not in out and "no download is known" in out
    assert "livematte models fetch rvm_resnet50" in out


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


def test_fetch_with_accept_licence_downloads_and_remembers(server, tmp_path, capsys):
    assert _fetch_rvm(server, tmp_path, "--accept-licence") == 0
    assert (tmp_path / "dest" / RVM_NAME).read_bytes() == RVM
    captured = capsys.readouterr()
    assert "GPL-3.0" in captured.err and "contract ok" in captured.out and "not searched" in captured.err
    assert json.loads(default_licence_file().read_text()) == {"rvm": "GPL-3.0"}
    # accepted once: a second run needs no flag, and a file already there is not fetched again
    assert _fetch_rvm(server, tmp_path) == 0
    assert len(server.requests) == 1


def test_fetch_refuses_gpl_without_acceptance_when_no_terminal(server, tmp_path, capsys):
    assert _fetch_rvm(server, tmp_path) == LicenceNotAcceptedError.exit_code
    err = capsys.readouterr().err
    assert "GPL-3.0" in err and "--accept-licence" in err
    assert server.requests == [] and not (tmp_path / "dest").exists()


def test_fetch_asks_on_a_terminal(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert _fetch_rvm(server, tmp_path) == LicenceNotAcceptedError.exit_code
    assert server.requests == []
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert _fetch_rvm(server, tmp_path) == 0
    assert (tmp_path / "dest" / RVM_NAME).is_file() and "[y/N]" in capsys.readouterr().out


def test_fetch_404_is_one_line_with_the_url(server, tmp_path, capsys):
    url = server.url("/nope/rvm_mobilenetv3_fp32.onnx")
    code = main(["models", "fetch", "rvm", "--url", url, "--to", str(tmp_path), "--accept-licence", "--no-progress"])
    assert code == DownloadError.exit_code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("livematte: error [download_failed]") and "HTTP 404" in err and url in err


def test_fetch_skips_a_model_already_present(tiny_models_dir, server, capsys):
    code = main(["models", "fetch", "rvm", "--models-dir", str(tiny_models_dir), "--url", server.url(f"/{RVM_NAME}")])
    assert code == 0 and "already present" in capsys.readouterr().out and server.requests == []


def test_fetch_into_the_user_cache_is_found_afterwards(server, capsys, tmp_path):
    url = server.url(f"/{RVM_NAME}")
    assert main(["models", "fetch", "rvm", "--url", url, "--accept-licence", "--no-progress"]) == 0
    assert main(["models", "list", "rvm"]) == 0
    out = capsys.readouterr().out
    assert "(user cache)" in out and str(tmp_path) in out


def test_fetch_usage_errors(capsys):
    assert main(["models", "fetch"]) == 2
    assert main(["models", "fetch", "all", "--url", "http://127.0.0.1:9/x.onnx"]) == 2
    assert main(["models", "fetch", "nope"]) == 10

from __future__ import annotations

import onnx
import pytest

from app.core.errors import ModelCorruptError, ModelMissingError, SettingsError, UnknownModelError
from app.core.models import get_spec, load_model
from app.core.models.session import SessionConfig, create_session, provider_chain
from app.core.models.store import search_dirs
from tests.tiny_models import meet_model


def test_provider_chain_always_ends_on_cpu():
    assert provider_chain("auto")[-1] == "CPUExecutionProvider"
    assert provider_chain("cpu") == ["CPUExecutionProvider"]
    assert provider_chain("cuda")[-1] == "CPUExecutionProvider"  # falls back when CUDA is absent
    with pytest.raises(SettingsError):
        provider_chain("tpu")


def test_session_reports_provider_used(tiny_models_dir):
    model = load_model("selfie", tiny_models_dir, SessionConfig("auto", threads=1))
    assert model.provider == "cpu"


def test_model_from_bytes(tiny_models_dir):
    data = (tiny_models_dir / "mediapipe_meet_segmentation_144x256.onnx").read_bytes()
    session = create_session(data, get_spec("meet"))
    assert session.get_inputs()[0].name == "input_1:0"


def test_wrong_model_is_refused_with_path_and_reason(tmp_path):
    wrong = tmp_path / "mediapipe_selfie_segmentation_256x256.onnx"
    onnx.save(meet_model(), str(wrong))  # a meet model under the selfie name
    with pytest.raises(ModelCorruptError) as info:
        load_model("selfie", tmp_path)
    assert str(wrong) in str(info.value) and "activation_10" in str(info.value)


def test_corrupt_file_is_refused(tmp_path):
    bad = tmp_path / "mediapipe_selfie_segmentation_256x256.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelCorruptError) as info:
        load_model("selfie", tmp_path)
    assert str(bad) in str(info.value)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    with pytest.raises(ModelMissingError) as info:
        load_model("meet", tmp_path / "empty")
    message = str(info.value)
    assert "meet" in message and "http" in message and "--models-dir" in message


def test_unknown_model_name():
    with pytest.raises(UnknownModelError):
        get_spec("nope")


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEMATTE_MODELS", str(tmp_path / "env"))
    dirs = search_dirs(tmp_path / "explicit")
    assert dirs[0] == tmp_path / "explicit" and dirs[1] == tmp_path / "env"
    assert dirs[2].name == "models" and "livematte" in str(dirs[3])

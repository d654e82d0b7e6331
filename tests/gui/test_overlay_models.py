"""Switching an overlay on when its models are missing: they are downloaded, and the overlay comes on after."""

from __future__ import annotations

import shutil

import pytest

from app.core.media.writers import write_png
from app.core.models import get_spec
from app.core.models.store import find_weights
from app.gui.models_dialog import ModelsDialog
from tests.tiny_models import person_image

FACE = ("yunet", "face_mesh", "hair")


@pytest.fixture
def models(tmp_path, tiny_models_dir, monkeypatch):
    """The tiny matting models only, in a folder of the test's own; nothing else is searched."""
    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder)
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    return folder


@pytest.fixture
def downloads(monkeypatch):
    """The names the Models dialog was asked to download (nothing goes to the network)."""
    asked: list[str] = []
    monkeypatch.setattr(ModelsDialog, "download", lambda self, name: asked.append(name) or True)
    return asked


def test_switching_the_face_overlay_on_downloads_its_models(qtbot, make_window, models, downloads, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_OFFLINE")
    window = make_window(models)
    assert downloads == []  # the matting model is there and no overlay is on
    window.panel.overlay_enabled.setChecked(True)
    assert downloads == list(FACE)
    assert window.models_dialog.isVisible()  # the progress is shown there
    window.panel.overlay_enabled.setChecked(False)
    window.panel.overlay_enabled.setChecked(True)  # still missing: asked again (a running download is not doubled)
    assert downloads == list(FACE) * 2


def _open_photo(window, tmp_path) -> None:
    path = tmp_path / "person.png"
    write_png(path, person_image(320, 240))
    window.open_path(str(path))


def test_offline_the_overlay_stays_off_with_a_reason(qtbot, make_window, models, downloads, tmp_path):
    window = make_window(models)
    _open_photo(window, tmp_path)
    with qtbot.waitSignal(window.session.worker.error, timeout=60000) as blocker:
        window.panel.overlay_enabled.setChecked(True)
    assert downloads == [] and "face overlay off" in blocker.args[0]


@pytest.mark.real_models
def test_the_overlay_comes_on_once_its_models_arrive(qtbot, make_window, models, downloads, real_models_dir,
                                                     monkeypatch, tmp_path):
    monkeypatch.delenv("LIVEMATTE_OFFLINE")
    window = make_window(models)
    _open_photo(window, tmp_path)
    window.panel.overlay_enabled.setChecked(True)
    qtbot.waitUntil(lambda: window.session.worker.processor.overlay_error is not None, timeout=60000)
    assert window.session.worker.processor.faces is None
    for name in FACE:  # what a finished download leaves in the folder
        shutil.copy(find_weights(get_spec(name), real_models_dir).path, models)
    window.models_dialog.models_changed.emit()
    qtbot.waitUntil(lambda: window.session.worker.processor.faces is not None, timeout=60000)
    assert window.session.worker.processor.overlay_error is None

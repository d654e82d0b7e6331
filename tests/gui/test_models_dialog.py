"""The Models dialog against a local HTTP server: list, download (licence shown, never asked), 404, cancel and resume."""

from __future__ import annotations

import dataclasses
import gc
import threading
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt

from app.core.models.manifest import ModelSpec, WeightFile, load_manifest
from app.gui import models_dialog
from app.gui.models_dialog import STATUS, ModelsDialog
from tests.local_http import LocalServer, Route, no_proxies, padded_selfie_model
from tests.tiny_models import meet_model

SELFIE_FILE = "mediapipe_selfie_segmentation_256x256.onnx"
MEET_FILE = "mediapipe_meet_segmentation_144x256.onnx"


SELFIE = padded_selfie_model(20000)  # several chunks: progress is reported more than once
MEET = meet_model().SerializeToString()


@pytest.fixture(autouse=True)
def _offline_and_isolated(tmp_path, monkeypatch):
    """No proxy may catch 127.0.0.1; no real config or models are used."""
    no_proxies(monkeypatch)
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


@pytest.fixture
def models(tmp_path) -> Path:
    """Both the --models-dir and the download folder, so a download shows up in the list."""
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


def spec_at(name: str, file: str, url: str | None, licence: str = "Apache-2.0") -> ModelSpec:
    """A real manifest entry (real tensor contract) downloading from ``url``."""
    return dataclasses.replace(load_manifest()[name], files=(WeightFile(file, url),), licence=licence)


def make_dialog(qtbot, models: Path, specs: dict[str, ModelSpec]) -> ModelsDialog:
    dialog = ModelsDialog(str(models), dest_dir=models, specs=specs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def settle(qtbot, dialog: ModelsDialog) -> None:
    """Waits until no download and no verification is running (no thread outlives a test)."""
    qtbot.waitUntil(lambda: not dialog.jobs and not dialog._verifying, timeout=60000)


def live_dialog_objects_in_garbage() -> list[str]:
    """This module's live Qt objects that only the garbage collector would free.

    The collector may run on any thread, and freeing a QObject there crashes Qt.
    Other modules' leftovers from earlier tests are not this test's business.
    """
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [
            type(o).__name__ for o in gc.garbage
            if isinstance(o, shiboken6.Shiboken.Object) and shiboken6.isValid(o)
            and type(o).__module__ == models_dialog.__name__
        ]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.collect()


def test_lists_every_manifest_model(qtbot, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog = ModelsDialog(str(empty), dest_dir=empty)
    qtbot.addWidget(dialog)
    manifest = load_manifest()
    assert dialog.table.rowCount() == len(manifest)
    for name, spec in manifest.items():
        row = dialog.rows[name].index
        assert [dialog.table.item(row, c).text() for c in range(3)] == [name, spec.task.replace("_", " "), spec.licence]
        if dialog.rows[name].found is None:  # a developer may keep weights in the repo's models/ folder
            assert dialog.status_text(name) == "missing"
            assert dialog.table.item(row, STATUS).text() == "missing"
            assert not dialog.rows[name].download.isHidden()
    settle(qtbot, dialog)


def test_download_needs_no_licence_acceptance_shows_progress_and_turns_present(qtbot, server, models, monkeypatch):
    server.routes["/selfie.onnx"] = Route(SELFIE)
    spec = spec_at("selfie", SELFIE_FILE, server.url("/selfie.onnx"), licence="GPL-3.0")
    dialog = make_dialog(qtbot, models, {"selfie": spec})
    assert dialog.status_text("selfie") == "missing"
    reports, threads = [], []

    def record(name, progress):
        reports.append(progress.done)
        threads.append(threading.current_thread())

    dialog.download_progress.connect(record)
    with qtbot.waitSignal(dialog.models_changed, timeout=60000):
        click(qtbot, dialog.rows["selfie"].download)
    assert len(reports) > 2 and reports == sorted(reports) and reports[-1] == len(SELFIE)
    assert set(threads) == {threading.main_thread()}  # widgets are only touched on the UI thread
    assert (models / SELFIE_FILE).read_bytes() == SELFIE
    qtbot.waitUntil(lambda: dialog.status_text("selfie") == "contract ok", timeout=60000)
    row = dialog.rows["selfie"]
    assert row.download.isHidden() and row.progress.isHidden()
    assert SELFIE_FILE in dialog.table.item(row.index, models_dialog.LOCATION).text()
    assert "downloaded to" in dialog.message.text() and dialog.message.text().count("Licence: GPL-3.0") == 1
    assert "GPL-3.0" in dialog.table.item(row.index, models_dialog.LICENCE).toolTip()
    settle(qtbot, dialog)


def test_404_is_shown_in_the_dialog_and_can_be_retried(qtbot, server, models):
    spec = spec_at("selfie", SELFIE_FILE, server.url("/gone.onnx"))  # no route: the server answers 404
    dialog = make_dialog(qtbot, models, {"selfie": spec})
    changed = []
    dialog.models_changed.connect(lambda: changed.append(True))
    click(qtbot, dialog.rows["selfie"].download)
    job = dialog.jobs["selfie"]
    qtbot.waitUntil(lambda: "HTTP 404" in dialog.message.text(), timeout=60000)
    assert "/gone.onnx" in dialog.message.text() and dialog.message.isVisible()
    assert dialog.status_text("selfie") == "missing" and not changed
    # the error's traceback keeps the worker's frames in a cycle: the job must not be freed by gc
    qtbot.waitUntil(lambda: not shiboken6.isValid(job), timeout=60000)
    del job
    assert live_dialog_objects_in_garbage() == []
    server.routes["/gone.onnx"] = Route(SELFIE)  # the server is back: the same button now works
    with qtbot.waitSignal(dialog.models_changed, timeout=60000):
        click(qtbot, dialog.rows["selfie"].download)
    assert "HTTP 404" not in dialog.message.text()
    settle(qtbot, dialog)


def test_cancel_keeps_the_part_and_the_next_download_resumes(qtbot, server, models, monkeypatch):
    server.routes["/selfie.onnx"] = Route(SELFIE)
    spec = spec_at("selfie", SELFIE_FILE, server.url("/selfie.onnx"))
    gate = threading.Event()
    real_fetch = models_dialog.fetch_model

    def gated_fetch(spec, **options):
        """Holds the worker after its first chunk until the test has pressed Cancel."""
        report = options["progress"]

        def slow(progress):
            report(progress)
            if progress.done:
                gate.wait(60)  # only bounds a hang: the test sets it right after Cancel

        return real_fetch(spec, **{**options, "progress": slow})

    monkeypatch.setattr(models_dialog, "fetch_model", gated_fetch)
    dialog = make_dialog(qtbot, models, {"selfie": spec})
    click(qtbot, dialog.rows["selfie"].download)
    row = dialog.rows["selfie"]
    qtbot.waitUntil(lambda: row.cancel.isVisible() and row.progress.value() > 0, timeout=60000)
    assert dialog.status_text("selfie") == "downloading" and row.download.isHidden()
    click(qtbot, row.cancel)
    gate.set()
    qtbot.waitUntil(lambda: "cancelled" in dialog.message.text(), timeout=60000)
    part = models / f"{SELFIE_FILE}.part"
    assert part.is_file() and 0 < part.stat().st_size < len(SELFIE)
    assert not (models / SELFIE_FILE).exists() and dialog.status_text("selfie") == "missing"
    assert not row.download.isHidden() and row.cancel.isHidden()
    kept = part.stat().st_size
    with qtbot.waitSignal(dialog.models_changed, timeout=60000):
        click(qtbot, row.download)
    assert server.ranges("/selfie.onnx") == [None, f"bytes={kept}-"]  # resumed, not started over
    assert (models / SELFIE_FILE).read_bytes() == SELFIE
    settle(qtbot, dialog)


def test_download_all_missing_skips_models_without_a_url(qtbot, server, models):
    server.routes["/selfie.onnx"] = Route(SELFIE)
    server.routes["/meet.onnx"] = Route(MEET)
    specs = {
        "selfie": spec_at("selfie", SELFIE_FILE, server.url("/selfie.onnx")),
        "meet": spec_at("meet", MEET_FILE, server.url("/meet.onnx")),
        "sinet": spec_at("sinet", "sinet.onnx", None),
    }
    dialog = make_dialog(qtbot, models, specs)
    assert not dialog.rows["sinet"].download.isEnabled()
    changes = []
    dialog.models_changed.connect(lambda: changes.append(True))
    click(qtbot, dialog.download_all)
    qtbot.waitUntil(lambda: len(changes) == 2, timeout=60000)
    settle(qtbot, dialog)
    assert dialog.status_text("selfie") == dialog.status_text("meet") == "contract ok"
    assert dialog.status_text("sinet") == "missing" and not dialog.download_all.isEnabled()


def test_main_window_opens_the_dialog_and_mattes_once_weights_arrive(qtbot, make_window, tmp_path):
    from app.core.media.writers import write_png
    from tests.tiny_models import person_image, write_tiny_models

    folder = tmp_path / "models-later"
    window = make_window(folder)
    assert window.banner.isVisible()
    click(qtbot, window.banner.action)  # the first-run banner's "Models…" button
    dialog = window.models_dialog
    assert dialog.isVisible() and dialog.status_text("rvm") == "missing"
    photo = tmp_path / "person.png"
    write_png(photo, person_image(320, 240))
    window.open_path(str(photo))
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=60000)
    assert tuple(window.last_frame.view[3, 3]) != (0, 255, 0)  # no weights: the plain source
    write_tiny_models(folder)  # what a finished download leaves behind
    dialog.models_changed.emit()
    assert not window.banner.isVisible()

    def matted() -> bool:
        frame = window.last_frame
        return frame is not None and tuple(frame.view[3, 3]) == (0, 255, 0)

    qtbot.waitUntil(matted, timeout=60000)
    window.open_models()  # a second call shows the same dialog again
    assert window.models_dialog is dialog
    settle(qtbot, dialog)


def test_main_window_downloads_a_missing_matting_model_on_first_use(qtbot, make_window, server, tmp_path, monkeypatch):
    from tests.tiny_models import rvm_model

    rvm = rvm_model().SerializeToString()
    server.routes["/rvm_mobilenetv3_fp32.onnx"] = Route(rvm)
    monkeypatch.delenv("LIVEMATTE_OFFLINE", raising=False)
    monkeypatch.setenv("LIVEMATTE_MODEL_MIRROR", server.url(""))
    empty = tmp_path / "no_models"
    empty.mkdir()
    window = make_window(empty, model="rvm")
    dialog = window.models_dialog  # opened by itself, showing the download
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.status_text("rvm") == "contract ok", timeout=10000)
    assert (tmp_path / "cache" / "livematte" / "models" / "rvm_mobilenetv3_fp32.onnx").read_bytes() == rvm
    assert "Licence: GPL-3.0" in dialog.message.text()
    settle(qtbot, dialog)


def test_main_window_offline_only_shows_the_banner(qtbot, make_window, server, tmp_path):
    empty = tmp_path / "no_models"
    empty.mkdir()
    window = make_window(empty, model="rvm")  # the suite runs with LIVEMATTE_OFFLINE=1
    assert getattr(window, "models_dialog", None) is None and server.requests == []

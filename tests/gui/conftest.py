from __future__ import annotations

import gc
import json
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def settings_store(tmp_path):
    """A QSettings file of the test's own: the user's real settings are never read or written."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings_store, tmp_path):
    from app.core.live.settings import LiveSettings
    from app.gui.main_window import SETTINGS_KEY, MainWindow

    windows = []

    def make(models_dir, **changes):
        base = LiveSettings(mirror=False, background="#00ff00", output_dir=str(tmp_path / "snaps"), smoothing=0.0)
        settings_store.setValue(SETTINGS_KEY, json.dumps(base.replace(**changes).to_dict()))
        window = MainWindow(settings_store, str(models_dir))
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    from PySide6.QtWidgets import QApplication

    # also windows a test built itself (a "reopened" one): none may reach the collector with its threads running
    others = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w not in windows]
    for window in [*windows, *others]:
        window.close()
    # Free the window's Qt objects now, on this (the UI) thread, rather than whenever
    # the garbage collector next runs on some other thread.
    windows.clear()
    gc.collect()


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """A test that reaches run_app() opens its settings in tmp_path, never the user's config folder."""
    from PySide6.QtCore import QSettings

    import app.gui.settings_store as settings_store

    monkeypatch.setattr(settings_store, "config_dir", lambda: tmp_path / "config")
    monkeypatch.setattr(settings_store, "legacy_store",
                        lambda: QSettings(str(tmp_path / "legacy.conf"), QSettings.Format.IniFormat))

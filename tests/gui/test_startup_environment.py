"""Before the window: the Qt system-library check and the one settings folder."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.gui import qt_libs
from app.gui.settings_store import SETTINGS_FILE, open_settings_store


def test_missing_xcb_libraries_are_named_as_debian_packages():
    present = {"libxcb.so.1", "libX11-xcb.so.1"}
    message = qt_libs.missing_libraries_message("linux", {}, loads=lambda soname: soname in present)
    assert message is not None and "\n" not in message
    assert "apt-get install" in message and "libxcb-cursor0" in message and "libxcb-icccm4" in message
    assert "libxcb1 " not in message + " "  # present ones are not listed


def test_no_check_where_xcb_is_not_used():
    nothing = lambda soname: False  # noqa: E731 - every library missing
    assert qt_libs.missing_libraries_message("linux", {"QT_QPA_PLATFORM": "offscreen"}, loads=nothing) is None
    assert qt_libs.missing_libraries_message("linux", {"XDG_SESSION_TYPE": "wayland"}, loads=nothing) is None
    assert qt_libs.missing_libraries_message("win32", {}, loads=nothing) is None
    assert qt_libs.missing_libraries_message("linux", {"QT_QPA_PLATFORM": "xcb"}, loads=lambda s: True) is None
    assert qt_libs.missing_libraries_message("linux", {"QT_QPA_PLATFORM": "xcb"}, loads=nothing) is not None


def test_run_app_stops_with_the_message_before_qt_aborts(monkeypatch, capsys):
    from app.gui import main

    monkeypatch.setattr(main, "missing_libraries_message", lambda: "LiveMatte cannot open a window: install x")
    assert main.run_app([]) == 1
    assert capsys.readouterr().err.strip() == "LiveMatte cannot open a window: install x"


def test_settings_move_into_the_shared_folder_once(tmp_path):
    legacy = QSettings(str(tmp_path / "old" / "LiveMatte.conf"), QSettings.Format.IniFormat)
    legacy.setValue("live/settings", '{"background": "blur:30"}')
    legacy.setValue("live/blur_radius", 30)
    legacy.sync()
    folder = tmp_path / "livematte"
    (folder / "presets").mkdir(parents=True)
    (folder / "presets" / "mine.json").write_text("{}")
    store = open_settings_store(folder, legacy)
    assert store.value("live/settings") == '{"background": "blur:30"}'
    assert (folder / SETTINGS_FILE).is_file() and (folder / "presets" / "mine.json").read_text() == "{}"
    store.setValue("live/settings", '{"background": "#000000"}')
    store.sync()
    legacy.setValue("live/settings", '{"background": "blur:99"}')  # the old file no longer matters
    again = open_settings_store(folder, legacy)
    assert again.value("live/settings") == '{"background": "#000000"}'
    assert (tmp_path / "old" / "LiveMatte.conf").is_file()  # left as it was


def test_presets_and_settings_share_one_folder():
    from app.core.live.presets import config_dir, default_presets_dir

    assert default_presets_dir().parent == config_dir()

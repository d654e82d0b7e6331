"""What a streamer meets in a long session: menus, feedback, focus, restarts, stills, errors."""

from __future__ import annotations

import json
import re

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.core.live.view import ViewMode
from app.core.media.writers import write_png
from app.gui.main_window import SETTINGS_KEY, MainWindow
from tests.tiny_models import person_image


def _photo(tmp_path):
    path = tmp_path / "person.png"
    write_png(path, person_image(320, 240))
    return str(path)


def _clip(tmp_path, frames=40):
    from tests.clips import make_clip

    return str(make_clip(tmp_path / "clip.mp4", frames=frames))


def _shown(qtbot, window, predicate=lambda frame: True, timeout=60000):
    qtbot.waitUntil(lambda: window.last_frame is not None and predicate(window.last_frame), timeout=timeout)
    return window.last_frame


def _after_change(qtbot, window):
    target = window.session.still_timestamp
    return _shown(qtbot, window, lambda f: f.result.extra.get("timestamp", -1) >= target)


def _active(qtbot, window):
    """Key presses reach the shortcuts of the active window only."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def _checked_views(window):
    return [mode for mode, action in window.view_actions.items() if action.isChecked()]


# ---- menus ---------------------------------------------------------------------------------
def test_keys_1_to_4_switch_the_view_and_the_menu_checks_it(qtbot, make_window, tiny_models_dir):
    window = _active(qtbot, make_window(tiny_models_dir))
    assert _checked_views(window) == ["composite"]
    window.preview.setFocus()
    for key, mode in zip("1234", ViewMode):
        qtbot.keyClick(window.preview, key)
        assert window.settings.view == mode.value and window.panel.view.currentData() == mode.value
        assert _checked_views(window) == [mode.value]  # exclusive
    window.panel.view.setCurrentIndex(window.panel.view.findData("alpha"))  # the panel moves the mark too
    assert _checked_views(window) == ["alpha"]


def test_view_menu_entries_and_overlay_checks(qtbot, make_window, tiny_models_dir, settings_store):
    window = _active(qtbot, make_window(tiny_models_dir))
    window.view_actions["foreground"].trigger()
    assert window.settings.view == "foreground"
    face = window.overlay_actions["face"]
    assert not face.isChecked()
    qtbot.keyClick(window.preview, "f")
    assert face.isChecked() and window.panel.overlay_enabled.isChecked() and window.settings.overlay_enabled
    window.overlay_actions["boxes"].trigger()
    assert window.settings.overlay_boxes and window.overlay_actions["boxes"].isChecked()
    window.panel.skeleton.setChecked(True)
    assert window.overlay_actions["skeleton"].isChecked()
    saved = json.loads(settings_store.value(SETTINGS_KEY))
    assert saved["view"] == "foreground" and saved["overlay_enabled"] and saved["overlay_boxes"]


# ---- a bad background -------------------------------------------------------------------------
def test_a_bad_background_file_is_refused_the_room_stays_hidden_and_is_not_saved(
        qtbot, make_window, tiny_models_dir, tmp_path, settings_store):
    bad = tmp_path / "holiday.png"
    bad.write_text("a text file with an image's name")
    window = make_window(tiny_models_dir)  # green background
    window.open_path(_photo(tmp_path))
    _shown(qtbot, window, lambda f: tuple(f.view[3, 3]) == (0, 255, 0))
    window.panel.set_background_file(str(bad), "image")
    qtbot.waitUntil(lambda: window.banner.isVisible() and "holiday.png" in window.banner.label.text())
    assert "Still showing the colour #00ff00" in window.banner.label.text()
    frame = _after_change(qtbot, window)
    assert tuple(frame.view[3, 3]) == (0, 255, 0)  # matted over the last good background
    assert window.session.worker.disabled_reason is None
    qtbot.waitUntil(lambda: window.settings.background == "#00ff00")
    assert window.panel.background_kind.currentText() == "colour"
    assert json.loads(settings_store.value(SETTINGS_KEY))["background"] == "#00ff00"


def test_a_saved_bad_background_starts_on_blur_with_the_reason(qtbot, make_window, tiny_models_dir, tmp_path,
                                                                 settings_store):
    window = make_window(tiny_models_dir, background=str(tmp_path / "gone.png"))
    window.open_path(_photo(tmp_path))
    qtbot.waitUntil(lambda: window.banner.isVisible() and "gone.png" in window.banner.label.text())
    qtbot.waitUntil(lambda: window.settings.background == "blur:25")
    frame = _shown(qtbot, window)
    assert not np.array_equal(frame.view, person_image(320, 240))  # never the plain room
    assert json.loads(settings_store.value(SETTINGS_KEY))["background"] == "blur:25"


# ---- feedback -----------------------------------------------------------------------------------
def test_status_messages_are_shown_not_squeezed_out(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    window.open_path(_photo(tmp_path))
    _shown(qtbot, window)
    with qtbot.waitSignal(window.snapshot_finished, timeout=60000):
        window.snapshot()
        assert window.statusBar().currentMessage() == "Saving snapshot…"
        assert window.status.isHidden()  # the numbers make room for the message
    assert window.statusBar().currentMessage().startswith("Snapshot saved")


def test_rec_indicator_shows_the_recordings_own_time(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, loop_video=True)
    window.open_path(_clip(tmp_path))
    _shown(qtbot, window)
    window._update_status()
    assert window.rec_indicator.isHidden()
    window.panel.record.setChecked(True)
    assert window.statusBar().currentMessage().startswith("Recording to ")
    worker = window.session.worker
    # the time comes from the frames' timestamps (the clip's own clock), not from the wall clock
    qtbot.waitUntil(lambda: (worker.recording_elapsed or 0) >= 1.0, timeout=60000)
    span = worker.record_span
    window._update_status()
    assert window.rec_indicator.isVisible()
    assert re.fullmatch(r"● REC 0:0\d", window.rec_indicator.text())
    assert span[1] - span[0] >= 1.0
    with qtbot.waitSignal(worker.recording_finished, timeout=60000):
        window.panel.record.setChecked(False)
    window._update_status()
    assert window.rec_indicator.isHidden()


def test_record_button_is_in_view_at_1920x1050(qtbot, make_window, tiny_models_dir):
    window = make_window(tiny_models_dir)
    for size in ((1920, 1050), (1280, 720)):
        window.resize(*size)
        qtbot.waitUntil(lambda: window.size().height() == size[1])
        record = window.panel.record
        bottom = record.mapTo(window, QPoint(0, record.height())).y()
        assert record.isVisible() and not record.visibleRegion().isEmpty() and bottom <= window.height()


def test_time_text():
    from app.gui.control_panel_view import time_text

    assert time_text(0) == "0:00" and time_text(65.9) == "1:05" and time_text(3725) == "1:02:05"


# ---- focus and the wheel ------------------------------------------------------------------------
def test_single_key_shortcuts_yield_to_a_focused_drop_down(qtbot, make_window, tiny_models_dir):
    window = _active(qtbot, make_window(tiny_models_dir))
    combo = window.panel.background_kind
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    qtbot.keyClick(combo, "2")
    qtbot.keyClick(combo, "r")
    assert window.settings.view == "composite" and not window.panel.record.isChecked()
    spin = window.panel.feather
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.selectAll()
    qtbot.keyClick(spin, "3")
    assert window.settings.view == "composite" and spin.value() == 3  # typed into the box
    window.preview.setFocus()
    qtbot.keyClick(window.preview, "2")  # single keys work again once the picture has focus
    assert window.settings.view == "alpha"


def _wheel(widget, steps=-1):
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_instead_of_changing_an_unfocused_control(qtbot, make_window, tiny_models_dir):
    window = make_window(tiny_models_dir, expand=-1)
    window.resize(1000, 420)  # short: the panel scrolls
    panel = window.panel
    qtbot.waitUntil(lambda: panel.verticalScrollBar().maximum() > 0)
    window.preview.setFocus()
    scroll = panel.verticalScrollBar().value()
    for control in (panel.expand, panel.background_kind, panel.overlay_opacity):
        before = control.value() if hasattr(control, "value") else control.currentIndex()
        _wheel(control)
        after = control.value() if hasattr(control, "value") else control.currentIndex()
        assert after == before, control
    assert panel.verticalScrollBar().value() > scroll  # the wheel went to the scroll area
    assert panel.expand.focusPolicy() == Qt.FocusPolicy.StrongFocus
    panel.expand.setFocus()
    qtbot.waitUntil(panel.expand.hasFocus)
    _wheel(panel.expand, steps=1)
    assert panel.expand.value() == 0  # once chosen, the wheel does change it


# ---- restarts -------------------------------------------------------------------------------------
def test_blur_radius_survives_a_restart_with_another_background(qtbot, make_window, tiny_models_dir, settings_store):
    window = make_window(tiny_models_dir)
    panel = window.panel
    assert panel.blur.value() == 25  # never 1
    panel.background_kind.setCurrentText("blur")
    panel.blur.setValue(40)
    panel.background_kind.setCurrentText("colour")
    window.close()
    reopened = MainWindow(settings_store, str(tiny_models_dir))
    qtbot.addWidget(reopened)
    assert reopened.settings.background.startswith("#") and reopened.panel.blur.value() == 40
    reopened.panel.background_kind.setCurrentText("blur")
    assert reopened.settings.background == "blur:40"
    reopened.close()


def test_window_size_and_position_come_back(qtbot, make_window, tiny_models_dir, settings_store):
    window = make_window(tiny_models_dir)
    window.resize(720, 520)  # within the test screen (offscreen: 800x600)
    window.move(30, 40)
    qtbot.waitUntil(lambda: window.size().width() == 720)
    window.close()
    reopened = MainWindow(settings_store, str(tiny_models_dir))
    qtbot.addWidget(reopened)
    reopened.resize(1400, 820)  # what the app does before show(); the saved size wins
    reopened.show()
    qtbot.waitUntil(lambda: (reopened.width(), reopened.height()) == (720, 520))
    reopened.close()


def test_the_panel_does_not_force_a_wide_window(qtbot, make_window, tiny_models_dir):
    window = make_window(tiny_models_dir)
    assert window.minimumSizeHint().width() <= 640


# ---- sources ------------------------------------------------------------------------------------
def test_a_still_is_matted_once_and_again_only_on_a_change(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    window.open_path(_photo(tmp_path))
    _shown(qtbot, window)
    session = window.session
    assert session.capture is None  # nothing repeats the still
    assert session.mailbox.delivered == 1
    window.panel.feather.setValue(2)
    _after_change(qtbot, window)
    assert session.mailbox.delivered == 2 and session.mailbox.dropped == 0


def test_video_is_not_mirrored_and_the_seek_slider_follows(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, loop_video=True, mirror=True)
    window.open_path(_clip(tmp_path, frames=60))
    frame = _shown(qtbot, window)
    assert not frame.mirrored  # mirror is for cameras; a video's text must read the right way round
    panel = window.panel
    assert panel.seek.isEnabled()
    qtbot.waitUntil(lambda: panel.seek.value() > 100, timeout=60000)
    assert re.fullmatch(r"0:0\d / 0:02", panel.time_label.text())


def test_pausing_stops_the_counters(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, loop_video=True)
    window.open_path(_clip(tmp_path))
    _shown(qtbot, window)
    window.panel.play.setChecked(True)  # pause
    capture = window.session.capture
    window._update_status()
    assert "capture paused" in window.status.text()
    counted, dropped = capture.count, window.session.mailbox.dropped
    for _ in range(3):  # three status ticks while paused
        with qtbot.waitSignal(window.stats_timer.timeout, timeout=60000):
            pass
    # at most the one frame the capture thread held when the pause came
    assert capture.count <= counted + 1 and window.session.mailbox.dropped <= dropped + 1
    assert "capture paused" in window.status.text()
    window.panel.play.setChecked(False)
    qtbot.waitUntil(lambda: capture.count > counted + 1, timeout=60000)


# ---- errors and the banner ----------------------------------------------------------------------
def test_banner_lies_over_the_preview_and_says_what_failed_in_words(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    qtbot.waitUntil(lambda: window.preview.height() > 0)
    before = window.preview.geometry()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    window.open_path(str(broken))
    assert window.banner.isVisible()
    text = window.banner.label.text()
    assert "Errno" not in text and "damaged or not a video" in text
    QApplication.processEvents()
    assert window.preview.geometry() == before  # the picture did not move


def test_debug_log_reports_memory_refcount_and_threads(qtbot, make_window, tiny_models_dir, monkeypatch):
    monkeypatch.setenv("LIVEMATTE_DEBUG", "1")
    window = make_window(tiny_models_dir)
    line = window.health.log_now()
    assert re.fullmatch(r"rss_mb=\d+\.\d refcount_true=\d+ py_threads=\d+ os_threads=-?\d+ frames=\d+", line)
    monkeypatch.delenv("LIVEMATTE_DEBUG")
    assert make_window(tiny_models_dir).health is None

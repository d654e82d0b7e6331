"""The virtual-camera toggle and the Presets menu of the main window, with the fake device."""

from __future__ import annotations

import json

import pytest

from app.core.live.virtual_camera import FakeVirtualCamSink
from app.core.media.writers import write_png
from app.gui.virtual_camera_controller import OFF, ON, WAITING
from tests.tiny_models import person_image


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """The window's presets folder is the test's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _photo(tmp_path):
    path = tmp_path / "person.png"
    write_png(path, person_image(320, 240))
    return str(path)


def _with_sink(window, sink):
    window.virtual_camera.sink_factory = lambda: sink
    return sink


def test_toggle_opens_at_the_frame_size_sends_and_closes(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    sink = _with_sink(window, FakeVirtualCamSink())
    controller = window.virtual_camera
    assert controller.state == OFF and "off" in controller.indicator.text()
    assert controller.action.shortcut().toString() == "Ctrl+Shift+V"
    controller.action.trigger()
    assert controller.state == WAITING and controller.action.isChecked()
    window.open_path(_photo(tmp_path))
    qtbot.waitUntil(lambda: controller.state == ON, timeout=60000)
    qtbot.waitUntil(lambda: sink.count >= 5, timeout=60000)
    assert sink.size == (320, 240) and sink.fps == 30  # a still has no rate of its own: the camera rate setting
    assert "on" in controller.indicator.text() and "320×240" in controller.indicator.text()
    frame = sink.snapshot()[-1].frame
    assert frame.shape == (240, 320, 3) and tuple(frame[3, 3]) == (0, 255, 0)  # the window's composite
    controller.indicator.click()  # the status-bar button toggles the same action
    assert controller.state == OFF and not controller.action.isChecked() and sink.stopped == 1


def test_no_backend_shows_the_fix_and_turns_off(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    _with_sink(window, FakeVirtualCamSink(fail_start="no loopback device"))
    window.open_path(_photo(tmp_path))
    with qtbot.waitSignal(window.virtual_camera.failed, timeout=60000) as blocker:
        window.virtual_camera.action.trigger()
    assert "no loopback device" in blocker.args[0]
    assert window.virtual_camera.state == OFF and not window.virtual_camera.action.isChecked()
    assert window.banner.isVisible() and "no loopback device" in window.banner.label.text()
    assert window.last_frame is not None  # the preview keeps running


def test_device_lost_while_sending_turns_off_with_a_message(qtbot, make_window, tiny_models_dir, tmp_path):
    class Unplugged(FakeVirtualCamSink):
        def send(self, frame):
            if self.count >= 3:
                raise OSError("device unplugged")
            super().send(frame)

    window = make_window(tiny_models_dir)
    _with_sink(window, Unplugged())
    window.virtual_camera.action.trigger()
    with qtbot.waitSignal(window.virtual_camera.failed, timeout=60000) as blocker:
        window.open_path(_photo(tmp_path))
    assert "device unplugged" in blocker.args[0]
    assert window.virtual_camera.state == OFF and window.banner.isVisible()


def test_preset_applies_to_widgets_worker_and_saved_settings(qtbot, make_window, tiny_models_dir, tmp_path, settings_store):
    from app.gui.main_window import SETTINGS_KEY

    window = make_window(tiny_models_dir, camera_index=2)
    window.open_path(_photo(tmp_path))
    actions = window.presets.actions_by_name()
    assert {"Meeting blur", "Green screen", "Transparent for OBS"} <= set(actions)
    actions["Green screen"].trigger()
    assert window.settings.background == "#00b140" and window.settings.camera_index == 2
    assert window.panel.background_spec() == "#00b140" and window.panel.expand.value() == -1
    assert json.loads(settings_store.value(SETTINGS_KEY))["background"] == "#00b140"
    qtbot.waitUntil(lambda: window.last_frame is not None and tuple(window.last_frame.view[3, 3]) == (0, 177, 64),
                    timeout=60000)
    window.presets.rebuild()
    checked = [name for name, action in window.presets.actions_by_name().items() if action.isChecked()]
    assert checked == ["Green screen"]


def test_save_current_as_preset(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, background="#ff00ff", feather=3)
    with qtbot.waitSignal(window.presets.saved) as blocker:
        window.presets.save_current("My studio")
    path = tmp_path / "config" / "livematte" / "presets" / "my-studio.json"
    assert str(path) in blocker.args[0]
    assert json.loads(path.read_text())["settings"]["background"] == "#ff00ff"
    actions = window.presets.actions_by_name()
    assert actions["My studio"].isChecked()
    actions["Meeting blur"].trigger()
    assert window.settings.background == "blur:25"
    window.presets.actions_by_name()["My studio"].trigger()
    assert window.settings.background == "#ff00ff" and window.panel.feather.value() == 3
    window.presets.delete("My studio")
    assert not path.exists() and "My studio" not in window.presets.actions_by_name()

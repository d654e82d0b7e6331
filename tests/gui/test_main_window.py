from __future__ import annotations

import json
import re

import numpy as np

from app.core.media.writers import write_png
from app.gui.main_window import SETTINGS_KEY
from tests.tiny_models import person_image


def _photo(tmp_path):
    path = tmp_path / "person.png"
    write_png(path, person_image(320, 240))
    return str(path)


def _next_frame(qtbot, window, timeout=60000):
    with qtbot.waitSignal(window.session.worker.frame_ready, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def _shown(qtbot, window, predicate=lambda frame: True, timeout=60000):
    """The frame on screen once it satisfies ``predicate`` (a still is matted once per settings change)."""
    qtbot.waitUntil(lambda: window.last_frame is not None and predicate(window.last_frame), timeout=timeout)
    return window.last_frame


def test_image_source_is_matted_and_painted(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    window.open_path(_photo(tmp_path))
    frame = _shown(qtbot, window)
    assert frame.view.shape == (240, 320, 3)
    assert tuple(frame.view[3, 3]) == (0, 255, 0)  # background replaced
    assert np.abs(frame.view[120, 160].astype(int) - person_image(320, 240)[120, 160]).max() <= 2
    qtbot.waitUntil(lambda: window.last_frame is not None, timeout=60000)
    window._update_status()
    assert "model rvm on cpu" in window.status.text()
    # auto: how often it computes depends on how busy the machine is, the status names it either way
    assert re.search(r"every (frame|[23] frames) \(auto\)", window.status.text())
    assert window.panel.every_n.text() == "Auto"
    assert not window.banner.isVisible()


def test_view_switch_and_settings_persist(qtbot, make_window, tiny_models_dir, tmp_path, settings_store):
    window = make_window(tiny_models_dir)
    window.open_path(_photo(tmp_path))
    _shown(qtbot, window)
    window.panel.view.setCurrentIndex(window.panel.view.findData("alpha"))
    window.panel.feather.setValue(3)
    view = _shown(qtbot, window, lambda f: f.view[3, 3, 1] == 0).view
    assert view[120, 160, 0] > 240  # alpha view: gray, person white
    saved = json.loads(settings_store.value(SETTINGS_KEY))
    assert saved["view"] == "alpha" and saved["feather"] == 3
    window.close()
    from app.gui.main_window import MainWindow

    reopened = MainWindow(settings_store, str(tiny_models_dir))
    qtbot.addWidget(reopened)
    assert reopened.settings.view == "alpha" and reopened.panel.feather.value() == 3
    reopened.close()


def test_snapshot_writes_full_resolution_files(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    window.open_path(_photo(tmp_path))
    _shown(qtbot, window)
    with qtbot.waitSignal(window.snapshot_finished, timeout=60000) as blocker:
        window.snapshot()
    message, ok = blocker.args
    assert ok, message
    files = sorted(p.name for p in (tmp_path / "snaps").iterdir())
    assert any(f.endswith(".composite.png") for f in files) and any(f.endswith(".json") for f in files)
    alpha = next((tmp_path / "snaps").glob("*.alpha.png"))
    import cv2

    assert cv2.imread(str(alpha), cv2.IMREAD_UNCHANGED).shape == (240, 320)


def test_bad_file_shows_banner_and_app_keeps_running(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    window.open_path(str(broken))
    assert window.banner.isVisible() and "broken.mp4" in window.banner.label.text()
    window.open_path(_photo(tmp_path))  # still works afterwards
    assert _shown(qtbot, window).view.shape == (240, 320, 3)


def test_missing_weights_banner_and_plain_preview(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.delenv("LIVEMATTE_MODELS", raising=False)
    window = make_window(tmp_path / "no-models")
    assert window.banner.isVisible() and "rvm" in window.banner.label.text()
    window.open_path(_photo(tmp_path))
    frame = _shown(qtbot, window)
    assert np.array_equal(frame.view, person_image(320, 240))  # the source, unmatted


def test_close_stops_threads(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir)
    window.open_path(_clip(tmp_path))
    _next_frame(qtbot, window)
    capture = window.session.capture
    window.close()
    assert not capture.is_alive() and window.session.thread.isFinished()


def test_a_stop_that_comes_before_the_worker_runs_still_ends_it(qtbot, tiny_models_dir):
    """A window closed right after it opened (on a busy machine, before the inference thread
    reached its loop) must still end that thread: a QThread destroyed running aborts the app."""
    from app.gui.live_worker import LiveSession

    session = LiveSession(str(tiny_models_dir))
    session.worker.stop()  # what closing does when the thread has not begun yet
    session.start()
    session.thread.quit()  # (shutdown's order: stop, then end the thread's event loop)
    finished = session.thread.wait(60000)  # hang guard only: it ends as soon as it runs
    session.shutdown()  # a worker that ignored the stop is stopped here, never left running
    assert finished and session.thread.isFinished()


def test_a_window_closed_as_soon_as_it_opens_stops_its_threads(qtbot, tiny_models_dir, settings_store):
    from app.gui.main_window import MainWindow

    window = MainWindow(settings_store, str(tiny_models_dir))
    qtbot.addWidget(window)
    window.close()  # no event processed in between: the worker may not have started
    assert window.session.thread.isFinished()


def _clip(tmp_path, frames=40):
    from tests.clips import make_clip

    return str(make_clip(tmp_path / "clip.mp4", frames=frames))


def test_video_plays_and_status_numbers_move(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, loop_video=True)
    window.open_path(_clip(tmp_path))
    for _ in range(6):
        frame = _next_frame(qtbot, window)
    assert frame.view.shape == (120, 160, 3)
    # the numbers move: waited for, not slept on (a busy machine takes longer, never fails)
    qtbot.waitUntil(lambda: "capture 0.0 fps" not in window.status.text() and "display" in window.status.text(),
                    timeout=60000)
    assert window.session.capture.fps() > 0


def test_record_writes_playable_clip_with_the_frames(qtbot, make_window, tiny_models_dir, tmp_path):
    import av

    window = make_window(tiny_models_dir, loop_video=True)
    window.open_path(_clip(tmp_path))
    _next_frame(qtbot, window)
    window.panel.record.setChecked(True)
    for _ in range(8):
        _next_frame(qtbot, window)
    with qtbot.waitSignal(window.session.worker.recording_finished, timeout=60000) as blocker:
        window.panel.record.setChecked(False)
    message, ok = blocker.args
    assert ok, message
    count = int(re.search(r"Recorded (\d+) frames", message).group(1))
    path = next((tmp_path / "snaps").glob("recording-*.mp4"))
    with av.open(str(path)) as container:
        assert container.streams.audio  # the source file's audio came along
        assert sum(1 for _ in container.decode(video=0)) == count >= 8


def test_close_during_recording_leaves_a_valid_file(qtbot, make_window, tiny_models_dir, tmp_path):
    import av

    window = make_window(tiny_models_dir, loop_video=True)
    window.open_path(_clip(tmp_path))
    _next_frame(qtbot, window)
    window.panel.record.setChecked(True)
    for _ in range(4):
        _next_frame(qtbot, window)
    window.close()
    files = list((tmp_path / "snaps").iterdir())
    assert all(not f.name.endswith(".part") for f in files)
    for f in files:
        with av.open(str(f)) as container:
            assert sum(1 for _ in container.decode(video=0)) >= 1


def test_stress_switching_models_sources_backgrounds(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, loop_video=True)
    clip, photo = _clip(tmp_path), _photo(tmp_path)
    errors = []
    window.session.worker.error.connect(errors.append)
    window.session.worker.model_failed.connect(errors.append)
    models = ["rvm", "selfie", "meet", "sinet"]
    backgrounds = ["blur", "colour", "transparent"]
    for i in range(60):  # a fixed number of switches: the same test on a fast or a busy machine
        window.panel.model.setCurrentText(models[i % len(models)])
        window.panel.background_kind.setCurrentText(backgrounds[i % len(backgrounds)])
        window.panel.view.setCurrentIndex(i % 4)
        if i % 5 == 0:
            window.open_path(clip if i % 10 == 0 else photo)
        qtbot.wait(40)
    window.open_path(clip)  # the last switch may have opened the still: frames come from the clip
    _next_frame(qtbot, window)
    assert errors == []
    capture, thread = window.session.capture, window.session.thread
    window.close()  # returns only once the threads are stopped (a hang would hang here, not pass)
    assert not capture.is_alive() and thread.isFinished()


def _after_change(qtbot, window):
    """The still's frame matted with the settings of the latest change."""
    target = window.session.still_timestamp
    return _shown(qtbot, window, lambda f: f.result.extra.get("timestamp", -1) >= target)


def _frames_until(qtbot, window, predicate):
    return _shown(qtbot, window, predicate)


def test_controls_reach_the_frames(qtbot, make_window, tiny_models_dir, tmp_path):
    window = make_window(tiny_models_dir, background="transparent")
    window.open_path(_photo(tmp_path))
    panel = window.panel
    # transparent background: the view keeps alpha (painted over a checkerboard)
    _frames_until(qtbot, window, lambda f: f.view.shape[2] == 4 and f.view[3, 3, 3] == 0)
    # a colour background appears where alpha is 0
    panel._background_colour = "#ff00ff"
    panel.background_kind.setCurrentText("colour")
    _frames_until(qtbot, window, lambda f: tuple(f.view[3, 3]) == (255, 0, 255))
    # the model switch reaches the worker
    panel.model.setCurrentText("meet")
    _frames_until(qtbot, window, lambda f: f.result.model == "meet")
    # a hard threshold makes the alpha binary
    panel.view.setCurrentIndex(panel.view.findData("alpha"))
    panel.threshold_enabled.setChecked(True)
    frame = _frames_until(qtbot, window, lambda f: set(np.unique(f.view)) <= {0, 255})
    assert frame.view[120, 160, 0] == 255
    # the mirror is for cameras: a still image stays as it is (its text must read the right way)
    panel.mirror.setChecked(True)
    frame = _after_change(qtbot, window)
    assert not frame.mirrored and np.array_equal(frame.source, person_image(320, 240))

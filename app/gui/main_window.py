"""The main window: preview, control panel, banner, status bar, menus and shortcuts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import LiveMatteError
from app.core.media.image_io import SUPPORTED_SUFFIXES as IMAGE_SUFFIXES
from app.core.live.settings import LiveSettings
from app.core.models import matting_models
from app.core.models.session import available_providers
from app.core.live.presets import PresetStore
from app.core.media.sources import VIDEO_SUFFIXES
from app.core.live.view import ViewMode
from app.core.matting.propagation import describe_cadence
from app.gui import debug_log, key_guard, sources_bridge
from app.gui.control_panel_view import RECORD_STOP_TEXT, RECORD_TEXT, ControlPanelView, time_text
from app.gui.live_worker import LiveSession
from app.gui.preview_view import PreviewView
from app.gui.presets_menu import PresetsMenu
from app.gui.virtual_camera_controller import VirtualCameraController

SETTINGS_KEY = "live/settings"
BLUR_KEY = "live/blur_radius"  # the blur radius offered next time, also while another background is chosen
GEOMETRY_KEY = "window/geometry"
SPLITTER_KEY = "window/splitter"

SHORTCUTS = [
    ("Space", "Snapshot"),
    ("R", "Start / stop recording"),
    ("Ctrl+K", "Open camera"),
    ("Ctrl+O", "Open video file"),
    ("Ctrl+I", "Open image"),
    ("P", "Play / pause video"),
    ("1 / 2 / 3 / 4", "View: composite / alpha / foreground / side by side"),
    ("F", "Face overlay on / off"),
    ("Ctrl+Shift+V", "Virtual camera on / off"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
]


class BannerView(QWidget):
    """A non-modal message strip above the preview; the app keeps running under it."""

    action_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setStyleSheet("BannerView, QLabel { background: #5a2b2b; color: white; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        layout = QHBoxLayout(self)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.clicked.connect(self.action_clicked)
        close = QPushButton("✕")
        close.setMaximumWidth(28)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str, action: str | None = None) -> None:
        self.label.setText(text)
        self.action.setVisible(action is not None)
        self.action.setText(action or "")
        self.show()


class MainWindow(QMainWindow):
    snapshot_finished = Signal(str, bool)  # message, ok
    source_failed = Signal(str)
    source_ended = Signal()

    def __init__(self, settings_store: QSettings, models_dir: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("LiveMatte")
        self.setAcceptDrops(True)
        self.store = settings_store
        self.models_dir = models_dir
        self.settings = self._load_settings()
        self.session = LiveSession(models_dir)
        self.last_frame = None
        self.display_count = 0
        self.frames_shown = 0  # since start, for the debug log
        self.display_started = time.monotonic()
        self.source_name = "none"
        self.source_path: str | None = None  # a video file, for audio in recordings and seeking

        self.preview = PreviewView()
        self.banner = BannerView()
        self.banner.action_clicked.connect(self.open_models)
        self.panel = ControlPanelView(self.settings, matting_models(), available_providers(), _class_swatches())
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        stage = QGridLayout()
        # the banner lies over the top of the preview: showing it never moves or shrinks the picture
        stage.addWidget(self.preview, 0, 0)
        stage.addWidget(self.banner, 0, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(stage, 1)
        column.addWidget(self.panel.transport)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 1)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.setCentralWidget(splitter)
        # the numbers are a normal status widget, so a message ("Saving snapshot…") replaces them for a
        # while instead of being squeezed to nothing; the REC indicator is permanent, on the right
        self.status = QLabel()
        self.status.setMinimumWidth(1)  # long numbers must not widen the window
        self.statusBar().addWidget(self.status, 1)
        self.rec_indicator = QLabel()
        self.rec_indicator.setStyleSheet("QLabel { color: white; background: #c0392b; padding: 1px 8px; font-weight: bold; }")
        self.rec_indicator.hide()
        self.statusBar().addPermanentWidget(self.rec_indicator)
        self._last_capture_count = 0
        self.source_duration: float | None = None

        self._restore_blur_radius()
        self._connect()
        self._build_menus()
        self.key_guard = key_guard.install(QApplication.instance())
        self._geometry_restored = False
        self.session.worker.set_settings(self.settings)
        self.session.start()
        self.stats_timer = QTimer(self)
        self.stats_timer.timeout.connect(self._update_status)
        self.stats_timer.start(500)
        self._update_status()
        self._check_models()
        self.health = debug_log.install(self, lambda: self.frames_shown)

    # ---- wiring ----------------------------------------------------------------
    def _connect(self) -> None:
        worker = self.session.worker
        worker.frame_ready.connect(self._show_frame)
        # Bound methods, never lambdas: a lambda has no thread of its own, so Qt would run it
        # in the emitting worker thread and touch widgets from there.
        worker.error.connect(self._show_error)
        worker.model_failed.connect(self._show_model_error)
        self.panel.settings_changed.connect(self._settings_changed)
        self.panel.open_camera_requested.connect(self.open_camera)
        self.panel.open_video_requested.connect(self.choose_video)
        self.panel.open_image_requested.connect(self.choose_image)
        self.panel.snapshot_requested.connect(self.snapshot)
        self.panel.play_toggled.connect(self.set_playing)
        self.panel.record_toggled.connect(self.set_recording)
        self.panel.seek_requested.connect(self.seek)
        worker.recording_finished.connect(self._recording_done)
        worker.background_refused.connect(self._background_refused)
        self.panel.models_requested.connect(self.open_models)
        self.snapshot_finished.connect(self._snapshot_done)
        self.source_failed.connect(self._show_error)
        self.source_ended.connect(self._source_ended)

    def _show_error(self, text: str) -> None:
        self.banner.show_message(text)

    def _background_refused(self, text: str, applied: LiveSettings) -> None:
        """The core kept the last good background: show why, and make the panel and the saved settings agree."""
        self.banner.show_message(text)
        if applied.background != self.settings.background:
            self.panel.load(self.settings.replace(background=applied.background))
            self._settings_changed(self.panel.current())

    def _show_model_error(self, text: str) -> None:
        self.banner.show_message(text, "Models…")

    def _source_ended(self) -> None:
        self.statusBar().showMessage("Source ended", 3000)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        view_menu = self.menuBar().addMenu("&View")
        self.presets = PresetsMenu(self.menuBar().addMenu("&Presets"), PresetStore(), lambda: self.settings, self)
        self.presets.applied.connect(self.panel.load)  # widgets first, then the same path as a user change
        self.presets.applied.connect(self._settings_changed)
        self.presets.failed.connect(self._show_error)
        self.presets.saved.connect(self.statusBar().showMessage)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(file_menu, "Open camera", "Ctrl+K", self.open_camera)
        self._action(file_menu, "Open video…", "Ctrl+O", self.choose_video)
        self._action(file_menu, "Open image…", "Ctrl+I", self.choose_image)
        file_menu.addSeparator()
        self._action(file_menu, "Snapshot", "Space", self.snapshot)
        self._action(file_menu, "Record", "R", self._toggle_record)
        self.virtual_camera = VirtualCameraController(self.session, lambda: self.settings.camera_fps, self)
        self.virtual_camera.install(file_menu, self.statusBar())
        self.virtual_camera.failed.connect(self._show_error)
        self._action(file_menu, "Models…", None, self.open_models)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", "Ctrl+Q", self.close)
        self._build_view_menu(view_menu)
        self._action(help_menu, "Keyboard shortcuts", "F1", self.show_shortcuts)

    def _build_view_menu(self, menu) -> None:
        """Views as an exclusive, checkable group; overlays as check boxes; both follow the panel."""
        self.view_group = QActionGroup(self)
        self.view_group.setExclusive(True)
        self.view_actions: dict[str, QAction] = {}
        for key, mode in zip("1234", ViewMode):
            action = self._action(menu, mode.value.replace("_", " ").capitalize(), key, None, checkable=True)
            action.setData(mode.value)
            self.view_group.addAction(action)
            self.view_actions[mode.value] = action
        # the group's signal carries the action, not the ``checked`` flag, so nothing lands in a lambda default
        self.view_group.triggered.connect(self._view_chosen)
        menu.addSeparator()
        self.overlay_actions = {
            "face": self._action(menu, "Face overlay", "F", self._set_face_overlay, checkable=True),
            "boxes": self._action(menu, "Part boxes", None, self._set_part_boxes, checkable=True),
            "skeleton": self._action(menu, "Body skeleton", None, self._set_skeleton, checkable=True),
        }
        menu.addSeparator()
        self._action(menu, "Play / pause", "P", self._toggle_play)
        self._sync_menus(self.settings)

    def _view_chosen(self, action: QAction) -> None:
        self.panel.view.setCurrentIndex(self.panel.view.findData(action.data()))

    # the panel's check boxes stay the one place the overlay settings come from
    def _set_face_overlay(self, on: bool) -> None:
        self.panel.overlay_enabled.setChecked(on)

    def _set_part_boxes(self, on: bool) -> None:
        self.panel.overlay_boxes.setChecked(on)

    def _set_skeleton(self, on: bool) -> None:
        self.panel.skeleton.setChecked(on)

    def _toggle_play(self) -> None:
        self.panel.play.toggle()

    def _toggle_record(self) -> None:
        self.panel.record.toggle()

    def _sync_menus(self, settings: LiveSettings) -> None:
        """Check marks follow the settings, whichever control changed them."""
        action = self.view_actions.get(settings.view)
        if action is not None and not action.isChecked():
            action.setChecked(True)
        for name, on in (("face", settings.overlay_enabled), ("boxes", settings.overlay_boxes),
                         ("skeleton", settings.skeleton_enabled)):
            self.overlay_actions[name].setChecked(on)

    def _action(self, menu, text: str, key: str | None, slot, *, checkable: bool = False) -> QAction:
        """A menu entry with an application-wide shortcut.

        ``triggered`` passes ``checked``: ``slot`` must take it (a checkable
        action) or be a bound method without arguments, never a lambda with
        defaults (the flag would land in the first default).
        """
        action = QAction(text, self)
        action.setCheckable(checkable)
        if key:
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        if slot is not None:
            action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ---- settings ---------------------------------------------------------------------
    def _load_settings(self) -> LiveSettings:
        raw = self.store.value(SETTINGS_KEY, "")
        try:
            return LiveSettings.from_dict(json.loads(raw)) if raw else LiveSettings()
        except (TypeError, ValueError):
            return LiveSettings()

    def _settings_changed(self, settings: LiveSettings) -> None:
        overlays_before = set(self.settings.overlay_models())
        self.settings = settings
        if set(settings.overlay_models()) - overlays_before:
            self._check_models()  # an overlay just switched on: its models may still have to come
        self._sync_menus(settings)
        self.session.worker.set_settings(settings)
        self.session.refresh_still()  # a still is matted again only when something changed
        self.store.setValue(SETTINGS_KEY, json.dumps(settings.to_dict()))
        if settings.background.lower().startswith("blur"):
            self.store.setValue(BLUR_KEY, self.panel.blur.value())

    def _restore_blur_radius(self) -> None:
        """The saved background is not a blur: still offer the user's last radius when blur is picked."""
        if self.settings.background.lower().startswith("blur"):
            return
        try:
            radius = int(self.store.value(BLUR_KEY, 0) or 0)
        except (TypeError, ValueError):
            return
        if radius > 0:
            self.panel.blur.blockSignals(True)
            self.panel.blur.setValue(radius)
            self.panel.blur.blockSignals(False)

    def _check_models(self) -> None:
        from app.core.models import get_spec
        from app.core.models.provision import offline_setting
        from app.core.models.store import find_weights

        missing = [name for name in matting_models() if find_weights(get_spec(name), self.models_dir) is None]
        needed = [self.settings.model] * (self.settings.model in missing) + [
            name for name in self.settings.overlay_models() if find_weights(get_spec(name), self.models_dir) is None]
        if needed and not offline_setting():
            # first use: download them now, with the Models dialog showing the progress; an overlay
            # without its models stays off (the banner says why) until they arrive
            self.open_models()
            for name in needed:
                self.models_dialog.download(name)
        elif self.settings.model in missing:
            self.banner.show_message(
                f"No weights for the matting model '{self.settings.model}' (missing: {', '.join(missing)}). "
                "The preview shows the plain source until a model is available. "
                "Run `livematte models` to see where to put them.",
                "Models…",
            )

    # ---- sources --------------------------------------------------------------------
    def _open(self, frames, name: str, realtime: bool, path: str | None = None) -> None:
        self._set_source(name, path)
        self.session.open(frames, realtime=realtime, on_error=self.source_failed.emit, on_end=self.source_ended.emit)
        self.set_playing(not self.panel.play.isChecked())  # a seek or a new file keeps the paused state

    def _set_source(self, name: str, path: str | None) -> None:
        self.source_name = name
        self.source_path = path
        self.source_duration = None
        if path is not None:
            try:
                self.source_duration = sources_bridge.duration(path) or None
            except LiveMatteError:
                self.source_duration = None
        self._last_capture_count = 0
        self.panel.show_position(None, self.source_duration)
        self.banner.hide()

    def open_camera(self) -> None:
        s = self.settings
        try:
            frames = sources_bridge.camera(s.camera_index, s.camera_width, s.camera_height, s.camera_fps)
        except LiveMatteError as exc:
            self.banner.show_message(str(exc))
            return
        self._open(frames, f"camera {s.camera_index}", realtime=False)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.m4v)")
        if path:
            self.open_path(path)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.gif)")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        suffix = Path(path).suffix.lower()
        try:
            if suffix in VIDEO_SUFFIXES:
                frames = sources_bridge.video(path, loop=self.settings.loop_video)
                self._open(frames, Path(path).name, realtime=True, path=path)
            else:
                still = sources_bridge.image(path)
                self._set_source(Path(path).name, None)
                self.session.open_still(still)
        except LiveMatteError as exc:
            self.banner.show_message(str(exc))

    def set_playing(self, playing: bool) -> None:
        capture = self.session.capture
        if capture is not None:
            (capture.paused.clear if playing else capture.paused.set)()

    def seek(self, fraction: float) -> None:
        """Reopens the video at ``fraction`` of its length; the stream state resets with it."""
        if self.source_path is None:
            return
        try:
            start = fraction * (self.source_duration or sources_bridge.duration(self.source_path))
            frames = sources_bridge.video(self.source_path, loop=self.settings.loop_video, start=start)
        except LiveMatteError as exc:
            self.banner.show_message(str(exc))
            return
        self._open(frames, self.source_name, realtime=True, path=self.source_path)

    # ---- recording --------------------------------------------------------------------
    def set_recording(self, on: bool) -> None:
        worker = self.session.worker
        if on:
            from app.core.live.snapshot import snapshot_stem

            folder = Path(self.settings.output_dir).expanduser()
            path = folder / (snapshot_stem().replace("snapshot", "recording") + ".mp4")
            worker.start_recording(str(path), self.source_path)
            self.panel.record.setText(RECORD_STOP_TEXT)
            self.statusBar().showMessage(f"Recording to {path}…", 6000)
        else:
            worker.stop_recording()
            self.panel.record.setText(RECORD_TEXT)

    def _recording_done(self, message: str, ok: bool) -> None:
        if self.panel.record.isChecked():
            self.panel.record.blockSignals(True)
            self.panel.record.setChecked(False)
            self.panel.record.setText(RECORD_TEXT)
            self.panel.record.blockSignals(False)
        if ok:
            self.statusBar().showMessage(message, 10000)
        else:
            self.banner.show_message(message)

    # ---- frames and status ------------------------------------------------------------
    def _show_frame(self, frame) -> None:
        self.last_frame = frame
        self.preview.show_frame(frame.view)
        if self.source_duration:
            timestamp = float(frame.result.extra.get("timestamp", 0.0))
            self.panel.show_position(timestamp % self.source_duration, self.source_duration)
        self.display_count += 1
        self.frames_shown += 1

    def _update_status(self) -> None:
        now = time.monotonic()
        interval = max(now - self.display_started, 1e-6)
        display_fps = self.display_count / interval
        self.display_count, self.display_started = 0, now
        capture = self.session.capture
        worker = self.session.worker
        model = worker.processor.model
        provider = getattr(model, "provider", "-")
        state = "matting off" if worker.disabled_reason else f"model {self.settings.model} on {provider}"
        cadence = "model " + describe_cadence(worker.last_duty)
        if self.settings.every_n == 0:
            cadence += " (auto)"
        self.status.setText(
            f"source {self.source_name} · {self._capture_text(capture, interval)} · "
            f"inference {worker.last_ms:.0f} ms, {cadence} · display {display_fps:.1f} fps · "
            f"dropped {self.session.mailbox.dropped} · {state}"
        )
        self._update_rec_indicator()

    def _capture_text(self, capture, interval: float) -> str:
        """The capture rate over the last status interval (not since the start), or 'paused'."""
        if capture is None:
            return "capture –"
        count = capture.count
        new_frames = count - self._last_capture_count if count >= self._last_capture_count else count
        self._last_capture_count = count
        if capture.paused.is_set():
            return "capture paused"
        return f"capture {new_frames / interval:.1f} fps"

    def _update_rec_indicator(self) -> None:
        elapsed = self.session.worker.recording_elapsed
        if elapsed is None:
            self.rec_indicator.hide()
            return
        self.rec_indicator.setText(f"● REC {time_text(elapsed)}")
        self.rec_indicator.show()

    # ---- snapshot -----------------------------------------------------------------
    def snapshot(self) -> None:
        frame = self.last_frame
        if frame is None:
            self.banner.show_message("Nothing to snapshot yet: open a source first.")
            return
        settings = self.settings
        threading.Thread(target=self._snapshot_job, args=(frame.source, settings), daemon=True, name="snapshot").start()
        self.statusBar().showMessage("Saving snapshot…")

    def _snapshot_job(self, image, settings: LiveSettings) -> None:
        from app.core.live.snapshot import save_snapshot

        try:
            written = save_snapshot(image, settings, self.models_dir)
        except LiveMatteError as exc:
            self.snapshot_finished.emit(str(exc), False)
            return
        self.snapshot_finished.emit(f"Snapshot saved: {written[0].parent} ({', '.join(p.name for p in written)})", True)

    def _snapshot_done(self, message: str, ok: bool) -> None:
        if ok:
            self.statusBar().showMessage(message, 8000)
        else:
            self.banner.show_message(message)

    # ---- misc -------------------------------------------------------------------------
    def open_models(self) -> None:
        """Shows the Models dialog (non-modal); one instance, so running downloads survive closing it."""
        from app.gui.models_dialog import ModelsDialog

        dialog = getattr(self, "models_dialog", None)
        if dialog is None:
            dialog = self.models_dialog = ModelsDialog(self.models_dir, parent=self)
            dialog.models_changed.connect(self._models_changed)
        else:
            dialog.refresh()  # files may have been added by hand since it was last shown
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _models_changed(self) -> None:
        # the "no weights" banner is stale now; _check_models shows it again if still true
        self.banner.hide()
        self._check_models()
        # a fresh snapshot (a new object: the worker applies by identity) clears the worker's disabled
        # state and reloads the overlays, so it loads the new weights
        self.settings = self.settings.replace()
        self.session.worker.set_settings(self.settings)
        self.session.refresh_still()

    def show_shortcuts(self) -> None:
        text = "\n".join(f"{key:<14} {what}" for key, what in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", text)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if not urls:
            return
        path = urls[0].toLocalFile()
        over_background = self.panel.background_kind.parentWidget().geometry().contains(
            self.panel.widget().mapFrom(self, event.position().toPoint())
        )
        if over_background and Path(path).suffix.lower() in IMAGE_SUFFIXES:
            self.panel.set_background_file(path, "image")
        else:
            self.open_path(path)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._geometry_restored:  # once, after the caller's default size: the saved one wins
            self._geometry_restored = True
            self.restore_geometry()

    def restore_geometry(self) -> bool:
        """Size, position and panel width of the last session; False when none was saved."""
        geometry = self.store.value(GEOMETRY_KEY)
        splitter = self.store.value(SPLITTER_KEY)
        restored = geometry is not None and self.restoreGeometry(geometry)
        if splitter is None or not self.splitter.restoreState(splitter):
            # first start: the panel as wide as its content wants, if the window has room; the picture gets the rest
            panel = min(self.panel.preferred_width(), self.splitter.width() // 2)
            self.splitter.setSizes([self.splitter.width() - panel, panel])
        return restored

    def closeEvent(self, event) -> None:  # noqa: N802
        self.store.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.store.setValue(SPLITTER_KEY, self.splitter.saveState())
        self.store.setValue(SETTINGS_KEY, json.dumps(self.settings.to_dict()))
        self.store.sync()
        self.virtual_camera.shutdown()
        self.session.shutdown()
        super().closeEvent(event)


def _class_swatches() -> list[tuple[int, str, tuple[int, int, int]]]:
    from app.core.face.regions import LABEL_NAMES
    from app.core.face.palette import PALETTE

    return [(i, LABEL_NAMES[i].replace("_", " "), tuple(int(c) for c in PALETTE[i])) for i in range(1, len(LABEL_NAMES))]

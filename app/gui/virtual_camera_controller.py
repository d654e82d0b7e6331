"""The window's virtual camera: a checkable action (Ctrl+Shift+V), a status-bar indicator, the frame feed.

States: off -> waiting (switched on, no frame yet) -> on (device open, sending)
-> off. The device opens at the first frame's size, because only then is the
view's size known; the frame rate is the source's. Sending happens on the core
pacer's own thread, so neither the UI nor the inference thread waits for it.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QPushButton, QStatusBar, QWidget

from app.core.errors import LiveMatteError
from app.core.live.headless import source_fps
from app.core.live.virtual_camera import camera_view, PacedVirtualCamera, VirtualCameraSink, make_sink
from app.gui.live_worker import LiveSession

SHORTCUT = "Ctrl+Shift+V"
OFF, WAITING, ON = "off", "waiting", "on"
_STYLES = {
    OFF: "QPushButton { color: palette(text); }",
    WAITING: "QPushButton { background: #8a6d1f; color: white; border-radius: 3px; padding: 1px 6px; }",
    ON: "QPushButton { background: #2e7d32; color: white; border-radius: 3px; padding: 1px 6px; }",
}


class VirtualCameraController(QObject):
    """Owns the paced virtual camera of one live session."""

    state_changed = Signal(str)  # off / waiting / on
    failed = Signal(str)  # a message for the banner; the camera is off again
    _pacer_failed = Signal(str)  # from the pacer thread, delivered on the UI thread

    def __init__(
        self,
        session: LiveSession,
        fallback_fps: Callable[[], float],
        parent: QWidget,
        sink_factory: Callable[[], VirtualCameraSink] = make_sink,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.fallback_fps = fallback_fps  # a camera's requested rate; files report their own
        self.sink_factory = sink_factory
        self.camera: PacedVirtualCamera | None = None
        self.state = OFF
        self.action = QAction("Virtual camera", parent)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.action.setStatusTip("Send the live view to a virtual webcam (Zoom, Meet, Teams, OBS)")
        self.action.toggled.connect(self.set_enabled)
        self.indicator = QPushButton()
        self.indicator.setFlat(True)
        self.indicator.setCursor(Qt.CursorShape.PointingHandCursor)
        self.indicator.clicked.connect(self.action.toggle)
        self._pacer_failed.connect(self._fail)
        # queued to the UI thread (this object lives there): starting the device may take a moment
        session.worker.frame_ready.connect(self._on_frame)
        self._set_state(OFF)

    def install(self, menu: QMenu, status_bar: QStatusBar) -> None:
        """Adds the toggle to ``menu`` and the indicator to ``status_bar``."""
        menu.addAction(self.action)
        status_bar.addPermanentWidget(self.indicator)

    def set_enabled(self, on: bool) -> None:
        """Switches the virtual camera on (it opens at the next frame) or off."""
        if on and self.state == OFF:
            self._set_state(WAITING)
        elif not on:
            self._close()
            self._set_state(OFF)

    def shutdown(self) -> None:
        """Closes the device (window closing); leaves the toggle as it is."""
        self._close()

    def _on_frame(self, frame) -> None:
        if self.state == WAITING:
            self._open(frame.view)
        if self.state == ON and self.camera is not None:
            self.camera.submit(camera_view(frame))

    def _open(self, view) -> None:
        height, width = view.shape[:2]
        fps = source_fps(getattr(self.session.capture, "frames", None), self.fallback_fps())
        camera = PacedVirtualCamera(self.sink_factory(), fps, on_error=self._pacer_failed.emit)
        try:
            camera.start(width, height)
        except LiveMatteError as exc:
            self._fail(str(exc))
            return
        self.camera = camera
        self._set_state(ON)

    def _fail(self, message: str) -> None:
        self._close()
        self.action.blockSignals(True)  # reflect "off" without re-entering set_enabled
        self.action.setChecked(False)
        self.action.blockSignals(False)
        self._set_state(OFF)
        self.failed.emit(message)

    def _close(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            camera.stop()

    def _set_state(self, state: str) -> None:
        self.state = state
        if state == ON and self.camera is not None:
            width, height = self.camera.size
            text = f"● Virtual camera on · {width}×{height} @ {self.camera.fps:.0f} fps · {self.camera.sink.name}"
        elif state == WAITING:
            text = "◌ Virtual camera: waiting for the first frame (open a source)"
        else:
            text = "○ Virtual camera off"
        self.indicator.setText(text)
        self.indicator.setToolTip(f"Virtual camera on / off ({SHORTCUT})")
        self.indicator.setStyleSheet(_STYLES[state])
        self.state_changed.emit(state)

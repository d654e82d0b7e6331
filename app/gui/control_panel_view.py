"""The side panel: Source, Model, Background, Matte, Face overlay, Output; and the transport bar.

It only lays out controls, turns them into LiveSettings snapshots and emits
signals; it does no image work. The transport bar (play, loop, seek, time,
snapshot, record) belongs to the panel's signals but is placed by the window
under the preview, so it never scrolls out of view.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.media.sources import VIDEO_SUFFIXES
from app.core.live.settings import RATIOS, SNAPSHOT_KINDS, LiveSettings
from app.core.live.view import ViewMode

RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))
BACKGROUND_KINDS = ("transparent", "colour", "image", "video", "blur")
DEFAULT_BLUR = 25
RECORD_TEXT, RECORD_STOP_TEXT = "Record", "Stop"
PANEL_MIN_WIDTH = 240  # narrower than its content: the panel scrolls sideways rather than widen the window
# controls whose value the mouse wheel changes: only once the user has clicked/tabbed into them
WHEEL_CONTROLS = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class WheelGuard(QObject):
    """Lets the wheel scroll the panel over a control that does not have focus.

    Without it, scrolling the panel with the wheel changes whatever spin box,
    drop-down or slider passes under the pointer. The event goes to the
    panel's scroll bar instead (a control outside the panel just ignores it).
    """

    def __init__(self, area: QScrollArea) -> None:
        super().__init__(area)
        self.area = area

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, WHEEL_CONTROLS) or watched.hasFocus():
            return False
        delta = event.angleDelta()
        bar = self.area.horizontalScrollBar() if abs(delta.x()) > abs(delta.y()) else self.area.verticalScrollBar()
        if self.area.isAncestorOf(watched):
            QApplication.sendEvent(bar, event)
        return True


def time_text(seconds: float) -> str:
    """'1:05' (or '1:02:05' past an hour) for the position/duration label."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _slider(low: int, high: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    return slider


class ControlPanelView(QScrollArea):
    settings_changed = Signal(object)  # LiveSettings
    open_camera_requested = Signal()
    open_video_requested = Signal()
    open_image_requested = Signal()
    play_toggled = Signal(bool)
    seek_requested = Signal(float)  # fraction of the clip
    snapshot_requested = Signal()
    record_toggled = Signal(bool)
    models_requested = Signal()

    def __init__(self, settings: LiveSettings, matting_models: list[str], providers: list[str],
                 class_swatches: list[tuple[int, str, tuple[int, int, int]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._loading = False
        self._background_path = ""
        self._background_colour = "#00b140"
        self.transport = self._transport_bar()  # placed under the preview by the window: always in view
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self._source_group())
        layout.addWidget(self._model_group(matting_models, providers))
        layout.addWidget(self._background_group())
        layout.addWidget(self._matte_group())
        layout.addWidget(self._overlay_group(class_swatches))
        layout.addWidget(self._output_group())
        layout.addStretch(1)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setMinimumWidth(PANEL_MIN_WIDTH)
        self.wheel_guard = WheelGuard(self)
        for control in [*body.findChildren(QWidget), *self.transport.findChildren(QWidget)]:
            if isinstance(control, WHEEL_CONTROLS):
                control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel never gives focus
                control.installEventFilter(self.wheel_guard)
        self.load(settings)

    # ---- groups -------------------------------------------------------
    def _source_group(self) -> QGroupBox:
        box = QGroupBox("Source")
        form = QFormLayout(box)
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 15)
        self.resolution = QComboBox()
        for w, h in RESOLUTIONS:
            self.resolution.addItem(f"{w}x{h}")
        self.fps = QSpinBox()
        self.fps.setRange(5, 120)
        self.mirror = QCheckBox("Mirror")
        open_camera = QPushButton("Open camera")
        open_camera.clicked.connect(self.open_camera_requested)
        row = QHBoxLayout()
        open_video = QPushButton("Open video…")
        open_video.clicked.connect(self.open_video_requested)
        open_image = QPushButton("Open image…")
        open_image.clicked.connect(self.open_image_requested)
        row.addWidget(open_video)
        row.addWidget(open_image)
        form.addRow("Camera", self.camera_index)
        form.addRow("Resolution", self.resolution)
        form.addRow("FPS", self.fps)
        form.addRow(self.mirror, open_camera)
        form.addRow(row)
        for signal in (self.camera_index.valueChanged, self.resolution.currentIndexChanged, self.fps.valueChanged,
                       self.mirror.toggled, self.loop.toggled):
            signal.connect(self._emit)
        return box

    def preferred_width(self) -> int:
        """The width that shows every control without a sideways scroll bar."""
        return self.widget().sizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def _transport_bar(self) -> QWidget:
        """Play/pause, loop, seek with position/duration, snapshot and record: one row under the preview."""
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 2, 4, 2)
        self.play = QPushButton("Pause")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._play_toggled)
        self.loop = QCheckBox("Loop")
        self.seek = _slider(0, 1000)
        self.seek.setEnabled(False)  # a video file only
        self.seek.setMinimumWidth(40)
        self.seek.sliderReleased.connect(self._seek_released)
        self.time_label = QLabel("–:–– / –:––")
        self.snapshot = QPushButton("Snapshot")
        self.snapshot.setToolTip("Save a snapshot (Space)")
        self.snapshot.clicked.connect(self.snapshot_requested)
        self.record = QPushButton(RECORD_TEXT)
        self.record.setToolTip("Start / stop recording (R)")
        self.record.setCheckable(True)
        self.record.toggled.connect(self.record_toggled)
        for button in (self.play, self.snapshot, self.record):
            # narrower than the style's 80 px minimum: the row must not make the window wide
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance("Pause") + 20)
        for widget in (self.play, self.loop):
            row.addWidget(widget)
        row.addWidget(self.seek, 1)
        for widget in (self.time_label, self.snapshot, self.record):
            row.addWidget(widget)
        return bar

    def _play_toggled(self, paused: bool) -> None:
        self.play.setText("Play" if paused else "Pause")
        self.play_toggled.emit(not paused)

    def _seek_released(self) -> None:
        self.seek_requested.emit(self.seek.value() / 1000)

    def show_position(self, position: float | None, duration: float | None) -> None:
        """Moves the seek slider with playback (not while the user drags it) and shows the times."""
        seekable = bool(duration)
        self.seek.setEnabled(seekable)
        if not seekable or position is None:
            self.time_label.setText("–:–– / –:––" if not seekable else f"–:–– / {time_text(duration)}")
            return
        self.time_label.setText(f"{time_text(position)} / {time_text(duration)}")
        if not self.seek.isSliderDown():
            self.seek.blockSignals(True)
            self.seek.setValue(round(1000 * min(max(position / duration, 0.0), 1.0)))
            self.seek.blockSignals(False)

    def _model_group(self, models: list[str], providers: list[str]) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.model = QComboBox()
        self.model.addItems(models)
        self.provider = QComboBox()
        self.provider.addItems(["auto", *providers])
        self.ratio = QComboBox()
        self.ratio.addItem("auto", None)
        for r in RATIOS:
            self.ratio.addItem(f"{r:g}", r)
        self.threads = QSpinBox()
        self.threads.setRange(0, 64)
        self.threads.setSpecialValueText("auto")
        manage = QPushButton("Models…")
        manage.clicked.connect(self.models_requested)
        form.addRow("Matting model", self.model)
        form.addRow("Provider", self.provider)
        form.addRow("Internal resolution", self.ratio)
        form.addRow("CPU threads", self.threads)
        form.addRow(manage)
        for signal in (self.model.currentIndexChanged, self.provider.currentIndexChanged,
                       self.ratio.currentIndexChanged, self.threads.valueChanged):
            signal.connect(self._emit)
        return box

    def _background_group(self) -> QGroupBox:
        box = QGroupBox("Background")
        form = QFormLayout(box)
        self.background_kind = QComboBox()
        self.background_kind.addItems(BACKGROUND_KINDS)
        self.colour_button = QPushButton("Colour…")
        self.colour_button.clicked.connect(self._pick_colour)
        self.file_button = QPushButton("File…")
        self.file_button.clicked.connect(self._pick_background_file)
        self.background_label = QLabel()
        self.background_label.setWordWrap(True)
        self.blur = _slider(1, 100)
        self.blur.setValue(DEFAULT_BLUR)  # the radius offered when blur is picked, until the user sets one
        form.addRow("Kind", self.background_kind)
        row = QHBoxLayout()
        row.addWidget(self.colour_button)
        row.addWidget(self.file_button)
        form.addRow(row)
        form.addRow(self.background_label)
        form.addRow("Blur", self.blur)
        self.background_kind.currentIndexChanged.connect(self._emit)
        self.blur.valueChanged.connect(self._emit)
        box.setAcceptDrops(True)
        return box

    def _matte_group(self) -> QGroupBox:
        box = QGroupBox("Matte")
        form = QFormLayout(box)
        self.view = QComboBox()
        for mode in ViewMode:
            self.view.addItem(mode.value.replace("_", " "), mode.value)
        self.threshold_enabled = QCheckBox("Hard threshold")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.feather = QSpinBox()
        self.feather.setRange(0, 50)
        self.feather.setSuffix(" px")
        self.expand = QSpinBox()
        self.expand.setRange(-50, 50)
        self.expand.setSuffix(" px")
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setRange(0.0, 0.95)
        self.smoothing.setSingleStep(0.05)
        self.every_n = QSpinBox()
        self.every_n.setRange(0, 10)
        self.every_n.setSpecialValueText("Auto")  # shown for 0
        self.every_n.setToolTip("Auto: every frame while the model keeps up with the camera, "
                                "else every 2nd or 3rd frame with the mask moved along the motion in between")
        form.addRow("View", self.view)
        form.addRow(self.threshold_enabled, self.threshold)
        form.addRow("Feather", self.feather)
        form.addRow("Expand / shrink", self.expand)
        form.addRow("Temporal smoothing", self.smoothing)
        form.addRow("Mask every N frames", self.every_n)
        for signal in (self.view.currentIndexChanged, self.threshold_enabled.toggled, self.threshold.valueChanged,
                       self.feather.valueChanged, self.expand.valueChanged, self.smoothing.valueChanged,
                       self.every_n.valueChanged):
            signal.connect(self._emit)
        return box

    def _overlay_group(self, swatches: list[tuple[int, str, tuple[int, int, int]]]) -> QGroupBox:
        box = QGroupBox("Overlays")
        grid = QGridLayout(box)
        self.overlay_enabled = QCheckBox("Show face parsing")
        self.overlay_boxes = QCheckBox("Part boxes")
        self.skeleton = QCheckBox("Body skeleton")
        self.overlay_opacity = _slider(0, 100)
        grid.addWidget(self.overlay_enabled, 0, 0)
        grid.addWidget(self.overlay_boxes, 0, 1)
        grid.addWidget(self.skeleton, 1, 0)
        grid.addWidget(QLabel("Opacity"), 2, 0)
        grid.addWidget(self.overlay_opacity, 2, 1)
        self.class_boxes: dict[int, QCheckBox] = {}
        for i, (class_id, name, rgb) in enumerate(swatches):
            check = QCheckBox(name)
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(*rgb))
            check.setIcon(swatch)
            self.class_boxes[class_id] = check
            grid.addWidget(check, 3 + i // 2, i % 2)
            check.toggled.connect(self._emit)
        for signal in (self.overlay_enabled.toggled, self.overlay_boxes.toggled, self.overlay_opacity.valueChanged,
                       self.skeleton.toggled):
            signal.connect(self._emit)
        return box

    def _output_group(self) -> QGroupBox:
        box = QGroupBox("Output")
        form = QFormLayout(box)
        self.output_dir = QLineEdit()
        self.output_dir.editingFinished.connect(self._emit)
        browse = QPushButton("…")
        browse.setMaximumWidth(32)
        browse.clicked.connect(self._pick_output_dir)
        row = QHBoxLayout()
        row.addWidget(self.output_dir)
        row.addWidget(browse)
        form.addRow("Folder", row)
        kinds = QGridLayout()
        self.snapshot_boxes: dict[str, QCheckBox] = {}
        for i, kind in enumerate(SNAPSHOT_KINDS):
            check = QCheckBox({"rgba": "RGBA cut-out", "labels": "label map", "json": "JSON"}.get(kind, kind))
            check.toggled.connect(self._emit)
            self.snapshot_boxes[kind] = check
            kinds.addWidget(check, i // 2, i % 2)  # two columns keep the panel narrow
        form.addRow("Snapshot", kinds)
        return box

    # ---- settings <-> widgets -------------------------------------------
    def load(self, s: LiveSettings) -> None:
        self._loading = True
        try:
            self.camera_index.setValue(s.camera_index)
            index = self.resolution.findText(f"{s.camera_width}x{s.camera_height}")
            self.resolution.setCurrentIndex(max(index, 0))
            self.fps.setValue(s.camera_fps)
            self.mirror.setChecked(s.mirror)
            self.loop.setChecked(s.loop_video)
            self.model.setCurrentIndex(max(self.model.findText(s.model), 0))
            self.provider.setCurrentIndex(max(self.provider.findText(s.provider), 0))
            self.ratio.setCurrentIndex(max(self.ratio.findData(s.ratio), 0))
            self.threads.setValue(s.threads)
            self._load_background(s.background)
            self.view.setCurrentIndex(max(self.view.findData(s.view), 0))
            self.threshold_enabled.setChecked(s.threshold_enabled)
            self.threshold.setValue(s.threshold)
            self.feather.setValue(s.feather)
            self.expand.setValue(s.expand)
            self.smoothing.setValue(s.smoothing)
            self.every_n.setValue(s.every_n)
            self.overlay_enabled.setChecked(s.overlay_enabled)
            self.overlay_boxes.setChecked(s.overlay_boxes)
            self.skeleton.setChecked(s.skeleton_enabled)
            self.overlay_opacity.setValue(round(s.overlay_opacity * 100))
            for class_id, check in self.class_boxes.items():
                check.setChecked(class_id in s.overlay_classes)
            self.output_dir.setText(s.output_dir)
            for kind, check in self.snapshot_boxes.items():
                check.setChecked(kind in s.snapshot_kinds)
        finally:
            self._loading = False
        self._settings = s
        self._update_background_label()

    def _load_background(self, spec: str) -> None:
        lowered = spec.lower()
        if lowered in ("transparent", "none"):
            kind = "transparent"
        elif lowered.startswith("blur"):
            kind = "blur"
            self.blur.setValue(int(lowered.partition(":")[2] or DEFAULT_BLUR))
        elif Path(spec).suffix.lower() in VIDEO_SUFFIXES:
            kind, self._background_path = "video", spec
        elif Path(spec).suffix and not spec.startswith("#"):
            kind, self._background_path = "image", spec
        else:
            kind, self._background_colour = "colour", spec
        self.background_kind.setCurrentText(kind)

    def background_spec(self) -> str:
        kind = self.background_kind.currentText()
        if kind == "blur":
            return f"blur:{self.blur.value()}"
        if kind == "colour":
            return self._background_colour
        if kind in ("image", "video") and self._background_path:
            return self._background_path
        return "transparent"

    def current(self) -> LiveSettings:
        width, height = (int(v) for v in self.resolution.currentText().split("x"))
        return self._settings.replace(
            camera_index=self.camera_index.value(), camera_width=width, camera_height=height,
            camera_fps=self.fps.value(), mirror=self.mirror.isChecked(), loop_video=self.loop.isChecked(),
            model=self.model.currentText(), provider=self.provider.currentText(), ratio=self.ratio.currentData(),
            threads=self.threads.value(), background=self.background_spec(), view=self.view.currentData(),
            threshold_enabled=self.threshold_enabled.isChecked(), threshold=self.threshold.value(),
            feather=self.feather.value(), expand=self.expand.value(), smoothing=self.smoothing.value(),
            every_n=self.every_n.value(), overlay_enabled=self.overlay_enabled.isChecked(),
            overlay_opacity=self.overlay_opacity.value() / 100, overlay_boxes=self.overlay_boxes.isChecked(),
            skeleton_enabled=self.skeleton.isChecked(),
            overlay_classes=tuple(c for c, check in self.class_boxes.items() if check.isChecked()),
            output_dir=self.output_dir.text().strip() or self._settings.output_dir,
            snapshot_kinds=tuple(k for k, check in self.snapshot_boxes.items() if check.isChecked()),
        )

    def _emit(self, *_: object) -> None:
        if self._loading:
            return
        self._settings = self.current()
        self._update_background_label()
        self.settings_changed.emit(self._settings)

    def _update_background_label(self) -> None:
        kind = self.background_kind.currentText()
        self.colour_button.setEnabled(kind == "colour")
        self.file_button.setEnabled(kind in ("image", "video"))
        self.blur.setEnabled(kind == "blur")
        text = {"colour": self._background_colour, "image": self._background_path or "(choose a file)",
                "video": self._background_path or "(choose a file)"}.get(kind, "")
        self.background_label.setText(text)

    # ---- pickers ------------------------------------------------------------
    def set_background_file(self, path: str, kind: str = "image") -> None:
        self._background_path = path
        self.background_kind.setCurrentText(kind)
        self._emit()

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(self._background_colour), self, "Background colour")
        if colour.isValid():
            self._background_colour = colour.name()
            self._emit()

    def _pick_background_file(self) -> None:
        kind = self.background_kind.currentText()
        filters = "Videos (*.mp4 *.mov *.mkv *.webm *.avi)" if kind == "video" else "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff)"
        path, _ = QFileDialog.getOpenFileName(self, "Background", "", filters)
        if path:
            self.set_background_file(path, kind)

    def _pick_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_dir.text())
        if folder:
            self.output_dir.setText(folder)
            self._emit()

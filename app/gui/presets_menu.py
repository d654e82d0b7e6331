"""The Presets menu: apply a named settings set, save the current one, delete or find your own.

Rebuilt each time it opens, so presets added or edited by hand show up; the
preset that matches the current settings is ticked.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from app.core.errors import PresetError
from app.core.live.settings import LiveSettings
from app.core.live.presets import Preset, PresetStore


class PresetsMenu(QObject):
    """Fills ``menu``; emits ``applied`` with the new settings when a preset is picked."""

    applied = Signal(object)  # LiveSettings
    failed = Signal(str)
    saved = Signal(str)  # a message for the status bar

    def __init__(self, menu: QMenu, store: PresetStore, current: Callable[[], LiveSettings], parent: QWidget) -> None:
        super().__init__(parent)
        self.menu = menu
        self.store = store
        self.current = current
        self.parent_widget = parent
        menu.aboutToShow.connect(self.rebuild)
        self.rebuild()  # so shortcuts and tests find the actions before it is first opened

    def rebuild(self) -> None:
        menu = self.menu
        menu.clear()
        settings = self.current()
        presets = self.store.list()
        users = [p for p in presets if not p.builtin]
        for i, preset in enumerate(presets):
            if i and not preset.builtin and presets[i - 1].builtin:
                menu.addSeparator()  # built-ins above, yours below
            action = menu.addAction(preset.name)
            action.setCheckable(True)
            action.setChecked(preset.matches(settings))
            action.setToolTip(preset.description)
            action.setStatusTip(preset.description)
            action.triggered.connect(lambda _=False, name=preset.name: self.apply(name))
        menu.addSeparator()
        menu.addAction("Save current as preset…").triggered.connect(lambda: self.save_current())
        delete = menu.addMenu("Delete preset")
        delete.setEnabled(bool(users))
        for preset in users:
            delete.addAction(preset.name).triggered.connect(lambda _=False, name=preset.name: self.delete(name))
        menu.addAction("Open presets folder").triggered.connect(self.open_folder)

    def actions_by_name(self) -> dict[str, QAction]:
        return {a.text(): a for a in self.menu.actions() if a.isCheckable()}

    def apply(self, name: str) -> LiveSettings | None:
        """Applies the named preset over the current settings and emits ``applied``."""
        try:
            settings = self.store.get(name).apply(self.current())
        except PresetError as exc:
            self.failed.emit(str(exc))
            return None
        self.applied.emit(settings)
        return settings

    def save_current(self, name: str | None = None) -> None:
        """Saves the current look under ``name`` (asked for when None); asks before replacing one of yours."""
        if name is None:
            name, ok = QInputDialog.getText(self.parent_widget, "Save preset", "Name of the new preset:")
            if not ok or not name.strip():
                return
        overwrite = False
        if self.store.exists(name):
            answer = QMessageBox.question(self.parent_widget, "Replace preset?", f"Replace your preset '{name}'?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        try:
            path = self.store.save(Preset.from_settings(name, self.current()), overwrite=overwrite)
        except (PresetError, OSError) as exc:
            self.failed.emit(f"Cannot save preset: {exc}")
            return
        self.rebuild()
        self.saved.emit(f"Preset '{name.strip()}' saved to {path}")

    def delete(self, name: str) -> None:
        try:
            self.store.delete(name)
        except (PresetError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self.rebuild()

    def open_folder(self) -> None:
        self.store.folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.store.folder)))

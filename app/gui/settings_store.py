"""Where the desktop app keeps its settings: ``settings.ini`` in the one LiveMatte config folder.

The presets live in the same folder (``presets/``). Earlier versions kept the
app's settings in Qt's default place (``~/.config/LiveMatte/LiveMatte.conf`` on
Linux, the registry on Windows); they are copied over once, on the first start
that finds no settings file, and the old copy is left as it was.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.core.live.presets import config_dir

SETTINGS_FILE = "settings.ini"
LEGACY_ORGANIZATION = LEGACY_APPLICATION = "LiveMatte"


def legacy_store() -> QSettings:
    """The settings where versions before the shared folder kept them."""
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, LEGACY_ORGANIZATION, LEGACY_APPLICATION)


def open_settings_store(folder: Path | None = None, legacy: QSettings | None = None) -> QSettings:
    """The app's settings file in ``folder`` (default: the config folder), filled from ``legacy`` if new."""
    path = (folder or config_dir()) / SETTINGS_FILE
    is_new = not path.exists()
    store = QSettings(str(path), QSettings.Format.IniFormat)
    if is_new:
        old = legacy if legacy is not None else legacy_store()
        keys = old.allKeys()
        for key in keys:
            store.setValue(key, old.value(key))
        if keys:
            store.sync()
    return store

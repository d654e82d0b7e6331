"""Entry point of the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.gui.main_window import MainWindow


def run_app(argv: list[str] | None = None, models_dir: str | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("LiveMatte")
    app.setOrganizationName("LiveMatte")
    window = MainWindow(QSettings("LiveMatte", "LiveMatte"), models_dir)
    window.resize(1400, 820)
    window.show()
    return app.exec()

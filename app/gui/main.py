"""Entry point of the desktop app."""

from __future__ import annotations

import sys

from app.gui.qt_libs import missing_libraries_message


def run_app(argv: list[str] | None = None, models_dir: str | None = None) -> int:
    missing = missing_libraries_message()  # before Qt loads its platform plugin and aborts without a hint
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.gui.settings_store import open_settings_store

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("LiveMatte")
    app.setOrganizationName("LiveMatte")
    window = MainWindow(open_settings_store(), models_dir)
    window.resize(1400, 820)
    window.show()
    return app.exec()

"""Entry point of the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.gui.binding_check import check_binding


def run_app(argv: list[str] | None = None, models_dir: str | None = None) -> int:
    """Runs the desktop app until its window closes; returns the exit code.

    Refuses to start (one line on stderr, ``BINDING_EXIT_CODE``) on a Qt
    binding that leaks a reference per signal: it would crash mid-session.
    """
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("LiveMatte")
    app.setOrganizationName("LiveMatte")
    problem = check_binding()
    if problem is not None:
        print(problem.message, file=sys.stderr)
        return problem.exit_code
    from app.gui.main_window import MainWindow  # after the check: nothing is built on a broken binding

    window = MainWindow(QSettings("LiveMatte", "LiveMatte"), models_dir)
    window.resize(1400, 820)
    window.show()
    return app.exec()

"""Entry point of the desktop app."""

from __future__ import annotations

import sys

from app.gui.qt_libs import missing_libraries_message


def run_app(argv: list[str] | None = None, models_dir: str | None = None) -> int:
    """Runs the desktop app until its window closes; returns the exit code.

    Refuses to start with one line on stderr when Qt's X11 system libraries are
    missing (exit code 1; checked before Qt loads its platform plugin and aborts
    without a hint), or on a Qt binding that leaks a reference per signal
    (``BINDING_EXIT_CODE``: it would crash mid-session).
    """
    missing = missing_libraries_message()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from app.gui.binding_check import check_binding

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("LiveMatte")
    app.setOrganizationName("LiveMatte")
    problem = check_binding()
    if problem is not None:
        print(problem.message, file=sys.stderr)
        return problem.exit_code
    from app.gui.main_window import MainWindow  # after the check: nothing is built on a broken binding
    from app.gui.settings_store import open_settings_store

    window = MainWindow(open_settings_store(), models_dir)
    window.resize(1400, 820)
    window.show()
    return app.exec()

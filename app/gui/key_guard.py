"""Single-key shortcuts (R, P, F, 1-4, Space) yield to the control that has focus.

The window's shortcuts are application-wide, so without this guard typing
"blur" into a drop-down's keyboard search started a recording (R). Qt asks the
focused widget first with a ShortcutOverride event; this filter answers "the
widget wants this key" for plain printable keys while a text or choice control
(or an open drop-down list) has focus. Keys with Ctrl/Alt/Meta, and function
keys, still reach the shortcuts.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit

TYPING_CONTROLS = (QComboBox, QAbstractSpinBox, QLineEdit, QTextEdit, QPlainTextEdit, QAbstractItemView)
GUARD_NAME = "livematte-single-key-guard"
COMMAND_MODIFIERS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                     | Qt.KeyboardModifier.MetaModifier)


def is_typing_key(event) -> bool:
    """A key that types or picks something (letters, digits, space), not a command chord."""
    if event.modifiers() & COMMAND_MODIFIERS:
        return False
    text = event.text()
    return bool(text) and text.isprintable()


class SingleKeyGuard(QObject):
    """Install on the QApplication: sees the ShortcutOverride sent to whichever widget has focus."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(watched, TYPING_CONTROLS)
                and is_typing_key(event)):
            event.accept()  # the key goes to the control as a normal key press
            return True
        return False


def install(app: QObject) -> SingleKeyGuard:
    """The one guard of ``app`` (a QApplication), created on first use and owned by it.

    Owned by the application rather than by a window, so no window's teardown
    (possibly by the garbage collector on another thread) removes a filter the
    application is running.
    """
    guard = app.findChild(SingleKeyGuard, GUARD_NAME)
    if guard is None:
        guard = SingleKeyGuard(app)
        guard.setObjectName(GUARD_NAME)
        app.installEventFilter(guard)
    return guard

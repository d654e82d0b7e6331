"""Start-up self-check of the Qt binding: refuse to start on one that leaks a reference per signal.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every
``Signal.emit`` to a connected slot; after enough frames the interpreter
aborts (``Fatal Python error: bool_dealloc``), minutes or hours into a
session. The dependency pins keep that combination out of a normal install;
this check catches it anyway (an old environment, a hand-installed wheel) in
well under a millisecond, before the window is built.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

PROBE_EMITS = 300
BINDING_EXIT_CODE = 25  # distinct from every LiveMatteError exit code
FIX = 'pip install "PySide6-Essentials<6.12"'


class _Sender(QObject):
    ping = Signal(str)


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(str)
    def take(self, _text: str) -> None:
        self.count += 1


def true_references_lost(emits: int = PROBE_EMITS) -> int:
    """How many references to ``True`` ``emits`` signal emissions to a connected slot took away.

    0 on a sound binding (on Python 3.12+ ``True`` is immortal and its count never moves).
    """
    sender, receiver = _Sender(), _Receiver()
    sender.ping.connect(receiver.take)  # same thread: a direct call, no event loop needed
    before = sys.getrefcount(True)
    for _ in range(emits):
        sender.ping.emit("probe")
    after = sys.getrefcount(True)
    sender.ping.disconnect(receiver.take)
    lost = before - after
    if lost > 0:
        _give_back_true(lost)
    return lost


def _give_back_true(count: int) -> None:
    """Returns the references a leaking binding took from ``True`` during the probe.

    Without this the interpreter aborts while shutting down (``bool_dealloc``)
    and the user gets a crash instead of the one-line refusal and its exit code.
    """
    import ctypes

    for _ in range(count):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


@dataclass(frozen=True)
class BindingProblem:
    """Why this Qt binding cannot run the app, in one line naming the fix."""

    message: str
    exit_code: int = BINDING_EXIT_CODE


def check_binding(emits: int = PROBE_EMITS) -> BindingProblem | None:
    """None when signals keep reference counts; else what to install instead.

    Half the emits as the limit: the leak is exactly one per emit, while other
    threads creating and dropping booleans move the count by a few at most.
    """
    lost = true_references_lost(emits)
    if lost < emits // 2:
        return None
    import PySide6

    return BindingProblem(
        f"livematte: PySide6 {PySide6.__version__} on Python {sys.version_info.major}.{sys.version_info.minor} "
        f"loses a reference on every Qt signal ({lost} in {emits}) and would crash the app; "
        f"install a working version: {FIX}"
    )

"""The start-up self-check: the app refuses to start on a Qt binding whose signals leak references."""

from __future__ import annotations

import sys

import pytest

import app.gui.binding_check as binding_check
from app.gui import main as gui_main
from app.gui.binding_check import BINDING_EXIT_CODE, PROBE_EMITS, check_binding, true_references_lost


class _WindowSpy:
    """Stands in for MainWindow: records whether run_app got as far as building it."""

    built = 0

    def __init__(self, *args, **kwargs) -> None:
        type(self).built += 1

    def resize(self, *args) -> None:
        pass

    def show(self) -> None:
        pass


@pytest.fixture
def window_spy(monkeypatch):
    _WindowSpy.built = 0
    monkeypatch.setattr("app.gui.main_window.MainWindow", _WindowSpy)
    return _WindowSpy


def test_the_installed_binding_keeps_references(qapp):
    """Fails on PySide6 6.12.0 + Python 3.11 (the pins keep it out): the probe sees the real leak."""
    assert abs(true_references_lost()) < PROBE_EMITS // 2
    assert check_binding() is None


def test_a_leaking_binding_is_refused_with_one_line_naming_the_fix(qapp, monkeypatch, capsys, window_spy):
    monkeypatch.setattr(binding_check, "true_references_lost", lambda emits=PROBE_EMITS: emits)
    assert gui_main.run_app([]) == BINDING_EXIT_CODE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert 'pip install "PySide6-Essentials<6.12"' in err[0]
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in err[0]
    assert window_spy.built == 0  # refused before the window is built


def test_a_few_stray_references_are_not_a_leak(qapp, monkeypatch, window_spy):
    """Other threads move True's count a little; only a loss near one per emit is the bug."""
    monkeypatch.setattr(binding_check, "true_references_lost", lambda emits=PROBE_EMITS: 3)
    assert check_binding() is None


def test_a_sound_binding_starts_the_window(qapp, monkeypatch, window_spy):
    monkeypatch.setattr(binding_check, "true_references_lost", lambda emits=PROBE_EMITS: 0)
    monkeypatch.setattr(type(qapp), "exec", lambda self: 0)
    assert gui_main.run_app([]) == 0
    assert window_spy.built == 1


def test_the_exit_code_is_not_one_of_the_error_codes():
    import app.core.errors as errors

    codes = {cls.exit_code for cls in vars(errors).values() if isinstance(cls, type) and hasattr(cls, "exit_code")}
    assert BINDING_EXIT_CODE not in codes


LEAKING_APP = """
import ctypes, sys
import app.gui.binding_check as binding_check

def leaking_take(self, text):  # what PySide6 6.12.0 on Python 3.11 does on every emit
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(True))

binding_check._Receiver.take = leaking_take
from app.gui.main import run_app
sys.exit(run_app([]))
"""


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12: nothing can leak")
def test_a_really_leaking_binding_exits_with_the_code_not_a_crash(tmp_path):
    """The probe gives back what the binding took: the process ends with the refusal, not bool_dealloc."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", LEAKING_APP], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == BINDING_EXIT_CODE, done.stderr
    assert "Fatal Python error" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith('pip install "PySide6-Essentials<6.12"')

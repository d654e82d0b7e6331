"""app.core must stay Qt-free: the engine is importable without a GUI toolkit."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import app.core


def test_core_never_imports_qt_or_front_ends():
    modules = [m.name for m in pkgutil.walk_packages(app.core.__path__, "app.core.")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'app.gui', 'app.cli'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

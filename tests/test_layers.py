"""The layers hold at run time too (pyproject's import-linter contracts check the source):
app.core is importable without a GUI toolkit or a front end, and the command line
does not load the desktop app or the service until it needs them."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import app.core


def _loaded_after(imports: str, prefixes: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, sys\n"
        f"{imports}\n"
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out)


def test_core_never_imports_qt_or_front_ends():
    modules = [m.name for m in pkgutil.walk_packages(app.core.__path__, "app.core.")]
    imports = f"for m in {modules!r}: importlib.import_module(m)"
    assert _loaded_after(imports, ("PySide6", "app.gui", "app.cli", "app.service", "app.main")) == []


def test_command_line_loads_no_other_front_end():
    imports = "import app.main, app.cli; app.cli.build_parser()"
    assert _loaded_after(imports, ("PySide6", "app.gui", "app.service")) == []

"""The launcher: ``livematte`` and ``python -m app`` start here.

The one module that knows every front end: it hands the desktop app's and the
HTTP service's run functions to the command line, so ``app.cli``, ``app.gui``
and ``app.service`` never import each other. Both are imported only when used,
so ``livematte --help`` loads neither.
"""

from __future__ import annotations

from typing import Sequence

from app.cli import FrontEnds
from app.cli import main as cli_main
from app.cli.common import GuiRunner, ServiceRunner


def _load_gui() -> GuiRunner:
    from app.gui.main import run_app

    return run_app


def _load_service() -> ServiceRunner:
    from app.service.server import serve

    return serve


FRONT_ENDS = FrontEnds(gui=_load_gui, service=_load_service)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``livematte`` console script: the command line with the desktop app and the service."""
    return cli_main(argv, FRONT_ENDS)

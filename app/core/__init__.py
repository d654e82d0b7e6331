"""Qt-free engine: media in and out, pixel maths, models, pipelines, the live view.

One package per domain, lowest first: ``errors``/``timing``, ``media``, ``imaging``,
``models``, ``body``, ``matting``, ``face`` | ``video``, ``live``, ``measure``; a package
imports only those below it. Nothing under ``app.core`` may import PySide6, ``app.gui``,
``app.cli`` or ``app.service`` (import-linter contracts in pyproject.toml).
"""

"""Qt-free engine: image I/O, models, pipelines, compositing and writers.

Nothing under ``app.core`` may import PySide6, ``app.gui`` or ``app.cli``.
"""

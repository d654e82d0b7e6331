"""Measuring LiveMatte: quality against annotated truth (``eval``) and speed (``bench``).

``metrics`` scores mattes against human-annotated masks; ``eval`` runs the
real export and live pipelines over annotated sequences and scores them;
``bench`` times the real live pipeline per stage. Qt-free, like the rest of
``app.core``.
"""

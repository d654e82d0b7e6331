"""Measuring LiveMatte: quality against annotated truth and speed.

``metrics`` scores mattes against human-annotated masks; ``eval`` runs the
real export and live pipelines over annotated sequences and scores them;
``face_eval`` scores face parsing against annotated label maps; ``bench``
times the real live pipeline per stage. Qt-free, like the rest of ``app.core``.
"""

"""The Models dialog: every manifest model with its status, and downloads with progress.

The dialog only lays out and reacts. The work (download, resume, local
conversion, hash and contract checks) is :mod:`app.core.models.fetch`, run on
Python threads. Each thread reports through a parentless QObject whose signals
reach the UI thread queued; the Python object lives as long as its thread, so
a download that outlives the dialog never touches a deleted widget, and its Qt
half is deleted on the UI thread once its last signal is delivered. Those signals
carry the model name and connect to bound methods of the dialog only: a lambda
or a partial has no thread affinity, so Qt would run it on the worker thread.

Closing the dialog only hides it: downloads go on, and reopening shows them.
Licences are shown (column, tooltip, the message after a download), never a
gate: GPL-3.0 needs no acceptance to receive or run a copy.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import DownloadCancelledError, LiveMatteError
from app.core.models.fetch import (
    FetchResult,
    Progress,
    Verification,
    downloadable_files,
    fetch_model,
    licence_notice,
    verify_file,
)
from app.core.models.manifest import ModelSpec, load_manifest
from app.core.models.store import FoundWeights, find_weights, missing_message, search_locations, user_models_dir

COLUMNS = ("Model", "Task", "Licence", "Size", "Status", "Location", "")
MODEL, TASK, LICENCE, SIZE, STATUS, LOCATION, ACTION = range(len(COLUMNS))
ROW_HEIGHT = 34
MAX_ROWS_SHOWN = 14  # beyond that the table scrolls rather than outgrowing a laptop screen
PROGRESS_STEPS = 1000  # QProgressBar holds an int; bytes of a large file would overflow it
STATUS_COLOURS = {"missing": "#b3261e", "CORRUPT": "#b3261e", "verified": "#1e7d32", "contract ok": "#1e7d32"}
ERROR_COLOUR = "#b3261e"


# ---- background jobs ------------------------------------------------------------------


class _FetchJob(QObject):
    """One :func:`fetch_model` call on a daemon thread; ``cancel`` stops it between chunks."""

    progress = Signal(str, object)  # model, Progress
    finished = Signal(str, object)  # model, FetchResult
    failed = Signal(str, str)  # model, a user-facing message
    cancelled = Signal(str, str)  # model, message

    def __init__(self, name: str, spec: ModelSpec, dest_dir: Path | None) -> None:
        super().__init__()  # no parent: the thread keeps it alive, not the dialog
        self.name = name
        self.spec = spec
        self.dest_dir = dest_dir
        self.cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fetch-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            result = fetch_model(self.spec, dest_dir=self.dest_dir, progress=self._report, cancel=self.cancel)
        except DownloadCancelledError as exc:
            self.cancelled.emit(self.name, str(exc))
        except LiveMatteError as exc:
            self.failed.emit(self.name, str(exc))
        except Exception as exc:  # noqa: BLE001  (a bug in one download must not take the app down)
            self.failed.emit(self.name, f"download of model '{self.spec.name}' failed unexpectedly: {exc!r}")
        else:
            self.finished.emit(self.name, result)

    def _report(self, progress: Progress) -> None:
        self.progress.emit(self.name, progress)


class _VerifyJob(QObject):
    """Checks present files (hash and tensor contract) on a daemon thread; ORT loads are slow."""

    verified = Signal(str, int, object)  # model name, row token, Verification
    done = Signal(object)  # this job

    def __init__(self, work: list[tuple[str, ModelSpec, FoundWeights, int]]) -> None:
        super().__init__()
        self.work = work
        self._thread = threading.Thread(target=self._run, name="verify-models", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        for name, spec, found, token in self.work:
            try:
                check = verify_file(spec, found.path, found.file)
            except Exception as exc:  # noqa: BLE001  (an unreadable file is a status, not a crash)
                check = Verification(spec.name, found.path, False, "unknown", str(exc))
            self.verified.emit(name, token, check)
        self.done.emit(self)


def _delete_when_done(job: QObject, *last_signals: SignalInstance) -> None:
    """Deletes ``job``'s Qt half on the UI thread once its last signal was delivered.

    A failed download's traceback keeps the worker's frames (and so the job) in a
    reference cycle; left to the garbage collector, the QObject could be freed on
    whichever thread collects, which crashes Qt. Connected after the dialog's own
    slots, so those run first.
    """
    for signal in last_signals:
        signal.connect(job.deleteLater)


# ---- the dialog -------------------------------------------------------------------------


@dataclass
class _Row:
    """What one table row shows and the widgets of its action cell."""

    index: int
    download: QPushButton
    progress: QProgressBar
    cancel: QPushButton
    found: FoundWeights | None = None
    check: Verification | None = None
    token: int = 0  # bumped on every refresh so a late verification of an old file is ignored


class ModelsDialog(QDialog):
    """Lists the manifest models and downloads missing ones.

    Args:
        models_dir: the ``--models-dir`` the app runs with (first in the search order).
        dest_dir: where downloads go; default the user cache folder.
        specs: the models to list (name -> spec); default the manifest. Tests pass
            specs whose URLs point at a local server.
        parent: the owning window.
    """

    models_changed = Signal()  # a download put new weights on disk
    download_progress = Signal(str, object)  # model name, Progress
    refreshed = Signal()  # every present file of the last refresh has been checked

    def __init__(
        self,
        models_dir: str | None = None,
        *,
        dest_dir: str | Path | None = None,
        specs: dict[str, ModelSpec] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.models_dir = models_dir
        self.dest_dir = Path(dest_dir) if dest_dir is not None else None
        self.specs = dict(specs) if specs is not None else load_manifest()
        self.jobs: dict[str, _FetchJob] = {}
        self.messages: dict[str, tuple[str, bool]] = {}  # model -> (text, is_error)
        self._verifying: set[_VerifyJob] = set()
        self._build()
        # downloads still running when the window goes away stop cleanly; the part file resumes later
        self.destroyed.connect(partial(_cancel_all, self.jobs))
        self.refresh()

    # ---- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.table = self._build_table()
        self.rows = {name: self._build_row(i, name) for i, name in enumerate(self.specs)}
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.where = QLabel(self._locations_text())
        self.where.setWordWrap(True)
        self.where.setStyleSheet("color: palette(mid);")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_all = QPushButton("Download all missing")
        self.download_all.clicked.connect(self.download_missing)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self._refresh_all)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_all)
        buttons.addWidget(refresh)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.where)
        layout.addLayout(buttons)
        self.resize(980, self.sizeHint().height())

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(len(self.specs), len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)  # room for the buttons in the action cell
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # paths: keep the file name visible
        header = table.horizontalHeader()
        for column in (MODEL, TASK, LICENCE, SIZE, STATUS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(LOCATION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ACTION, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(ACTION, 230)
        # tall enough for every row: a scroll bar would hide models behind the messages below
        shown = min(len(self.specs), MAX_ROWS_SHOWN)
        table.setMinimumHeight(header.sizeHint().height() + ROW_HEIGHT * shown + 2 * table.frameWidth())
        return table

    def _build_row(self, index: int, name: str) -> _Row:
        spec = self.specs[name]
        title = f"{spec.title}\n{spec.homepage}" if spec.homepage else spec.title
        model = self._set_text(index, MODEL, name, title)
        bold = QFont(model.font())
        bold.setBold(True)
        model.setFont(bold)
        self._set_text(index, TASK, spec.task.replace("_", " "))
        self._set_text(index, LICENCE, spec.licence, licence_notice(spec))
        row = _Row(index, QPushButton("Download"), QProgressBar(), QPushButton("Cancel"))
        row.download.clicked.connect(partial(self.download, name))
        row.cancel.clicked.connect(partial(self.cancel, name))
        row.progress.setTextVisible(True)
        self.table.setCellWidget(index, ACTION, _action_cell(row))
        return row

    def _set_text(self, row: int, column: int, text: str, tooltip: str = "") -> QTableWidgetItem:
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(row, column, item)
        item.setText(text)
        item.setToolTip(tooltip or text)
        return item

    def _locations_text(self) -> str:
        order = " → ".join(f"{loc.path} ({loc.origin})" for loc in search_locations(self.models_dir))
        return f"Looked up in: {order}.  Downloads go to: {self.dest_dir or user_models_dir()}"

    # ---- state ----------------------------------------------------------------------
    def refresh(self, names: list[str] | None = None) -> None:
        """Looks for the weights again and checks the present ones in the background."""
        work = []
        for name in names or list(self.specs):
            spec, row = self.specs[name], self.rows[name]
            row.found = find_weights(spec, self.models_dir)
            row.check = None
            row.token += 1
            if row.found is not None:
                work.append((name, spec, row.found, row.token))
            self._show_row(name)
        self.where.setText(self._locations_text())
        self._update_footer()
        if work:
            self._verify(work)
        elif not self._verifying:
            self.refreshed.emit()

    def _refresh_all(self) -> None:
        self.refresh()

    def status_text(self, name: str) -> str:
        """The Status cell of ``name`` (what a user reads; tests read it too)."""
        row = self.rows[name]
        if name in self.jobs:
            return "downloading"
        if row.found is None:
            return "missing"
        return row.check.summary if row.check is not None else "checking…"

    def _show_row(self, name: str) -> None:
        row, spec = self.rows[name], self.specs[name]
        found = row.found
        self._set_text(row.index, SIZE, f"{found.path.stat().st_size / 1e6:.1f} MB" if found else "–")
        status = self.status_text(name)
        item = self._set_text(row.index, STATUS, status, self._status_tooltip(name))
        colour = STATUS_COLOURS.get(status)
        item.setForeground(QBrush(QColor(colour)) if colour else QBrush())
        where = f"{found.path.name}  ({found.origin})" if found else ""
        self._set_text(row.index, LOCATION, where, str(found.path) if found else missing_message(spec, self.models_dir))
        self._show_action(name)

    def _status_tooltip(self, name: str) -> str:
        check = self.rows[name].check
        if check is None or check.ok:
            return "SHA-256 matches and the tensor contract is right" if check and check.hash_status == "match" else ""
        return check.problem or ""

    def _show_action(self, name: str) -> None:
        row, spec = self.rows[name], self.specs[name]
        running = name in self.jobs
        broken = row.check is not None and not row.check.ok
        row.download.setVisible(not running and (row.found is None or broken))
        row.download.setText("Download again" if broken else "Download")
        row.download.setEnabled(bool(downloadable_files(spec)))
        row.download.setToolTip(
            f"from {spec.download_url}" if spec.download_url else "no download is known for this model"
        )
        row.progress.setVisible(running)
        row.cancel.setVisible(running)

    def _update_footer(self) -> None:
        self.download_all.setEnabled(bool(self._missing_downloadable()))
        lines = [
            f'<span style="color:{ERROR_COLOUR}">{html.escape(text)}</span>' if error else html.escape(text)
            for text, error in self.messages.values()
        ]
        self.message.setText("<br>".join(lines))
        self.message.setVisible(bool(lines))
        self._fit_height()

    def _fit_height(self) -> None:
        # wrapped labels only report their height for a given width, which the dialog's
        # minimum size ignores: grow by hand so new messages never cover the table
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _missing_downloadable(self) -> list[str]:
        return [
            name for name, row in self.rows.items()
            if row.found is None and name not in self.jobs and downloadable_files(self.specs[name])
        ]

    # ---- verification ---------------------------------------------------------------
    def _verify(self, work: list[tuple[str, ModelSpec, FoundWeights, int]]) -> None:
        job = _VerifyJob(work)
        job.verified.connect(self._on_verified)
        job.done.connect(self._on_verify_done)
        _delete_when_done(job, job.done)
        self._verifying.add(job)
        job.start()

    def _on_verified(self, name: str, token: int, check: Verification) -> None:
        row = self.rows[name]
        if token == row.token:  # else the row was refreshed since: a newer check is on its way
            row.check = check
            self._show_row(name)

    def _on_verify_done(self, job: _VerifyJob) -> None:
        self._verifying.discard(job)
        if not self._verifying:
            self.refreshed.emit()

    # ---- downloads ------------------------------------------------------------------
    def download(self, name: str) -> bool:
        """Starts downloading ``name``; False when it is already downloading."""
        spec = self.specs[name]
        if name in self.jobs:
            return False
        job = _FetchJob(name, spec, self.dest_dir)
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        _delete_when_done(job, job.finished, job.failed, job.cancelled)
        self.jobs[name] = job
        self.messages.pop(name, None)
        row = self.rows[name]
        row.progress.setRange(0, 0)  # busy until the server says how large the file is
        row.progress.setFormat("connecting…")
        self._show_row(name)
        self._update_footer()
        job.start()
        return True

    def download_missing(self) -> None:
        """Downloads every missing model that has a URL."""
        for name in self._missing_downloadable():
            self.download(name)

    def cancel(self, name: str) -> None:
        job = self.jobs.get(name)
        if job is not None:
            job.cancel.set()
            self.rows[name].progress.setFormat("cancelling…")

    def cancel_all(self) -> None:
        _cancel_all(self.jobs)

    def _on_progress(self, name: str, progress: Progress) -> None:
        bar = self.rows[name].progress
        self.download_progress.emit(name, progress)
        if progress.total:
            bar.setRange(0, PROGRESS_STEPS)
            bar.setValue(round(PROGRESS_STEPS * (progress.fraction or 0.0)))
        if progress.total and progress.done >= progress.total:
            bar.setFormat("checking…")  # fetch_model loads the file once more before renaming it
        elif progress.total:
            bar.setFormat(f"{progress.done / 1e6:.1f} / {progress.total / 1e6:.1f} MB")
        else:
            bar.setFormat(f"{progress.done / 1e6:.1f} MB")

    def _on_finished(self, name: str, result: FetchResult) -> None:
        self.jobs.pop(name, None)
        how = "SHA-256 checked" if result.hash_checked else "contract checked"
        verb = "downloaded to" if result.downloaded else "already present at"
        if result.converted_from:
            verb = f"converted from {result.converted_from} to"
        notice = f" {licence_notice(self.specs[name])}" if result.downloaded else ""
        self.messages[name] = (f"{name}: {verb} {result.path} ({how}).{notice}", False)
        self.refresh([name])
        if result.downloaded:
            self.models_changed.emit()

    def _on_failed(self, name: str, message: str) -> None:
        self.jobs.pop(name, None)
        self.messages[name] = (message, True)
        self.refresh([name])

    def _on_cancelled(self, name: str, message: str) -> None:
        self.jobs.pop(name, None)
        self.messages[name] = (f"{name}: download cancelled; Download resumes it.", False)
        self.refresh([name])


def _action_cell(row: _Row) -> QWidget:
    cell = QWidget()
    layout = QHBoxLayout(cell)
    layout.setContentsMargins(4, 1, 4, 1)
    layout.addWidget(row.download)
    layout.addWidget(row.progress, 1)
    layout.addWidget(row.cancel)
    layout.addStretch(0)  # keeps a lone Download button at its natural width, on the left
    row.progress.hide()
    row.cancel.hide()
    return cell


def _cancel_all(jobs: dict[str, _FetchJob]) -> None:
    for job in list(jobs.values()):
        job.cancel.set()

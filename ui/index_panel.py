"""The index status panel and the one-at-a-time batch reindex behind its button."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from core.config import Config
from core.errors import FootageSearchError, MissingFileError
from core.index_status import IndexStatus
from core.registry import CameraRegistry
from core.schema import PURGED_PREFIX
from ui.formatting import date_time

ProgressFn = Callable[[int, int, float], None]


class ReindexBusyError(FootageSearchError, RuntimeError):
    """A reindex started from this console is still running."""


def status_html(status: IndexStatus, registry: CameraRegistry) -> str:
    """What the index holds, as a small table per camera (cameras the registry lists but the index lacks too)."""
    if not status.exists:
        return (f'<div class="fs-status fs-status-empty"><b>No index yet</b> at '
                f"<code>{escape(status.index_uri)}</code>. Index an archive (button below, or "
                "<code>footage-search index ARCHIVE</code>) before searching.</div>")
    tz = ZoneInfo(status.timezone)
    covered = {c.camera_id: c for c in status.cameras}
    rows = []
    for cam in sorted(registry, key=lambda c: (c.district, c.camera_id)):
        c = covered.get(cam.camera_id)
        if c is None:
            rows.append(f"<tr class=fs-missing><td>{escape(cam.camera_id)}</td><td>{escape(cam.district)}</td>"
                        "<td colspan=3>not indexed</td></tr>")
            continue
        rows.append(f"<tr><td>{escape(cam.camera_id)}</td><td>{escape(cam.district)}</td><td>{c.videos}</td>"
                    f"<td>{c.footage_s / 60:.1f} min</td>"
                    f"<td>{escape(date_time(c.first, tz))} – {escape(date_time(c.last, tz)[11:])}</td></tr>")
    for c in status.cameras:
        if c.camera_id not in registry:
            rows.append(f"<tr><td>{escape(c.camera_id)}</td><td><i>not in registry</i></td><td>{c.videos}</td>"
                        f"<td>{c.footage_s / 60:.1f} min</td><td>{escape(date_time(c.first, tz))}</td></tr>")
    no_vec = (f" ({status.sightings_without_vectors} without CLIP vectors: text search uses colours only)"
              if status.sightings_without_vectors else "")
    # a purge marks emptied videos failed (so the indexer leaves them alone): not failures to fix
    real = [(p, e) for p, e in status.failures if not e.startswith(PURGED_PREFIX)]
    n_purged = len(status.failures) - len(real)
    failures = "".join(f"<li><code>{escape(p)}</code>: {escape(e)}</li>" for p, e in real[:20])
    purged = f" ({n_purged} purged by retention)" if n_purged else ""
    return (
        '<div class="fs-status">'
        f"<p><b>Index</b> <code>{escape(status.index_uri)}</code><br>"
        f"<b>CLIP model</b> {escape(status.clip_model or 'none (sightings have no CLIP vectors)')}<br>"
        f"<b>Videos</b> {status.videos_done} indexed, "
        + (f"{status.videos_partial} partly (case-mode windows), " if status.videos_partial else "")
        + f"{status.videos_failed - n_purged} failed{purged} · "
        f"<b>Footage</b> {status.footage_s / 3600:.2f} h · <b>Sightings</b> {status.sightings}{escape(no_vec)}</p>"
        "<table class=fs-table><tr><th>Camera</th><th>District</th><th>Videos</th><th>Footage</th>"
        f"<th>Coverage ({escape(status.timezone)})</th></tr>{''.join(rows)}</table>"
        + (f"<p><b>Failed files</b></p><ul>{failures}</ul>" if failures else "")
        + "</div>"
    )


@dataclass
class Reindexer:
    """Runs ``indexer.batch.run_index`` for the configured archive, one run at a time per console.

    A second console or a CLI indexer on the same index is refused by the indexer's own lock file
    (:class:`indexer.lock.IndexBusyError`); this lock only keeps two operators of one console from
    queueing runs behind each other.
    """

    cfg: Config
    registry: CameraRegistry
    archive: Path | None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    progress: ReindexProgress | None = None  # the last run started from this console (running or ended)

    def run(self, on_progress: ProgressFn | None = None):
        """Reindex now, in this thread (the CLI-like path; the console uses :meth:`start`)."""
        self._acquire()
        try:
            return self._run(on_progress)
        finally:
            self._lock.release()

    def start(self, on_end: Callable[[ReindexProgress], None] | None = None) -> ReindexProgress:
        """Reindex in a background thread; its progress (and then its result) is in the returned object."""
        self._acquire()
        progress = self.progress = ReindexProgress(started=time.time())

        def work() -> None:
            try:
                progress.summary = self._run(progress.update)
            except Exception as exc:  # shown in the tab; FootageSearchErrors are worded for the operator
                progress.error = str(exc) or type(exc).__name__
            finally:
                progress.finished = time.time()
                self._lock.release()
                if on_end is not None:
                    on_end(progress)

        threading.Thread(target=work, name="fs-reindex", daemon=True).start()
        return progress

    def _acquire(self) -> None:
        if self.archive is None:
            raise MissingFileError("no archive configured for reindexing: start the console with --archive FOLDER")
        if not self.archive.is_dir():
            raise MissingFileError(f"archive folder not found: {self.archive}")
        if not self._lock.acquire(blocking=False):
            raise ReindexBusyError("a reindex is already running; wait for it to finish")

    def _run(self, on_progress: ProgressFn | None):
        from indexer.batch import BatchOptions, run_index

        assert self.archive is not None
        return run_index(self.archive, self.cfg, self.registry, BatchOptions(progress=False, parent_indexes=False),
                         on_progress=on_progress)


@dataclass
class ReindexProgress:
    """What a reindex started from the console has done so far, in footage terms, like the CLI's bar."""

    started: float
    total: int = 0  # files to index (known when the first one is done)
    done: int = 0
    footage_s: float = 0.0
    first_done: float = 0.0
    finished: float = 0.0
    summary: object | None = None  # indexer.progress.BatchSummary
    error: str = ""

    @property
    def running(self) -> bool:
        return not self.finished

    def update(self, done: int, total: int, footage_s: float) -> None:
        self.first_done = self.first_done or time.time()
        self.done, self.total, self.footage_s = done, total, footage_s

    def eta_s(self, now: float) -> float | None:
        """Seconds left at the pace so far (None before the first file is done)."""
        if not self.done or not self.total:
            return None
        return (now - self.started) / self.done * (self.total - self.done)


def reindex_progress_html(p: ReindexProgress | None, now: float | None = None) -> str:
    """The Index tab's progress while a reindex runs, then its result with every failure listed."""
    if p is None:
        return ""
    now = now or time.time()
    elapsed = _minutes((p.finished or now) - p.started)
    if p.running:
        if not p.done:
            what = ("looking for new and changed videos, loading the models and analysing the first file"
                    if not p.total else f"analysing the first of {p.total} files")
            return (f'<div class="fs-msg fs-msg-info" role="status"><b>Reindex running</b> ({elapsed} so far): '
                    f'{what}…<div class="fs-bar fs-bar-busy"><span></span></div></div>')
        rate = p.footage_s / 3600 / max((now - p.started) / 60, 1e-6)
        eta = p.eta_s(now)
        pct = 100 * p.done / max(p.total, 1)
        return (f'<div class="fs-msg fs-msg-info" role="status"><b>Reindex running</b>: {p.done}/{p.total} files · '
                f"{p.footage_s / 3600:.2f} h of footage indexed ({rate:.2f} footage-h/min) · {elapsed} so far"
                + (f" · about {_minutes(eta)} left" if eta is not None else "")
                + f'<div class="fs-bar"><span style="width:{pct:.0f}%"></span></div></div>')
    if p.error:
        return (f'<div class="fs-msg fs-msg-error" role="alert"><b>Reindex failed</b> after {elapsed}: '
                f"{escape(_readable(p.error))}</div>")
    summary = p.summary
    failed = list(getattr(summary, "failed", []))
    skipped = list(getattr(summary, "skipped", []))
    lines = [line for line in summary.lines() if not line.startswith(("FAILED ", "SKIPPED "))]  # type: ignore[attr-defined]
    body = "<br>".join(escape(_readable(line)) for line in lines)
    if failed:
        body += (f"<p><b>{len(failed)} file(s) failed</b> (they stay as they were; fix them and reindex):</p><ul>"
                 + "".join(f"<li><code>{escape(f.path)}</code>: {escape(_readable(f.reason))}</li>" for f in failed)
                 + "</ul>")
    if skipped:
        body += (f"<p><b>{len(skipped)} file(s) skipped</b> (not indexable):</p><ul>"
                 + "".join(f"<li><code>{escape(f.path)}</code>: {escape(f.reason)}</li>" for f in skipped) + "</ul>")
    kind = "warn" if failed else "ok"
    return f'<div class="fs-msg fs-msg-{kind}" role="status"><b>Reindex finished</b> in {elapsed}.<br>{body}</div>'


def _readable(text: str) -> str:
    # the indexer's messages are written for a terminal; the console's operator sees no log
    return text.replace("see the log above", "the details are in the console's server log")


def _minutes(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"

"""The index status panel and the one-at-a-time batch reindex behind its button."""

from __future__ import annotations

import threading
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

    def run(self, on_progress: ProgressFn | None = None):
        from indexer.batch import BatchOptions, run_index

        if self.archive is None:
            raise MissingFileError("no archive configured for reindexing: start the console with --archive FOLDER")
        if not self.archive.is_dir():
            raise MissingFileError(f"archive folder not found: {self.archive}")
        if not self._lock.acquire(blocking=False):
            raise ReindexBusyError("a reindex is already running; wait for it to finish")
        try:
            return run_index(self.archive, self.cfg, self.registry, BatchOptions(progress=False),
                             on_progress=on_progress)
        finally:
            self._lock.release()

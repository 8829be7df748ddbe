"""Retention: ``footage-search purge --older-than DAYS`` removes people seen longer ago than that.

What a purge does, holding the indexer lock (no index run writes meanwhile):

1. **videos** whose footage ended before the cutoff are marked ``failed`` with an error that starts
   with ``purged`` (date, age, how to undo). The batch indexer does not retry a failed file that is
   unchanged, so a later ``footage-search index`` does not silently bring purged footage back;
   ``index --retry-failed`` (or a changed file) does, on purpose. Videos that straddle the cutoff stay
   ``done`` (or ``partial``) with their recent sightings (their count is updated). The ``coverage``
   rows (windowed indexing) of the videos purged whole are deleted; a straddling video keeps its
   coverage, like its status, so the purged part is not analysed again either.
2. **sightings** that started before the cutoff and **frames** taken before it are deleted.
3. The tables are compacted with deletions materialised and old versions removed, so the purged
   thumbnails and descriptions are gone from disk, not only hidden.
4. Pictures the console wrote of purged sightings (thumbnails, frames, strips) and any console cache
   file older than the cutoff (exported reports included) are deleted.
5. The purge (or dry run) is written to the audit log.

Searches running at the moment of step 3 may fail once (their table version disappears); run purges
in a quiet hour.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config
from core.index_db import IndexDB, sql_in
from core.schema import COVERAGE, FRAMES, PURGED_PREFIX, SIGHTINGS, VIDEO_STATUS_FAILED, VIDEOS

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.auth import Identity

log = logging.getLogger(__name__)

DAY_S = 86_400.0


def is_purged(status: str, error: str) -> bool:
    """Whether a ``videos`` row was emptied by a purge (rather than failing to index)."""
    return status == VIDEO_STATUS_FAILED and error.startswith(PURGED_PREFIX)


@dataclass
class PurgeReport:
    older_than_days: float
    cutoff: float  # epoch seconds: footage before this goes
    dry_run: bool
    sightings: int = 0
    frames: int = 0
    videos_purged: list[str] = field(default_factory=list)  # archive-relative paths
    videos_trimmed: int = 0  # straddling the cutoff: older sightings gone, newer kept
    cache_files: int = 0
    physically_removed: bool = False  # deletions rewritten out of the data files, old versions removed
    purged_ids: list[str] = field(default_factory=list, repr=False)

    def lines(self) -> list[str]:
        cut = datetime.fromtimestamp(self.cutoff, UTC).strftime("%Y-%m-%d %H:%M UTC")
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{'DRY RUN: ' if self.dry_run else ''}footage older than {self.older_than_days:g} days "
               f"(before {cut}): {verb} {self.sightings} sightings, {self.frames} frame vectors, "
               f"{len(self.videos_purged)} whole videos (+{self.videos_trimmed} partly), "
               f"{self.cache_files} console cache files"]
        if not self.dry_run and (self.sightings or self.frames) and not self.physically_removed:
            out.append("warning: deleted rows are hidden but may remain in data files until the next compaction "
                       "(install pylance for an immediate rewrite)")
        if self.videos_purged and not self.dry_run:
            out.append("purged videos are not reindexed by `footage-search index` unless they change or "
                       "you pass --retry-failed")
        return out

    def to_audit(self) -> dict:
        d = asdict(self)
        d.pop("purged_ids")
        d["videos_purged"] = len(self.videos_purged)
        return d


def purge(cfg: Config, older_than_days: float, *, dry_run: bool = False, cache_dirs: Sequence[Path] = (),
          audit: AuditLog | None = None, actor: Identity | None = None, now: float | None = None,
          wait_s: float = 0.0) -> PurgeReport:
    from indexer.lock import indexer_lock

    if older_than_days <= 0:
        raise ValueError("--older-than must be a positive number of days")
    now = time.time() if now is None else now
    report = PurgeReport(older_than_days, now - older_than_days * DAY_S, dry_run)
    with indexer_lock(cfg.storage.index_uri, wait_s=wait_s):
        db = IndexDB.open(cfg.storage, must_exist=True)
        _purge_index(db, report)
    report.cache_files = _purge_caches(cache_dirs, set(report.purged_ids), report.cutoff, dry_run)
    if audit is not None:
        audit.write("purge_dry_run" if dry_run else "purge", actor, details=report.to_audit())
    return report


def _purge_index(db: IndexDB, report: PurgeReport) -> None:
    cutoff = repr(float(report.cutoff))
    sightings = db.table(SIGHTINGS)
    old = (sightings.search().where(f"t_start < {cutoff}").select(["sighting_id", "video_id"])
           .limit(None).to_arrow())
    report.sightings = old.num_rows
    report.purged_ids = old.column("sighting_id").to_pylist()
    frames_where = f"t < {cutoff}"
    has_frames = db.has_table(FRAMES)
    if has_frames:
        report.frames = db.table(FRAMES).count_rows(frames_where)

    videos = db.table(VIDEOS).to_arrow().select(["video_id", "path", "status", "error", "start_time",
                                                  "duration_s"]).to_pylist()
    whole = [v for v in videos if v["start_time"] + v["duration_s"] < report.cutoff
             and not is_purged(v["status"], v["error"])]
    report.videos_purged = [v["path"] for v in whole]
    whole_ids = {v["video_id"] for v in whole}
    trimmed = sorted(set(old.column("video_id").to_pylist()) - whole_ids)
    report.videos_trimmed = len(trimmed)
    if report.dry_run:
        return

    day = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")
    # Videos first: if the purge dies before the deletes, the next index run removes the sightings of
    # these no-longer-done videos as a killed run's orphans, and a rerun of purge finishes the job.
    if whole_ids:
        if db.has_table(COVERAGE):
            db.table(COVERAGE).delete(sql_in("video_id", sorted(whole_ids)))
        db.table(VIDEOS).update(where=sql_in("video_id", sorted(whole_ids)), values={
            "status": VIDEO_STATUS_FAILED, "n_sightings": 0,
            "error": f"{PURGED_PREFIX}{day}: footage older than {report.older_than_days:g} days (retention); "
                     "`footage-search index --retry-failed` indexes it again"})
    if report.sightings:
        sightings.delete(f"t_start < {cutoff}")
    if report.frames:
        db.table(FRAMES).delete(frames_where)
    for vid in trimmed:
        left = sightings.count_rows(sql_in("video_id", [vid]))
        db.table(VIDEOS).update(where=sql_in("video_id", [vid]), values={"n_sightings": left})
    if report.sightings or report.frames or whole_ids:
        report.physically_removed = _rewrite_without_deleted(db, [SIGHTINGS, VIDEOS] + ([FRAMES] if has_frames
                                                                                      else []))


def _rewrite_without_deleted(db: IndexDB, names: list[str]) -> bool:
    """Compact with every deletion materialised, then drop old versions, so purged bytes leave the disk.

    A plain optimize() only rewrites fragments with more than 10% of rows deleted; a purged person's
    thumbnail in a mostly-kept fragment would stay on disk behind a deletion mask.
    """
    rewritten = True
    for name in names:
        table = db.table(name)
        try:
            table.to_lance().optimize.compact_files(materialize_deletions=True, materialize_deletions_threshold=0.0)
            table.checkout_latest()
        except (ImportError, AttributeError, NotImplementedError) as exc:  # no pylance: best effort
            log.warning("cannot rewrite %s without its deleted rows (%s); compacting normally", name, exc)
            rewritten = False
        with warnings.catch_warnings():
            # LanceDB warns that readers of older versions may fail: known and documented (module doc)
            warnings.filterwarnings("ignore", message=r"optimize\(cleanup_older_than=0\)")
            table.optimize(cleanup_older_than=timedelta(0), delete_unverified=False)
    return rewritten


def _purge_caches(cache_dirs: Sequence[Path], purged_ids: set[str], cutoff: float, dry_run: bool) -> int:
    from ui.thumbnails import purge_cache  # the console owns its cache layout

    return sum(purge_cache(Path(d), purged_ids, cutoff, dry_run=dry_run) for d in cache_dirs)

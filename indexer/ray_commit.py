"""The Ray engine's write path: workers write Lance fragments, the driver commits them in batches.

A worker writes a finished video's sightings (and frames) as data files of the table with
:func:`write_video_fragments`; that changes no table, because a Lance table is exactly what its
latest manifest lists and nothing lists these files yet. The worker sends the fragments' metadata
to the driver with the video's :class:`~indexer.store.VideoOutcome`. The driver alone commits, a
batch of videos at a time (:class:`BatchCommitter`), in the order :mod:`indexer.store` uses per
video:

1. delete the batch's old rows (only videos the ``videos`` table already knew can have any);
2. append every fragment of the batch: one ``LanceOperation.Append`` commit per table;
3. upsert the batch's ``videos`` rows (``done`` / ``failed``) in one ``merge_insert``.

So a driver killed anywhere leaves either nothing of a batch, or rows whose video is not ``done``
(removed by the next run's :meth:`~indexer.store.SightingStore.remove_orphans`, then redone), or a
finished batch. Fragments of videos that never reached step 2 (a killed driver, a retried Ray task,
a worker that died) are referenced by no manifest and stay invisible; :func:`sweep_stray_files`
deletes such files once they are old enough to belong to no live writer.

Batching trades commit overhead against redone work: every commit writes a manifest version and
re-reads the table's metadata, so one commit per video would, at city scale, cost more than the
appends themselves and leave millions of versions to clean up; a kill loses at most one batch of
finished-but-uncommitted videos, which the next run indexes again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa

from core.config import StorageConfig
from core.schema import FRAMES, SIGHTINGS
from indexer.pipeline import VideoResult
from indexer.run_plan import keeps_previous_version
from indexer.store import SightingStore, VideoOutcome, VideoRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FragmentTarget:
    """Where workers write: the tables' dataset URIs and how to reach them (picklable)."""

    sightings_uri: str
    frames_uri: str  # "" when the index keeps no frame vectors
    storage_options: dict[str, str]
    data_storage_version: str

    @classmethod
    def of(cls, store: SightingStore, storage: StorageConfig) -> FragmentTarget:
        import lance

        sightings_uri = store.db.table(SIGHTINGS).uri
        frames_uri = store.db.table(FRAMES).uri if store.db.has_table(FRAMES) else ""
        options = dict(storage.storage_options)
        version = lance.dataset(sightings_uri, storage_options=options or None).data_storage_version
        return cls(sightings_uri, frames_uri, options, version)


@dataclass
class VideoReport:
    """What a worker sends the driver for one video: its outcome and its uncommitted fragments."""

    outcome: VideoOutcome
    sightings: list[Any] = field(default_factory=list)  # lance.fragment.FragmentMetadata
    frames: list[Any] = field(default_factory=list)
    clip_error: str = ""


def write_video_fragments(result: VideoResult, digest: str, target: FragmentTarget,
                          clip_error: str = "") -> VideoReport:
    """Write one video's rows as new, uncommitted fragments (worker side)."""
    report = VideoReport(VideoOutcome.of(result, digest), clip_error=clip_error)
    if not result.ok:
        return report
    report.sightings = _write(result.sightings, target.sightings_uri, target)
    if result.frames is not None and result.frames.num_rows:
        if not target.frames_uri:
            raise RuntimeError("frame vectors were made but the index has no frames table")
        report.frames = _write(result.frames, target.frames_uri, target)
    return report


def _write(rows: pa.Table | None, uri: str, target: FragmentTarget) -> list[Any]:
    if rows is None or not rows.num_rows:
        return []
    from lance.fragment import write_fragments

    return write_fragments(rows, uri, schema=rows.schema, storage_options=target.storage_options or None,
                           data_storage_version=target.data_storage_version)


class BatchCommitter:
    """Collects workers' reports and commits them a batch at a time (driver side)."""

    def __init__(self, store: SightingStore, target: FragmentTarget, config_version: str,
                 records: dict[str, VideoRecord], every_videos: int, every_s: float,
                 covered: set[str] | None = None):
        self.store = store
        self.target = target
        self.config_version = config_version
        # videos that may have rows from an earlier version or run (or windows analysed before)
        self.known = set(records) | (covered or set())
        self.covered = covered or set()
        self.records = records
        self.every_videos = max(1, every_videos)
        self.every_s = every_s
        self.pending: list[VideoReport] = []
        self.seen: set[str] = set()
        self.commits = 0
        self.write_s = 0.0
        self._since = time.monotonic()

    def add(self, report: VideoReport) -> bool:
        """Queue a report; returns False for a repeat (a retried Ray task), which is dropped."""
        vid = report.outcome.video.video_id
        if vid in self.seen:
            log.warning("dropping a second result for %s (a retried task); its fragments stay unreferenced",
                        report.outcome.video.rel_path)
            return False
        self.seen.add(vid)
        self.pending.append(report)
        if len(self.pending) >= self.every_videos or time.monotonic() - self._since >= self.every_s:
            self.flush()
        return True

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        self._since = time.monotonic()
        if not batch:
            return
        t0 = time.perf_counter()
        done = [r for r in batch if r.outcome.ok]
        stale = sorted(r.outcome.video.video_id for r in done if r.outcome.video.video_id in self.known)
        if stale:
            self.store.delete_rows(stale)
        self._append(self.target.sightings_uri, [f for r in done for f in r.sightings])
        if self.target.frames_uri:
            self._append(self.target.frames_uri, [f for r in done for f in r.frames])
        self.store.upsert_videos([r.outcome.video_row(self.config_version) for r in batch
                                  if not keeps_previous_version(r.outcome.error,
                                                                self.records.get(r.outcome.video.video_id))])
        self.store.delete_coverage(sorted(r.outcome.video.video_id for r in done
                                          if r.outcome.video.video_id in self.covered))
        claimed = next((r.outcome.clip_model for r in done if r.outcome.clip_model and r.outcome.n_sightings), "")
        if claimed:
            self.store.claim_model(claimed)
        self.known.update(r.outcome.video.video_id for r in batch)
        self.commits += 1
        self.write_s += time.perf_counter() - t0

    def _append(self, uri: str, fragments: list[Any]) -> None:
        if not fragments:
            return
        import lance

        opts = self.target.storage_options or None
        current = lance.dataset(uri, storage_options=opts)
        # Append commutes with other appends and deletes, so a concurrent commit only costs a retry.
        lance.LanceDataset.commit(uri, lance.LanceOperation.Append(fragments), read_version=current.version,
                                  storage_options=opts)


def sweep_stray_files(target: FragmentTarget, older_than: timedelta) -> int:
    """Delete data files no manifest references (fragments of killed workers or drivers) and
    versions older than ``older_than``; returns how many bytes were freed.

    Only safe when no other writer can be mid-write on files older than ``older_than``: the indexer
    lock guarantees that for a local index; on object storage it rests on the one-indexer rule.
    """
    import lance

    freed = 0
    for uri in (target.sightings_uri, target.frames_uri):
        if uri:
            ds = lance.dataset(uri, storage_options=target.storage_options or None)
            stats = ds.cleanup_old_versions(older_than=older_than, delete_unverified=True)
            freed += int(stats.bytes_removed)
    return freed

"""Writing index results to LanceDB so that a crash at any point loses nothing and duplicates nothing.

Per video, each step one atomic Lance commit:

1. its new sightings (and frames) go in: appended for a video never indexed before; for a video being
   redone, swapped for the old rows in a single merge (insert new, delete the video's rows not in the
   new set), so a concurrent search sees the old sightings or the new ones, never neither;
2. its ``videos`` row is upserted with ``status = done``.

A run killed between 1 and 2 leaves rows whose video is not ``done``; the next run deletes them
(:meth:`SightingStore.remove_orphans`) and indexes the video again. Readers see whole commits only.

A window of a video (:meth:`SightingStore.commit_window`, case mode) commits in the same spirit:

1. its sightings (ids ``{video_id}@{t0_ms}:{track}:{segment}``, so rerunning the window replaces them)
   and frames are merged in, replacing only that window's earlier rows (or, when the video's coverage
   is stale - another config_version or a changed file - every older row of the video, in the same
   commit);
2. the video's ``coverage`` row is upserted with the window merged into its spans;
3. its ``videos`` row is upserted ``partial``, or ``done`` once the spans cover the whole file.

A run killed between 1 and 2 leaves rows whose window start is not inside the video's coverage; the
next run deletes exactly those. A window that is analysed is never inside coverage when it starts
(only uncovered gaps are analysed), so its start being covered is the proof that step 2 happened.

The Ray engine (:mod:`indexer.ray_commit`) keeps the same order for a batch of videos at a time:
one delete, one append of the fragments its workers wrote, one ``videos`` upsert.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc

from core import intervals as iv
from core.index_db import IndexDB, sql_in, sql_str
from core.schema import (
    COVERAGE,
    COVERAGE_SCHEMA,
    FRAMES,
    META_CLIP_DIM,
    META_CLIP_MODEL,
    META_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SIGHTINGS,
    VIDEO_STATUS_DONE,
    VIDEO_STATUS_FAILED,
    VIDEO_STATUS_PARTIAL,
    VIDEOS,
    VIDEOS_SCHEMA,
    SightingField,
    frames_schema,
    sighting_id,
    sighting_window,
    sightings_schema,
)
from indexer.archive import VideoFile
from indexer.coverage import CoverageRecord
from indexer.decode import VideoInfo
from indexer.pipeline import VideoResult
from indexer.window_overlap import TWIN_COLUMNS, twins

log = logging.getLogger(__name__)

SCALAR_INDEX_MIN_ROWS = 1_000
MAX_ANN_PARTITIONS = 1024
VECTOR_INDEX_MIN_ROWS = 20_000


@dataclass
class VideoRecord:
    """What the ``videos`` table knows about one file."""

    video_id: str
    path: str
    size_bytes: int
    mtime: float
    content_hash: str
    status: str
    config_version: str
    n_sightings: int
    duration_s: float = 0.0


@dataclass
class VideoOutcome:
    """What indexing one video produced, without its rows: enough to record it and count it.

    The local engine derives it from the :class:`VideoResult` it holds; Ray workers send it to the
    driver instead of the rows, which they write to storage themselves.
    """

    video: VideoFile
    info: VideoInfo | None
    decoder: str
    seconds: dict[str, float]
    content_hash: str
    error: str = ""
    n_sightings: int = 0
    n_without_vectors: int = 0
    clip_model: str = ""  # identity of the model that made this video's vectors ("" if none did)
    detector: str = ""
    n_sampled: int = 0
    n_gated: int = 0

    @property
    def ok(self) -> bool:
        return not self.error

    @classmethod
    def of(cls, result: VideoResult, content_hash: str) -> VideoOutcome:
        out = cls(result.video, result.info, result.decoder, dict(result.seconds), content_hash,
                  error=result.error, n_sampled=result.n_sampled, n_gated=result.n_gated)
        rows = result.sightings
        if rows is not None and rows.num_rows:
            models = [m for m in rows.column(SightingField.CLIP_MODEL).to_pylist() if m]
            out.clip_model = models[0] if models else ""
            out.detector = rows.column(SightingField.DETECTOR)[0].as_py()
            out.n_sightings = rows.num_rows
            out.n_without_vectors = rows.num_rows - len(models)
        return out

    def video_row(self, config_version: str) -> dict:
        """This video's ``videos`` row: ``done`` with its sightings, or ``failed`` with the reason."""
        info = self.info
        return {
            "video_id": self.video.video_id,
            "path": self.video.rel_path,
            "camera_id": self.video.camera_id,
            "size_bytes": self.video.size_bytes,
            "mtime": self.video.mtime,
            "content_hash": self.content_hash,
            "start_time": self.video.start_time,
            "duration_s": float(info.duration_s) if info else 0.0,
            "fps": float(info.fps) if info else 0.0,
            "width": int(info.width) if info else 0,
            "height": int(info.height) if info else 0,
            "status": VIDEO_STATUS_DONE if self.ok else VIDEO_STATUS_FAILED,
            "error": self.error,
            "n_sightings": self.n_sightings if self.ok else 0,
            "config_version": config_version,
            "clip_model": self.clip_model if self.ok else "",
            "detector": self.detector,
            "decoder": self.decoder,
            "stage_seconds": json.dumps({k: round(v, 4) for k, v in self.seconds.items()}),
            "indexed_at": time.time(),
        }


def ann_partitions(rows: int) -> int:
    """IVF partitions: sqrt(rows) as Lance suggests, capped so training stays minutes, not hours, on a
    small CPU box (k-means cost grows with partitions x sample size). With the search's 64 probes a
    1024-partition index still reads ~6% of a table's codes."""
    return max(16, min(MAX_ANN_PARTITIONS, int(math.sqrt(rows))))


class SightingStore:
    def __init__(self, db: IndexDB, dim: int):
        self.db = db
        self.dim = dim

    # -- setup ---------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        if not self.db.has_table(SIGHTINGS):
            self.db.db.create_table(SIGHTINGS, schema=sightings_schema(self.dim))
        if not self.db.has_table(VIDEOS):
            self.db.db.create_table(VIDEOS, schema=VIDEOS_SCHEMA)
        if not self.db.has_table(COVERAGE):  # indexes made before windowed indexing lack it
            self.db.db.create_table(COVERAGE, schema=COVERAGE_SCHEMA)
        meta = self.db.meta()
        updates = {}
        if META_SCHEMA_VERSION not in meta:
            updates[META_SCHEMA_VERSION] = SCHEMA_VERSION
        if META_CLIP_DIM not in meta:
            updates[META_CLIP_DIM] = str(self.dim)
        if updates:
            self.db.set_meta(updates)

    def drop_all(self) -> None:
        for name in self.db.db.table_names():
            self.db.db.drop_table(name)

    # -- reading -------------------------------------------------------------------------------
    def video_records(self) -> dict[str, VideoRecord]:
        if not self.db.has_table(VIDEOS):
            return {}
        cols = ["video_id", "path", "size_bytes", "mtime", "content_hash", "status", "config_version",
                "n_sightings", "duration_s"]
        rows = self.db.table(VIDEOS).to_arrow().select(cols).to_pylist()
        return {r["video_id"]: VideoRecord(**r) for r in rows}

    def coverage_records(self) -> dict[str, CoverageRecord]:
        if not self.db.has_table(COVERAGE):
            return {}
        rows = self.db.table(COVERAGE).to_arrow().drop_columns(["updated_at"]).to_pylist()
        return {r["video_id"]: CoverageRecord(**{**r, "spans": [tuple(x) for x in r["spans"]]}) for r in rows}

    # -- writing -------------------------------------------------------------------------------
    def delete_rows(self, video_ids: list[str]) -> None:
        """Delete these videos' sightings and frames (one commit per table)."""
        where = sql_in("video_id", video_ids)
        for name in (SIGHTINGS, FRAMES):
            if self.db.has_table(name):
                self.db.table(name).delete(where)

    def commit_video(self, result: VideoResult, content_hash: str, config_version: str,
                     clip_model: str, *, replacing: bool = True) -> int:
        """Replace everything stored for this video with ``result``; returns sightings written.

        ``replacing`` (the video was indexed before): old and new rows are swapped in one commit, so a
        search running meanwhile sees the old sightings or the new ones, never neither. A video never
        seen before only needs an append."""
        video = result.video
        n = result.sightings.num_rows if result.sightings is not None else 0
        self._put(SIGHTINGS, SightingField.SIGHTING_ID, video.video_id, result.sightings, replacing)
        if result.frames is not None and result.frames.num_rows and not self.db.has_table(FRAMES):
            self.db.db.create_table(FRAMES, schema=frames_schema(self.dim))
        if self.db.has_table(FRAMES):
            self._put(FRAMES, "frame_id", video.video_id, result.frames, replacing)
        outcome = VideoOutcome.of(result, content_hash)
        outcome.clip_model = clip_model
        self.upsert_videos([outcome.video_row(config_version)])
        if clip_model and n:
            self.claim_model(clip_model)
        if replacing:  # windows analysed before are now part of the whole-file rows just swapped in
            self.delete_coverage([video.video_id])
        return n

    def commit_window(self, result: VideoResult, config_version: str, clip_model: str) -> int:
        """Merge one analysed window of a video into the index (see the module doc for the order);
        returns the sightings it wrote."""
        video, (t0, t1) = result.video, result.window
        vid = video.video_id
        old = self.coverage_records().get(vid)
        keep = old is not None and old.valid_for(video, config_version)
        spans = iv.merge([*(old.spans if keep else []), (t0, t1)])
        everything = f"video_id = {sql_str(vid)}"
        mine = f"{everything} AND sighting_id LIKE {sql_str(sighting_id(vid, 0, 0, t0).rsplit(':', 2)[0] + ':%')}"
        rows = result.sightings
        if keep and rows is not None and rows.num_rows:
            # A person two windows' trackers both followed is kept once (indexer/window_overlap.py).
            end = max(rows.column(SightingField.OFFSET_END_S).to_pylist())
            near = (self.db.table(SIGHTINGS).search()
                    .where(f"{everything} AND offset_end_s >= {float(t0) - 1.0!r} AND offset_start_s <= {end!r}")
                    .select(list(TWIN_COLUMNS)).limit(None).to_arrow())
            drop, twins_of_later = twins(rows, t0, near)
            if drop:
                rows = rows.filter(pc.invert(pc.is_in(rows.column(SightingField.TRACK_ID),
                                                      pa.array(sorted(drop), pa.int32()))))
            if twins_of_later:
                mine = f"({mine}) OR {sql_in(SightingField.SIGHTING_ID, twins_of_later)}"
        self._merge(SIGHTINGS, SightingField.SIGHTING_ID, rows, mine if keep else everything)
        if result.frames is not None and result.frames.num_rows and not self.db.has_table(FRAMES):
            self.db.db.create_table(FRAMES, schema=frames_schema(self.dim))
        if self.db.has_table(FRAMES):
            in_window = f"{everything} AND offset_s >= {float(t0)!r} AND offset_s < {float(t1)!r}"
            self._merge(FRAMES, "frame_id", result.frames, in_window if keep else everything)
        duration = float(result.info.duration_s) if result.info else t1
        cov = CoverageRecord(vid, video.camera_id, video.rel_path, video.start_time, duration, video.size_bytes,
                             video.mtime, config_version, spans)
        data = pa.Table.from_pylist([{**cov.__dict__, "spans": [list(x) for x in spans], "updated_at": time.time()}],
                                    schema=COVERAGE_SCHEMA)
        (self.db.table(COVERAGE).merge_insert("video_id").when_matched_update_all()
         .when_not_matched_insert_all().execute(data))
        outcome = VideoOutcome.of(result, "")
        outcome.clip_model = clip_model
        row = outcome.video_row(config_version)
        row["status"] = VIDEO_STATUS_PARTIAL if cov.gaps() else VIDEO_STATUS_DONE
        row["n_sightings"] = self.db.table(SIGHTINGS).count_rows(everything)
        self.upsert_videos([row])
        n = rows.num_rows if rows is not None else 0
        if clip_model and n:
            self.claim_model(clip_model)
        return n

    def _merge(self, name: str, key: str, rows: pa.Table | None, replaced: str) -> None:
        """Insert ``rows`` and delete the rows matching ``replaced`` that are not among them, in one commit."""
        table = self.db.table(name)
        if rows is None or rows.num_rows == 0:
            table.delete(replaced)
            return
        (table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all()
         .when_not_matched_by_source_delete(replaced).execute(rows))

    def mark_done(self, video_ids: list[str]) -> None:
        """Videos whose coverage came to span the whole file (a run killed before saying so)."""
        if video_ids:
            self.db.table(VIDEOS).update(where=sql_in("video_id", video_ids),
                                         values={"status": VIDEO_STATUS_DONE})

    def delete_coverage(self, video_ids: list[str]) -> None:
        if video_ids and self.db.has_table(COVERAGE):
            self.db.table(COVERAGE).delete(sql_in("video_id", video_ids))

    def _put(self, name: str, key: str, video_id: str, rows: pa.Table | None, replacing: bool) -> None:
        table = self.db.table(name)
        where = f"video_id = {sql_str(video_id)}"
        if rows is None or rows.num_rows == 0:
            if replacing:
                table.delete(where)
        elif not replacing:
            table.add(rows)
        else:
            (table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all()
             .when_not_matched_by_source_delete(where).execute(rows))

    def record_failure(self, video: VideoFile, result: VideoResult | None, content_hash: str,
                       config_version: str, error: str) -> None:
        """Note a failed file; sightings from an earlier good version of it are kept."""
        if result is None:
            outcome = VideoOutcome(video, None, "", {}, content_hash, error=error)
        else:
            outcome = VideoOutcome.of(result, content_hash)
            outcome.error = error
        self.upsert_videos([outcome.video_row(config_version)])

    def upsert_videos(self, rows: list[dict]) -> None:
        """Insert or replace ``videos`` rows by ``video_id``, all in one commit."""
        if not rows:
            return
        data = pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)
        (self.db.table(VIDEOS).merge_insert("video_id").when_matched_update_all()
         .when_not_matched_insert_all().execute(data))

    def claim_model(self, identity: str) -> None:
        if self.db.clip_model() != identity:
            self.db.set_meta({META_CLIP_MODEL: identity})

    def touch_video(self, video: VideoFile) -> None:
        """Same content under a new mtime (copied, touched): remember the new mtime, keep the rows."""
        self.db.table(VIDEOS).update(where=f"video_id = {sql_str(video.video_id)}",
                                     values={"mtime": video.mtime, "path": video.rel_path})

    def remove_orphans(self) -> int:
        """Delete sightings/frames a killed run left: those of videos that never reached ``done``, except
        the windows their coverage records (a window's rows count once its coverage row says so)."""
        if not self.db.has_table(SIGHTINGS):
            return 0
        records = self.video_records()
        coverage = self.coverage_records()
        done = {vid for vid, rec in records.items() if rec.status == VIDEO_STATUS_DONE}
        present = set(self.db.table(SIGHTINGS).to_arrow().column(SightingField.VIDEO_ID).unique().to_pylist())
        if self.db.has_table(FRAMES):
            present |= set(self.db.table(FRAMES).to_arrow().column("video_id").unique().to_pylist())
        before = self.db.table(SIGHTINGS).count_rows()
        orphans = sorted(present - done - set(coverage))
        if orphans:
            self.delete_rows(orphans)
        for vid in sorted((present - done) & set(coverage)):
            self._remove_uncovered(vid, coverage[vid].spans)
        removed = before - self.db.table(SIGHTINGS).count_rows()
        if removed:
            log.info("removed %d half-written sightings of unfinished videos or windows", removed)
        return removed

    def _remove_uncovered(self, video_id: str, spans: list[tuple[float, float]]) -> None:
        """Delete a partly analysed video's rows from windows its coverage does not record."""
        where = f"video_id = {sql_str(video_id)}"
        ids = (self.db.table(SIGHTINGS).search().where(where).select([SightingField.SIGHTING_ID]).limit(None)
               .to_arrow().column(SightingField.SIGHTING_ID).to_pylist())
        stray = [i for i in ids if (start := sighting_window(i)) is None or not iv.covers(spans, (start, start + 1e-3))]
        if stray:
            self.db.table(SIGHTINGS).delete(sql_in(SightingField.SIGHTING_ID, stray))
        if self.db.has_table(FRAMES):
            inside = " OR ".join(f"(offset_s >= {a!r} AND offset_s < {b!r})" for a, b in spans) or "false"
            self.db.table(FRAMES).delete(f"{where} AND NOT ({inside})")

    def forget_videos(self, video_ids: list[str]) -> None:
        """Remove videos (and their sightings) from the index entirely."""
        if not video_ids:
            return
        self.delete_rows(video_ids)
        self.db.table(VIDEOS).delete(sql_in("video_id", video_ids))
        self.delete_coverage(video_ids)

    # -- maintenance ---------------------------------------------------------------------------
    def optimize(self) -> None:
        """Compact small per-video fragments and fold new rows into existing indexes."""
        for name in (SIGHTINGS, VIDEOS, FRAMES, COVERAGE):
            if self.db.has_table(name):
                self.db.table(name).optimize(cleanup_older_than=timedelta(minutes=10))

    def build_indexes(self, *, vector: bool = True) -> list[str]:
        """Scalar indexes for the filters, and (``vector``) the ANN index once brute force gets slow."""
        built: list[str] = []
        table = self.db.table(SIGHTINGS)
        n = table.count_rows()
        if n < SCALAR_INDEX_MIN_ROWS:
            return built
        existing = {ix.name for ix in table.list_indices()}
        col = SightingField
        for column, kind in ((col.CAMERA_ID, "BITMAP"), (col.DISTRICT, "BITMAP"), (col.DAY, "BITMAP"),
                             (col.T_START, "BTREE"), (col.VIDEO_ID, "BTREE"), (col.SIGHTING_ID, "BTREE"),
                             (col.HAS_VECTOR, "BITMAP")):
            name = f"{column}_idx"
            if name not in existing:
                table.create_scalar_index(column, index_type=kind, name=name)
                built.append(name)
        if vector and n >= VECTOR_INDEX_MIN_ROWS and "vector_idx" not in existing:
            table.create_index(metric="cosine", vector_column_name=SightingField.VECTOR, index_type="IVF_PQ",
                               num_partitions=ann_partitions(n), num_sub_vectors=self.dim // 16,
                               name="vector_idx")
            built.append("vector_idx")
        return built

"""Writing index results to LanceDB so that a crash at any point loses nothing and duplicates nothing.

Per video, in this order, each step one atomic Lance commit:

1. delete the video's old sightings/frames (left over from an earlier version or a killed run);
2. append its new sightings (and frames);
3. upsert its ``videos`` row with ``status = done``.

A run killed between 1 and 3 leaves rows whose video is not ``done``; the next run deletes them
(:meth:`SightingStore.remove_orphans`) and indexes the video again. Readers see whole commits only.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa

from footage_search.index_db import IndexDB, sql_in, sql_str
from footage_search.schema import (
    FRAMES,
    META_CLIP_DIM,
    META_CLIP_MODEL,
    META_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SIGHTINGS,
    VIDEO_STATUS_DONE,
    VIDEO_STATUS_FAILED,
    VIDEOS,
    VIDEOS_SCHEMA,
    frames_schema,
    sightings_schema,
)
from indexer.archive import VideoFile
from indexer.pipeline import VideoResult

log = logging.getLogger(__name__)

SCALAR_INDEX_MIN_ROWS = 1_000
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
                "n_sightings"]
        rows = self.db.table(VIDEOS).to_arrow().select(cols).to_pylist()
        return {r["video_id"]: VideoRecord(**r) for r in rows}

    # -- writing -------------------------------------------------------------------------------
    def _delete_rows(self, video_ids: list[str]) -> None:
        where = sql_in("video_id", video_ids)
        for name in (SIGHTINGS, FRAMES):
            if self.db.has_table(name):
                self.db.table(name).delete(where)

    def commit_video(self, result: VideoResult, content_hash: str, config_version: str,
                     clip_model: str) -> int:
        """Replace everything stored for this video with ``result``; returns sightings written."""
        video = result.video
        self._delete_rows([video.video_id])
        n = 0
        if result.sightings is not None and result.sightings.num_rows:
            self.db.table(SIGHTINGS).add(result.sightings)
            n = result.sightings.num_rows
        if result.frames is not None and result.frames.num_rows:
            if not self.db.has_table(FRAMES):
                self.db.db.create_table(FRAMES, schema=frames_schema(self.dim))
            self.db.table(FRAMES).add(result.frames)
        self._upsert_video(video, result, content_hash, config_version, clip_model,
                           VIDEO_STATUS_DONE, "", n)
        if clip_model and n:
            self._claim_model(clip_model)
        return n

    def record_failure(self, video: VideoFile, result: VideoResult | None, content_hash: str,
                       config_version: str, error: str) -> None:
        """Note a failed file; sightings from an earlier good version of it are kept."""
        self._upsert_video(video, result, content_hash, config_version, "", VIDEO_STATUS_FAILED, error, 0)

    def _upsert_video(self, video: VideoFile, result: VideoResult | None, content_hash: str,
                      config_version: str, clip_model: str, status: str, error: str, n: int) -> None:
        info = result.info if result is not None else None
        row = {
            "video_id": video.video_id,
            "path": video.rel_path,
            "camera_id": video.camera_id,
            "size_bytes": video.size_bytes,
            "mtime": video.mtime,
            "content_hash": content_hash,
            "start_time": video.start_time,
            "duration_s": float(info.duration_s) if info else 0.0,
            "fps": float(info.fps) if info else 0.0,
            "width": int(info.width) if info else 0,
            "height": int(info.height) if info else 0,
            "status": status,
            "error": error,
            "n_sightings": n,
            "config_version": config_version,
            "clip_model": clip_model,
            "detector": "",
            "decoder": result.decoder if result is not None else "",
            "stage_seconds": json.dumps({k: round(v, 4) for k, v in (result.seconds if result else {}).items()}),
            "indexed_at": time.time(),
        }
        if result is not None and result.sightings is not None and result.sightings.num_rows:
            row["detector"] = result.sightings.column("detector")[0].as_py()
        data = pa.Table.from_pylist([row], schema=VIDEOS_SCHEMA)
        (self.db.table(VIDEOS).merge_insert("video_id").when_matched_update_all()
         .when_not_matched_insert_all().execute(data))

    def _claim_model(self, identity: str) -> None:
        if self.db.clip_model() != identity:
            self.db.set_meta({META_CLIP_MODEL: identity})

    def touch_video(self, video: VideoFile) -> None:
        """Same content under a new mtime (copied, touched): remember the new mtime, keep the rows."""
        self.db.table(VIDEOS).update(where=f"video_id = {sql_str(video.video_id)}",
                                     values={"mtime": video.mtime, "path": video.rel_path})

    def remove_orphans(self) -> int:
        """Delete sightings/frames of videos that never reached ``done`` (a killed run)."""
        if not self.db.has_table(SIGHTINGS):
            return 0
        done = {vid for vid, rec in self.video_records().items() if rec.status == VIDEO_STATUS_DONE}
        present = set(self.db.table(SIGHTINGS).to_arrow().column("video_id").unique().to_pylist())
        if self.db.has_table(FRAMES):
            present |= set(self.db.table(FRAMES).to_arrow().column("video_id").unique().to_pylist())
        orphans = sorted(present - done)
        if orphans:
            before = self.db.table(SIGHTINGS).count_rows()
            self._delete_rows(orphans)
            removed = before - self.db.table(SIGHTINGS).count_rows()
            log.info("removed %d half-written sightings of %d unfinished videos", removed, len(orphans))
            return removed
        return 0

    def forget_videos(self, video_ids: list[str]) -> None:
        """Remove videos (and their sightings) from the index entirely."""
        if not video_ids:
            return
        self._delete_rows(video_ids)
        self.db.table(VIDEOS).delete(sql_in("video_id", video_ids))

    # -- maintenance ---------------------------------------------------------------------------
    def optimize(self) -> None:
        """Compact small per-video fragments and fold new rows into existing indexes."""
        for name in (SIGHTINGS, VIDEOS, FRAMES):
            if self.db.has_table(name):
                self.db.table(name).optimize(cleanup_older_than=timedelta(minutes=10))

    def build_indexes(self) -> list[str]:
        """Scalar indexes for the filters, and the ANN index once brute force gets slow."""
        built: list[str] = []
        table = self.db.table(SIGHTINGS)
        n = table.count_rows()
        if n < SCALAR_INDEX_MIN_ROWS:
            return built
        existing = {ix.name for ix in table.list_indices()}
        for column, kind in (("camera_id", "BITMAP"), ("district", "BITMAP"), ("day", "BITMAP"),
                             ("t_start", "BTREE"), ("video_id", "BTREE"), ("sighting_id", "BTREE"),
                             ("has_vector", "BITMAP")):
            name = f"{column}_idx"
            if name not in existing:
                table.create_scalar_index(column, index_type=kind, name=name)
                built.append(name)
        if n >= VECTOR_INDEX_MIN_ROWS and "vector_idx" not in existing:
            table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ",
                               num_partitions=max(16, int(math.sqrt(n))), num_sub_vectors=self.dim // 16,
                               name="vector_idx")
            built.append("vector_idx")
        return built

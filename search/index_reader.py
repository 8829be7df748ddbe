"""Reading sightings from LanceDB: filtered scans, prefiltered vector search, fetch by id; and the footage
coverage (the ``videos`` table) the route's gaps and next-camera windows check.

The index is opened with ``follow_writes``: every read sees the latest commit, so a console left running
sees what the indexer added since, and each read is one consistent version of the table.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from core.index_db import IndexDB
from core.schema import COVERAGE, SIGHTINGS, VIDEO_STATUS_DONE, VIDEOS, SightingField
from search.filters import and_where, ids_where

FETCH_CHUNK = 400  # ids per IN (...) list
# Columns LanceDB adds to a read: the row id (with_row_id) and a vector search's distance.
ROW_ID = "_rowid"
DISTANCE = "_distance"
# Vector search through the IVF_PQ index probes this many partitions and re-ranks at least
# ANN_REFINE_ROWS candidates (and never fewer than ANN_REFINE_FACTOR x k) with their full vectors; with a
# prefilter that keeps few rows, search bypasses the index altogether. A small k needs the row floor: people
# of one look sit close together and PQ codes cannot order them. On the benchmark tables
# (bench/search_speed.py) re-ranking 100 rows found 55% of the exact top 10 at 1M rows, 2,000 rows found
# all of them at 1M but 88% at 10M, and 5,000 rows all of them at 10M in ~150 ms (exact: 44 s).
ANN_NPROBES = 64
ANN_REFINE_FACTOR = 4
ANN_REFINE_ROWS = 5_000


def fixed_list(column: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """A fixed-size-list column as an (N, width) float32 array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.zeros((0, width), dtype=np.float32)
    return np.asarray(arr.flatten(), dtype=np.float32).reshape(len(arr), width)


def refine_factor(k: int) -> int:
    """How many times ``k`` ANN candidates to re-rank exactly (see ANN_REFINE_ROWS)."""
    return max(ANN_REFINE_FACTOR, math.ceil(ANN_REFINE_ROWS / max(1, k)))


class SightingReader:
    """Reads sightings; inside :meth:`snapshot` every read of this thread sees one table version."""

    def __init__(self, db: IndexDB):
        self.db = db
        self._pinned = threading.local()

    def table(self):
        pinned = getattr(self._pinned, "table", None)
        return pinned if pinned is not None else self.db.table(SIGHTINGS)

    @contextmanager
    def snapshot(self, *, videos: bool = False) -> Iterator[None]:
        """Pin the current version of the table for the reads inside, so a search that reads several
        times (filter, vectors, the result page) never mixes rows from before and after a concurrent
        re-index commit. Nested snapshots keep the outer one.

        ``videos=True`` (the route) also pins the ``videos`` table for :meth:`footage_spans`, after the
        sightings: the indexer marks a video done after committing its rows, so the pinned coverage
        includes every video whose sightings the pinned table shows. Searches skip it (one more table open)."""
        if getattr(self._pinned, "table", None) is not None:
            yield
            return
        latest = self.db.table(SIGHTINGS)
        self._pinned.table = self.db.db.open_table(SIGHTINGS, version=latest.version)
        if videos and self.db.has_table(VIDEOS):
            self._pinned.videos = self.db.db.open_table(VIDEOS, version=self.db.table(VIDEOS).version)
            if self.db.has_table(COVERAGE):
                self._pinned.coverage = self.db.db.open_table(COVERAGE, version=self.db.table(COVERAGE).version)
        try:
            yield
        finally:
            self._pinned.table = None
            self._pinned.videos = None
            self._pinned.coverage = None

    def footage_spans(self) -> dict[str, list[tuple[float, float]]]:
        """Camera id -> ``(start, end)`` epoch spans of indexed footage: the whole of each ``done`` video,
        the analysed windows of each partly indexed one (the ``coverage`` table); failed and purged files
        hold no footage. Inside ``snapshot(videos=True)`` the pinned versions, else the latest."""
        table = getattr(self._pinned, "videos", None)
        if table is None:
            if not self.db.has_table(VIDEOS):
                return {}
            table = self.db.table(VIDEOS)
        rows = (table.search().select(["video_id", "camera_id", "start_time", "duration_s", "status"])
                .limit(None).to_arrow())
        spans: dict[str, list[tuple[float, float]]] = {}
        done: set[str] = set()
        for r in rows.to_pylist():
            if r["status"] == VIDEO_STATUS_DONE:
                done.add(r["video_id"])
                spans.setdefault(r["camera_id"], []).append((r["start_time"], r["start_time"] + r["duration_s"]))
        coverage = getattr(self._pinned, "coverage", None)
        if coverage is None and self.db.has_table(COVERAGE):
            coverage = self.db.table(COVERAGE)
        if coverage is not None:
            for r in coverage.search().select(["video_id", "camera_id", "start_time", "spans"]).limit(None) \
                    .to_arrow().to_pylist():
                if r["video_id"] not in done:
                    spans.setdefault(r["camera_id"], []).extend((r["start_time"] + a, r["start_time"] + b)
                                                                for a, b in r["spans"])
        return spans

    def vector_dim(self) -> int:
        return int(self.table().schema.field(SightingField.VECTOR).type.list_size)

    def count(self, where: str | None) -> int:
        return int(self.table().count_rows(where) if where else self.table().count_rows())

    def scan(self, where: str | None, columns: Sequence[str], batch_size: int = 16384) -> Iterator[pa.RecordBatch]:
        q = self.table().search().select(list(columns)).with_row_id(True).limit(None)
        if where:
            q = q.where(where)
        yield from q.to_batches(batch_size)

    def read(self, where: str | None, columns: Sequence[str], *, limit: int) -> pa.Table:
        """At most ``limit`` filtered rows (with row ids) in one read."""
        q = self.table().search().select(list(columns)).with_row_id(True).limit(limit)
        if where:
            q = q.where(where)
        return q.to_arrow()

    def nearest(self, vector: np.ndarray, where: str | None, k: int, columns: Sequence[str], *,
                exact: bool) -> pa.Table:
        """Up to ``k`` rows with a vector, nearest by cosine, among rows passing ``where`` (prefilter)."""
        q = (self.table().search(np.asarray(vector, dtype=np.float32), vector_column_name=SightingField.VECTOR)
             .distance_type("cosine").where(and_where(where, f"{SightingField.HAS_VECTOR} = true"), prefilter=True)
             .select([*columns, DISTANCE]).with_row_id(True).limit(k))
        q = q.bypass_vector_index() if exact else q.nprobes(ANN_NPROBES).refine_factor(refine_factor(k))
        return q.to_arrow()

    def fetch(self, ids: Sequence[str], columns: Sequence[str]) -> pa.Table:
        """Rows by ``sighting_id`` (any order; missing ids are simply absent)."""
        cols = list(dict.fromkeys([SightingField.SIGHTING_ID, *columns]))
        parts = []
        unique = list(dict.fromkeys(ids))
        for lo in range(0, len(unique), FETCH_CHUNK):
            chunk = unique[lo: lo + FETCH_CHUNK]
            parts.append(self.table().search().where(ids_where(chunk)).select(cols).limit(len(chunk)).to_arrow())
        if not parts:
            return self.table().schema.empty_table().select(cols)
        return pa.concat_tables(parts)

    def take(self, row_ids: Sequence[int], columns: Sequence[str]) -> pa.Table:
        """Rows by Lance row id: a direct read, unlike ``sighting_id IN (...)`` which scans the id column.
        Row ids change when the table is compacted; callers check ``sighting_id`` and fall back to
        :meth:`fetch`."""
        cols = list(dict.fromkeys([SightingField.SIGHTING_ID, *columns]))
        if not row_ids:
            return self.table().schema.empty_table().select(cols)
        return self.table().take_row_ids([int(r) for r in row_ids]).select(cols).to_arrow()

    def has_index(self, name: str) -> bool:
        try:
            return any(ix.name == name for ix in self.table().list_indices())
        except Exception:  # older/remote tables without index listing: assume none
            return False

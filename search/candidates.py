"""Candidate selection: which filtered rows get scored, and their scores as parallel arrays.

How many rows pass the filters decides how they are chosen (thresholds in :class:`CandidateLimits`):

* up to ``exact_scan_max`` (20k) rows: every row is read and scored exactly (with its vector, when
  CLIP is in the query). A narrowing filter without CLIP reads those rows straight away and counts
  only when there turn out to be more (:func:`count_filtered`);
* more rows without CLIP: a scan with the lossless colour pre-cut keeps the best ``k`` by evidence;
* more rows with CLIP (:func:`_two_pass`): the best ``k`` by calibrated evidence (the scan) plus the
  best ``k`` by CLIP (prefiltered vector search, exact up to ``ann_exact_max`` (50k) rows, IVF_PQ
  above). A photo-style query over more than ``evidence_scan_max`` (250k) rows skips the appearance
  scan and takes ``VECTOR_LED_K_FACTOR`` x ``k`` candidates from the vector search;
* a browse query (direction only, nothing to score): the first ``BROWSE_MAX`` rows by time.

The result, :class:`Scored`, holds each candidate's fused score, calibrated evidence and reported parts
(:mod:`search.scoring`); :mod:`search.results` groups and pages it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from core.schema import SightingField
from core.vision.colours import LAYOUT_DIM, N_COLOURS
from search import evidence as ev
from search.appearance import read_part_column
from search.appearance_anchor import Features, expand
from search.attribute_columns import columns_for, read_attribute_columns
from search.filters import SearchFilters, and_where
from search.index_reader import DISTANCE, ROW_ID, SightingReader, fixed_list
from search.scoring import (
    GATE_APPEARANCE,
    REPORTED,
    ScoringQuery,
    absolute_parts,
    evidence_score,
    fused_score,
    raw_clip_similarity,
)
from search.timing import StageTimer

CANDIDATE_K = 500
EXACT_SCAN_MAX = 20_000
# Prefiltered brute-force vector search is exact and, on 2 cores, faster than the IVF_PQ index up to about
# this many filtered rows (1M x 768-d table, k = 500: 49 ms exact vs 38 ms ANN at 33k rows, 137 vs 34 ms at
# 100k, 1.6 s vs 39 ms city-wide; bench/search_speed.py).
ANN_EXACT_MAX = 50_000
# Past this many filtered rows a photo-style query is led by its CLIP vector (see vector_led)
# and takes VECTOR_LED_K_FACTOR x candidate_k candidates from the vector search.
EVIDENCE_SCAN_MAX = 250_000
VECTOR_LED_K_FACTOR = 2
BROWSE_MAX = 5_000
# The candidates' own appearance (search.appearance_anchor.Features), carried until scoring ends.
FEATURES = ("f_camera", "f_upper", "f_lower", "f_layout", "f_crops", "f_mask")
BASE_COLUMNS = (SightingField.SIGHTING_ID, SightingField.VIDEO_ID, SightingField.TRACK_ID, SightingField.SEGMENT,
                SightingField.T_START, SightingField.T_END)


@dataclass(frozen=True)
class CandidateLimits:
    """Up to ``exact_scan_max`` filtered rows every row is scored; up to ``ann_exact_max`` the vector
    search bypasses the ANN index; past ``evidence_scan_max`` a photo-style query is vector-led."""

    exact_scan_max: int = EXACT_SCAN_MAX
    ann_exact_max: int = ANN_EXACT_MAX
    evidence_scan_max: int = EVIDENCE_SCAN_MAX


@dataclass
class Scored:
    """Candidate rows with their scores, as parallel arrays."""

    ids: np.ndarray
    rowid: np.ndarray  # Lance row ids (-1: unknown), for a direct read of the result page
    video_id: np.ndarray
    track_id: np.ndarray
    segment: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    score: np.ndarray
    evidence: np.ndarray
    parts: dict[str, np.ndarray]
    clip: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)


def score_columns(q: ScoringQuery, available: set[str]) -> list[str]:
    """The columns scoring ``q`` reads (attribute columns only where the index has them)."""
    cols = list(BASE_COLUMNS)
    if q.uses_colours or q.uses_appearance:
        cols += [SightingField.UPPER_COLOUR, SightingField.LOWER_COLOUR]
    if q.uses_appearance:
        cols += [SightingField.COLOUR_LAYOUT, SightingField.CAMERA_ID]
    if q.uses_parts and SightingField.PART_COLOURS in available:
        cols.append(SightingField.PART_COLOURS)
    cols += columns_for(q.parsed, available)
    return cols


def count_filtered(reader: SightingReader, q: ScoringQuery, filters: SearchFilters, where: str | None,
                   limits: CandidateLimits, available: set[str], timer: StageTimer) -> tuple[int, pa.Table | None]:
    """How many rows pass the filters, and, when a narrowing filter left few enough, those rows already read.

    A filtered query usually leaves few rows: read them with their scoring columns straight away, up to
    the exact-scoring limit, and count only when there turn out to be more. Not with CLIP: its vectors
    make that read ~60 MB when the limit is reached, so those count first (milliseconds)."""
    if where is not None and not q.browse and not q.uses_clip and _narrows(filters):
        with timer.stage("filter"):
            pre = reader.read(where, score_columns(q, available), limit=limits.exact_scan_max + 1)
        if pre.num_rows <= limits.exact_scan_max:
            return pre.num_rows, pre
    with timer.stage("count"):
        return reader.count(where), None


def score_candidates(reader: SightingReader, q: ScoringQuery, where: str | None, n: int, k: int,
                     limits: CandidateLimits, available: set[str], timer: StageTimer,
                     pre: pa.Table | None = None) -> Scored:
    """Choose and score the candidates among the ``n`` rows passing ``where``; ``k`` per candidate source.
    ``pre``: every filtered row, already read by :func:`count_filtered`."""
    cols = score_columns(q, available)
    prefilter = colour_prefilter(q, available)
    if pre is not None and not q.browse:  # already read (only without CLIP): every filtered row, scored exactly
        with timer.stage("score"):
            return _scan(reader, q, where, cols, keep=n, key="evidence", with_vectors=False, k_clip=k,
                         batches=pre.to_batches())
    if q.browse:
        with timer.stage("scan"):
            return _scan(reader, q, where, cols, keep=min(BROWSE_MAX, n), key="time", with_vectors=False)
    if n <= limits.exact_scan_max or not q.uses_clip:
        # Small sets: everything scored exactly. Large sets without CLIP: the colour pre-cut is lossless
        # (rows it drops score 0 on every colour) and the best k by evidence are kept.
        scan_where = where
        if n > limits.exact_scan_max and prefilter:
            scan_where = and_where(where, prefilter)
        keep = n if n <= limits.exact_scan_max else k
        with timer.stage("scan"):
            return _scan(reader, q, scan_where, cols, keep=keep, key="evidence", with_vectors=q.uses_clip, k_clip=k)
    return _two_pass(reader, q, where, n, k, cols, limits, timer, prefilter)


def vector_led(q: ScoringQuery, n: int, limits: CandidateLimits) -> bool:
    """A photo-style query (appearance + CLIP vector, no description) over more than ``evidence_scan_max``
    rows: its candidates come from the vector search alone, widened, and appearance is scored on them.
    The appearance scan reads every row's colours (~0.4 KB) and has no index, so it grows with the
    archive (1.3 s at 1M rows on 2 cores); CLIP's image-to-image similarity is the stronger signal of
    the two, so it picks the candidates. A description keeps its scan: there the colour words are the
    calibrated evidence and CLIP text matching the weaker one, and the lossless colour pre-cut bounds it."""
    return q.uses_clip and q.uses_appearance and not q.uses_description and n > limits.evidence_scan_max


def colour_prefilter(q: ScoringQuery, available: set[str]) -> str | None:
    """The lossless colour pre-cut, where it is lossless: a colour-only description (an attribute
    term can make a row plausible whatever its colours), and never dropping rows whose colours are
    unreliable (night/IR: their colour evidence is "unknown", not 0)."""
    if not q.uses_colours or q.uses_appearance or q.uses_attributes:
        return None
    cut = ev.colour_sql_prefilter(q.parsed)  # type: ignore[arg-type]
    if cut and SightingField.COLOUR_RELIABILITY in available:
        cut = f"({cut} OR colour_reliability < {ev.RELIABLE!r})"
    return cut


# ------------------------------------------------------------------------------------------ internals


def _narrows(f: SearchFilters) -> bool:
    """Whether the filters can leave few rows: place, time or chosen rows. Direction, track length and
    exclusions alone keep most of the index, and reading it up to the exact-scoring limit only to find
    that out cost ~80 ms at 10M rows; those searches count first."""
    return bool(f.time_from is not None or f.time_to is not None or f.districts or f.cameras or f.only_ids)


def _scan(reader: SightingReader, q: ScoringQuery, where: str | None, cols: list[str], *, keep: int, key: str,
          with_vectors: bool, k_clip: int = CANDIDATE_K, batches: Iterable[pa.RecordBatch] | None = None) -> Scored:
    read = list(cols) + ([SightingField.VECTOR, SightingField.HAS_VECTOR] if with_vectors else [])
    acc: dict[str, list] = {}
    for batch in batches if batches is not None else reader.scan(where, read):
        arrays = _batch_arrays(batch, q)
        if with_vectors:
            vecs = fixed_list(batch.column(SightingField.VECTOR), len(q.vectors[0]))
            has = np.asarray(batch.column(SightingField.HAS_VECTOR).to_numpy(zero_copy_only=False), dtype=bool)
            arrays["raw_clip"] = raw_clip_similarity(q, vecs, has)
        for name, arr in arrays.items():
            acc.setdefault(name, []).append(arr)
        if sum(len(a) for a in acc["ids"]) > max(2 * keep, 65536):
            acc = _keep_top(acc, keep, key)
    if not acc:
        return _empty_scored()
    acc = _keep_top(acc, keep, key)
    return _finish(q, {name: np.concatenate(v) for name, v in acc.items()}, k_clip, reader)


def _two_pass(reader: SightingReader, q: ScoringQuery, where: str | None, n: int, k: int, cols: list[str],
              limits: CandidateLimits, timer: StageTimer, prefilter: str | None) -> Scored:
    merged: dict[str, np.ndarray] = {}
    k_vector = k
    if vector_led(q, n, limits):
        k_vector = VECTOR_LED_K_FACTOR * k
    elif q.calibrated:
        scan_where = and_where(where, prefilter) if prefilter else where
        with timer.stage("scan"):
            acc: dict[str, list] = {}
            for batch in reader.scan(scan_where, cols):
                for name, arr in _batch_arrays(batch, q).items():
                    acc.setdefault(name, []).append(arr)
                if sum(len(a) for a in acc["ids"]) > max(2 * k, 65536):
                    acc = _keep_top(acc, k, "evidence")
            if acc:
                acc = _keep_top(acc, k, "evidence")
                merged = {name: np.concatenate(v) for name, v in acc.items()}
    with timer.stage("vector"):
        tables = [reader.nearest(v, where, k_vector, cols, exact=n <= limits.ann_exact_max) for v in q.vectors]
        near = pa.concat_tables(tables)
        near_arrays = _batch_arrays(near, q)
        union = near_arrays if not merged else {
            name: np.concatenate([merged[name], near_arrays[name]]) for name in merged if name in near_arrays}
        _, first = np.unique(union["ids"].astype(str), return_index=True)
        union = {name: arr[np.sort(first)] for name, arr in union.items()}
        # CLIP similarity of every candidate, also those only the evidence scan found. With one query
        # vector the search's own (exact, re-ranked) cosine distance is that similarity: re-reading
        # thousands of full vectors at random from a table larger than memory cost more than the search.
        sims_by_id: dict[str, float] = {}
        need = np.ones(len(union["ids"]), dtype=bool)
        if len(q.vectors) == 1 and near.num_rows:
            sims_by_id = dict(zip(near.column(SightingField.SIGHTING_ID).to_pylist(),
                                  (1.0 - near.column(DISTANCE).to_numpy()).tolist(), strict=True))
            need = np.array([s not in sims_by_id for s in union["ids"]], dtype=bool)
        vec_rows = _vectors(reader, union["ids"][need], union["rowid"][need]) if need.any() else None
        if vec_rows is not None and vec_rows.num_rows:
            vecs = fixed_list(vec_rows.column(SightingField.VECTOR), len(q.vectors[0]))
            has = np.asarray(vec_rows.column(SightingField.HAS_VECTOR).to_numpy(), dtype=bool)
            sims = raw_clip_similarity(q, vecs, has)
            ids = vec_rows.column(SightingField.SIGHTING_ID).to_pylist()
            sims_by_id.update(zip(ids, sims.tolist(), strict=True))
    union["raw_clip"] = np.array([sims_by_id.get(s, math.nan) for s in union["ids"]], dtype=np.float32)
    return _finish(q, union, k, reader)


def _finish(q: ScoringQuery, arrays: dict[str, np.ndarray], k_clip: int,
            reader: SightingReader | None = None) -> Scored:
    n = len(arrays["ids"])
    if FEATURES[0] in arrays and "appearance" in arrays and not q.examples:
        # Same-camera anchors are automatic pins; an operator's pins replace them.
        f = Features(arrays["f_camera"], arrays["video_id"], arrays["track_id"],
                     *(arrays.get(name) for name in FEATURES[1:]), ids=arrays["ids"],
                     t_start=arrays["t_start"], t_end=arrays["t_end"])
        arrays["appearance"], arrays[GATE_APPEARANCE], _ = expand(
            arrays["appearance"], arrays[GATE_APPEARANCE], f, len(q.references), q.part_weights,
            paths=None if reader is None or not q.part_weights.continuations else lambda ids: track_paths(reader, ids))
    parts = {name: arrays[name] for name in (*REPORTED, GATE_APPEARANCE) if name in arrays}
    clip_ev = None
    if "raw_clip" in arrays:
        raw = arrays["raw_clip"]
        finite = np.sort(raw[np.isfinite(raw)])[::-1]
        if len(finite):
            high = float(finite[0])
            low = float(finite[min(k_clip, len(finite)) - 1]) if len(finite) > 1 else high - 1.0
            clip_ev = ev.relative_clip_evidence(raw, low, high)
            clip_ev[~np.isfinite(raw)] = np.nan
    if q.browse:
        score = np.ones(n, dtype=np.float32)
        evidence = np.full(n, np.nan, dtype=np.float32)
    else:
        score = fused_score(parts, clip_ev, n)
        evidence = evidence_score(parts, n)
    if clip_ev is not None:
        parts = {**parts, "clip": clip_ev}
    return Scored(ids=arrays["ids"], rowid=arrays["rowid"], video_id=arrays["video_id"],
                  track_id=arrays["track_id"],
                  segment=arrays["segment"], t_start=arrays["t_start"], t_end=arrays["t_end"],
                  score=score, evidence=evidence, parts=parts, clip=clip_ev)


def track_paths(reader: SightingReader, ids) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(file offsets, boxes) of the tracks of sightings ``ids``: anchors' continuations (search.appearance_anchor)."""
    table = reader.fetch(list(ids), [SightingField.TRACK_OFFSETS, SightingField.TRACK_BOXES])
    out = {}
    for r in table.to_pylist():
        offsets = np.asarray(r[SightingField.TRACK_OFFSETS] or [], dtype=np.float64)
        boxes = np.asarray(r[SightingField.TRACK_BOXES] or [], dtype=np.float64).reshape(-1, 4)
        if len(offsets) and len(offsets) == len(boxes):
            out[r[SightingField.SIGHTING_ID]] = (offsets, boxes)
    return out


def _vectors(reader: SightingReader, ids: np.ndarray, rowid: np.ndarray) -> pa.Table:
    """``sighting_id, vector, has_vector`` of candidates, by row id (a direct read) where known."""
    cols = [SightingField.VECTOR, SightingField.HAS_VECTOR]
    known = rowid >= 0
    parts = [reader.take([int(r) for r in rowid[known]], cols)] if known.any() else []
    got = set(parts[0].column(SightingField.SIGHTING_ID).to_pylist()) if parts else set()
    missing = [str(x) for x in ids if str(x) not in got]
    if missing:
        parts.append(reader.fetch(missing, cols))
    if not parts:
        return reader.fetch([], cols)
    return pa.concat_tables(parts)


def _empty_scored() -> Scored:
    e = np.zeros(0)
    return Scored(ids=np.zeros(0, dtype=object), rowid=np.zeros(0, dtype=np.int64),
                  video_id=np.zeros(0, dtype=object), track_id=e, segment=e,
                  t_start=e, t_end=e, score=e, evidence=e, parts={}, clip=None)


def _batch_arrays(batch: pa.RecordBatch | pa.Table, q: ScoringQuery) -> dict[str, np.ndarray]:
    def col(name: str) -> np.ndarray:
        c = batch.column(name)
        return c.to_numpy(zero_copy_only=False) if isinstance(c, pa.Array) else c.to_numpy()

    out = {
        "ids": np.asarray(batch.column(SightingField.SIGHTING_ID).to_pylist(), dtype=object),
        "rowid": (col(ROW_ID).astype(np.int64) if ROW_ID in batch.schema.names
                  else np.full(batch.num_rows, -1, dtype=np.int64)),
        "video_id": np.asarray(batch.column(SightingField.VIDEO_ID).to_pylist(), dtype=object),
        "track_id": col(SightingField.TRACK_ID).astype(np.int64),
        "segment": col(SightingField.SEGMENT).astype(np.int64),
        "t_start": col(SightingField.T_START).astype(np.float64),
        "t_end": col(SightingField.T_END).astype(np.float64),
    }
    upper = lower = layout = None
    names = batch.schema.names
    if SightingField.UPPER_COLOUR in names:
        upper = fixed_list(batch.column(SightingField.UPPER_COLOUR), N_COLOURS)
        lower = fixed_list(batch.column(SightingField.LOWER_COLOUR), N_COLOURS)
    if SightingField.COLOUR_LAYOUT in names:
        layout = fixed_list(batch.column(SightingField.COLOUR_LAYOUT), LAYOUT_DIM)
    attributes = read_attribute_columns(batch, q.parsed) if q.uses_description else None  # type: ignore[arg-type]
    crops = read_part_column(batch.column(SightingField.PART_COLOURS)) \
        if q.uses_parts and SightingField.PART_COLOURS in names else None
    out.update(absolute_parts(q, upper, lower, layout, attributes, crops))
    if q.uses_appearance and layout is not None and SightingField.CAMERA_ID in names and q.part_weights.anchor > 0:
        # The candidates' own appearance, for same-camera anchors (search.appearance_anchor).
        out.update(zip(FEATURES, (np.asarray(batch.column(SightingField.CAMERA_ID).to_pylist(), dtype=object),
                                  upper, lower, layout, *(crops if crops is not None else (None, None))),
                       strict=True))
        out = {k: v for k, v in out.items() if v is not None}
    if any(k in out for k in REPORTED):
        gated = {k: out[k] for k in (*REPORTED, GATE_APPEARANCE) if k in out}
        out["evidence"] = evidence_score(gated, len(out["ids"]))
    return out


def _keep_top(acc: dict[str, list], keep: int, key: str) -> dict[str, list]:
    cat = {name: np.concatenate(v) for name, v in acc.items()}
    n = len(cat["ids"])
    if n <= keep:
        return {name: [v] for name, v in cat.items()}
    if key == "time":
        order = np.argsort(cat["t_start"], kind="stable")[:keep]
    else:
        # The best by calibrated evidence; without any (CLIP only) by raw CLIP similarity.
        value = cat["evidence"] if "evidence" in cat else np.nan_to_num(cat.get("raw_clip", np.zeros(n)), nan=-2.0)
        order = np.argpartition(-value, keep - 1)[:keep]
    return {name: [v[order]] for name, v in cat.items()}

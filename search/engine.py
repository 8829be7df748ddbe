"""The search API the console and the CLI use: ``SearchEngine(cfg, registry).search(SearchRequest(...))``.

One search, step by step:

1. validate the request and build the filters (:mod:`search.filters`): unknown cameras/districts,
   bad times, impossible limits raise :class:`SearchInputError` before anything is read;
2. compile the query: parse the text (:mod:`search.query_parser`), find the person in a photo
   (:mod:`search.photo`), look up a "more like this" sighting, and embed with CLIP when enabled;
3. count the rows that pass the filters (LanceDB, scalar indexes). Up to ``EXACT_SCAN_MAX`` rows are
   all scored exactly; larger sets take the best ``candidate_k`` rows by calibrated evidence (a scan
   with a lossless colour pre-cut) plus the best ``candidate_k`` by CLIP (prefiltered vector search,
   exact below ``ANN_EXACT_MAX`` rows, IVF_PQ with refinement above). A photo-style query over more
   than ``EVIDENCE_SCAN_MAX`` rows skips the appearance scan and takes a wider CLIP candidate pool;
4. score (:mod:`search.scoring`), merge adjacent segments of one track into sightings
   (:mod:`search.grouping`), apply the no-result gate, paginate, and read thumbnails and boxes only
   for the page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from core.config import Config
from core.index_db import IndexDB
from core.registry import CameraRegistry
from core.schema import META_CLIP_MODEL
from core.vision.colours import LAYOUT_DIM, N_COLOURS
from search import evidence as ev
from search.attribute_columns import ATTRIBUTE_COLUMNS, columns_for, read_attribute_columns
from search.errors import SearchInputError
from search.filters import SearchFilters, and_where, build_where, check_sighting_id, make_filters
from search.grouping import RowGroup, group_rows
from search.index_reader import SightingReader, fixed_list
from search.photo import PhotoPerson, decode_photo, describe_person
from search.query_parser import ParsedQuery, parse_query
from search.request import SearchRequest
from search.result import SearchResult, Sighting, SightingAttributes
from search.scoring import (
    REPORTED,
    Appearance,
    ScoringQuery,
    absolute_parts,
    evidence_score,
    fused_score,
    raw_clip_similarity,
)
from search.search_models import SearchModels
from search.timeutil import iso, to_epoch, zone

CANDIDATE_K = 500
EXACT_SCAN_MAX = 20_000
# Prefiltered brute-force vector search is exact and, on 2 cores, faster than the IVF_PQ index up to about
# this many filtered rows (1M x 768-d table, k = 500: 49 ms exact vs 38 ms ANN at 33k rows, 137 vs 34 ms at
# 100k, 1.6 s vs 39 ms city-wide; bench/search_speed.py).
ANN_EXACT_MAX = 50_000
# Past this many filtered rows a photo-style query is led by its CLIP vector (see SearchEngine._vector_led)
# and takes VECTOR_LED_K_FACTOR x candidate_k candidates from the vector search.
EVIDENCE_SCAN_MAX = 250_000
VECTOR_LED_K_FACTOR = 2
BROWSE_MAX = 5_000
MAX_LIMIT = 1_000
BASE_COLUMNS = ("sighting_id", "video_id", "track_id", "segment", "t_start", "t_end")
DISPLAY_COLUMNS = (
    "sighting_id", "video_id", "camera_id", "district", "t_start", "t_end", "t_best", "video_path",
    "offset_start_s", "offset_end_s", "offset_best_s", "box", "frame_width", "frame_height", "track_id",
    "n_detections", "bearing_deg", "speed_mps", "upper_colour", "lower_colour", "colour_layout", "has_vector",
    "vector", "thumbnail",
)


@dataclass
class CompiledQuery:
    """A request's query part, ready to score: what was understood, and the vectors/colours to compare."""

    scoring: ScoringQuery
    parsed: ParsedQuery | None = None
    photo: PhotoPerson | None = None
    like: Sighting | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        return self.parsed.direction if self.parsed is not None else None


@dataclass
class _Scored:
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


class StageTimer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t0 = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + 1000 * (time.perf_counter() - t)

    def total(self) -> None:
        self.ms["total"] = 1000 * (time.perf_counter() - self._t0)


class SearchEngine:
    """Search over one index with one camera registry. Safe to share between threads."""

    def __init__(self, cfg: Config, registry: CameraRegistry, models: SearchModels | None = None):
        self.cfg = cfg
        self.registry = registry
        self.models = models if models is not None else SearchModels(cfg)
        self.tz = zone(cfg.index.timezone)
        self.db = IndexDB.open(cfg.storage, must_exist=True, follow_writes=True)
        self.reader = SightingReader(self.db)
        # Up to these many filtered rows, scoring is exact: every row scored / vector search without the ANN index.
        self.exact_scan_max = EXACT_SCAN_MAX
        self.ann_exact_max = ANN_EXACT_MAX
        self.evidence_scan_max = EVIDENCE_SCAN_MAX

    # ------------------------------------------------------------------------------------- public

    def search(self, req: SearchRequest) -> SearchResult:
        timer = StageTimer()
        offset, limit = self._page(req.offset, req.limit)
        filters = self.filters_for(req)
        with timer.stage("query"):
            query = self.compile(req.text, photo=req.photo, photo_box=req.photo_box, like=req.like,
                                 use_clip=req.use_clip, timer=timer)
        if req.direction is None and query.parsed is not None and query.parsed.direction is not None:
            filters = replace(filters, direction_deg=_compass_deg(query.parsed.direction))
        return self.find(query, filters, offset=offset, limit=limit, include_weak=req.include_weak, timer=timer)

    def more_like(self, sighting_id: str, **request: Any) -> SearchResult:
        """"More like this": the sighting's vector, colours and layout as the query (it is left out)."""
        return self.search(SearchRequest(like=sighting_id, **request))

    def get_sighting(self, sighting_id: str) -> Sighting:
        sid = check_sighting_id(sighting_id)
        rows = self.reader.fetch([sid], self._display_columns())
        if rows.num_rows == 0:
            raise SearchInputError(f"unknown sighting {sid!r}: not in the index (it may have been re-indexed)")
        return self._sighting(_rows_by_id(rows), [sid], sid)

    def filters_for(self, req: SearchRequest) -> SearchFilters:
        return make_filters(
            self.registry,
            time_from=to_epoch(req.time_from, self.tz, "time window 'from'"),
            time_to=to_epoch(req.time_to, self.tz, "time window 'to'"),
            districts=req.districts, cameras=req.cameras, direction=req.direction,
            direction_tolerance_deg=req.direction_tolerance_deg,
            default_tolerance_deg=self.cfg.search.direction_tolerance_deg,
            min_detections=req.min_detections, min_duration_s=req.min_duration_s, exclude_ids=req.exclude_ids,
        )

    def compile(self, text: str = "", *, photo: bytes | None = None,
                photo_box: tuple[float, float, float, float] | None = None, like: str | None = None,
                use_clip: bool = True, timer: StageTimer | None = None) -> CompiledQuery:
        """Parse, look at the photo, look up the sighting, and embed what CLIP should embed."""
        timer = timer or StageTimer()
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise SearchInputError(f"the description must be text, not {type(text).__name__}")
        with timer.stage("parse"):
            parsed = parse_query(text) if text.strip() else None
        if parsed is not None and not parsed.text:
            parsed = None
        if photo is not None and len(photo) == 0:
            raise SearchInputError("the photo is empty (0 bytes)")
        if parsed is None and photo is None and not like:
            raise SearchInputError(
                "empty query: type a description (e.g. 'red jacket, black trousers, heading north'), "
                "upload a photo, or pick a sighting for 'more like this'"
            )
        q = CompiledQuery(scoring=ScoringQuery(parsed=parsed), parsed=parsed)
        if parsed is not None and parsed.has_attributes and "objects" not in self._table_columns():
            q.warnings.append("this index was built before appearance attributes (carried objects, hair, "
                              "pattern): those words count as unknown until it is reindexed")
        want_clip = use_clip and self.models.clip_enabled
        index_model = self.db.meta().get(META_CLIP_MODEL) or ""
        embedder = None
        if want_clip and ((parsed is not None and parsed.caption) or photo is not None):
            with timer.stage("load_clip"):
                embedder = self.models.clip()
            if embedder is None:
                q.warnings.append(f"CLIP unavailable ({self.models.clip_error() or 'not loaded'}): "
                                  "matching colours, direction, time and place only")
            elif not index_model:
                q.warnings.append("the index holds no CLIP vectors yet (run `footage-search index --embeddings-only`): "
                                  "matching colours, direction, time and place only")
                embedder = None
            elif index_model != embedder.identity:
                q.warnings.append(f"the index was built with CLIP {index_model} but {embedder.identity} is configured: "
                                  "CLIP similarity is off for this search (reindex or change models.clip_model)")
                embedder = None
        if embedder is not None and parsed is not None and parsed.caption:
            with timer.stage("embed_text"):
                q.scoring.vectors.append(embedder.embed_texts([parsed.caption])[0])
        if photo is not None:
            with timer.stage("photo"):
                image = decode_photo(photo)
                colours = self.models.colours()
                person = describe_person(image, self.models.detector(), colours, embedder, box=photo_box)
            if person.upper is None and person.vector is None:
                raise SearchInputError("cannot search by photo: no colour-name table and no CLIP model are available")
            q.photo = person
            q.warnings.extend(person.notes)
            if person.upper is not None and person.lower is not None and person.layout is not None:
                q.scoring.references.append(Appearance(person.upper, person.lower, person.layout))
            if person.vector is not None:
                q.scoring.vectors.append(person.vector)
        if like:
            with timer.stage("like"):
                s = self.get_sighting(like)
            q.like = s
            if s.upper is not None and s.lower is not None and s.layout is not None:
                q.scoring.references.append(Appearance(s.upper, s.lower, s.layout))
            if want_clip and s.vector is not None and index_model:
                q.scoring.vectors.append(s.vector)
        return q

    def find(self, query: CompiledQuery, filters: SearchFilters, *, offset: int = 0, limit: int | None = None,
             include_weak: bool = False, candidate_k: int | None = None, timer: StageTimer | None = None
             ) -> SearchResult:
        """Score, group, gate and paginate. ``candidate_k`` widens the candidate pool (route).

        All reads of one search see one version of the index, even while the indexer commits."""
        with self.reader.snapshot():
            return self._find(query, filters, offset=offset, limit=limit, include_weak=include_weak,
                              candidate_k=candidate_k, timer=timer)

    def _find(self, query: CompiledQuery, filters: SearchFilters, *, offset: int, limit: int | None,
              include_weak: bool, candidate_k: int | None, timer: StageTimer | None) -> SearchResult:
        timer = timer or StageTimer()
        offset, limit = self._page(offset, limit)
        if query.like is not None:
            filters = replace(filters, exclude_ids=(*filters.exclude_ids, query.like.sighting_id))
        where = build_where(filters, max_segment_s=self.cfg.index.max_segment_s, tz=self.tz)
        result = SearchResult(sightings=[], total=0, offset=offset, limit=limit, no_result=True, message="",
                              parsed=query.parsed, photo=query.photo,
                              like=query.like.sighting_id if query.like is not None else None,
                              calibrated=query.scoring.calibrated or query.scoring.browse,
                              warnings=list(query.warnings), timings_ms=timer.ms)
        if query.scoring.browse and query.parsed is not None and query.parsed.direction is None \
                and query.photo is None and query.like is None:
            result.message = (f"could not use the description: {query.parsed.summary()}, and CLIP is not available "
                              "for free text. Name clothing colours (e.g. 'red jacket, black trousers') "
                              "or upload a photo.")
            timer.total()
            return result
        # A filtered query usually leaves few rows: read them with their scoring columns straight away,
        # up to the exact-scoring limit, and count only when there turn out to be more. Not with CLIP: its
        # vectors make that read ~60 MB when the limit is reached, so those count first (milliseconds).
        pre: pa.Table | None = None
        n = -1
        if where is not None and not query.scoring.browse and not query.scoring.uses_clip and _narrows(filters):
            with timer.stage("filter"):
                pre = self.reader.read(where, self._score_columns(query.scoring), limit=self.exact_scan_max + 1)
            if pre.num_rows <= self.exact_scan_max:
                n = pre.num_rows
            else:
                pre = None
        if n < 0:
            with timer.stage("count"):
                n = self.reader.count(where)
        result.filtered_rows = n
        if n == 0:
            result.message = f"no sightings pass the filters ({self.describe_filters(filters)})"
            timer.total()
            return result
        k = max(CANDIDATE_K, 4 * (offset + limit), candidate_k or 0)
        scored = self._score(query.scoring, where, n, k, timer, pre=pre)
        result.candidates = len(scored)
        threshold = self.cfg.search.min_score
        with timer.stage("group"):
            # Hits and misses are grouped apart: a tracker that switched people mid-track must not glue
            # someone else's segment onto a hit.
            hit = scored.evidence >= threshold if query.scoring.calibrated else np.ones(len(scored), dtype=bool)
            plausible = self._groups(scored, np.flatnonzero(hit))
            weak = self._groups(scored, np.flatnonzero(~hit))
            groups = plausible + weak
            if query.scoring.browse:
                plausible.sort(key=lambda g: (g.t_start, g.best))
        result.total = len(plausible)
        # Past EXACT_SCAN_MAX rows only the best candidates are scored: there may be more plausible ones.
        result.total_is_lower_bound = len(scored) < n and bool(plausible) and not weak
        result.below_threshold = len(weak)
        shown = [(g, False) for g in plausible] + ([(g, True) for g in weak] if include_weak else [])
        page = shown[offset: offset + limit]
        with timer.stage("fetch"):
            result.sightings = self._materialise(page, scored)
        result.no_result = result.total == 0
        result.message = self._message(query, filters, result, groups, threshold)
        timer.total()
        return result

    @staticmethod
    def _groups(scored: _Scored, idx: np.ndarray) -> list[RowGroup]:
        groups = group_rows(scored.video_id[idx], scored.track_id[idx], scored.segment[idx], scored.t_start[idx],
                            scored.t_end[idx], scored.score[idx], scored.evidence[idx])
        for g in groups:  # back to indexes into ``scored``
            g.rows = [int(idx[i]) for i in g.rows]
            g.best = int(idx[g.best])
        return groups

    def describe_filters(self, f: SearchFilters) -> str:
        parts = []
        if f.time_from is not None or f.time_to is not None:
            a = iso(f.time_from, self.tz) if f.time_from is not None else "..."
            b = iso(f.time_to, self.tz) if f.time_to is not None else "..."
            parts.append(f"time {a} to {b}")
        if f.districts:
            parts.append(f"districts {', '.join(f.districts)}")
        if f.cameras:
            parts.append(f"cameras {', '.join(f.cameras)}")
        if f.direction_deg is not None:
            parts.append(f"moving {f.direction_name} (±{f.direction_tolerance_deg:g}°)")
        if f.min_detections:
            parts.append(f"at least {f.min_detections} detections")
        if f.min_duration_s:
            parts.append(f"at least {f.min_duration_s:g} s in view")
        return "; ".join(parts) or "none"

    # ------------------------------------------------------------------------------------ internals

    def _table_columns(self) -> set[str]:
        return set(self.reader.table().schema.names)

    def _display_columns(self) -> list[str]:
        """What a result shows; attribute columns only where the index has them (older indexes do not)."""
        have = self._table_columns()
        return [*DISPLAY_COLUMNS, *(c for c in ATTRIBUTE_COLUMNS if c in have)]

    def _page(self, offset: int, limit: int | None) -> tuple[int, int]:
        limit = self.cfg.search.default_limit if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise SearchInputError(f"limit {limit!r}: expected a whole number from 1 to {MAX_LIMIT}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise SearchInputError(f"offset {offset!r}: expected a whole number >= 0")
        return offset, limit

    def _score_columns(self, q: ScoringQuery) -> list[str]:
        cols = list(BASE_COLUMNS)
        if q.uses_colours or q.uses_appearance:
            cols += ["upper_colour", "lower_colour"]
        if q.uses_appearance:
            cols.append("colour_layout")
        cols += columns_for(q.parsed, self._table_columns())
        return cols

    def _score(self, q: ScoringQuery, where: str | None, n: int, k: int, timer: StageTimer,
               pre: pa.Table | None = None) -> _Scored:
        cols = self._score_columns(q)
        prefilter = self._colour_prefilter(q, self._table_columns())
        if pre is not None and not q.browse:  # already read (only without CLIP): every filtered row, scored exactly
            with timer.stage("score"):
                return self._scan(q, where, cols, keep=n, key="evidence", with_vectors=False, k_clip=k,
                                  batches=pre.to_batches())
        if q.browse:
            with timer.stage("scan"):
                return self._scan(q, where, cols, keep=min(BROWSE_MAX, n), key="time", with_vectors=False)
        if n <= self.exact_scan_max or not q.uses_clip:
            # Small sets: everything scored exactly. Large sets without CLIP: the colour pre-cut is lossless
            # (rows it drops score 0 on every colour) and the best k by evidence are kept.
            scan_where = where
            if n > self.exact_scan_max and prefilter:
                scan_where = and_where(where, prefilter)
            keep = n if n <= self.exact_scan_max else k
            with timer.stage("scan"):
                return self._scan(q, scan_where, cols, keep=keep, key="evidence", with_vectors=q.uses_clip, k_clip=k)
        return self._two_pass(q, where, n, k, cols, timer, prefilter)

    def _vector_led(self, q: ScoringQuery, n: int) -> bool:
        """A photo-style query (appearance + CLIP vector, no description) over more than ``evidence_scan_max``
        rows: its candidates come from the vector search alone, widened, and appearance is scored on them.
        The appearance scan reads every row's colours (~0.4 KB) and has no index, so it grows with the
        archive (1.3 s at 1M rows on 2 cores); CLIP's image-to-image similarity is the stronger signal of
        the two, so it picks the candidates. A description keeps its scan: there the colour words are the
        calibrated evidence and CLIP text matching the weaker one, and the lossless colour pre-cut bounds it."""
        return q.uses_clip and q.uses_appearance and not q.uses_description and n > self.evidence_scan_max

    @staticmethod
    def _colour_prefilter(q: ScoringQuery, available: set[str]) -> str | None:
        """The lossless colour pre-cut, where it is lossless: a colour-only description (an attribute
        term can make a row plausible whatever its colours), and never dropping rows whose colours are
        unreliable (night/IR: their colour evidence is "unknown", not 0)."""
        if not q.uses_colours or q.uses_appearance or q.uses_attributes:
            return None
        cut = ev.colour_sql_prefilter(q.parsed)  # type: ignore[arg-type]
        if cut and "colour_reliability" in available:
            cut = f"({cut} OR colour_reliability < {ev.RELIABLE!r})"
        return cut

    def _scan(self, q: ScoringQuery, where: str | None, cols: list[str], *, keep: int, key: str,
              with_vectors: bool, k_clip: int = CANDIDATE_K,
              batches: Iterable[pa.RecordBatch] | None = None) -> _Scored:
        read = list(cols) + (["vector", "has_vector"] if with_vectors else [])
        acc: dict[str, list] = {}
        for batch in batches if batches is not None else self.reader.scan(where, read):
            arrays = _batch_arrays(batch, q)
            if with_vectors:
                vecs = fixed_list(batch.column("vector"), len(q.vectors[0]))
                has = np.asarray(batch.column("has_vector").to_numpy(zero_copy_only=False), dtype=bool)
                arrays["raw_clip"] = raw_clip_similarity(q, vecs, has)
            for name, arr in arrays.items():
                acc.setdefault(name, []).append(arr)
            if sum(len(a) for a in acc["ids"]) > max(2 * keep, 65536):
                acc = _keep_top(acc, keep, key)
        if not acc:
            return _empty_scored()
        acc = _keep_top(acc, keep, key)
        return self._finish(q, {name: np.concatenate(v) for name, v in acc.items()}, k_clip)

    def _two_pass(self, q: ScoringQuery, where: str | None, n: int, k: int, cols: list[str],
                  timer: StageTimer, prefilter: str | None) -> _Scored:
        merged: dict[str, np.ndarray] = {}
        k_vector = k
        if self._vector_led(q, n):
            k_vector = VECTOR_LED_K_FACTOR * k
        elif q.calibrated:
            scan_where = and_where(where, prefilter) if prefilter else where
            with timer.stage("scan"):
                acc: dict[str, list] = {}
                for batch in self.reader.scan(scan_where, cols):
                    for name, arr in _batch_arrays(batch, q).items():
                        acc.setdefault(name, []).append(arr)
                    if sum(len(a) for a in acc["ids"]) > max(2 * k, 65536):
                        acc = _keep_top(acc, k, "evidence")
                if acc:
                    acc = _keep_top(acc, k, "evidence")
                    merged = {name: np.concatenate(v) for name, v in acc.items()}
        with timer.stage("vector"):
            tables = [self.reader.nearest(v, where, k_vector, cols, exact=n <= self.ann_exact_max) for v in q.vectors]
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
                sims_by_id = dict(zip(near.column("sighting_id").to_pylist(),
                                      (1.0 - near.column("_distance").to_numpy()).tolist(), strict=True))
                need = np.array([s not in sims_by_id for s in union["ids"]], dtype=bool)
            vec_rows = self._vectors(union["ids"][need], union["rowid"][need]) if need.any() else None
            if vec_rows is not None and vec_rows.num_rows:
                vecs = fixed_list(vec_rows.column("vector"), len(q.vectors[0]))
                has = np.asarray(vec_rows.column("has_vector").to_numpy(), dtype=bool)
                sims = raw_clip_similarity(q, vecs, has)
                sims_by_id.update(zip(vec_rows.column("sighting_id").to_pylist(), sims.tolist(), strict=True))
        union["raw_clip"] = np.array([sims_by_id.get(s, math.nan) for s in union["ids"]], dtype=np.float32)
        return self._finish(q, union, k)

    def _finish(self, q: ScoringQuery, arrays: dict[str, np.ndarray], k_clip: int) -> _Scored:
        n = len(arrays["ids"])
        parts = {name: arrays[name] for name in REPORTED if name in arrays}
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
        return _Scored(ids=arrays["ids"], rowid=arrays["rowid"], video_id=arrays["video_id"],
                       track_id=arrays["track_id"],
                       segment=arrays["segment"], t_start=arrays["t_start"], t_end=arrays["t_end"],
                       score=score, evidence=evidence, parts=parts, clip=clip_ev)

    def _materialise(self, page: list[tuple[RowGroup, bool]], scored: _Scored) -> list[Sighting]:
        if not page:
            return []
        wanted = [i for g, _ in page for i in g.rows]
        rows = self._read_rows(scored, wanted, self._display_columns())
        out = []
        for g, weak in page:
            member_ids = [str(scored.ids[i]) for i in g.rows]
            best_id = str(scored.ids[g.best])
            if best_id not in rows:  # deleted by a concurrent re-index between scoring and fetching
                continue
            s = self._sighting(rows, [m for m in member_ids if m in rows], best_id)
            s.score = float(scored.score[g.best])
            s.evidence = {name: float(v[g.best]) for name, v in scored.parts.items() if np.isfinite(v[g.best])}
            if np.isfinite(scored.evidence[g.best]):
                s.evidence["evidence"] = float(g.evidence)
            s.weak = weak
            out.append(s)
        return out

    def _vectors(self, ids: np.ndarray, rowid: np.ndarray) -> pa.Table:
        """``sighting_id, vector, has_vector`` of candidates, by row id (a direct read) where known."""
        cols = ["vector", "has_vector"]
        known = rowid >= 0
        parts = [self.reader.take([int(r) for r in rowid[known]], cols)] if known.any() else []
        got = set(parts[0].column("sighting_id").to_pylist()) if parts else set()
        missing = [str(x) for x in ids if str(x) not in got]
        if missing:
            parts.append(self.reader.fetch(missing, cols))
        if not parts:
            return self.reader.fetch([], cols)
        return pa.concat_tables(parts)

    def _read_rows(self, scored: _Scored, idx: list[int], columns: list[str]) -> dict[str, dict]:
        """Display columns of candidate rows: by row id where known, by sighting id for the rest (or when a
        compaction moved rows since the scan)."""
        ids = [str(scored.ids[i]) for i in idx]
        known = [i for i in idx if scored.rowid[i] >= 0]
        rows: dict[str, dict] = {}
        if known:
            got = _rows_by_id(self.reader.take([int(scored.rowid[i]) for i in known], columns))
            rows = {k: v for k, v in got.items() if k in set(ids)}
        missing = [sid for sid in ids if sid not in rows]
        if missing:
            rows.update(_rows_by_id(self.reader.fetch(missing, columns)))
        return rows

    def _sighting(self, rows: dict[str, dict], member_ids: list[str], best_id: str) -> Sighting:
        best = rows[best_id]
        members = [rows[m] for m in member_ids] or [best]
        bearing = best["bearing_deg"]
        if bearing is None:
            moving = [m for m in members if m["bearing_deg"] is not None]
            if moving:
                bearing = max(moving, key=lambda m: m["n_detections"])["bearing_deg"]
        cam = self.registry.cameras.get(best["camera_id"])
        vec = np.asarray(best["vector"], dtype=np.float32) if best["has_vector"] else None
        return Sighting(
            sighting_id=best_id, member_ids=tuple(member_ids) or (best_id,), video_id=best["video_id"],
            camera_id=best["camera_id"], camera_name=cam.name if cam else best["camera_id"],
            district=best["district"], t_start=min(m["t_start"] for m in members),
            t_end=max(m["t_end"] for m in members), t_best=best["t_best"], video_path=best["video_path"],
            offset_start_s=min(m["offset_start_s"] for m in members),
            offset_end_s=max(m["offset_end_s"] for m in members), offset_best_s=best["offset_best_s"],
            box=tuple(float(v) for v in best["box"]),  # type: ignore[arg-type]
            frame_size=(int(best["frame_width"]), int(best["frame_height"])), track_id=int(best["track_id"]),
            n_detections=int(sum(m["n_detections"] for m in members)),
            bearing_deg=None if bearing is None else float(bearing), speed_mps=float(best["speed_mps"]),
            thumbnail=best["thumbnail"] or b"",
            upper=np.asarray(best["upper_colour"], dtype=np.float32),
            lower=np.asarray(best["lower_colour"], dtype=np.float32),
            layout=np.asarray(best["colour_layout"], dtype=np.float32), vector=vec,
            attributes=SightingAttributes.from_row(best),
        )

    def _message(self, query: CompiledQuery, filters: SearchFilters, result: SearchResult, groups: list[RowGroup],
                 threshold: float) -> str:
        understood = query.parsed.summary() if query.parsed is not None else ""
        if query.scoring.browse:
            head = f"{result.total} sighting(s) pass the filters ({self.describe_filters(filters)}), listed by time"
            return f"{head}; {understood}" if understood else head
        if result.total:
            head = f"{'at least ' if result.total_is_lower_bound else ''}{result.total} sighting(s) found"
            if not query.scoring.calibrated:
                head += " (ranked by CLIP similarity only: no colour terms, so no threshold says the person is absent)"
            return f"{head}; {understood}" if understood else head
        best = max((g.evidence for g in groups if np.isfinite(g.evidence)), default=0.0)
        sc = query.scoring
        described = "colour" if not sc.uses_attributes else ("attribute" if not sc.uses_colours else "description")
        what = " and ".join([described] * sc.uses_description + ["appearance"] * sc.uses_appearance)
        msg = (f"no plausible match: among {result.filtered_rows} sighting(s) passing the filters, the best {what} "
               f"evidence is {best:.2f}, below the threshold {threshold:.2f}")
        return f"{msg}; {understood}" if understood else msg


# ---------------------------------------------------------------------------------------------- helpers


def _narrows(f: SearchFilters) -> bool:
    """Whether the filters can leave few rows: place, time or chosen rows. Direction, track length and
    exclusions alone keep most of the index, and reading it up to the exact-scoring limit only to find
    that out cost ~80 ms at 10M rows; those searches count first."""
    return bool(f.time_from is not None or f.time_to is not None or f.districts or f.cameras or f.only_ids)


def _compass_deg(name: str) -> float:
    from core.compass import COMPASS_DEG

    return COMPASS_DEG[name]


def _rows_by_id(table: pa.Table) -> dict[str, dict]:
    return {r["sighting_id"]: r for r in table.to_pylist()}


def _empty_scored() -> _Scored:
    e = np.zeros(0)
    return _Scored(ids=np.zeros(0, dtype=object), rowid=np.zeros(0, dtype=np.int64),
                   video_id=np.zeros(0, dtype=object), track_id=e, segment=e,
                   t_start=e, t_end=e, score=e, evidence=e, parts={}, clip=None)


def _batch_arrays(batch: pa.RecordBatch | pa.Table, q: ScoringQuery) -> dict[str, np.ndarray]:
    def col(name: str) -> np.ndarray:
        c = batch.column(name)
        return c.to_numpy(zero_copy_only=False) if isinstance(c, pa.Array) else c.to_numpy()

    out = {
        "ids": np.asarray(batch.column("sighting_id").to_pylist(), dtype=object),
        "rowid": (col("_rowid").astype(np.int64) if "_rowid" in batch.schema.names
                  else np.full(batch.num_rows, -1, dtype=np.int64)),
        "video_id": np.asarray(batch.column("video_id").to_pylist(), dtype=object),
        "track_id": col("track_id").astype(np.int64),
        "segment": col("segment").astype(np.int64),
        "t_start": col("t_start").astype(np.float64),
        "t_end": col("t_end").astype(np.float64),
    }
    upper = lower = layout = None
    names = batch.schema.names
    if "upper_colour" in names:
        upper = fixed_list(batch.column("upper_colour"), N_COLOURS)
        lower = fixed_list(batch.column("lower_colour"), N_COLOURS)
    if "colour_layout" in names:
        layout = fixed_list(batch.column("colour_layout"), LAYOUT_DIM)
    attributes = read_attribute_columns(batch, q.parsed) if q.uses_description else None  # type: ignore[arg-type]
    out.update(absolute_parts(q, upper, lower, layout, attributes))
    if any(k in out for k in REPORTED):
        out["evidence"] = evidence_score({k: out[k] for k in REPORTED if k in out}, len(out["ids"]))
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

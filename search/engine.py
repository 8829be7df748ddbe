"""The search API the console and the CLI use: ``SearchEngine(cfg, registry).search(SearchRequest(...))``.

One search, step by step, one module each:

1. validate the request and build the filters (:mod:`search.filters`): unknown cameras/districts,
   bad times, impossible limits raise :class:`SearchInputError` before anything is read;
2. compile the query (:mod:`search.compile`): parse the text, find the person in a photo, look up a
   "more like this" sighting, and embed with CLIP when enabled;
3. choose and score the candidates among the rows that pass the filters (:mod:`search.candidates`):
   every row up to ``EXACT_SCAN_MAX``, else the best by calibrated evidence plus the best by CLIP;
4. group, gate, page and read the page (:mod:`search.results`).

All reads of one search (steps 3 and 4) see one pinned version of the index, even while the indexer
commits (:meth:`search.index_reader.SightingReader.snapshot`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from core.compass import COMPASS_DEG
from core.config import Config
from core.index_db import IndexDB
from core.registry import CameraRegistry
from core.schema import META_CLIP_MODEL
from search.appearance import read_parts
from search.candidates import (
    ANN_EXACT_MAX,
    CANDIDATE_K,
    EVIDENCE_SCAN_MAX,
    EXACT_SCAN_MAX,
    CandidateLimits,
    colour_prefilter,
    count_filtered,
    score_candidates,
)
from search.compile import CompiledQuery, compile_query
from search.errors import SearchInputError
from search.filters import SearchFilters, build_where, check_sighting_id, make_filters
from search.index_reader import SightingReader
from search.request import SearchRequest
from search.result import SearchResult, Sighting
from search.results import check_page, describe_filters, display_columns, fill_result, rows_by_id, sighting_from_rows
from search.scoring import Appearance
from search.search_models import SearchModels
from search.timeutil import to_epoch, zone
from search.timing import StageTimer

# Re-exported: the route, the benchmarks and older callers import these from here.
__all__ = ["ANN_EXACT_MAX", "CANDIDATE_K", "EVIDENCE_SCAN_MAX", "EXACT_SCAN_MAX", "CompiledQuery", "SearchEngine",
           "StageTimer"]


class SearchEngine:
    """Search over one index with one camera registry. Safe to share between threads."""

    # Kept for tests written against the engine before the split; the function is search.candidates'.
    _colour_prefilter = staticmethod(colour_prefilter)

    def __init__(self, cfg: Config, registry: CameraRegistry, models: SearchModels | None = None):
        self.cfg = cfg
        self.registry = registry
        self.models = models if models is not None else SearchModels(cfg)
        self.tz = zone(cfg.index.timezone)
        self.db = IndexDB.open(cfg.storage, must_exist=True, follow_writes=True)
        self.reader = SightingReader(self.db)
        # Up to these many filtered rows, scoring is exact: every row scored / vector search without the ANN
        # index; past evidence_scan_max a photo-style query is vector-led. Tests and benchmarks move them.
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
            if req.pinned and query.scoring.uses_appearance:
                self.expand(query, req.pinned)
        if req.direction is None and query.parsed is not None and query.parsed.direction is not None:
            filters = replace(filters, direction_deg=COMPASS_DEG[query.parsed.direction])
        return self.find(query, filters, offset=offset, limit=limit, include_weak=req.include_weak, timer=timer)

    def more_like(self, sighting_id: str, **request: Any) -> SearchResult:
        """"More like this": the sighting's vector, colours and layout as the query (it is left out)."""
        return self.search(SearchRequest(like=sighting_id, **request))

    def get_sighting(self, sighting_id: str) -> Sighting:
        sid = check_sighting_id(sighting_id)
        rows = self.reader.fetch([sid], self._display_columns())
        if rows.num_rows == 0:
            raise SearchInputError(f"unknown sighting {sid!r}: not in the index (it may have been re-indexed)")
        return sighting_from_rows(rows_by_id(rows), [sid], sid, self.registry)

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
        return compile_query(text, photo=photo, photo_box=photo_box, like=like, use_clip=use_clip,
                             models=self.models, index_clip_model=lambda: self.db.meta().get(META_CLIP_MODEL) or "",
                             table_columns=self._table_columns, get_sighting=self.get_sighting,
                             timer=timer or StageTimer(), get_parts=self.part_colours)

    def expand(self, query: CompiledQuery, pinned: Sequence[str]) -> int:
        """Query expansion: each pinned sighting (confirmed as the person by an operator) becomes another
        reference, with its own colours and crops, so views unlike the photo's still find the person.
        Returns how many were added (a pin already a reference, or gone from the index, adds none)."""
        have = {query.like.sighting_id} if query.like is not None else set()
        have |= set(query.scoring.examples)
        ids = [check_sighting_id(p) for p in dict.fromkeys(pinned) if p not in have]
        if not ids:
            return 0
        rows = rows_by_id(self.reader.fetch(ids, self._display_columns()))
        parts = self.part_colours([i for i in ids if i in rows])
        added = 0
        for sid in ids:
            if sid in rows:
                s = sighting_from_rows(rows, [sid], sid, self.registry)
                if s.upper is not None and s.lower is not None and s.layout is not None:
                    query.scoring.references.append(Appearance(s.upper, s.lower, s.layout, parts.get(sid)))
                    query.scoring.examples.append(sid)
                    added += 1
        return added

    def part_colours(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Head / torso / legs colours of the crops of sightings ``ids`` (search.appearance), where indexed."""
        return read_parts(self.reader, ids, self._table_columns())

    def find(self, query: CompiledQuery, filters: SearchFilters, *, offset: int = 0, limit: int | None = None,
             include_weak: bool = False, candidate_k: int | None = None, timer: StageTimer | None = None
             ) -> SearchResult:
        """Score, group, gate and paginate. ``candidate_k`` widens the candidate pool (route).

        All reads of one search see one version of the index, even while the indexer commits."""
        with self.reader.snapshot():
            return self._find(query, filters, offset=offset, limit=limit, include_weak=include_weak,
                              candidate_k=candidate_k, timer=timer)

    def describe_filters(self, f: SearchFilters) -> str:
        return describe_filters(f, self.tz)

    # ------------------------------------------------------------------------------------ internals

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
                              warnings=list(query.warnings))
        if query.scoring.browse and query.parsed is not None and query.parsed.direction is None \
                and query.photo is None and query.like is None:
            result.message = (f"could not use the description: {query.parsed.summary()}, and CLIP is not available "
                              "for free text. Name clothing colours (e.g. 'red jacket, black trousers') "
                              "or upload a photo.")
            return _timed(result, timer)
        limits = CandidateLimits(self.exact_scan_max, self.ann_exact_max, self.evidence_scan_max)
        available = self._table_columns()
        n, pre = count_filtered(self.reader, query.scoring, filters, where, limits, available, timer)
        result.filtered_rows = n
        if n == 0:
            result.message = f"no sightings pass the filters ({self.describe_filters(filters)})"
            return _timed(result, timer)
        k = max(CANDIDATE_K, 4 * (offset + limit), candidate_k or 0)
        scored = score_candidates(self.reader, query.scoring, where, n, k, limits, available, timer, pre=pre)
        fill_result(result, scored, n, query, filters, reader=self.reader, registry=self.registry, tz=self.tz,
                    threshold=self.cfg.search.min_score, include_weak=include_weak,
                    columns=display_columns(available), timer=timer)
        return _timed(result, timer)

    def _table_columns(self) -> set[str]:
        return set(self.reader.table().schema.names)

    def _display_columns(self) -> list[str]:
        return display_columns(self._table_columns())

    def _page(self, offset: int, limit: int | None) -> tuple[int, int]:
        return check_page(offset, limit, self.cfg.search.default_limit)


def _timed(result: SearchResult, timer: StageTimer) -> SearchResult:
    timer.total()
    result.timings_ms = timer.ms
    return result

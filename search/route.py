"""Chaining sightings into the most plausible route across cameras and districts: the engine-facing part.

Given a start (a confirmed sighting, or a last-seen camera and time, or just a description and a time
window), :func:`build_route` validates the request, compiles the query with the search engine, takes the
candidate sightings from one search (plausible and somewhat plausible ones, plus the pins whatever
their score), reads the footage coverage, and hands these plain records to the pure path search
(:func:`search.route_path.plan_route`: Viterbi over time-ordered sightings, gaps, next-camera windows).
Every read of one route (start, pins, candidates, coverage) sees one pinned version of the index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.compass import COMPASS_DEG
from search.engine import SearchEngine
from search.errors import SearchInputError
from search.filters import SearchFilters, check_sighting_id, make_filters
from search.result import Sighting
from search.route_path import DEFAULT_MIN_SPEED_MPS, VIEW_RADIUS_M, LastSeen, plan_route
from search.route_result import CameraSuggestion, Route, RouteGap, RouteLeg, RouteStop
from search.timeutil import to_epoch
from search.timing import StageTimer

# Re-exported: the console and the tests import the route's types from here.
__all__ = ["VIEW_RADIUS_M", "CameraSuggestion", "Route", "RouteGap", "RouteLeg", "RouteRequest", "RouteStop",
           "build_route"]

MIN_CANDIDATE_EVIDENCE_FRACTION = 0.5  # candidates down to half the no-result threshold
MAX_HORIZON_S = 7 * 86400
DEFAULT_FORWARD_S = 4 * 3600


@dataclass
class RouteRequest:
    """Where to start, what the person looks like, and what the operator has confirmed or ruled out."""

    start_sighting_id: str | None = None  # a confirmed sighting
    start_camera: str | None = None  # or: last seen at this camera...
    start_time: str | datetime | float | None = None  # ...at this time
    text: str = ""
    photo: bytes | None = None
    photo_box: tuple[float, float, float, float] | None = None
    pinned: Sequence[str] = ()  # must be on the route
    rejected: Sequence[str] = ()  # never on the route
    max_speed_mps: float | None = None  # default: search.max_walking_speed_mps
    min_speed_mps: float = DEFAULT_MIN_SPEED_MPS
    forward_s: float = DEFAULT_FORWARD_S  # how far after the start to look
    backward_s: float = 0.0  # how far before the start to look (where did they come from?)
    time_from: str | datetime | float | None = None  # the window when there is no start
    time_to: str | datetime | float | None = None
    districts: Sequence[str] = ()
    cameras: Sequence[str] = ()
    use_clip: bool = True
    max_candidates: int = 400
    suggestions: int = 5


def build_route(engine: SearchEngine, req: RouteRequest) -> Route:
    """The most plausible route for ``req``; raises :class:`SearchInputError` on bad input or impossible pins."""
    timer = StageTimer()
    cfg = engine.cfg
    v_max = cfg.search.max_walking_speed_mps if req.max_speed_mps is None else req.max_speed_mps
    _check_number(v_max, "maximum walking speed", 0.1, 15.0)
    _check_number(req.min_speed_mps, "minimum walking speed", 0.05, v_max)
    _check_number(req.forward_s, "forward horizon", 0, MAX_HORIZON_S)
    _check_number(req.backward_s, "backward horizon", 0, MAX_HORIZON_S)
    if not isinstance(req.max_candidates, int) or not 1 <= req.max_candidates <= 1000:
        raise SearchInputError("max_candidates: expected 1 to 1000")
    pinned = [check_sighting_id(p) for p in req.pinned]
    rejected = [check_sighting_id(r) for r in req.rejected]
    if set(pinned) & set(rejected):
        both = ", ".join(sorted(set(pinned) & set(rejected)))
        raise SearchInputError(f"sighting(s) both pinned and rejected: {both}")
    if req.start_sighting_id and (req.start_camera or req.start_time is not None):
        raise SearchInputError("give a start sighting, or a camera and a time, not both")
    with engine.reader.snapshot(videos=True):
        return _build(engine, req, timer, v_max, pinned, rejected)


def _build(engine: SearchEngine, req: RouteRequest, timer: StageTimer, v_max: float, pinned: list[str],
           rejected: list[str]) -> Route:
    cfg = engine.cfg
    # -- the start
    start: Sighting | None = None
    last_seen: LastSeen | None = None
    if req.start_sighting_id:
        start = engine.get_sighting(req.start_sighting_id)
        if start.sighting_id in rejected or set(start.member_ids) & set(rejected):
            raise SearchInputError("the start sighting is also rejected")
    elif req.start_camera or req.start_time is not None:
        if not req.start_camera or req.start_time is None:
            raise SearchInputError("a last-seen start needs both a camera and a time")
        last_seen = LastSeen(make_filters(engine.registry, cameras=[req.start_camera]).cameras[0],
                             to_epoch(req.start_time, engine.tz, "start time"))
    if start is None and not (req.text or "").strip() and req.photo is None:
        raise SearchInputError("a route needs a description or a photo of the person, or a confirmed start sighting")

    with timer.stage("query"):
        query = engine.compile(req.text or "", photo=req.photo, photo_box=req.photo_box,
                               like=start.sighting_id if start is not None else None, use_clip=req.use_clip,
                               timer=timer)
    if query.scoring.browse:
        raise SearchInputError(
            "a route needs something to recognise the person by: clothing colours, a photo or a confirmed "
            f"sighting ({query.parsed.summary() if query.parsed is not None else 'nothing understood'})"
        )
    if start is not None:
        t_lo, t_hi = start.t_start - req.backward_s, start.t_end + req.forward_s
    elif last_seen is not None:
        t_lo, t_hi = last_seen.t - req.backward_s, last_seen.t + req.forward_s
    else:
        t_lo = to_epoch(req.time_from, engine.tz, "time window 'from'")
        t_hi = to_epoch(req.time_to, engine.tz, "time window 'to'")
    pins = [engine.get_sighting(p) for p in pinned]
    if pins and query.scoring.uses_appearance:  # query expansion: each pin is another view of the person
        engine.expand(query, pinned)
    for p in pins:
        t_lo = p.t_start if t_lo is None else min(t_lo, p.t_start)
        t_hi = p.t_end if t_hi is None else max(t_hi, p.t_end)
    base = make_filters(engine.registry, time_from=t_lo, time_to=t_hi, districts=req.districts,
                        cameras=req.cameras, exclude_ids=rejected)

    # -- candidates: plausible and somewhat plausible sightings, plus the pins whatever their score
    with timer.stage("candidates"):
        found = engine.find(query, base, limit=req.max_candidates, include_weak=True,
                            candidate_k=2 * req.max_candidates, timer=timer)
        floor = MIN_CANDIDATE_EVIDENCE_FRACTION * cfg.search.min_score
        cands = [s for s in found.sightings if _usable(s, floor, query.scoring.calibrated)]
        if pins:
            scored_pins = engine.find(query, SearchFilters(only_ids=tuple(pinned)), limit=len(pinned) + 10,
                                      include_weak=True).sightings
            cands += scored_pins
    with timer.stage("suggest"):
        footage = engine.reader.footage_spans()
    route = plan_route(cands, engine.registry, footage, tz=engine.tz, min_score=cfg.search.min_score, v_max=v_max,
                       v_min=req.min_speed_mps, start=start, last_seen=last_seen, pinned=pinned, rejected=rejected,
                       use_clip=req.use_clip and engine.models.clip_enabled,
                       described_heading=COMPASS_DEG[query.direction] if query.direction else None,
                       suggestions=req.suggestions, timer=timer)
    timer.total()
    route.parsed = query.parsed
    route.warnings = list(found.warnings) + route.warnings
    route.timings_ms = timer.ms
    return route


def _usable(s: Sighting, floor: float, calibrated: bool) -> bool:
    if not calibrated:
        return True
    return s.evidence.get("evidence", 0.0) >= floor


def _check_number(x: float, what: str, lo: float, hi: float) -> None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not lo <= x <= hi:
        raise SearchInputError(f"{what} {x!r}: expected a number from {lo:g} to {hi:g}")

"""Chaining sightings into the most plausible route across cameras and districts.

Given a start (a confirmed sighting, or a last-seen camera and time, or just a description and a time
window), the route is the best path through candidate sightings ordered by time, found by dynamic
programming (Viterbi over a time-ordered DAG), not greedily: a strong sighting later can outweigh a
tempting but inconsistent one now.

Path score = sum over stops of the *emission* plus sum over hops of the *transition*::

    emission(s)   = 2.0 * (score(s) - search.min_score)                       # fused search score
    transition(a, b) = 0.75 * bearing_agreement(a, b)                          # in [-1, 1]
                     + 1.0  * (2 * appearance(a, b) - 1)                       # in [-1, 1]
                     - 0.1  * log(1 + gap_s / 600)                             # prefer short gaps

* A hop a -> b is allowed only if b starts after a ends and the cameras' distance (registry lat/lon)
  less ``2 * VIEW_RADIUS_M`` (the person is somewhere in each camera's view, not at its mast) can
  be walked at ``max_speed_mps`` (``search.max_walking_speed_mps``) in the time between them.
* bearing agreement: cosine of the angle between the direction of movement seen at a (and at b)
  and the bearing from a's camera to b's camera; 0 when unknown or the cameras are close.
* appearance: CLIP cosine similarity of the two sightings when both have a vector and CLIP is
  enabled, else their colour appearance evidence (layout + upper/lower colours).

Pinned sightings are forced onto the path (no hop may jump over one in time); rejected ones are never
candidates. Sightings below the emission break-even are only used when a pin forces them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from core.compass import COMPASS_DEG, angle_diff_deg
from core.schema import VIDEO_STATUS_DONE, VIDEOS
from search import evidence as ev
from search.engine import SearchEngine
from search.errors import SearchInputError
from search.filters import SearchFilters, check_sighting_id, make_filters
from search.query_parser import ParsedQuery
from search.result import Sighting
from search.timeutil import iso, to_epoch
from search.timing import StageTimer

VIEW_RADIUS_M = 25.0  # how far from its mast a camera typically sees a person
W_EMIT, W_BEARING, W_APPEARANCE, W_GAP = 2.0, 0.75, 1.0, 0.1
GAP_SCALE_S = 600.0
MIN_CANDIDATE_EVIDENCE_FRACTION = 0.5  # candidates down to half the no-result threshold
MAX_HORIZON_S = 7 * 86400
DEFAULT_FORWARD_S = 4 * 3600
DEFAULT_MIN_SPEED_MPS = 0.5  # slow wandering: the "latest" end of next-camera windows
SUGGESTION_HORIZON_S = 2 * 3600
REPORT_GAP_S = 60.0
CLIP_SAME_PERSON = (0.5, 0.9)  # cosine range mapped to appearance 0..1 when CLIP compares two sightings


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


@dataclass
class RouteLeg:
    """The hop from the previous stop to this one."""

    distance_m: float
    gap_s: float
    speed_needed_mps: float  # straight-line distance (less the cameras' view radius) over the gap
    bearing_deg: float | None  # from the previous camera to this one (None: same camera)
    bearing_agreement: float | None  # cosine; None when unknown
    appearance: float | None  # 0..1 similarity of the two sightings


@dataclass
class RouteStop:
    camera_id: str
    district: str
    t_start: float
    t_end: float
    sighting: Sighting | None  # None for a "last seen at camera/time" start
    is_start: bool = False
    pinned: bool = False
    leg: RouteLeg | None = None

    def to_dict(self, tz) -> dict:
        return {
            "camera_id": self.camera_id, "district": self.district, "start": iso(self.t_start, tz),
            "end": iso(self.t_end, tz), "is_start": self.is_start, "pinned": self.pinned,
            "sighting": self.sighting.to_dict(tz) if self.sighting is not None else None,
            "leg": None if self.leg is None else {
                "distance_m": round(self.leg.distance_m, 1), "gap_s": round(self.leg.gap_s, 1),
                "speed_needed_mps": round(self.leg.speed_needed_mps, 2),
                "bearing_deg": None if self.leg.bearing_deg is None else round(self.leg.bearing_deg, 1),
                "bearing_agreement": _round(self.leg.bearing_agreement),
                "appearance": _round(self.leg.appearance),
            },
        }


@dataclass
class RouteGap:
    """Time between two stops; cameras on the way that have footage then are worth checking by eye."""

    after_stop: int  # index into Route.stops
    gap_s: float
    distance_m: float
    cameras_between: list[str]

    def to_dict(self) -> dict:
        return {"after_stop": self.after_stop, "gap_s": round(self.gap_s, 1), "distance_m": round(self.distance_m, 1),
                "cameras_between": self.cameras_between}


@dataclass
class CameraSuggestion:
    """A camera the person could reach next, and when: [earliest, latest] from distance and speed."""

    camera_id: str
    camera_name: str
    district: str
    distance_m: float
    bearing_deg: float
    bearing_agreement: float | None  # with the last stop's direction of movement
    earliest: float
    latest: float
    has_footage: bool  # the index holds footage of this camera in that window

    def to_dict(self, tz) -> dict:
        return {"camera_id": self.camera_id, "camera_name": self.camera_name, "district": self.district,
                "distance_m": round(self.distance_m, 1), "bearing_deg": round(self.bearing_deg, 1),
                "bearing_agreement": None if self.bearing_agreement is None else round(self.bearing_agreement, 3),
                "earliest": iso(self.earliest, tz), "latest": iso(self.latest, tz), "has_footage": self.has_footage}


@dataclass
class Route:
    stops: list[RouteStop]
    districts: list[str]  # in the order crossed
    gaps: list[RouteGap]
    suggestions: list[CameraSuggestion]
    score: float
    message: str
    parsed: ParsedQuery | None = None
    candidates: int = 0
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def sightings(self) -> list[Sighting]:
        return [s.sighting for s in self.stops if s.sighting is not None]

    @property
    def cameras(self) -> list[str]:
        return [s.camera_id for s in self.stops]

    def to_dict(self, tz) -> dict:
        return {"message": self.message, "score": round(self.score, 4), "districts": self.districts,
                "cameras": self.cameras, "candidates": self.candidates, "warnings": self.warnings,
                "query": self.parsed.to_dict() if self.parsed is not None else None,
                "stops": [s.to_dict(tz) for s in self.stops], "gaps": [g.to_dict() for g in self.gaps],
                "suggestions": [c.to_dict(tz) for c in self.suggestions],
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()}}


@dataclass
class _Node:
    camera_id: str
    t_start: float
    t_end: float
    bearing: float | None
    emission: float
    sighting: Sighting | None
    pinned: bool = False
    is_start: bool = False


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

    # -- the start
    start: Sighting | None = None
    start_camera = start_time = None
    if req.start_sighting_id and (req.start_camera or req.start_time is not None):
        raise SearchInputError("give a start sighting, or a camera and a time, not both")
    if req.start_sighting_id:
        start = engine.get_sighting(req.start_sighting_id)
        if start.sighting_id in rejected or set(start.member_ids) & set(rejected):
            raise SearchInputError("the start sighting is also rejected")
    elif req.start_camera or req.start_time is not None:
        if not req.start_camera or req.start_time is None:
            raise SearchInputError("a last-seen start needs both a camera and a time")
        start_camera = make_filters(engine.registry, cameras=[req.start_camera]).cameras[0]
        start_time = to_epoch(req.start_time, engine.tz, "start time")
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
    elif start_time is not None:
        t_lo, t_hi = start_time - req.backward_s, start_time + req.forward_s
    else:
        t_lo = to_epoch(req.time_from, engine.tz, "time window 'from'")
        t_hi = to_epoch(req.time_to, engine.tz, "time window 'to'")
    pins = [engine.get_sighting(p) for p in pinned]
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
    rejected_set = set(rejected)
    pinned_set = set(pinned)
    by_key: dict[tuple[str, int, float], Sighting] = {}
    for s in cands:
        if set(s.member_ids) & rejected_set:
            continue
        if start is not None and s.video_id == start.video_id and s.track_id == start.track_id:
            continue  # the start's own tracklet
        key = (s.video_id, s.track_id, s.t_start)
        by_key.setdefault(key, s)
    for p in pinned:
        if not any(p in s.member_ids or p == s.sighting_id for s in by_key.values()):
            if start is not None and p in start.member_ids:
                continue
            raise SearchInputError(f"pinned sighting {p!r} does not pass the route's filters (cameras/districts)")

    threshold = cfg.search.min_score
    notes: list[str] = []
    nodes: list[_Node] = []
    for s in by_key.values():
        score = s.score if s.score is not None else 0.0
        nodes.append(_Node(s.camera_id, s.t_start, s.t_end, s.bearing_deg, W_EMIT * (score - threshold), s,
                           pinned=bool(pinned_set & set(s.member_ids)) or s.sighting_id in pinned_set))
    if start is not None:
        nodes.append(_Node(start.camera_id, start.t_start, start.t_end, start.bearing_deg, 0.0, start,
                           pinned=True, is_start=True))
    elif start_camera is not None and start_time is not None:
        # "Last seen at camera C at time t": a sighting at C that spans t is her being seen then, so the
        # start moves back to its beginning and that sighting can follow it.
        spanning = [nd.t_start for nd in nodes if nd.camera_id == start_camera and nd.t_start <= start_time <= nd.t_end]
        t_anchor = min([start_time, *spanning])
        if t_anchor < start_time:
            notes.append(f"a sighting at {start_camera} spans the last-seen time; the route starts where it "
                         f"begins ({iso(t_anchor, engine.tz)})")
        # a witness's "heading north" is the direction she left the last-seen camera in
        heading = COMPASS_DEG[query.direction] if query.direction else None
        nodes.append(_Node(start_camera, t_anchor, t_anchor, heading, 0.0, None, pinned=True, is_start=True))
    nodes.sort(key=lambda nd: (nd.t_start, not nd.is_start, nd.t_end))

    with timer.stage("dp"):
        graph = _transitions(engine, nodes, v_max, use_clip=req.use_clip and engine.models.clip_enabled)
        path, total = _best_path(nodes, graph.trans)
    stops = []
    for k, i in enumerate(path):
        nd = nodes[i]
        stops.append(RouteStop(camera_id=nd.camera_id, district=_district(engine, nd), t_start=nd.t_start,
                               t_end=nd.t_end, sighting=nd.sighting, is_start=nd.is_start, pinned=nd.pinned,
                               leg=graph.leg(path[k - 1], i) if k else None))
    districts = [d for k, d in enumerate(st.district for st in stops) if k == 0 or d != stops[k - 1].district]
    with timer.stage("suggest"):
        spans = _footage_spans(engine)
        gaps = _gaps(engine, stops, v_max, spans)
        heading = COMPASS_DEG[query.direction] if query.direction else None
        suggestions = (_suggestions(engine, stops, v_max, req.min_speed_mps, spans, req.suggestions, heading)
                       if stops else [])
    timer.total()
    n_found = sum(1 for s in stops if s.sighting is not None and not s.is_start)
    if stops:
        msg = (f"route of {len(stops)} stop(s) ({n_found} found) across {len(districts)} district(s): "
               f"{' -> '.join(districts)}, {iso(stops[0].t_start, engine.tz)} to {iso(stops[-1].t_end, engine.tz)}")
    else:
        msg = "no plausible route: no sighting matches well enough (try a wider time window or fewer filters)"
    return Route(stops=stops, districts=districts, gaps=gaps, suggestions=suggestions, score=total, message=msg,
                 parsed=query.parsed, candidates=len(nodes), warnings=list(found.warnings) + notes,
                 timings_ms=timer.ms)


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _usable(s: Sighting, floor: float, calibrated: bool) -> bool:
    if not calibrated:
        return True
    return s.evidence.get("evidence", 0.0) >= floor


def _check_number(x: float, what: str, lo: float, hi: float) -> None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not lo <= x <= hi:
        raise SearchInputError(f"{what} {x!r}: expected a number from {lo:g} to {hi:g}")


def _district(engine: SearchEngine, nd: _Node) -> str:
    if nd.sighting is not None:
        return nd.sighting.district
    cam = engine.registry.cameras.get(nd.camera_id)
    return cam.district if cam else ""


# ------------------------------------------------------------------------------------------------ DP


@dataclass
class _Graph:
    """Transition scores between time-ordered nodes (i -> j for i < j; -inf: impossible) and the facts
    behind them, as (N, N) arrays."""

    trans: np.ndarray
    distance: np.ndarray
    gap: np.ndarray
    bearing: np.ndarray  # camera-to-camera bearing; NaN: same place
    agreement: np.ndarray  # NaN: unknown
    appearance: np.ndarray  # NaN: not comparable

    def leg(self, i: int, j: int) -> RouteLeg:
        d, gap = float(self.distance[i, j]), float(self.gap[i, j])
        return RouteLeg(distance_m=d, gap_s=gap,
                        speed_needed_mps=max(0.0, d - 2 * VIEW_RADIUS_M) / gap if gap > 0 else 0.0,
                        bearing_deg=_finite(self.bearing[i, j]), bearing_agreement=_finite(self.agreement[i, j]),
                        appearance=_finite(self.appearance[i, j]))


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _transitions(engine: SearchEngine, nodes: list[_Node], v_max: float, *, use_clip: bool) -> _Graph:
    n = len(nodes)
    if n == 0:
        empty = np.zeros((0, 0))
        return _Graph(trans=empty, distance=empty, gap=empty, bearing=empty, agreement=empty, appearance=empty)
    reg = engine.registry
    cams = sorted({nd.camera_id for nd in nodes})
    ci = np.array([cams.index(nd.camera_id) for nd in nodes], dtype=int)
    cam_d = np.array([[0.0 if a == b else _distance(reg, a, b) for b in cams] for a in cams], dtype=float)
    cam_b = np.array([[np.nan if a == b or a not in reg or b not in reg else reg.bearing_deg(a, b) for b in cams]
                      for a in cams], dtype=float)
    t_start = np.array([nd.t_start for nd in nodes])
    t_end = np.array([nd.t_end for nd in nodes])
    heading = np.array([np.nan if nd.bearing is None else nd.bearing for nd in nodes], dtype=float)
    raw_gap = t_start[None, :] - t_end[:, None]
    gap = np.maximum(raw_gap, 0.0)
    dist = cam_d[ci[:, None], ci[None, :]]
    slack = 2 * VIEW_RADIUS_M
    later = np.triu(np.ones((n, n), dtype=bool), k=1)
    feasible = later & (raw_gap >= -1.0) & (np.maximum(0.0, dist - slack) <= v_max * gap)
    bearing = np.where(dist > slack, cam_b[ci[:, None], ci[None, :]], np.nan)
    with np.errstate(invalid="ignore"):
        out_fit = np.cos(np.radians(_angle(heading[:, None], bearing)))
        in_fit = np.cos(np.radians(_angle(heading[None, :], bearing)))
        both = np.stack([out_fit, in_fit])
        counts = np.isfinite(both).sum(axis=0)
        agreement = np.where(counts > 0, np.nansum(both, axis=0) / np.maximum(counts, 1), np.nan)
    app = _appearance_matrix(nodes, use_clip)
    score = (W_BEARING * np.nan_to_num(agreement, nan=0.0) - W_GAP * np.log1p(gap / GAP_SCALE_S)
             + W_APPEARANCE * np.where(np.isfinite(app), 2.0 * app - 1.0, 0.0))
    trans = np.where(feasible, score, -np.inf)
    return _Graph(trans=trans, distance=dist, gap=gap, bearing=bearing, agreement=agreement, appearance=app)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest absolute difference of bearings, NaN-propagating (vectorised angle_diff_deg)."""
    d = np.abs((a - b) % 360.0)
    return np.minimum(d, 360.0 - d)


def _appearance_matrix(nodes: list[_Node], use_clip: bool) -> np.ndarray:
    n = len(nodes)
    out = np.full((n, n), np.nan)
    idx = [i for i, nd in enumerate(nodes) if nd.sighting is not None and nd.sighting.upper is not None]
    if not idx:
        return out
    ss = [nodes[i].sighting for i in idx]
    colour = ev.pairwise_appearance(np.stack([s.upper for s in ss]), np.stack([s.lower for s in ss]),
                                    np.stack([s.layout for s in ss]))
    out[np.ix_(idx, idx)] = colour
    if use_clip:
        vidx = [k for k, s in enumerate(ss) if s.vector is not None]
        if len(vidx) > 1:
            vecs = np.stack([ss[k].vector for k in vidx])
            lo, hi = CLIP_SAME_PERSON
            sims = np.clip((vecs @ vecs.T - lo) / (hi - lo), 0.0, 1.0)
            rows = [idx[k] for k in vidx]
            out[np.ix_(rows, rows)] = sims
    return out


def _best_path(nodes: list[_Node], trans: np.ndarray) -> tuple[list[int], float]:
    """Best path through time-ordered nodes (Viterbi on a DAG); pinned nodes (and the start) are all on it."""
    n = len(nodes)
    if n == 0:
        return [], 0.0
    em = np.array([nd.emission for nd in nodes])
    pins = [i for i, nd in enumerate(nodes) if nd.pinned]
    start = next((i for i, nd in enumerate(nodes) if nd.is_start), None)
    # pin_before[k] = pins with index < k; a hop i -> j (i < j) may not jump over a pin
    pin_before = np.concatenate([[0], np.cumsum([1 if nd.pinned else 0 for nd in nodes])])

    best = np.full(n, -np.inf)
    back = np.full(n, -1)
    lo = 0 if start is None else start
    for j in range(lo, n):
        if start is None and pin_before[j] == 0:
            best[j] = em[j]  # the route may begin here
        if start is not None and j == start:
            best[j] = 0.0
            continue
        if j == lo:
            continue
        cand = best[lo:j] + trans[lo:j, j]
        cand[pin_before[lo + 1: j + 1] != pin_before[j]] = -np.inf
        k = int(np.argmax(cand))
        if cand[k] > -np.inf and cand[k] + em[j] > best[j]:
            best[j], back[j] = cand[k] + em[j], lo + k
    last_pin = pins[-1] if pins else -1
    ends = [j for j in range(max(last_pin, 0), n) if best[j] > -np.inf]
    forward: list[int] = []
    total = 0.0
    if ends:
        end = max(ends, key=lambda j: (best[j], -j))
        total = float(best[end])
        j = end
        while j != -1:
            forward.append(j)
            j = int(back[j])
        forward.reverse()
    elif pins:
        _raise_impossible(nodes, pins, trans)
    if start is None:
        if pins and not set(pins) <= set(forward):
            _raise_impossible(nodes, pins, trans)
        if forward and total <= 0 and not pins:
            return [], 0.0  # nothing beats "no route"
        return forward, total
    # before the start: the same DP backwards in time (pins and candidates earlier than the start)
    earlier_pins = [p for p in pins if p < start]
    back_best = np.full(n, -np.inf)
    back_next = np.full(n, -1)
    back_best[start] = 0.0
    for j in range(start - 1, -1, -1):
        cand = back_best[j + 1: start + 1] + trans[j, j + 1: start + 1]
        cand[pin_before[j + 1: start + 1] != pin_before[j + 1]] = -np.inf
        k = int(np.argmax(cand))
        if cand[k] > -np.inf:
            back_best[j], back_next[j] = cand[k] + em[j], j + 1 + k
    first_pin = earlier_pins[0] if earlier_pins else start
    if earlier_pins and back_best[first_pin] == -np.inf:
        _raise_impossible(nodes, pins, trans)
    heads = [j for j in range(0, first_pin + 1) if back_best[j] > -np.inf]
    head = max(heads, key=lambda j: (back_best[j], j)) if heads else start
    backward: list[int] = []
    j = head
    while j != start and j != -1:
        backward.append(j)
        j = int(back_next[j])
    path = backward + forward
    if not set(pins) <= set(path):
        _raise_impossible(nodes, pins, trans)
    return path, total + (float(back_best[head]) if head != start else 0.0)


def _raise_impossible(nodes: list[_Node], pins: list[int], trans: np.ndarray) -> None:
    for a, b in itertools.pairwise(pins):
        if trans[a, b] == -np.inf:
            na, nb = nodes[a], nodes[b]
            raise SearchInputError(
                f"pinned sightings at {na.camera_id} and {nb.camera_id} cannot both be on one route: "
                f"{nb.t_start - na.t_end:.0f} s apart is too little to walk between them; unpin one"
            )
    raise SearchInputError("the pinned sightings cannot all be on one route (speed limit between them); unpin one")


def _distance(reg, a: str, b: str) -> float:
    try:
        return reg.distance_m(a, b)
    except KeyError:
        return math.inf  # a camera no longer in the registry: unreachable


# ----------------------------------------------------------------------------------- gaps, suggestions


def _footage_spans(engine: SearchEngine) -> dict[str, list[tuple[float, float]]]:
    if not engine.db.has_table(VIDEOS):
        return {}
    t = engine.db.table(VIDEOS).to_arrow().select(["camera_id", "start_time", "duration_s", "status"])
    spans: dict[str, list[tuple[float, float]]] = {}
    for r in t.to_pylist():
        if r["status"] == VIDEO_STATUS_DONE:
            spans.setdefault(r["camera_id"], []).append((r["start_time"], r["start_time"] + r["duration_s"]))
    return spans


def _has_footage(spans: dict[str, list[tuple[float, float]]], camera: str, lo: float, hi: float) -> bool:
    return any(s <= hi and e >= lo for s, e in spans.get(camera, []))


def _gaps(engine: SearchEngine, stops: list[RouteStop], v_max: float,
          spans: dict[str, list[tuple[float, float]]]) -> list[RouteGap]:
    reg = engine.registry
    out = []
    for k in range(1, len(stops)):
        a, b = stops[k - 1], stops[k]
        gap = b.t_start - a.t_end
        if gap < REPORT_GAP_S and a.camera_id == b.camera_id:
            continue
        d = _distance(reg, a.camera_id, b.camera_id) if a.camera_id != b.camera_id else 0.0
        between = []
        for cam in reg:
            c = cam.camera_id
            if c in (a.camera_id, b.camera_id) or a.camera_id not in reg or b.camera_id not in reg:
                continue
            da, db = reg.distance_m(a.camera_id, c), reg.distance_m(c, b.camera_id)
            reachable = max(0.0, da + db - 4 * VIEW_RADIUS_M) <= v_max * max(gap, 0.0)
            if da + db - d <= max(200.0, 0.5 * d) and reachable and _has_footage(spans, c, a.t_end, b.t_start):
                between.append(c)
        out.append(RouteGap(after_stop=k - 1, gap_s=gap, distance_m=d, cameras_between=between))
    return out


def _suggestions(engine: SearchEngine, stops: list[RouteStop], v_max: float, v_min: float,
                 spans: dict[str, list[tuple[float, float]]], limit: int,
                 described_heading: float | None = None) -> list[CameraSuggestion]:
    reg = engine.registry
    last = stops[-1]
    if last.camera_id not in reg:
        return []
    heading = last.sighting.bearing_deg if last.sighting is not None else described_heading
    out = []
    for cam in reg:
        if cam.camera_id == last.camera_id:
            continue
        d = reg.distance_m(last.camera_id, cam.camera_id)
        earliest = last.t_end + max(0.0, d - 2 * VIEW_RADIUS_M) / v_max
        latest = last.t_end + (d + 2 * VIEW_RADIUS_M) / v_min
        if earliest - last.t_end > SUGGESTION_HORIZON_S:
            continue
        bearing = reg.bearing_deg(last.camera_id, cam.camera_id)
        agree = None if heading is None else math.cos(math.radians(angle_diff_deg(heading, bearing)))
        out.append(CameraSuggestion(camera_id=cam.camera_id, camera_name=cam.name, district=cam.district, distance_m=d,
                                    bearing_deg=bearing, bearing_agreement=agree, earliest=earliest, latest=latest,
                                    has_footage=_has_footage(spans, cam.camera_id, earliest, latest)))
    # cameras ahead (or direction unknown) first, nearest first; then the ones behind
    out.sort(key=lambda c: (c.bearing_agreement is not None and c.bearing_agreement < 0, c.distance_m))
    return out[: max(0, limit)]

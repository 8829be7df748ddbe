"""The route's path search, pure: plain records in (the search's sightings, the camera registry, footage
coverage), a :class:`~search.route_result.Route` out. No index, no engine, no clock.

The route is the best path through candidate sightings ordered by time, found by dynamic programming
(Viterbi over a time-ordered DAG), not greedily: a strong sighting later can outweigh a tempting but
inconsistent one now.

Path score = sum over stops of the *emission* plus sum over hops of the *transition*::

    emission(s)   = 2.0 * (score(s) - search.min_score)                       # fused search score
    transition(a, b) = 0.75 * bearing_agreement(a, b)                          # in [-1, 1]
                     + 1.0  * (2 * appearance(a, b) - 1)                       # in [-1, 1]
                     - 0.1  * log(1 + gap_s / 600)                             # prefer short gaps

* A hop a -> b is allowed only if b starts after a ends and the cameras' distance (registry lat/lon)
  less ``2 * VIEW_RADIUS_M`` (the person is somewhere in each camera's view, not at its mast) can
  be walked at ``v_max`` in the time between them.
* A new pass of the same camera (b more than ``SAME_PASS_GAP_S`` after a: she left its view and came
  back) scores like turning back, ``min(transition, 0) - 0.75``, and gives back b's emission: a camera
  already on the route gains nothing from look-alikes passing it later. A track broken by an occlusion
  (a shorter gap) joins as before.
* bearing agreement: cosine of the angle between the direction of movement seen at a (and at b)
  and the bearing from a's camera to b's camera; 0 when unknown or the cameras are close.
* appearance: CLIP cosine similarity of the two sightings when both have a vector and CLIP is
  enabled, else their colour appearance evidence (layout + upper/lower colours).

Pinned sightings are forced onto the path (no hop may jump over one in time); rejected ones are never
candidates. Sightings below the emission break-even are only used when a pin forces them.

Around the path: the gaps between stops name the cameras on the way that had footage then, and the
next-camera suggestions give each reachable camera a window ``[end + (d - 50 m) / v_max,
end + (d + 50 m) / v_min]``, with whether footage covers it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from core.compass import angle_diff_deg
from core.registry import CameraRegistry
from search import evidence as ev
from search.errors import SearchInputError
from search.result import Sighting
from search.route_result import CameraSuggestion, Route, RouteGap, RouteLeg, RouteStop
from search.timeutil import iso
from search.timing import StageTimer

VIEW_RADIUS_M = 25.0  # how far from its mast a camera typically sees a person
W_EMIT, W_BEARING, W_APPEARANCE, W_GAP = 2.0, 0.75, 1.0, 0.1
GAP_SCALE_S = 600.0
DEFAULT_MIN_SPEED_MPS = 0.5  # slow wandering: the "latest" end of next-camera windows
SUGGESTION_HORIZON_S = 2 * 3600
REPORT_GAP_S = 60.0
SAME_PASS_GAP_S = 10.0  # a track broken by occlusion at 1 sample/s resumes within this; later is a new pass
CLIP_SAME_PERSON = (0.5, 0.9)  # cosine range mapped to appearance 0..1 when CLIP compares two sightings

FootageSpans = dict[str, list[tuple[float, float]]]  # camera id -> (start, end) epoch spans of indexed video


@dataclass(frozen=True)
class LastSeen:
    """A "last seen at this camera at this time" start, with no sighting of it."""

    camera_id: str
    t: float


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


def plan_route(candidates: Iterable[Sighting], registry: CameraRegistry, footage: FootageSpans, *, tz: ZoneInfo,
               min_score: float, v_max: float, v_min: float = DEFAULT_MIN_SPEED_MPS, start: Sighting | None = None,
               last_seen: LastSeen | None = None, pinned: Sequence[str] = (), rejected: Collection[str] = (),
               use_clip: bool = False, described_heading: float | None = None, suggestions: int = 5,
               timer: StageTimer | None = None) -> Route:
    """The most plausible route through ``candidates`` (scored sightings), from ``start`` or ``last_seen``
    or from wherever the best path begins.

    ``pinned`` sighting ids must be on it (each must be among the candidates or be the start), ``rejected``
    ones (or anything grouped with them) never are. ``min_score`` is the search's no-result threshold (the
    emission break-even); ``described_heading`` is a direction from the description, which orients a
    last-seen start and the next cameras when the last stop has no sighting. The result has no query,
    search warnings or timings: :func:`search.route.build_route` adds them. Raises
    :class:`SearchInputError` for a pin that is not a candidate or pins no walk can join."""
    timer = timer or StageTimer()
    rejected_set = set(rejected)
    pinned_set = set(pinned)
    by_key: dict[tuple[str, int, float], Sighting] = {}
    for s in candidates:
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

    notes: list[str] = []
    nodes: list[_Node] = []
    for s in by_key.values():
        score = s.score if s.score is not None else 0.0
        nodes.append(_Node(s.camera_id, s.t_start, s.t_end, s.bearing_deg, W_EMIT * (score - min_score), s,
                           pinned=bool(pinned_set & set(s.member_ids)) or s.sighting_id in pinned_set))
    if start is not None:
        nodes.append(_Node(start.camera_id, start.t_start, start.t_end, start.bearing_deg, 0.0, start,
                           pinned=True, is_start=True))
    elif last_seen is not None:
        # "Last seen at camera C at time t": a sighting at C that spans t and matches her (or is pinned) is
        # her being seen then, so the start moves back to its beginning and that sighting can follow it.
        # Someone else in view then does not move it: from a start moved back to their entry, her own
        # sighting would begin more than SAME_PASS_GAP_S later and read as a new pass.
        cam, t = last_seen.camera_id, last_seen.t
        spanning = [nd.t_start for nd in nodes if nd.camera_id == cam and nd.t_start <= t <= nd.t_end
                    and (nd.emission >= 0.0 or nd.pinned)]
        t_anchor = min([t, *spanning])
        if t_anchor < t:
            notes.append(f"a sighting at {cam} spans the last-seen time; the route starts where it "
                         f"begins ({iso(t_anchor, tz)})")
        # a witness's "heading north" is the direction she left the last-seen camera in
        nodes.append(_Node(cam, t_anchor, t_anchor, described_heading, 0.0, None, pinned=True, is_start=True))
    nodes.sort(key=lambda nd: (nd.t_start, not nd.is_start, nd.t_end))

    with timer.stage("dp"):
        graph = _transitions(registry, nodes, v_max, use_clip=use_clip)
        path, total = _best_path(nodes, graph.trans)
    stops = []
    for k, i in enumerate(path):
        nd = nodes[i]
        stops.append(RouteStop(camera_id=nd.camera_id, district=_district(registry, nd), t_start=nd.t_start,
                               t_end=nd.t_end, sighting=nd.sighting, is_start=nd.is_start, pinned=nd.pinned,
                               leg=graph.leg(path[k - 1], i) if k else None))
    districts = [d for k, d in enumerate(st.district for st in stops) if k == 0 or d != stops[k - 1].district]
    with timer.stage("suggest"):
        gaps = route_gaps(registry, stops, v_max, footage)
        nexts = (next_cameras(registry, stops, v_max, v_min, footage, suggestions, described_heading)
                 if stops else [])
    n_found = sum(1 for s in stops if s.sighting is not None and not s.is_start)
    if stops:
        msg = (f"route of {len(stops)} stop(s) ({n_found} found) across {len(districts)} district(s): "
               f"{' -> '.join(districts)}, {iso(stops[0].t_start, tz)} to {iso(stops[-1].t_end, tz)}")
    else:
        msg = "no plausible route: no sighting matches well enough (try a wider time window or fewer filters)"
    return Route(stops=stops, districts=districts, gaps=gaps, suggestions=nexts, score=total, message=msg,
                 candidates=len(nodes), warnings=notes)


def has_footage(footage: FootageSpans, camera: str, lo: float, hi: float) -> bool:
    """Whether indexed video of ``camera`` overlaps ``[lo, hi]``."""
    return any(s <= hi and e >= lo for s, e in footage.get(camera, []))


def route_gaps(registry: CameraRegistry, stops: list[RouteStop], v_max: float,
               footage: FootageSpans) -> list[RouteGap]:
    """Every hop between stops that is a real gap, with the cameras near the way that had footage then
    (detour at most max(200 m, d / 2), reachable at ``v_max``): worth checking by eye."""
    out = []
    for k in range(1, len(stops)):
        a, b = stops[k - 1], stops[k]
        gap = b.t_start - a.t_end
        if gap < REPORT_GAP_S and a.camera_id == b.camera_id:
            continue
        d = _distance(registry, a.camera_id, b.camera_id) if a.camera_id != b.camera_id else 0.0
        between = []
        for cam in registry:
            c = cam.camera_id
            if c in (a.camera_id, b.camera_id) or a.camera_id not in registry or b.camera_id not in registry:
                continue
            da, db = registry.distance_m(a.camera_id, c), registry.distance_m(c, b.camera_id)
            reachable = max(0.0, da + db - 4 * VIEW_RADIUS_M) <= v_max * max(gap, 0.0)
            if da + db - d <= max(200.0, 0.5 * d) and reachable and has_footage(footage, c, a.t_end, b.t_start):
                between.append(c)
        out.append(RouteGap(after_stop=k - 1, gap_s=gap, distance_m=d, cameras_between=between))
    return out


def next_cameras(registry: CameraRegistry, stops: list[RouteStop], v_max: float, v_min: float,
                 footage: FootageSpans, limit: int, described_heading: float | None = None) -> list[CameraSuggestion]:
    """Cameras the person could reach next from the last stop within ``SUGGESTION_HORIZON_S``, each with
    its arrival window; cameras ahead (or direction unknown) first, nearest first, then the ones behind."""
    last = stops[-1]
    if last.camera_id not in registry:
        return []
    heading = last.sighting.bearing_deg if last.sighting is not None else described_heading
    out = []
    for cam in registry:
        if cam.camera_id == last.camera_id:
            continue
        d = registry.distance_m(last.camera_id, cam.camera_id)
        earliest = last.t_end + max(0.0, d - 2 * VIEW_RADIUS_M) / v_max
        latest = last.t_end + (d + 2 * VIEW_RADIUS_M) / v_min
        if earliest - last.t_end > SUGGESTION_HORIZON_S:
            continue
        bearing = registry.bearing_deg(last.camera_id, cam.camera_id)
        agree = None if heading is None else math.cos(math.radians(angle_diff_deg(heading, bearing)))
        out.append(CameraSuggestion(camera_id=cam.camera_id, camera_name=cam.name, district=cam.district, distance_m=d,
                                    bearing_deg=bearing, bearing_agreement=agree, earliest=earliest, latest=latest,
                                    has_footage=has_footage(footage, cam.camera_id, earliest, latest)))
    out.sort(key=lambda c: (c.bearing_agreement is not None and c.bearing_agreement < 0, c.distance_m))
    return out[: max(0, limit)]


# ------------------------------------------------------------------------------------------------ DP


def _district(registry: CameraRegistry, nd: _Node) -> str:
    if nd.sighting is not None:
        return nd.sighting.district
    cam = registry.cameras.get(nd.camera_id)
    return cam.district if cam else ""


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


def _transitions(reg: CameraRegistry, nodes: list[_Node], v_max: float, *, use_clip: bool) -> _Graph:
    n = len(nodes)
    if n == 0:
        empty = np.zeros((0, 0))
        return _Graph(trans=empty, distance=empty, gap=empty, bearing=empty, agreement=empty, appearance=empty)
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
    # A new pass at the same camera means she left its view and came back: as unlikely as turning back,
    # and the camera is already on the route, so the pass adds no evidence (neither its emission nor a
    # matching look). Otherwise every look-alike who later walks past the last stop lengthens the path
    # more than the person's next camera does.
    emission = np.array([max(nd.emission, 0.0) for nd in nodes])
    revisit = (ci[:, None] == ci[None, :]) & (gap > SAME_PASS_GAP_S)
    score = np.where(revisit, np.minimum(score, 0.0) - W_BEARING - emission[None, :], score)
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


def _distance(reg: CameraRegistry, a: str, b: str) -> float:
    try:
        return reg.distance_m(a, b)
    except KeyError:
        return math.inf  # a camera no longer in the registry: unreachable

"""A large city for the case-mode benchmark, made with the demo city's generator (scenario, rigs, crowd, renderer).

Districts are 1 km blocks in two rows; cameras are spread over them at least ~200 m apart. The target walks a
U-shaped route through four districts (straight lines between stops at :data:`ROUTE_SPEED_MPS`), starting a
few minutes after the recordings begin; every camera records the whole span in files of ``file_minutes``
(some recorders have an outage: a gap with no file). Passers-by are planned in 2-minute stretches so that
hours of footage stay cheap to plan, and are drawn from a pool of outfits per camera so that sprites are
drawn once per outfit. Hard negatives: three look-alikes in the target's colours (purple upper, blue lower)
and a double in her exact outfit; see :func:`build_large_city` and bench/case_city.py for the ground truth.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.registry import Camera, CameraRegistry

from .figure import Look
from .scenario import (
    KST,
    ROUTE_SPEED_MPS,
    TARGET_LOOK,
    TARGET_LOWER,
    TARGET_UPPER,
    City,
    Clip,
    Person,
    Rig,
    RouteLeg,
    Walk,
    _crowd,
    _make_rig,
    _Style,
    _walk_through,
    random_person,
    seed_of,
    visible_run,
)

LAT0, LON0 = 37.540, 126.950  # south-west corner of the block grid
M_PER_DEG = math.pi / 180 * 6_371_000.0
BLOCK_M = 1000.0
DISTRICTS = [("JN", "Jongno-gu"), ("JG", "Jung-gu"), ("YS", "Yongsan-gu"), ("MP", "Mapo-gu"),
             ("SD", "Seodaemun-gu"), ("SG", "Seongdong-gu"), ("GN", "Gangnam-gu"), ("SC", "Seocho-gu")]
# The route, in block units (x east, y north): through blocks (0,0) -> (1,0) -> (1,1) -> (0,1).
ROUTE_PATH = [(0.70, 0.65), (1.35, 0.65), (1.35, 1.35), (0.75, 1.35)]
SEGMENT_S = 120.0  # crowd planning stretch


@dataclass(frozen=True)
class LargeCitySpec:
    cameras: int = 42
    districts: int = 6
    minutes: int = 36  # every camera records this long
    file_minutes: int = 20
    fps: int = 1  # frames written per second; the indexer samples 1 fps from keyframes either way
    stops: int = 7  # route cameras, evenly spaced along the route
    outfits: int = 40  # passers-by outfits per camera
    outages: int = 2  # cameras with a 4-minute recording gap
    crowd: bool = True  # False: only the scripted people (a quick look at the scenario, tests)
    start: datetime = datetime(2026, 3, 14, 9, 0, 0, tzinfo=KST)
    first_stop_after_s: int = 240

    def __post_init__(self) -> None:
        if not 5 <= self.districts <= len(DISTRICTS):
            raise ValueError(f"districts must be 5..{len(DISTRICTS)} (the route crosses four; one look-alike "
                             "walks in a district it never enters)")
        if self.cameras < self.districts * 2 or self.cameras < self.stops + self.outages + 4:
            raise ValueError("too few cameras for the districts, the route and the hard negatives")
        if self.stops < 4 or self.fps < 1 or self.minutes < 10 or self.file_minutes < 2:
            raise ValueError("need >= 4 stops, fps >= 1, minutes >= 10, file_minutes >= 2")

    @property
    def camera_hours(self) -> float:
        return self.cameras * self.minutes / 60


def _latlon(east: float, north: float) -> tuple[float, float]:
    return LAT0 + north / M_PER_DEG, LON0 + east / (M_PER_DEG * math.cos(math.radians(LAT0)))


def _block(spec: LargeCitySpec, k: int) -> tuple[int, int]:
    cols = math.ceil(spec.districts / 2)
    return k % cols, k // cols


def _district_at(spec: LargeCitySpec, east: float, north: float) -> int:
    cols = math.ceil(spec.districts / 2)
    return int(north // BLOCK_M) * cols + int(east // BLOCK_M)


def _route_points(n: int) -> list[tuple[float, float]]:
    pts = [np.array(p) * BLOCK_M for p in ROUTE_PATH]
    seg = [float(np.linalg.norm(b - a)) for a, b in itertools.pairwise(pts)]
    out = []
    for i in range(n):
        s = sum(seg) * i / (n - 1)
        j = 0
        while j < len(seg) - 1 and s > seg[j]:
            s -= seg[j]
            j += 1
        p = pts[j] + (pts[j + 1] - pts[j]) * min(1.0, s / seg[j])
        out.append((float(p[0]), float(p[1])))
    return out


def _style(rng: np.random.Generator) -> _Style:
    walls = [(170, 185, 200), (150, 160, 175), (185, 190, 195), (90, 110, 150), (200, 205, 210), (140, 165, 190),
             (150, 150, 150), (120, 130, 140), (130, 140, 150)]
    paving = [("tiles", (150, 155, 160)), ("bricks", (112, 122, 152)), ("slabs", (168, 170, 172)),
              ("tiles", (135, 145, 150)), ("bricks", (140, 145, 150)), ("tiles", (125, 130, 140))]
    tints = [(1.0, 1.0, 1.0), (1.04, 1.0, 0.96), (0.97, 1.0, 1.04), (0.98, 1.0, 1.03), (1.03, 1.0, 0.97)]
    pv, pv_bgr = paving[int(rng.integers(len(paving)))]
    return _Style(
        height=round(float(rng.uniform(5.0, 7.0)), 1), hfov=float(rng.integers(60, 69)), street=None,
        pass_dist=round(float(rng.uniform(8.0, 10.0)), 1), lateral=round(float(rng.uniform(-0.6, 0.6)), 1),
        road=float(rng.choice([7.0, 8.0, 9.0, 10.0, 12.0, 14.0])), far_walk=round(float(rng.uniform(3.5, 6.0)), 1),
        paving=pv, paving_bgr=pv_bgr, far_wall=walls[int(rng.integers(len(walls)))],
        near_wall=walls[int(rng.integers(len(walls)))], far_h=float(rng.integers(12, 31)),
        near_h=float(rng.integers(14, 26)), crosswalk=None if rng.random() < 0.6 else float(rng.integers(-10, 16)),
        shade=0.0 if rng.random() < 0.8 else 2.5, gain=round(float(rng.uniform(0.95, 1.05)), 2),
        tint=tints[int(rng.integers(len(tints)))])


def _place_cameras(spec: LargeCitySpec, stops: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """(east, north, district) of every camera: the route stops first, then the rest, >= ~200 m apart."""
    rng = np.random.default_rng(seed_of("case-city", "cameras"))
    placed = [(e, n, _district_at(spec, e, n)) for e, n in stops]
    per = [spec.cameras // spec.districts + (1 if k < spec.cameras % spec.districts else 0)
           for k in range(spec.districts)]
    for k in range(spec.districts):
        bx, by = _block(spec, k)
        have = sum(1 for p in placed if p[2] == k)
        min_d = 220.0
        while have < per[k]:
            for _ in range(400):
                e = (bx + rng.uniform(0.08, 0.92)) * BLOCK_M
                n = (by + rng.uniform(0.08, 0.92)) * BLOCK_M
                if all(math.hypot(e - p[0], n - p[1]) >= min_d for p in placed):
                    placed.append((e, n, k))
                    have += 1
                    break
            else:
                min_d *= 0.9  # a crowded district: allow cameras a little closer
    return placed


def _clips(spec: LargeCitySpec, cid: str, t0: int, busy: list[tuple[float, float]], outage: bool) -> list[Clip]:
    """Files of ``file_minutes`` from a per-recorder phase; no file boundary cuts a scripted appearance."""
    rng = np.random.default_rng(seed_of("case-city", "files", cid))
    t1, step = t0 + spec.minutes * 60, spec.file_minutes * 60
    for _ in range(200):
        phase = int(rng.integers(0, step))
        cuts = [c for c in range(t0 + phase, t1, step) if t0 + 60 < c < t1 - 60]
        if not any(b0 - 5 <= c <= b1 + 5 for c in cuts for b0, b1 in busy):
            break
    bounds = [t0, *cuts, t1]
    spans = list(itertools.pairwise(bounds))
    if outage:  # the recorder lost four minutes in the middle of its longest file
        g0 = t0 + int(rng.integers(spec.minutes * 15, spec.minutes * 40))
        spans = [(p0, p1) for a, b in spans for p0, p1 in ((a, min(b, g0)), (max(a, g0 + 240), b)) if p1 - p0 >= 30]
    return [Clip(cid, a, b - a, spec.fps) for a, b in spans]


LOOKALIKES = {
    # Same colours as the target (purple upper, blue lower), different build, hair, garment or bag.
    "lookalike-1": Look(height_m=1.62, build=0.96, female=True, skin=(130, 162, 208), hair=(30, 32, 40),
                        hair_style="bob", upper=(146, 52, 124), upper_kind="coat", lower=(158, 100, 48),
                        lower_kind="trousers", legwear=(0, 0, 0), shoes=(35, 35, 38)),
    "lookalike-2": Look(height_m=1.74, build=1.02, female=False, skin=(120, 152, 200), hair=(25, 25, 30),
                        hair_style="short", upper=(140, 42, 122), upper_kind="jacket", lower=(150, 98, 52),
                        lower_kind="trousers", legwear=(0, 0, 0), shoes=(30, 30, 34), bag="backpack"),
    "lookalike-3": Look(height_m=1.66, build=0.95, female=True, skin=(138, 170, 216), hair=(24, 26, 32),
                        hair_style="long", upper=(152, 46, 130), upper_kind="coat_long", lower=(165, 95, 40),
                        lower_kind="trousers", legwear=(0, 0, 0), shoes=(40, 40, 45), bag="shoulder",
                        bag_colour=(50, 70, 100)),
}


def build_large_city(spec: LargeCitySpec | None = None) -> City:
    spec = spec or LargeCitySpec()
    stops_xy = _route_points(spec.stops)
    placed = _place_cameras(spec, stops_xy)
    route_idx = list(range(spec.stops))
    # Ids per district from west to east, so a camera's number says nothing about the route.
    ids: dict[int, str] = {}
    for k in range(spec.districts):
        mine = sorted((i for i, p in enumerate(placed) if p[2] == k), key=lambda i: (placed[i][0], placed[i][1]))
        for n, i in enumerate(mine, start=1):
            ids[i] = f"{DISTRICTS[k][0]}-{n:02d}"
    rng = np.random.default_rng(seed_of("case-city", "rigs"))
    cams = {}
    for i, (e, n, k) in enumerate(placed):
        lat, lon = _latlon(e, n)
        cams[ids[i]] = Camera(ids[i], DISTRICTS[k][1], f"{DISTRICTS[k][1]} street {ids[i][-2:]}", round(lat, 6),
                              round(lon, 6), float(rng.integers(0, 360)), float(rng.integers(25, 35)))
    registry = CameraRegistry(dict(sorted(cams.items())), source="case city")
    route = [ids[i] for i in route_idx]

    bearings = {}
    for i, cid in enumerate(route):
        a, b = (route[i], route[i + 1]) if i + 1 < len(route) else (route[i - 1], route[i])
        bearings[cid] = round(registry.bearing_deg(a, b), 1)
    rigs: dict[str, Rig] = {}
    passes: dict[str, tuple[float, float]] = {}
    for cid, cam in registry.cameras.items():
        srng = np.random.default_rng(seed_of("case-city", "style", cid))
        for _ in range(50):  # a lens and street where a walker crossing the main line is in view long enough
            street = bearings.get(cid, float(srng.integers(0, 180)))
            rig, point = _make_rig(cam, street, _style(srng))
            run = visible_run(rig.pinhole, point, street, 1.65)
            if run is not None and run[1] - run[0] >= 6.0:
                break
        rigs[cid], passes[cid] = rig, point

    target = Person("target", "target", TARGET_LOOK, TARGET_UPPER, TARGET_LOWER)
    t0 = int(spec.start.timestamp())
    t_enter = float(t0 + spec.first_stop_after_s)
    walks: list[Walk] = []
    legs: list[RouteLeg] = []
    trng = np.random.default_rng(seed_of("case-city", "target"))
    for i, cid in enumerate(route):
        if i:
            t_enter = legs[-1].t_exit_planned + registry.distance_m(legs[-1].camera_id, cid) / ROUTE_SPEED_MPS
        w = _walk_through(target, rigs[cid], passes[cid], bearings[cid], round(float(trng.uniform(1.28, 1.38)), 2),
                          t_enter, phase0=0.3 * i)
        run = visible_run(rigs[cid].pinhole, passes[cid], bearings[cid], TARGET_LOOK.height_m)
        assert run is not None
        walks.append(w)
        legs.append(RouteLeg(cid, w, t_enter, t_enter + (run[1] - run[0]) / w.speed_mps))
    if legs[-1].t_exit_planned > t0 + spec.minutes * 60 - 60:
        raise ValueError(f"the route needs {legs[-1].t_exit_planned - t0:.0f} s: record more than {spec.minutes} min")

    negatives, notes = _hard_negatives(spec, registry, rigs, passes, legs, route)
    walks += negatives
    off_route = sorted(set(registry.cameras) - set(route) - {w.camera_id for w in negatives})
    orng = np.random.default_rng(seed_of("case-city", "outages"))
    outage = {str(c) for c in orng.choice(off_route, spec.outages, replace=False)}
    clips: list[Clip] = []
    for cid in registry.cameras:
        busy = [(w.t0, w.t1) for w in walks if w.camera_id == cid]
        clips += _clips(spec, cid, t0, busy, cid in outage)

    crowd: list[Walk] = []
    for cid in registry.cameras if spec.crowd else ():
        prng = np.random.default_rng(seed_of("case-city", "outfits", cid))
        pool = tuple(random_person(prng, f"{cid}-o{j:02d}") for j in range(spec.outfits))
        crowd += camera_crowd(rigs[cid], [w for w in walks if w.camera_id == cid], pool, t0, t0 + spec.minutes * 60)
    walks += crowd
    clips.sort(key=lambda c: (c.camera_id, c.start))
    notes |= {"route_bearings": bearings, "outages": sorted(outage),
              "districts_on_route": list(dict.fromkeys(registry.get(c).district for c in route))}
    return City(registry=registry, rigs=rigs, clips=clips, walks=walks, route=legs, notes=notes)


def camera_crowd(rig: Rig, fixed: list[Walk], pool: tuple[Person, ...], t0: float, t1: float) -> list[Walk]:
    """Passers-by for hours of footage: the demo's planner, one 2-minute stretch at a time."""
    rng = np.random.default_rng(seed_of("case-city", "crowd", rig.camera.camera_id))
    out: list[Walk] = []
    k, s0 = 0, t0
    while s0 < t1:
        s1 = min(s0 + SEGMENT_S, t1)
        near = [w for w in fixed + out if w.t1 >= s0 - 40 and w.t0 <= s1 + 40]
        out += _crowd(rig, (s0, s1), near, rng, f"{rig.camera.camera_id}-s{k:03d}-p", pool)
        k, s0 = k + 1, s1
    return out


def _lookalike(name: str) -> Person:
    return Person(name, "lookalike", LOOKALIKES[name], TARGET_UPPER, TARGET_LOWER)


def _hard_negatives(spec, registry, rigs, passes, legs, route) -> tuple[list[Walk], dict]:
    """Three look-alikes in the target's colours and a double; each placed where the route cannot explain it."""
    at = {leg.camera_id: leg for leg in legs}
    off = [c for c in registry.cameras if c not in at]

    def dist(a: str, b: str) -> float:
        return registry.distance_m(a, b)

    walks = []

    def put(person: Person, cid: str, bearing: float, speed: float, t: float) -> None:
        walks.append(_walk_through(person, rigs[cid], passes[cid], bearing % 360, speed, t))

    # 1: at the third route camera, before the report (the target was still at her first stop).
    c1 = route[2]
    put(_lookalike("lookalike-1"), c1, at[c1].walk.bearing_deg, 1.25, legs[0].t_enter_planned - 150)
    # 2: in a district the route never enters, while the target walks.
    route_d = {registry.get(c).district for c in route}
    c2 = next(c for c in off if registry.get(c).district not in route_d)
    put(_lookalike("lookalike-2"), c2, at[route[1]].walk.bearing_deg + 90, 1.3, legs[3].t_enter_planned)
    # 3: the hardest: an off-route camera near the fourth stop, at a time the target could have been there.
    k = 3
    c3 = min(off, key=lambda c: dist(c, route[k]) if c != c2 else 1e9)
    t3 = legs[k].t_exit_planned + dist(route[k], c3) / ROUTE_SPEED_MPS
    put(_lookalike("lookalike-3"), c3, at[route[k]].walk.bearing_deg + 180, 1.3, t3)
    # The double: the target's exact outfit, at the camera farthest from the route, too soon to walk there.
    cd = max((c for c in off if c not in (c2, c3)), key=lambda c: min(dist(c, r) for r in route))
    td = legs[2].t_exit_planned + 60.0
    put(Person("double-1", "double", TARGET_LOOK, TARGET_UPPER, TARGET_LOWER), cd,
        at[route[2]].walk.bearing_deg + 180, 1.33, td)
    # The target, seen at stops 3 and 4, could not have been at the double's camera between them at 1.6 m/s.
    before, after = legs[2], legs[3]
    if not (dist(before.camera_id, cd) > 1.6 * (td - before.t_exit_planned)
            and dist(cd, after.camera_id) > 1.6 * (after.t_enter_planned - td)):
        raise ValueError(f"the double at {cd} is within the target's reach: spread the cameras wider")
    notes = {"hard_negative_notes": {
        "lookalike": "the target's clothing colours (purple upper, blue lower); lookalike-1 at a route camera "
                     "before the report time, lookalike-2 in a district off the route, lookalike-3 at an "
                     "off-route camera near the route at a time the target could have reached it, walking "
                     "the other way",
        "double": "the target's exact outfit, walking the opposite way, far off the route at a time the "
                  "target could not reach it",
    }, "negatives": {"lookalike-1": c1, "lookalike-2": c2, "lookalike-3": c3, "double-1": cd}}
    return walks, notes


"""The demo city as data: cameras, streets, people, the missing person's route and the clip schedule.

Everything is derived from fixed constants and seeded RNGs (seeds from crc32 of names, never Python's
salted ``hash``), so :func:`build_city` returns the same city on every machine. Nothing is drawn here;
people are planned with the nominal body box from :meth:`PinholeCamera.person_box`.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from core.registry import Camera, CameraRegistry, load_registry

from .figure import Look
from .geometry import PinholeCamera, bearing_vector, inside_fractions
from .scene import StreetLayout

REGISTRY_PATH = Path(__file__).with_name("cameras.csv")
KST = timezone(timedelta(hours=9), "KST")
DEMO_DATE = "2026-03-14"
FPS = 10
FRAME_W, FRAME_H = 640, 360
IN_VIEW_FRACTION = 0.6  # a body box at least this much inside the frame counts as "in view"
ROUTE_SPEED_MPS = 1.2  # straight-line distance / time between route stops (streets are not straight)

ROUTE = ("JG-01", "JG-02", "YS-01", "YS-02", "MP-01")
FIRST_ENTER = datetime(2026, 3, 14, 9, 20, 12, tzinfo=KST)

TARGET_UPPER, TARGET_LOWER = "purple", "blue"
TARGET_DESCRIPTION_EN = ("Woman, about 165 cm, long black hair, purple coat to mid-thigh, blue jeans, "
                         "dark shoes, black shoulder bag")
TARGET_DESCRIPTION_KO = "키 약 165cm의 긴 검은 머리 여성, 보라색 코트, 청바지, 어두운 신발, 검은색 숄더백"


def seed_of(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Rig:
    """What the registry does not say about a camera: mounting height, lens, and the street it sees."""

    camera: Camera
    height_m: float
    hfov_deg: float
    layout: StreetLayout

    @property
    def pinhole(self) -> PinholeCamera:
        return PinholeCamera(self.camera.heading_deg, self.camera.tilt_deg, self.height_m, self.hfov_deg,
                             FRAME_W, FRAME_H)


@dataclass(frozen=True)
class Person:
    person_id: str
    role: str  # "target" | "lookalike" | "double" | "crowd"
    look: Look
    upper_colour: str
    lower_colour: str


@dataclass(frozen=True)
class Walk:
    """One person crossing one camera's view on a straight line, optionally pausing once."""

    person: Person
    camera_id: str
    origin: tuple[float, float]  # (east, north) metres at t0
    bearing_deg: float
    speed_mps: float
    t0: float  # epoch seconds
    length_m: float
    pause_after_s: float | None = None  # seconds of walking before the pause
    pause_s: float = 0.0
    phase0: float = 0.0

    @property
    def stride_m(self) -> float:
        return 0.83 * self.person.look.height_m * (0.85 + 0.25 * self.speed_mps / 1.3)

    @property
    def t1(self) -> float:
        return self.t0 + self.length_m / self.speed_mps + self.pause_s

    def state(self, t: float) -> tuple[float, float, bool, float]:
        """(east, north, walking, metres walked) at epoch t."""
        el = max(0.0, t - self.t0)
        walking = True
        if self.pause_after_s is not None and el > self.pause_after_s:
            if el < self.pause_after_s + self.pause_s:
                el, walking = self.pause_after_s, False
            else:
                el -= self.pause_s
        dist = min(el * self.speed_mps, self.length_m)
        d = bearing_vector(self.bearing_deg)
        return self.origin[0] + d[0] * dist, self.origin[1] + d[1] * dist, walking, dist


@dataclass(frozen=True)
class Clip:
    camera_id: str
    start: int  # epoch seconds
    duration_s: int
    fps: int = FPS  # the large case city records at a lower rate (bench/case_city.py)

    @property
    def end(self) -> int:
        return self.start + self.duration_s

    @property
    def file_name(self) -> str:
        stamp = datetime.fromtimestamp(self.start, KST).strftime("%Y%m%dT%H%M%S")
        return f"{self.camera_id}_{stamp}+0900.mp4"

    @property
    def rel_path(self) -> str:
        return f"archive/{self.camera_id}/{self.file_name}"


@dataclass(frozen=True)
class RouteLeg:
    camera_id: str
    walk: Walk
    t_enter_planned: float
    t_exit_planned: float


@dataclass(frozen=True)
class City:
    registry: CameraRegistry
    rigs: dict[str, Rig]
    clips: list[Clip]
    walks: list[Walk]
    route: list[RouteLeg]
    notes: dict[str, object] = field(default_factory=dict)

    def walks_at(self, camera_id: str) -> list[Walk]:
        return [w for w in self.walks if w.camera_id == camera_id]

    def digest_source(self) -> str:
        """A canonical text of the whole scenario, hashed into the output stamp."""
        parts = [repr(sorted(asdict(c).items())) for c in self.registry]
        parts += [repr(r) for r in self.rigs.values()]
        parts += [repr(c) for c in self.clips]
        parts += [repr(w) for w in self.walks]
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- cameras

@dataclass(frozen=True)
class _Style:
    """Per-camera lens and street: what makes each view look like a different place."""

    height: float  # mounting height, m
    hfov: float  # horizontal field of view, degrees
    street: float | None  # street bearing for off-route cameras (route cameras follow the route)
    pass_dist: float  # how far out (m) the main walking line crosses the view axis
    lateral: float  # and how far right of it
    road: float  # road width, m
    far_walk: float  # far sidewalk width, m
    paving: str
    paving_bgr: tuple[int, int, int]
    far_wall: tuple[int, int, int]
    near_wall: tuple[int, int, int]
    far_h: float  # building heights, m
    near_h: float
    crosswalk: float | None  # where along the street a zebra crossing is (m), if any
    shade: float  # width (m) of the near building's shade on the sidewalk; 0 = sunlit
    gain: float
    tint: tuple[float, float, float]


_STYLE: dict[str, _Style] = {
    "JG-01": _Style(6.0, 62, None, 8.5, 0.0, 7.0, 4.0, "tiles", (150, 155, 160), (170, 185, 200),
                    (150, 150, 150), 14, 20, -9.0, 0.0, 1.0, (1.0, 1.0, 1.0)),
    "JG-02": _Style(5.5, 66, None, 9.0, 0.6, 10.0, 3.5, "bricks", (112, 122, 152), (150, 160, 175),
                    (140, 150, 160), 18, 16, None, 0.0, 0.95, (1.04, 1.0, 0.96)),
    "YS-01": _Style(6.0, 60, None, 8.5, -0.5, 12.0, 5.0, "slabs", (168, 170, 172), (185, 190, 195),
                    (120, 130, 140), 24, 22, 14.0, 0.0, 1.05, (0.97, 1.0, 1.04)),
    "YS-02": _Style(5.0, 64, None, 8.0, 0.0, 7.0, 3.5, "tiles", (135, 145, 150), (90, 110, 150),
                    (150, 150, 150), 12, 15, None, 2.5, 0.98, (1.0, 1.0, 1.0)),
    "MP-01": _Style(6.0, 62, None, 9.0, 0.0, 9.0, 4.0, "bricks", (140, 145, 150), (200, 205, 210),
                    (150, 160, 170), 16, 18, None, 0.0, 1.02, (0.98, 1.0, 1.03)),
    "JN-01": _Style(7.0, 68, 15.0, 10.0, 0.0, 14.0, 6.0, "slabs", (160, 165, 172), (175, 180, 185),
                    (150, 150, 150), 30, 25, 6.0, 0.0, 1.04, (1.0, 1.0, 0.98)),
    "JN-02": _Style(5.5, 64, 180.0, 9.0, 0.5, 8.0, 4.0, "tiles", (125, 130, 140), (140, 165, 190),
                    (130, 140, 150), 14, 14, None, 0.0, 0.97, (1.03, 1.0, 0.97)),
}


def _street_axis(heading: float, street_bearing: float) -> float:
    """Orient the street axis so the road (always at +w) lies in front of the camera, not behind."""
    if (heading - street_bearing) % 360.0 <= 180.0:
        return street_bearing % 360.0
    return (street_bearing + 180.0) % 360.0


def _make_rig(cam: Camera, street_bearing: float, style: _Style | None = None) -> tuple[Rig, tuple[float, float]]:
    """The rig and the ground point (east, north) its main walking line passes through."""
    st = style or _STYLE[cam.camera_id]
    axis = _street_axis(cam.heading_deg, street_bearing)
    delta = math.radians((cam.heading_deg - axis) % 360.0)
    fwd = bearing_vector(cam.heading_deg)
    right = bearing_vector(cam.heading_deg + 90.0)
    p = fwd * st.pass_dist + right * st.lateral
    a = math.radians(axis)
    w_p = p[0] * math.cos(a) - p[1] * math.sin(a)
    # Looking across the street the camera hangs on the near building; looking along it, from a pole.
    facade_w = -(0.5 + 3.0 * abs(math.cos(delta)))
    kerb_w = max(w_p + 2.8, 4.5)
    lay = StreetLayout(
        axis_deg=axis, facade_w=facade_w, kerb_w=kerb_w, road_w=st.road, far_walk_w=st.far_walk,
        paving=st.paving, paving_bgr=st.paving_bgr, far_wall_bgr=st.far_wall, near_wall_bgr=st.near_wall,
        far_height_m=st.far_h, near_height_m=st.near_h, crosswalk_u=st.crosswalk,
        shadow_w=facade_w + st.shade if st.shade > 0 else facade_w - 1.0,
        gain=st.gain, tint=st.tint, seed=seed_of("street", cam.camera_id) % 100000,
    )
    rig = Rig(camera=cam, height_m=st.height, hfov_deg=st.hfov, layout=lay)
    return rig, (float(p[0]), float(p[1]))


# ---------------------------------------------------------------------------------------------- people

# (BGR, basic colour name). Crowd clothes are mostly muted; purple is kept for the target's coat.
_UPPER = [((32, 32, 35), "black", 5), ((138, 138, 142), "grey", 2), ((172, 172, 175), "grey", 1),
          ((112, 64, 38), "blue", 2), ((45, 72, 108), "brown", 2), ((240, 240, 242), "white", 1),
          ((48, 44, 150), "red", 1), ((58, 92, 60), "green", 1), ((48, 48, 52), "black", 2)]
_LOWER = [((30, 30, 32), "black", 6), ((130, 130, 135), "grey", 2), ((112, 62, 36), "blue", 1),
          ((150, 98, 52), "blue", 2), ((95, 130, 160), "brown", 1), ((42, 42, 46), "black", 2)]
_SKIN = [(150, 180, 222), (135, 166, 212), (120, 152, 200), (105, 138, 186), (142, 176, 226)]
_HAIR = [(25, 25, 30), (25, 25, 30), (30, 32, 40), (30, 32, 40), (28, 38, 55), (40, 55, 80), (25, 25, 30),
         (30, 32, 40), (28, 38, 55), (110, 110, 115)]  # grey hair: 1 in 10

TARGET_LOOK = Look(
    height_m=1.65, build=0.95, female=True, skin=(140, 172, 218), hair=(22, 24, 30), hair_style="long",
    upper=(150, 48, 128), upper_kind="coat", lower=(160, 98, 45), lower_kind="trousers",
    legwear=(0, 0, 0), shoes=(40, 40, 45), bag="shoulder", bag_colour=(30, 30, 32),
)


def _pick(rng: np.random.Generator, table: list) -> tuple:
    weights = np.array([row[-1] for row in table], dtype=float)
    return table[int(rng.choice(len(table), p=weights / weights.sum()))]


def random_person(rng: np.random.Generator, person_id: str) -> Person:
    female = bool(rng.random() < 0.5)
    height = float(np.clip(rng.normal(1.61 if female else 1.73, 0.05), 1.55, 1.85))
    upper, upper_name, _ = _pick(rng, _UPPER)
    lower, lower_name, _ = _pick(rng, _LOWER)
    kinds = ["coat", "coat_long", "jacket", "sweater"]
    upper_kind = kinds[int(rng.choice(4, p=[0.35, 0.1, 0.4, 0.15]))]
    lower_kind = "skirt" if female and rng.random() < 0.3 else "trousers"
    if upper_kind == "coat_long" and lower_kind == "skirt":
        upper_kind = "coat"
    hair_style = ("long", "bob", "short")[int(rng.choice(3, p=[0.5, 0.3, 0.2]))] if female else "short"
    bag_p = [0.4, 0.2, 0.4] if female else [0.55, 0.25, 0.2]
    bag = ("", "backpack", "shoulder")[int(rng.choice(3, p=bag_p))]
    look = Look(
        height_m=round(height, 2), build=round(float(rng.uniform(0.92, 1.1)), 2), female=female,
        skin=_SKIN[int(rng.integers(len(_SKIN)))], hair=_HAIR[int(rng.integers(len(_HAIR)))],
        hair_style=hair_style, upper=upper, upper_kind=upper_kind, lower=lower, lower_kind=lower_kind,
        legwear=(35, 35, 40) if rng.random() < 0.7 else (120, 150, 195), shoes=(30, 30, 34),
        bag=bag, bag_colour=((30, 30, 32), (50, 70, 100), (70, 70, 75))[int(rng.integers(3))],
    )
    return Person(person_id, "crowd", look, upper_name, lower_name)


# ---------------------------------------------------------------------------------------------- planning


def visible_run(cam: PinholeCamera, point: tuple[float, float], bearing: float, height_m: float,
                step: float = 0.1, reach: float = 60.0) -> tuple[float, float] | None:
    """Signed distances (along the walking direction, from ``point``) where the body is in view."""
    d = bearing_vector(bearing)
    ss = np.arange(-reach, reach + step / 2, step)
    boxes, depth = cam.person_boxes(point[0] + d[0] * ss, point[1] + d[1] * ss, height_m)
    inside = (depth >= 1.0) & (inside_fractions(boxes, cam.width, cam.height) >= IN_VIEW_FRACTION)
    mid = len(ss) // 2
    if not inside[mid]:
        return None
    out = np.nonzero(~inside)[0]
    before, after = out[out < mid], out[out > mid]
    lo = before[-1] + 1 if len(before) else 0
    hi = after[0] - 1 if len(after) else len(ss) - 1
    return float(ss[lo]), float(ss[hi])


def _walk_through(person: Person, rig: Rig, point: tuple[float, float], bearing: float, speed: float,
                  t_enter: float, margin_m: float = 2.5, **kw: float | None) -> Walk:
    """A walk that enters the view (nominal box) at epoch ``t_enter``, starting just off-frame."""
    run = visible_run(rig.pinhole, point, bearing, person.look.height_m)
    if run is None:
        raise ValueError(f"{rig.camera.camera_id}: walking line through {point} is never in view")
    s_in, s_out = run
    d = bearing_vector(bearing)
    start = s_in - margin_m
    origin = (point[0] + d[0] * start, point[1] + d[1] * start)
    return Walk(person=person, camera_id=rig.camera.camera_id, origin=origin, bearing_deg=bearing,
                speed_mps=speed, t0=t_enter - margin_m / speed, length_m=(s_out - s_in) + 2 * margin_m,
                **kw)  # type: ignore[arg-type]


def nominal_track(w: Walk, cam: PinholeCamera, times: np.ndarray, min_inside: float = IN_VIEW_FRACTION,
                  width_m: float = 0.5) -> np.ndarray:
    """Nominal boxes (N, 4) of a walk at the given epochs; NaN rows where the body is not in view."""
    states = [w.state(float(t)) for t in times]
    east = np.array([s[0] for s in states])
    north = np.array([s[1] for s in states])
    boxes, depth = cam.person_boxes(east, north, w.person.look.height_m, width_m)
    ok = (times >= w.t0) & (times <= w.t1) & (depth >= 1.0)
    ok &= inside_fractions(boxes, cam.width, cam.height) >= min_inside
    boxes[~ok] = np.nan
    return boxes


def _crowd(rig: Rig, span: tuple[float, float], fixed: list[Walk], rng: np.random.Generator,
           prefix: str, people: tuple[Person, ...] = ()) -> list[Walk]:
    """Passers-by: keep 3-6 people in view, walking mostly along the sidewalk, rarely overlapping.

    ``people``: outfits to draw passers-by from (the large city reuses a pool per camera, so sprites are
    drawn once per outfit); empty: a new random person each time, as in the demo city.
    """
    cam = rig.pinhole
    lay = rig.layout
    lane_lo, lane_hi = lay.facade_w + 1.1, lay.kerb_w - 1.4
    t0, t1 = span
    grid = np.arange(t0 - 40.0, t1 + 40.0, 0.5)
    # Tracks include people half out of frame: they overlap others on screen all the same.
    # Boxes as wide as a mid-stride side view, so near-misses count too.
    tracks = [nominal_track(w, cam, grid, 0.3, 0.8) for w in fixed]
    walks: list[Walk] = []
    wanted = int(rng.integers(3, 7))
    last_spawn = -1e9
    n = 0
    t = t0 - 25.0
    while t < t1:
        if rng.random() < 0.04:
            wanted = int(rng.integers(3, 7))
        k = round((t - grid[0]) / 0.5)
        current = sum(1 for tr in tracks if not np.isnan(tr[k, 0]))
        pre_roll = t < t0
        if current < wanted and (t - last_spawn >= 1.5 or pre_roll):
            for _ in range(40):
                cand = _crowd_candidate(rig, rng, t, lane_lo, lane_hi, f"{prefix}{n:02d}", people)
                if cand is None:
                    continue
                track = nominal_track(cand, cam, grid, 0.3, 0.8)
                if _clashes(track, tracks):
                    continue
                walks.append(cand)
                tracks.append(track)
                last_spawn = t
                n += 1
                break
        t += 0.5 if not pre_roll else 2.0
    return walks


def _crowd_candidate(rig: Rig, rng: np.random.Generator, t_enter: float, lane_lo: float, lane_hi: float,
                     person_id: str, people: tuple[Person, ...] = ()) -> Walk | None:
    cam = rig.pinhole
    lay = rig.layout
    r = rng.random()
    axis = lay.axis_deg + (0.0 if rng.random() < 0.5 else 180.0)
    if r < 0.65:
        bearing = axis + rng.normal(0, 6)
    elif r < 0.9:
        bearing = axis + rng.choice([-1, 1]) * rng.uniform(20, 45)
    else:
        bearing = axis + rng.choice([-1, 1]) * rng.uniform(70, 90)
    bearing %= 360.0
    # A point on screen where people are a useful size, then back to the ground.
    x = rng.uniform(60, cam.width - 60)
    y = rng.uniform(cam.height * 0.45, cam.height - 15)
    from_gp = cam.ground_point(x, y)
    if from_gp is None:
        return None
    _u, w = lay.to_street(np.array(from_gp[0]), np.array(from_gp[1]))
    if not lane_lo <= float(w) <= lane_hi:
        return None
    if people:
        person = replace(people[int(rng.integers(len(people)))], person_id=person_id)
    else:
        person = random_person(rng, person_id)
    run = visible_run(cam, from_gp, bearing, person.look.height_m, step=0.2)
    if run is None or run[1] - run[0] < 2.0:
        return None
    # Keep the whole visible stretch on the sidewalk: nobody should pop out of a wall or the road.
    d = bearing_vector(bearing)
    for s in (run[0] - 2.0, run[1] + 2.0):
        pe, pn = from_gp[0] + d[0] * s, from_gp[1] + d[1] * s
        _, ww = lay.to_street(np.array(pe), np.array(pn))
        if not lay.facade_w + 0.5 <= float(ww) <= lay.kerb_w - 0.6:
            return None
    speed = float(np.clip(rng.normal(1.3, 0.15), 0.95, 1.7))
    pause_after = pause = None
    if rng.random() < 0.18:  # somebody stops for a few seconds (phone, looking around)
        pause_after = float((run[1] - run[0]) * rng.uniform(0.3, 0.7) / speed + 2.5 / speed)
        pause = float(rng.uniform(3, 7))
    return _walk_through(person, rig, from_gp, bearing, speed, t_enter, pause_after_s=pause_after,
                         pause_s=pause or 0.0, phase0=float(rng.random()))


def _clashes(track: np.ndarray, others: list[np.ndarray], max_overlap_steps: int = 2) -> bool:
    """True when the candidate would hide, or hide behind, somebody for more than a moment."""
    if not others:
        return False
    o = np.stack(others)  # (M, N, 4)
    a = track[None]
    ix = np.clip(np.minimum(a[..., 2], o[..., 2]) - np.maximum(a[..., 0], o[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], o[..., 3]) - np.maximum(a[..., 1], o[..., 1]), 0, None)
    inter = ix * iy
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_o = (o[..., 2] - o[..., 0]) * (o[..., 3] - o[..., 1])
    with np.errstate(invalid="ignore"):
        iou = np.nan_to_num(inter / (area_a + area_o - inter), nan=0.0)
    return int((iou.max(axis=0) > 0.2).sum()) > max_overlap_steps


# ---------------------------------------------------------------------------------------------- the city


def build_city(registry_path: Path = REGISTRY_PATH) -> City:
    registry = load_registry(registry_path)
    target = Person("target", "target", TARGET_LOOK, TARGET_UPPER, TARGET_LOWER)

    # Route bearings: toward the next stop; the last stop keeps the previous leg's direction.
    bearings: dict[str, float] = {}
    for i, cid in enumerate(ROUTE):
        a, b = (ROUTE[i], ROUTE[i + 1]) if i + 1 < len(ROUTE) else (ROUTE[i - 1], ROUTE[i])
        bearings[cid] = round(registry.bearing_deg(a, b), 1)

    rigs: dict[str, Rig] = {}
    pass_points: dict[str, tuple[float, float]] = {}
    for cam in registry:
        street = bearings.get(cam.camera_id, _STYLE[cam.camera_id].street)
        rigs[cam.camera_id], pass_points[cam.camera_id] = _make_rig(cam, street)

    walks: list[Walk] = []
    clips: list[Clip] = []
    route: list[RouteLeg] = []
    t_enter = FIRST_ENTER.timestamp()
    leads = {"JG-01": 14, "JG-02": 17, "YS-01": 12, "YS-02": 15, "MP-01": 13}
    speeds = {"JG-01": 1.32, "JG-02": 1.38, "YS-01": 1.30, "YS-02": 1.35, "MP-01": 1.28}
    for i, cid in enumerate(ROUTE):
        rig = rigs[cid]
        if i > 0:
            prev = route[-1]
            t_enter = prev.t_exit_planned + registry.distance_m(prev.camera_id, cid) / ROUTE_SPEED_MPS
        w = _walk_through(target, rig, pass_points[cid], bearings[cid], speeds[cid], t_enter, phase0=0.3 * i)
        run = visible_run(rig.pinhole, pass_points[cid], bearings[cid], TARGET_LOOK.height_m)
        assert run is not None
        t_exit = t_enter + (run[1] - run[0]) / w.speed_mps
        walks.append(w)
        route.append(RouteLeg(cid, w, t_enter, t_exit))
        start = math.floor(t_enter) - leads[cid]
        duration = int(min(60, max(40, math.ceil(t_exit - start) + 12)))
        if cid == "YS-01":  # this camera's recorder cut a file just before the target arrived
            clips.append(Clip(cid, start - 30, 30))
        clips.append(Clip(cid, start, duration))

    # Hard negative (a): same purple coat, black trousers, same camera and direction, 25 s earlier.
    look_a = Look(height_m=1.63, build=0.97, female=True, skin=(130, 162, 208), hair=(30, 32, 40),
                  hair_style="bob", upper=(148, 50, 126), upper_kind="coat", lower=(30, 30, 32),
                  lower_kind="trousers", legwear=(0, 0, 0), shoes=(35, 35, 38))
    ys = next(leg for leg in route if leg.camera_id == "YS-01")
    lookalike = Person("lookalike-1", "lookalike", look_a, TARGET_UPPER, "black")
    off = bearing_vector(bearings["YS-01"] + 90) * 1.2
    p_ys = pass_points["YS-01"]
    walks.append(_walk_through(lookalike, rigs["YS-01"], (p_ys[0] + off[0], p_ys[1] + off[1]),
                               bearings["YS-01"], 1.25, ys.t_enter_planned - 25.0, phase0=0.5))

    # Hard negative (b): the target's exact outfit, walking the other way, 2 km off the route, while the
    # target is between JG-02 and YS-01: neither direction nor time/distance fits the route.
    double = Person("double-1", "double", TARGET_LOOK, TARGET_UPPER, TARGET_LOWER)
    jn = rigs["JN-01"]
    t_double = ys.t_enter_planned - 95.0
    walks.append(_walk_through(double, jn, pass_points["JN-01"], _STYLE["JN-01"].street, 1.33, t_double))
    clips.append(Clip("JN-01", int(t_double) - 15, 40))

    # Hard negative (c): a camera the target never passes, with a second look-alike in it.
    jn2_start = int(route[2].t_enter_planned) + 60
    clips.append(Clip("JN-02", jn2_start, 35))
    look_b = Look(height_m=1.70, build=1.0, female=False, skin=(120, 152, 200), hair=(25, 25, 30),
                  hair_style="short", upper=(140, 40, 120), upper_kind="jacket", lower=(112, 112, 116),
                  lower_kind="trousers", legwear=(0, 0, 0), shoes=(30, 30, 34), bag="backpack")
    lookalike2 = Person("lookalike-2", "lookalike", look_b, TARGET_UPPER, "grey")
    jn2 = rigs["JN-02"]
    walks.append(_walk_through(lookalike2, jn2, pass_points["JN-02"], (_STYLE["JN-02"].street + 180) % 360,
                               1.3, jn2_start + 12.0))

    # Crowds, planned around the scripted people so they are seldom hidden.
    for cid in registry.cameras:
        cam_clips = [c for c in clips if c.camera_id == cid]
        span = (min(c.start for c in cam_clips), max(c.end for c in cam_clips))
        fixed = [w for w in walks if w.camera_id == cid]
        rng = np.random.default_rng(seed_of("crowd", cid))
        walks += _crowd(rigs[cid], span, fixed, rng, f"{cid}-p")

    clips.sort(key=lambda c: (c.camera_id, c.start))
    notes = {"route_bearings": bearings}
    return City(registry=registry, rigs=rigs, clips=clips, walks=walks, route=route, notes=notes)


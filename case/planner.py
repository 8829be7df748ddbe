"""The case planner: which (camera, time window) spans to analyse first, from a last-seen point.

Pure: no I/O, no clock. A person last seen at point P at time t0 who walks no faster than ``speed_mps``
cannot be in view of a camera at distance d before ``t0 + d / speed_mps`` (straight line: streets only
make it later, so the bound never skips footage she could be in). Every camera within reach gets a
window from that earliest arrival to the horizon ``t0 + horizon_s``; the window is cut into chunks of
``window_s`` (aligned to a clock grid, so chunks from different anchors coincide) and the chunks are
queued by the earliest moment the person could be in them: the space-time cone is analysed from the
inside out, nearest footage first.

Direction of travel is a preference, never a filter. A camera off the stated direction gets a delay
added to its queue priority: ``direction_weight * (d / speed) * (1 - cos(angle)) / 2``, where angle is
between the stated direction and the bearing from P to the camera. A camera straight ahead has no
delay; one straight behind is queued as if it were ``1 + direction_weight`` times as far; cameras
within ``near_m`` of P get no delay (a bearing over a few metres means nothing). Every reachable camera
stays in the queue.

Footage and coverage. ``footage`` maps camera -> intervals that have video; the parts of a window with
no footage are returned in :attr:`Plan.no_footage`, never silently dropped (a camera missing from the
mapping has no footage at all). ``covered`` maps camera -> intervals already analysed; those parts
leave the queue, so re-planning from a new anchor (a later sighting) only adds what is still open.

Leaving the cameras' area. The cone grows with time until the horizon and no further: if the person
walks out of the area the cameras see, no sighting re-centres it, every reachable camera is analysed up
to ``t0 + horizon_s`` and then the case has nothing left to plan. The planner does not guess where she
went. :attr:`Plan.beyond_horizon` lists the cameras she could not reach before the horizon, and
:meth:`Plan.expired_at` the cameras whose window has closed by a given time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core import intervals as iv
from core.compass import angle_diff_deg
from core.errors import FootageSearchError
from core.registry import CameraRegistry, haversine_m, initial_bearing_deg
from search import filters
from search.errors import SearchInputError

DEFAULT_SPEED_MPS = 1.6  # a brisk walk; a person hurrying for hours rarely keeps up more
DEFAULT_HORIZON_S = 4 * 3600.0
DEFAULT_WINDOW_S = 600.0


class PlanError(FootageSearchError, ValueError):
    """A case input the planner cannot use (unknown direction, bad speed or horizon)."""


def parse_direction(value: str | float | None) -> float | None:
    """A compass bearing in [0, 360) from 'S', 'south', 'south-west', '남쪽' or a bearing of 0 to 360 degrees;
    None or "" stays None. The rule is search's (``query --direction``): a number outside 0-360 is refused,
    not wrapped, as 370 is a typo rather than 10, and a case must not quietly follow the wrong way."""
    try:
        return filters.parse_direction(value)
    except SearchInputError as exc:
        raise PlanError(str(exc)) from None


@dataclass(frozen=True)
class Anchor:
    """Where and when the person was last seen: a camera's position or a free point."""

    t: float  # epoch seconds
    lat: float
    lon: float
    camera_id: str | None = None
    direction_deg: float | None = None  # direction of travel, if known

    @classmethod
    def at_camera(cls, registry: CameraRegistry, camera_id: str, t: float,
                  direction: str | float | None = None) -> Anchor:
        cam = registry.get(camera_id)  # UnknownCameraError names the registry
        return cls(t=float(t), lat=cam.lat, lon=cam.lon, camera_id=camera_id,
                   direction_deg=parse_direction(direction))


@dataclass(frozen=True)
class PlanParams:
    speed_mps: float = DEFAULT_SPEED_MPS
    horizon_s: float = DEFAULT_HORIZON_S
    window_s: float = DEFAULT_WINDOW_S
    min_window_s: float = 60.0  # a first chunk shorter than this joins the next one
    direction_weight: float = 1.0
    near_m: float = 100.0

    def __post_init__(self) -> None:
        for name in ("speed_mps", "horizon_s", "window_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise PlanError(f"{name} must be a positive number, not {v!r}")
        if not (0 <= self.min_window_s <= self.window_s and self.direction_weight >= 0 and self.near_m >= 0):
            raise PlanError("min_window_s must be in [0, window_s]; direction_weight and near_m must be >= 0")


@dataclass(frozen=True)
class WorkItem:
    """One span of one camera's footage to analyse; ``priority`` is its place in the queue (epoch s)."""

    camera_id: str
    t0: float
    t1: float
    priority: float
    distance_m: float

    @property
    def duration_s(self) -> float:
        return self.t1 - self.t0


@dataclass(frozen=True)
class CameraWindow:
    """A camera's whole window in the cone: when she could first be there, until the horizon."""

    camera_id: str
    earliest: float
    end: float
    distance_m: float
    bearing_deg: float  # from the anchor to the camera
    delay_s: float  # the direction penalty added to every chunk's priority


@dataclass
class Plan:
    anchor: Anchor
    params: PlanParams
    horizon_end: float
    queue: list[WorkItem]
    no_footage: list[WorkItem]  # parts of windows no video covers, in queue order
    windows: dict[str, CameraWindow]
    beyond_horizon: list[str]  # cameras she cannot reach before the horizon, nearest first
    covered_s: float = 0.0  # seconds of the cone already analysed (left out of the queue)
    notes: list[str] = field(default_factory=list)

    def expired_at(self, t: float) -> list[str]:
        """Cameras whose window has closed by epoch ``t`` (all of them once ``t`` passes the horizon)."""
        return sorted(c for c, w in self.windows.items() if w.end <= t)

    @property
    def queued_s(self) -> float:
        return sum(w.duration_s for w in self.queue)


def _chunks(t0: float, t1: float, window_s: float, min_window_s: float) -> list[iv.Interval]:
    """[t0, t1) cut at multiples of ``window_s``; a short first piece joins the next one."""
    cuts = [t0]
    k = math.floor(t0 / window_s) + 1
    while k * window_s < t1:
        cuts.append(k * window_s)
        k += 1
    cuts.append(t1)
    if len(cuts) > 2 and cuts[1] - cuts[0] < min_window_s:
        del cuts[1]
    return list(itertools.pairwise(cuts))


def plan(registry: CameraRegistry, anchor: Anchor, params: PlanParams | None = None, *,
         footage: Mapping[str, Sequence[iv.Interval]] | None = None,
         covered: Mapping[str, Sequence[iv.Interval]] | None = None) -> Plan:
    """The work queue for ``anchor``: every reachable camera's open, recorded spans, nearest in time first.

    ``footage=None`` means "assume every camera recorded everything" (planning before the archive is
    scanned); pass a mapping to learn which windows have no video.
    """
    p = params or PlanParams()
    horizon_end = anchor.t + p.horizon_s
    covered = covered or {}
    windows: dict[str, CameraWindow] = {}
    beyond: list[tuple[float, str]] = []
    for cam in registry:
        d = haversine_m(anchor.lat, anchor.lon, cam.lat, cam.lon)
        earliest = anchor.t + d / p.speed_mps
        if earliest >= horizon_end:
            beyond.append((d, cam.camera_id))
            continue
        bearing = initial_bearing_deg(anchor.lat, anchor.lon, cam.lat, cam.lon)
        delay = 0.0
        if anchor.direction_deg is not None and d > p.near_m:
            off = math.radians(angle_diff_deg(bearing, anchor.direction_deg))
            delay = p.direction_weight * (d / p.speed_mps) * (1.0 - math.cos(off)) / 2.0
        windows[cam.camera_id] = CameraWindow(cam.camera_id, earliest, horizon_end, d, bearing, delay)

    queue: list[WorkItem] = []
    missing: list[WorkItem] = []
    covered_s = 0.0
    for w in windows.values():
        done = covered.get(w.camera_id, ())
        covered_s += iv.total(iv.intersect((w.earliest, w.end), done))
        for c0, c1 in _chunks(w.earliest, w.end, p.window_s, p.min_window_s):
            for o0, o1 in iv.subtract((c0, c1), done):
                # Each piece keeps the priority of when she could first be in it, so a chunk cut in two
                # by coverage or a recording gap still sorts where it belongs.
                recorded = [(o0, o1)] if footage is None else iv.intersect((o0, o1), footage.get(w.camera_id, ()))
                for r0, r1 in recorded:
                    queue.append(WorkItem(w.camera_id, r0, r1, r0 + w.delay_s, w.distance_m))
                for g0, g1 in iv.subtract((o0, o1), recorded):
                    missing.append(WorkItem(w.camera_id, g0, g1, g0 + w.delay_s, w.distance_m))

    order = lambda item: (item.priority, item.distance_m, item.camera_id, item.t0)  # noqa: E731
    notes = []
    if not windows:
        notes.append("no camera is within reach before the horizon")
    return Plan(anchor=anchor, params=p, horizon_end=horizon_end, queue=sorted(queue, key=order),
                no_footage=sorted(missing, key=order), windows=windows,
                beyond_horizon=[cid for _, cid in sorted(beyond)], covered_s=covered_s, notes=notes)

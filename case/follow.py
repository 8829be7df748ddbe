"""Following the person: when do new sightings move the cone, and to where. Pure logic, no I/O.

After each analysed window the case runs its query on the newly covered spans. :func:`decide` looks at
those hits (and any earlier findings still ahead of the anchor) and says whether to re-centre:

* a rejected sighting never moves the cone (matched by its id or any of its merged row ids);
* only forward in time: the new anchor is the sighting's last moment in view (``t_end``), strictly after
  the current anchor;
* a pinned sighting wins over any score: the latest pinned one ahead of the anchor is taken, even if the
  walking-speed bound says it is far (the operator has looked; the bound is an estimate);
* otherwise the most confident sighting at or above ``threshold`` (not marked weak) that a person walking
  at most ``speed_mps`` could have reached from the current anchor; a tie goes to the later sighting.
  A confident sighting she could not have reached in time (a double across town) is reported as such
  and does not move the cone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.registry import CameraRegistry, haversine_m

from .planner import Anchor


class SightingLike(Protocol):
    """What :func:`decide` reads from a sighting: search.result.Sighting and case.state.Finding both fit."""

    sighting_id: str
    member_ids: tuple[str, ...]
    camera_id: str
    t_end: float
    score: float | None
    weak: bool
    bearing_deg: float | None


@dataclass(frozen=True)
class Decision:
    recentre: bool
    anchor: Anchor | None  # the new anchor when recentre
    sighting_id: str = ""
    score: float | None = None
    reason: str = ""  # "pinned sighting" | "confident sighting" | why nothing moved
    unreachable: tuple[str, ...] = ()  # confident sightings too far to reach in time


def _ids(s: SightingLike) -> set[str]:
    return {s.sighting_id, *s.member_ids}


def reachable(registry: CameraRegistry, anchor: Anchor, s: SightingLike, speed_mps: float,
              slack_s: float = 0.0) -> bool:
    """Could a person walking at most ``speed_mps`` from the anchor be in view at the sighting's camera?

    ``slack_s`` allows for a sighting that began before its last moment: she had until ``t_end`` to arrive.
    """
    cam = registry.get(s.camera_id)
    d = haversine_m(anchor.lat, anchor.lon, cam.lat, cam.lon)
    return d <= speed_mps * (s.t_end - anchor.t + slack_s) + 1e-6


def decide(hits: Iterable[SightingLike], current: Anchor, registry: CameraRegistry, *,
           pinned: Sequence[str] = (), rejected: Sequence[str] = (), threshold: float = 0.5,
           speed_mps: float = 1.6) -> Decision:
    """Whether to re-centre the cone on one of ``hits``, and the new anchor (see the module docstring)."""
    pinned_set, rejected_set = set(pinned), set(rejected)
    ahead = [s for s in hits if s.t_end > current.t and not (_ids(s) & rejected_set)]

    pins = [s for s in ahead if _ids(s) & pinned_set]
    if pins:
        best = max(pins, key=lambda s: (s.t_end, s.sighting_id))
        return Decision(True, _anchor_at(registry, best), best.sighting_id, best.score, "pinned sighting")

    confident = [s for s in ahead if not s.weak and s.score is not None and s.score >= threshold]
    ok = [s for s in confident if reachable(registry, current, s, speed_mps)]
    too_far = tuple(sorted(s.sighting_id for s in confident if s not in ok))
    if ok:
        best = max(ok, key=lambda s: (s.score, s.t_end, s.sighting_id))
        return Decision(True, _anchor_at(registry, best), best.sighting_id, best.score, "confident sighting",
                        unreachable=too_far)
    if too_far:
        reason = f"{len(too_far)} confident sighting(s) too far to reach on foot in time"
    elif ahead:
        reason = f"no sighting ahead of the anchor reaches the threshold {threshold:g}"
    else:
        reason = "no sighting ahead of the anchor"
    return Decision(False, None, reason=reason, unreachable=too_far)


def _anchor_at(registry: CameraRegistry, s: SightingLike) -> Anchor:
    # The sighting's own walking direction becomes the direction of travel: the next cameras she is
    # heading for are queued first.
    return Anchor.at_camera(registry, s.camera_id, s.t_end, s.bearing_deg)

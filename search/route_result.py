"""What a route returns: stops with the leg that reached each, districts crossed, gaps and next cameras.

Every stop's sighting is the search's own :class:`search.result.Sighting`; :meth:`Route.to_dict` is the
``route --json`` format (search/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search.query_terms import ParsedQuery
from search.result import Sighting
from search.timeutil import iso


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


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)

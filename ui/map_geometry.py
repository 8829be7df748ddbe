"""What both route maps are drawn from: stops, suggestions, visits, focus, district colours, local metres.

The console's SVG (:mod:`ui.map_view`) and the slippy map (:mod:`ui.tile_map`) read the same route from
here, so a stop's badge, a district's colour and the box a map first shows agree between the two and
with the printed report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.registry import CameraRegistry

# Colour-blind-friendly and distinct on white and in greyscale print (Okabe-Ito, then Tableau).
PALETTE = ("#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#E69F00", "#8C564B", "#7F7F7F",
           "#BCBD22", "#17BECF")
ROUTE_COLOUR = "#111827"
SUGGEST_COLOUR = "#B45309"
M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON_EQUATOR = 111_320.0
FOCUS_MARGIN_M = 220.0
NEAR_SUGGESTION_M = 600.0


@dataclass(frozen=True)
class MapStop:
    number: int
    camera_id: str
    label: str  # e.g. the time span at that camera


@dataclass(frozen=True)
class MapSuggestion:
    camera_id: str
    label: str  # e.g. "next? 09:31–09:40"


@dataclass(frozen=True)
class MapBounds:
    """What a map's picture covers: the box in degrees and its size in pixels."""

    north: float
    south: float
    west: float
    east: float
    width: int
    height: int


@dataclass(frozen=True)
class MapBackdrop:
    """A picture drawn under the map (street tiles), as a ``data:`` URI, and whose it is."""

    data_uri: str
    attribution: str = ""


def default_focus(registry: CameraRegistry, stops: Sequence[MapStop], suggestions: Sequence[MapSuggestion]
                  ) -> list[str]:
    """The cameras a map zooms to: the route's stops and the suggestions near its last stop (far ones get an
    edge pointer rather than zooming the route out); none without a route (the whole registry)."""
    focus = [s.camera_id for s in stops]
    last = stops[-1].camera_id if stops and stops[-1].camera_id in registry else None
    focus += [s.camera_id for s in suggestions if last and s.camera_id in registry
              and registry.distance_m(last, s.camera_id) <= NEAR_SUGGESTION_M]
    return focus


def district_colours(districts: Sequence[str]) -> dict[str, str]:
    """Stable colours: the same district keeps its colour in the console and in every report."""
    return {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(sorted(set(districts)))}


@dataclass(frozen=True)
class LocalFrame:
    """Local flat-earth metres around the cameras (errors are centimetres at city scale)."""

    lat0: float
    lon0: float

    @property
    def kx(self) -> float:
        return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))

    def to_m(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * M_PER_DEG_LAT

    def to_deg(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / M_PER_DEG_LAT, self.lon0 + x / self.kx


@dataclass
class _Visit:
    """A visit's ``badge`` (its stop number(s)) and ``label`` (its time span) as both maps show them."""

    camera_id: str
    numbers: list[int]
    labels: list[str]

    @property
    def badge(self) -> str:
        return str(self.numbers[0]) if len(self.numbers) == 1 else f"{self.numbers[0]}–{self.numbers[-1]}"

    @property
    def label(self) -> str:
        return self.labels[0] if len(self.labels) == 1 else f"{self.labels[0]}–{self.labels[-1]}"

    @property
    def badge_width(self) -> float:
        return max(24.0, 12.0 + 7.6 * len(self.badge))


def route_visits(stops: Sequence[MapStop]) -> list[_Visit]:
    """Consecutive stops at one camera as one visit (one badge, "5–8"); a later return is a visit of its own."""
    out: list[_Visit] = []
    for st in stops:
        if out and out[-1].camera_id == st.camera_id:
            out[-1].numbers.append(st.number)
            out[-1].labels.append(st.label)
        else:
            out.append(_Visit(st.camera_id, [st.number], [st.label]))
    return out

"""District outlines for the maps: from a GeoJSON file when one is configured, else from the registry.

Without a file, each district is the buffered convex hull of its cameras, so a new registry gets a
usable map with no extra work. A file the map cannot use is one :class:`MapDataError` line naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import FootageSearchError
from core.registry import CameraRegistry
from ui.map_geometry import LocalFrame

DISTRICT_BUFFER_M = 90.0
GEOJSON_NAME_KEYS = ("district", "name", "NAME", "name_en", "SIG_ENG_NM")


class MapDataError(FootageSearchError, ValueError):
    """A district outline file the map cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class DistrictShape:
    district: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # outer rings of (lat, lon)


def convex_hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counter-clockwise hull (Andrew's monotone chain); collinear points dropped."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def district_shapes_from_registry(registry: CameraRegistry, buffer_m: float = DISTRICT_BUFFER_M,
                                  steps: int = 24) -> list[DistrictShape]:
    """Each district as the convex hull of circles around its cameras (one camera: a circle)."""
    cams = list(registry)
    frame = LocalFrame(sum(c.lat for c in cams) / len(cams), sum(c.lon for c in cams) / len(cams))
    shapes = []
    for district in registry.districts:
        pts = []
        for c in cams:
            if c.district != district:
                continue
            x, y = frame.to_m(c.lat, c.lon)
            pts += [(x + buffer_m * math.cos(2 * math.pi * k / steps), y + buffer_m * math.sin(2 * math.pi * k / steps))
                    for k in range(steps)]
        ring = tuple(frame.to_deg(x, y) for x, y in convex_hull(pts))
        shapes.append(DistrictShape(district, (ring,)))
    return shapes


def load_district_geojson(path: str | Path) -> list[DistrictShape]:
    """District outlines from a GeoJSON FeatureCollection of (Multi)Polygons named by a property."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapDataError(f"{path}: district outline file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MapDataError(f"{path}: not a GeoJSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise MapDataError(f"{path}: expected a GeoJSON FeatureCollection")
    merged: dict[str, list[tuple[tuple[float, float], ...]]] = {}
    for i, feature in enumerate(doc.get("features") or []):
        props = feature.get("properties") or {}
        name = next((str(props[k]) for k in GEOJSON_NAME_KEYS if props.get(k)), "")
        if not name:
            raise MapDataError(f"{path}: feature {i} has no name property ({', '.join(GEOJSON_NAME_KEYS)})")
        geom = feature.get("geometry") or {}
        if geom.get("type") == "Polygon":
            polygons = [geom.get("coordinates") or []]
        elif geom.get("type") == "MultiPolygon":
            polygons = geom.get("coordinates") or []
        else:
            raise MapDataError(f"{path}: feature {i} ({name}) is a {geom.get('type')}, not a (Multi)Polygon")
        try:
            # GeoJSON positions are [lon, lat]; only outer rings matter for a colour wash.
            rings = [tuple((float(p[1]), float(p[0])) for p in poly[0]) for poly in polygons if poly]
        except (TypeError, ValueError, IndexError):
            raise MapDataError(f"{path}: feature {i} ({name}) has malformed coordinates") from None
        merged.setdefault(name, []).extend(rings)
    if not merged:
        raise MapDataError(f"{path}: no district features")
    return [DistrictShape(name, tuple(rings)) for name, rings in sorted(merged.items())]

"""Search filters, validated against the camera registry, and the LanceDB ``WHERE`` clause they make.

Filters are applied before any similarity (LanceDB prefilter), so a narrow filter never loses a match
to a vector-search cut-off. Every string that reaches SQL is a registry value quoted by
:func:`core.index_db.sql_str`; every number is formatted here. Nothing an operator types is
pasted into SQL: unknown cameras and districts are refused before a clause is built.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.compass import COMPASS_8, COMPASS_DEG
from core.index_db import sql_in, sql_str
from core.registry import CameraRegistry
from core.schema import SightingField
from search import vocabulary as V
from search.errors import SearchInputError
from search.timeutil import local_days

MAX_LIST_VALUES = 500
MAX_ID_CHARS = 200


@dataclass(frozen=True)
class SearchFilters:
    """Validated filters; times are UTC epoch seconds, names exactly as the registry spells them."""

    time_from: float | None = None
    time_to: float | None = None
    districts: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    direction_deg: float | None = None  # direction of movement (compass bearing)
    direction_tolerance_deg: float = 45.0
    min_detections: int = 0
    min_duration_s: float = 0.0
    exclude_ids: tuple[str, ...] = ()  # rejected sightings (route)
    only_ids: tuple[str, ...] = ()  # score just these rows (route: pinned sightings)

    @property
    def direction_name(self) -> str | None:
        if self.direction_deg is None:
            return None
        return COMPASS_8[int(((self.direction_deg % 360) + 22.5) // 45) % 8]


DIRECTION_HELP = "N, NE, E, SE, S, SW, W, NW (or north-east, 북동쪽...) or a bearing of 0 to 360 degrees"


def parse_direction(value: str | float | int | None) -> float | None:
    """A compass name (N, NE, north-east, 북동쪽) or a bearing of 0-360 degrees, as a bearing in [0, 360);
    None if empty. A number outside 0-360 is refused, not wrapped: 400 is a typo, not 40."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise SearchInputError(f"direction {value!r}: expected {DIRECTION_HELP}")
    if isinstance(value, int | float):
        return _bearing(float(value), repr(value))
    text = str(value).strip()
    if text.upper() in COMPASS_DEG:
        return COMPASS_DEG[text.upper()]
    low = text.lower().replace(" ", "-").replace("_", "-")
    if low in V.EN_DIRECTIONS:
        return COMPASS_DEG[V.EN_DIRECTIONS[low]]
    for stem, name in {**V.KO_DIRECTIONS, **V.KO_BARE_DIRECTIONS}.items():
        if text in (stem, stem + "쪽", stem + V.KO_DIRECTION_NOUN):
            return COMPASS_DEG[name]
    try:
        x = float(text)
    except ValueError:
        raise SearchInputError(f"direction {text[:40]!r}: expected {DIRECTION_HELP}") from None
    return _bearing(x, repr(text[:40]))


def _bearing(x: float, shown: str) -> float:
    if not math.isfinite(x) or not 0.0 <= x <= 360.0:
        raise SearchInputError(f"direction {shown} is not a bearing: expected {DIRECTION_HELP} (0 = north, 90 = east)")
    return 0.0 if x in (0.0, 360.0) else x  # -0.0 and 360 are north


def _match_names(given: Iterable[str], known: Sequence[str], what: str) -> tuple[str, ...]:
    """Registry spellings of ``given`` (case-insensitive); unknown names raise with the known ones."""
    by_fold: dict[str, str] = {}
    for k in known:
        by_fold.setdefault(k.casefold(), k)
    out: list[str] = []
    for g in given:
        if not isinstance(g, str):
            raise SearchInputError(f"{what} must be text, not {type(g).__name__}")
        name = g.strip()
        if not name:
            continue
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            raise SearchInputError(f"{what} {name[:60]!r} contains control characters")
        if name in known:
            out.append(name)
        elif name.casefold() in by_fold:
            out.append(by_fold[name.casefold()])
        else:
            shown = ", ".join(list(known)[:20]) + (" ..." if len(known) > 20 else "")
            raise SearchInputError(f"unknown {what} {name[:60]!r}; the camera registry has: {shown}")
    if len(out) > MAX_LIST_VALUES:
        raise SearchInputError(f"too many {what}s ({len(out)}; at most {MAX_LIST_VALUES})")
    return tuple(dict.fromkeys(out))


def make_filters(registry: CameraRegistry, *, time_from: float | None = None, time_to: float | None = None,
                 districts: Iterable[str] = (), cameras: Iterable[str] = (),
                 direction: str | float | None = None, direction_tolerance_deg: float | None = None,
                 default_tolerance_deg: float = 45.0, min_detections: int = 0, min_duration_s: float = 0.0,
                 exclude_ids: Iterable[str] = ()) -> SearchFilters:
    """Validate raw filter values; every problem raises :class:`SearchInputError` naming the value."""
    if isinstance(districts, str):
        districts = [districts]
    if isinstance(cameras, str):
        cameras = [cameras]
    for name, t in (("from", time_from), ("to", time_to)):
        if t is not None and not math.isfinite(t):
            raise SearchInputError(f"time window: '{name}' is not a time")
    if time_from is not None and time_to is not None and time_from > time_to:
        raise SearchInputError("time window: 'from' is after 'to'")
    tol = default_tolerance_deg if direction_tolerance_deg is None else direction_tolerance_deg
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not math.isfinite(tol) or not 0 < tol <= 180:
        raise SearchInputError(f"direction tolerance {tol!r}: expected degrees in (0, 180]")
    if isinstance(min_detections, bool) or not isinstance(min_detections, int) or min_detections < 0:
        raise SearchInputError(f"minimum detections {min_detections!r}: expected a whole number >= 0")
    if (isinstance(min_duration_s, bool) or not isinstance(min_duration_s, int | float)
            or not math.isfinite(min_duration_s) or min_duration_s < 0):
        raise SearchInputError(f"minimum track length {min_duration_s!r}: expected seconds >= 0")
    excluded = tuple(dict.fromkeys(check_sighting_id(x) for x in exclude_ids))
    return SearchFilters(
        time_from=time_from, time_to=time_to,
        districts=_match_names(districts, registry.districts, "district"),
        cameras=_match_names(cameras, sorted(registry.cameras), "camera"),
        direction_deg=parse_direction(direction), direction_tolerance_deg=float(tol),
        min_detections=int(min_detections), min_duration_s=float(min_duration_s), exclude_ids=excluded,
    )


def check_sighting_id(value: object) -> str:
    """A sighting id as typed or pasted: text, short, no control characters (ids look like ``abc123:4:0``)."""
    if not isinstance(value, str):
        raise SearchInputError(f"sighting id must be text, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise SearchInputError("empty sighting id")
    if len(text) > MAX_ID_CHARS or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise SearchInputError(f"{text[:40]!r} is not a sighting id (ids look like 'a1b2c3d4e5f60718:12:0')")
    return text


def _num(x: float) -> str:
    if not math.isfinite(x):
        raise SearchInputError(f"not a finite number: {x!r}")
    return repr(float(x))


def direction_clause(bearing: float, tolerance: float) -> str:
    """Bearings within ``tolerance`` of ``bearing``; rows with no bearing (standing still) never match."""
    col = SightingField.BEARING_DEG
    if tolerance >= 180:
        return f"{col} IS NOT NULL"
    lo, hi = (bearing - tolerance) % 360.0, (bearing + tolerance) % 360.0
    if lo <= hi:
        return f"({col} >= {_num(lo)} AND {col} <= {_num(hi)})"
    return f"({col} >= {_num(lo)} OR {col} <= {_num(hi)})"


def build_where(f: SearchFilters, *, max_segment_s: float = 30.0, tz: ZoneInfo | None = None) -> str | None:
    """The SQL filter for ``f`` (None: no filter). Only registry values and formatted numbers appear in it."""
    parts: list[str] = []
    if f.time_from is not None:
        # t_end >= from is the exact test; the t_start bound lets the BTREE index on t_start prune.
        parts.append(f"{SightingField.T_END} >= {_num(f.time_from)}")
        parts.append(f"{SightingField.T_START} >= {_num(f.time_from - max(max_segment_s, 0.0) - 1.0)}")
    if f.time_to is not None:
        parts.append(f"{SightingField.T_START} <= {_num(f.time_to)}")
    if f.time_from is not None and f.time_to is not None and tz is not None:
        days = local_days(f.time_from - max(max_segment_s, 0.0) - 1.0, f.time_to, tz)
        if days:
            parts.append(sql_in(SightingField.DAY, days))  # BITMAP index on day: touches only those days' rows
    if f.districts:
        parts.append(sql_in(SightingField.DISTRICT, list(f.districts)))
    if f.cameras:
        parts.append(sql_in(SightingField.CAMERA_ID, list(f.cameras)))
    if f.direction_deg is not None:
        parts.append(direction_clause(f.direction_deg, f.direction_tolerance_deg))
    if f.min_detections > 0:
        parts.append(f"{SightingField.N_DETECTIONS} >= {int(f.min_detections)}")
    if f.min_duration_s > 0:
        parts.append(f"({SightingField.T_END} - {SightingField.T_START}) >= {_num(f.min_duration_s)}")
    if f.exclude_ids:
        parts.append(f"NOT ({sql_in(SightingField.SIGHTING_ID, list(f.exclude_ids))})")
    if f.only_ids:
        parts.append(sql_in(SightingField.SIGHTING_ID, list(f.only_ids)))
    return " AND ".join(parts) if parts else None


def and_where(*clauses: str | None) -> str | None:
    kept = [c for c in clauses if c]
    if not kept:
        return None
    return " AND ".join(f"({c})" for c in kept) if len(kept) > 1 else kept[0]


def ids_where(ids: Sequence[str]) -> str:
    return sql_in(SightingField.SIGHTING_ID, list(ids))


def id_where(sighting_id: str) -> str:
    return f"{SightingField.SIGHTING_ID} = {sql_str(sighting_id)}"

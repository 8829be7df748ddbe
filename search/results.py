"""Scored candidates -> the :class:`SearchResult`: gate, group, page, read the page, say what happened.

Hits (calibrated evidence at least ``search.min_score``) and misses are grouped apart
(:mod:`search.grouping`), so a tracker that switched people mid-track cannot glue someone else's
segment onto a hit. Plausible groups are ranked by score (a browse query lists them by time); the
page's display columns, thumbnails included, are read only for the page. The message says how many
were found, or, for a no-result, the best evidence against the threshold.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from core.registry import CameraRegistry
from core.schema import SightingField
from search.attribute_columns import ATTRIBUTE_COLUMNS
from search.candidates import Scored
from search.compile import CompiledQuery
from search.errors import SearchInputError
from search.filters import SearchFilters
from search.grouping import RowGroup, group_rows
from search.index_reader import SightingReader
from search.result import SearchResult, Sighting, SightingAttributes
from search.timeutil import iso
from search.timing import StageTimer

MAX_LIMIT = 1_000
DISPLAY_COLUMNS = (
    SightingField.SIGHTING_ID, SightingField.VIDEO_ID, SightingField.CAMERA_ID, SightingField.DISTRICT,
    SightingField.T_START, SightingField.T_END, SightingField.T_BEST, SightingField.VIDEO_PATH,
    SightingField.OFFSET_START_S, SightingField.OFFSET_END_S, SightingField.OFFSET_BEST_S, SightingField.BOX,
    SightingField.FRAME_WIDTH, SightingField.FRAME_HEIGHT, SightingField.TRACK_ID, SightingField.N_DETECTIONS,
    SightingField.BEARING_DEG, SightingField.SPEED_MPS, SightingField.UPPER_COLOUR, SightingField.LOWER_COLOUR,
    SightingField.COLOUR_LAYOUT, SightingField.HAS_VECTOR, SightingField.VECTOR, SightingField.THUMBNAIL,
)


def check_page(offset: int, limit: int | None, default_limit: int) -> tuple[int, int]:
    """A valid ``(offset, limit)``; ``limit`` None means ``default_limit``."""
    limit = default_limit if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchInputError(f"limit {limit!r}: expected a whole number from 1 to {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise SearchInputError(f"offset {offset!r}: expected a whole number >= 0")
    return offset, limit


def display_columns(available: set[str]) -> list[str]:
    """What a result shows; attribute columns only where the index has them (older indexes do not)."""
    return [*DISPLAY_COLUMNS, *(c for c in ATTRIBUTE_COLUMNS if c in available)]


def fill_result(result: SearchResult, scored: Scored, n: int, query: CompiledQuery, filters: SearchFilters, *,
                reader: SightingReader, registry: CameraRegistry, tz: ZoneInfo, threshold: float,
                include_weak: bool, columns: list[str], timer: StageTimer) -> None:
    """Group ``scored`` (candidates among ``n`` filtered rows), gate at ``threshold``, and fill ``result``
    with the page ``result.offset``/``result.limit``, the counts and the message."""
    result.candidates = len(scored)
    with timer.stage("group"):
        # Hits and misses are grouped apart: a tracker that switched people mid-track must not glue
        # someone else's segment onto a hit.
        hit = scored.evidence >= threshold if query.scoring.calibrated else np.ones(len(scored), dtype=bool)
        plausible = _groups(scored, np.flatnonzero(hit))
        weak = _groups(scored, np.flatnonzero(~hit))
        groups = plausible + weak
        if query.scoring.browse:
            plausible.sort(key=lambda g: (g.t_start, g.best))
    result.total = len(plausible)
    # Past EXACT_SCAN_MAX rows only the best candidates are scored: there may be more plausible ones.
    result.total_is_lower_bound = len(scored) < n and bool(plausible) and not weak
    result.below_threshold = len(weak)
    shown = [(g, False) for g in plausible] + ([(g, True) for g in weak] if include_weak else [])
    page = shown[result.offset: result.offset + result.limit]
    with timer.stage("fetch"):
        result.sightings = _materialise(reader, registry, page, scored, columns)
    result.no_result = result.total == 0
    result.message = _message(query, filters, result, groups, threshold, tz)


def describe_filters(f: SearchFilters, tz: ZoneInfo) -> str:
    parts = []
    if f.time_from is not None or f.time_to is not None:
        a = iso(f.time_from, tz) if f.time_from is not None else "..."
        b = iso(f.time_to, tz) if f.time_to is not None else "..."
        parts.append(f"time {a} to {b}")
    if f.districts:
        parts.append(f"districts {', '.join(f.districts)}")
    if f.cameras:
        parts.append(f"cameras {', '.join(f.cameras)}")
    if f.direction_deg is not None:
        parts.append(f"moving {f.direction_name} (±{f.direction_tolerance_deg:g}°)")
    if f.min_detections:
        parts.append(f"at least {f.min_detections} detections")
    if f.min_duration_s:
        parts.append(f"at least {f.min_duration_s:g} s in view")
    return "; ".join(parts) or "none"


def rows_by_id(table) -> dict[str, dict]:
    return {r[SightingField.SIGHTING_ID]: r for r in table.to_pylist()}


def sighting_from_rows(rows: dict[str, dict], member_ids: list[str], best_id: str,
                       registry: CameraRegistry) -> Sighting:
    """One :class:`Sighting` from its rows' display columns: the best row's picture, box and colours, and
    times, offsets and detections spanning every member."""
    col = SightingField  # the row's column names
    best = rows[best_id]
    members = [rows[m] for m in member_ids] or [best]
    bearing = best[col.BEARING_DEG]
    if bearing is None:
        moving = [m for m in members if m[col.BEARING_DEG] is not None]
        if moving:
            bearing = max(moving, key=lambda m: m[col.N_DETECTIONS])[col.BEARING_DEG]
    cam = registry.cameras.get(best[col.CAMERA_ID])
    vec = np.asarray(best[col.VECTOR], dtype=np.float32) if best[col.HAS_VECTOR] else None
    return Sighting(
        sighting_id=best_id, member_ids=tuple(member_ids) or (best_id,), video_id=best[col.VIDEO_ID],
        camera_id=best[col.CAMERA_ID], camera_name=cam.name if cam else best[col.CAMERA_ID],
        district=best[col.DISTRICT], t_start=min(m[col.T_START] for m in members),
        t_end=max(m[col.T_END] for m in members), t_best=best[col.T_BEST], video_path=best[col.VIDEO_PATH],
        offset_start_s=min(m[col.OFFSET_START_S] for m in members),
        offset_end_s=max(m[col.OFFSET_END_S] for m in members), offset_best_s=best[col.OFFSET_BEST_S],
        box=tuple(float(v) for v in best[col.BOX]),  # type: ignore[arg-type]
        frame_size=(int(best[col.FRAME_WIDTH]), int(best[col.FRAME_HEIGHT])), track_id=int(best[col.TRACK_ID]),
        n_detections=int(sum(m[col.N_DETECTIONS] for m in members)),
        bearing_deg=None if bearing is None else float(bearing), speed_mps=float(best[col.SPEED_MPS]),
        thumbnail=best[col.THUMBNAIL] or b"",
        upper=np.asarray(best[col.UPPER_COLOUR], dtype=np.float32),
        lower=np.asarray(best[col.LOWER_COLOUR], dtype=np.float32),
        layout=np.asarray(best[col.COLOUR_LAYOUT], dtype=np.float32), vector=vec,
        attributes=SightingAttributes.from_row(best),
    )


# ------------------------------------------------------------------------------------------ internals


def _groups(scored: Scored, idx: np.ndarray) -> list[RowGroup]:
    groups = group_rows(scored.video_id[idx], scored.track_id[idx], scored.segment[idx], scored.t_start[idx],
                        scored.t_end[idx], scored.score[idx], scored.evidence[idx])
    for g in groups:  # back to indexes into ``scored``
        g.rows = [int(idx[i]) for i in g.rows]
        g.best = int(idx[g.best])
    return groups


def _materialise(reader: SightingReader, registry: CameraRegistry, page: list[tuple[RowGroup, bool]],
                 scored: Scored, columns: list[str]) -> list[Sighting]:
    if not page:
        return []
    wanted = [i for g, _ in page for i in g.rows]
    rows = _read_rows(reader, scored, wanted, columns)
    out = []
    for g, weak in page:
        member_ids = [str(scored.ids[i]) for i in g.rows]
        best_id = str(scored.ids[g.best])
        if best_id not in rows:  # deleted by a concurrent re-index between scoring and fetching
            continue
        s = sighting_from_rows(rows, [m for m in member_ids if m in rows], best_id, registry)
        s.score = float(scored.score[g.best])
        s.evidence = {name: float(v[g.best]) for name, v in scored.parts.items() if np.isfinite(v[g.best])}
        if np.isfinite(scored.evidence[g.best]):
            s.evidence["evidence"] = float(g.evidence)
        s.weak = weak
        out.append(s)
    return out


def _read_rows(reader: SightingReader, scored: Scored, idx: list[int], columns: list[str]) -> dict[str, dict]:
    """Display columns of candidate rows: by row id where known, by sighting id for the rest (or when a
    compaction moved rows since the scan)."""
    ids = [str(scored.ids[i]) for i in idx]
    known = [i for i in idx if scored.rowid[i] >= 0]
    rows: dict[str, dict] = {}
    if known:
        got = rows_by_id(reader.take([int(scored.rowid[i]) for i in known], columns))
        rows = {k: v for k, v in got.items() if k in set(ids)}
    missing = [sid for sid in ids if sid not in rows]
    if missing:
        rows.update(rows_by_id(reader.fetch(missing, columns)))
    return rows


def _message(query: CompiledQuery, filters: SearchFilters, result: SearchResult, groups: list[RowGroup],
             threshold: float, tz: ZoneInfo) -> str:
    understood = query.parsed.summary() if query.parsed is not None else ""
    if query.scoring.browse:
        head = f"{result.total} sighting(s) pass the filters ({describe_filters(filters, tz)}), listed by time"
        return f"{head}; {understood}" if understood else head
    if result.total:
        head = f"{'at least ' if result.total_is_lower_bound else ''}{result.total} sighting(s) found"
        if not query.scoring.calibrated:
            head += " (ranked by CLIP similarity only: no colour terms, so no threshold says the person is absent)"
        return f"{head}; {understood}" if understood else head
    best = max((g.evidence for g in groups if np.isfinite(g.evidence)), default=0.0)
    sc = query.scoring
    described = "colour" if not sc.uses_attributes else ("attribute" if not sc.uses_colours else "description")
    what = " and ".join([described] * sc.uses_description + ["appearance"] * sc.uses_appearance)
    msg = (f"no plausible match: among {result.filtered_rows} sighting(s) passing the filters, the best {what} "
           f"evidence is {best:.2f}, below the threshold {threshold:.2f}")
    return f"{msg}; {understood}" if understood else msg

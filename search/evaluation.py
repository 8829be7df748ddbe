"""Measuring search on an agency's own footage: labelled queries -> recall@k and mAP per query kind.

A labels file (JSON) lists queries as an operator would type them and, for each, where the person
really is: appearance intervals on cameras, optionally with boxes or torso points. Each query goes
through the real :class:`~search.engine.SearchEngine` on the configured index; its ranked sightings are
matched to the intervals and scored::

    {"people": {"target": [{"camera": "JG-01", "t_start": "2026-03-14T09:20:12+09:00",
                            "t_end": "2026-03-14T09:20:21+09:00", "boxes": [[t, x1, y1, x2, y2], ...]}]},
     "queries": [{"id": "en", "text": "purple coat, blue jeans", "person": "target"},
                 {"photo": "photos/target.jpg", "cameras": ["JG-01"], "time_from": "...", "time_to": "...",
                  "direction": "N", "districts": [...], "appearances": [{"camera": ..., ...}]}]}

A result *hits* an interval when one of its rows is on the interval's camera and overlaps it in time
(and, where the interval has ``boxes``, one of its tracked boxes within :data:`MATCH_DT_S` of a labelled
box overlaps it with IoU >= :data:`MIN_IOU`; with ``points`` ``[t, x, y]``, contains the point). Each
interval is counted once: the first result that hits it. Recall@k is the share of intervals hit in the
first k results; average precision is the mean, over the intervals, of the precision at the rank that
hit it (0 when none did).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.errors import FootageSearchError
from core.schema import SightingField
from search.errors import SearchInputError
from search.request import SearchRequest
from search.result import Sighting
from search.timeutil import to_epoch

KS = (1, 5, 10)
MATCH_DT_S = 0.6  # a labelled box or point and a tracked box this close in time are compared
MIN_IOU = 0.3
DEFAULT_DEPTH = 100  # results read per query
QUERY_KEYS = {"id", "text", "photo", "person", "appearances", "cameras", "districts", "time_from", "time_to",
              "direction", "tolerance_deg"}


class LabelsError(FootageSearchError):
    """A labels file the evaluation cannot use; the message names the file and the entry."""


@dataclass(frozen=True)
class Interval:
    """Where the person is: a camera and a time span (UTC epoch), optionally boxes or points in it."""

    camera: str
    t_start: float
    t_end: float
    boxes: tuple[tuple[float, float, float, float, float], ...] = ()  # (t, x1, y1, x2, y2)
    points: tuple[tuple[float, float, float], ...] = ()  # (t, x, y): a point on the person's torso


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    kind: str  # "text" | "photo"
    request: SearchRequest
    intervals: tuple[Interval, ...]
    text: str = ""
    photo: str = ""


@dataclass
class QueryScore:
    query: LabelledQuery
    hit_ranks: list[int]  # 1-based rank of the result that first hit each hit interval, ascending
    results: int
    no_result: bool
    message: str
    recall: dict[int, float] = field(default_factory=dict)
    ap: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.query.id, "kind": self.query.kind, "text": self.query.text, "photo": self.query.photo,
                "intervals": len(self.query.intervals), "hit_ranks": self.hit_ranks, "results": self.results,
                "no_result": self.no_result, "message": self.message,
                **{f"R@{k}": round(v, 4) for k, v in self.recall.items()}, "AP": round(self.ap, 4)}


# ------------------------------------------------------------------------------------------ labels


def load_labels(path: Path, tz: ZoneInfo, cameras: set[str]) -> list[LabelledQuery]:
    """Read and check a labels file; every problem is one :class:`LabelsError` line naming the entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelsError(f"labels file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"labels file {path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise LabelsError(f"labels file {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return parse_labels(data, path.parent, tz, cameras)
    except LabelsError as exc:
        raise LabelsError(f"labels file {path}: {exc}") from None


def parse_labels(data: Any, base: Path, tz: ZoneInfo, cameras: set[str]) -> list[LabelledQuery]:
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list) or not data["queries"]:
        raise LabelsError('expected an object with a non-empty "queries" list')
    people = data.get("people", {})
    if not isinstance(people, dict):
        raise LabelsError('"people" must map a name to its list of appearance intervals')
    known = {c.lower(): c for c in cameras}
    parsed_people = {name: _intervals(v, f"people.{name}", tz, known) for name, v in people.items()}
    out: list[LabelledQuery] = []
    for i, q in enumerate(data["queries"]):
        where = f"queries[{i}]"
        if not isinstance(q, dict):
            raise LabelsError(f"{where}: expected an object")
        unknown = sorted(set(q) - QUERY_KEYS)
        if unknown:
            raise LabelsError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(QUERY_KEYS))})")
        text, photo = q.get("text", ""), q.get("photo", "")
        if not isinstance(text, str) or not isinstance(photo, str) or not (text.strip() or photo):
            raise LabelsError(f'{where}: needs "text" (a description) or "photo" (a path), as strings')
        if "person" in q and "appearances" in q:
            raise LabelsError(f'{where}: give "person" or "appearances", not both')
        if "person" in q:  # a name in "people", or a list of names (a description several people fit)
            names = q["person"] if isinstance(q["person"], list) else [q["person"]]
            missing = [n for n in names if not isinstance(n, str) or n not in parsed_people] or ([] if names else [[]])
            if missing:
                raise LabelsError(f"{where}: person {missing[0]!r} is not in \"people\"")
            intervals = tuple(iv for n in names for iv in parsed_people[n])
        elif "appearances" in q:
            intervals = _intervals(q["appearances"], f"{where}.appearances", tz, known)
        else:
            raise LabelsError(f'{where}: says nothing about where the person is ("person" or "appearances")')
        photo_bytes = _photo(base, photo, where) if photo else None
        req = SearchRequest(
            text=text, photo=photo_bytes, time_from=q.get("time_from"), time_to=q.get("time_to"),
            cameras=_names(q, "cameras", where), districts=_names(q, "districts", where),
            direction=q.get("direction"), direction_tolerance_deg=q.get("tolerance_deg"))
        out.append(LabelledQuery(id=str(q.get("id", i + 1)), kind="photo" if photo else "text", request=req,
                                 intervals=intervals, text=text, photo=photo))
    return out


def _names(q: dict, key: str, where: str) -> list[str]:
    v = q.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise LabelsError(f"{where}.{key}: expected a list of names")
    return v


def _photo(base: Path, photo: str, where: str) -> bytes:
    path = (base / photo).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LabelsError(f"{where}: cannot read the photo {path} ({exc.strerror or exc})") from None


def _intervals(value: Any, where: str, tz: ZoneInfo, known: dict[str, str]) -> tuple[Interval, ...]:
    if not isinstance(value, list) or not value:
        raise LabelsError(f"{where}: expected a non-empty list of appearance intervals")
    out = []
    for j, a in enumerate(value):
        at = f"{where}[{j}]"
        if not isinstance(a, dict) or not {"camera", "t_start", "t_end"} <= set(a):
            raise LabelsError(f'{at}: expected {{"camera", "t_start", "t_end"}} (times ISO 8601 or epoch)')
        camera = known.get(str(a["camera"]).lower())
        if camera is None:
            raise LabelsError(f"{at}: unknown camera {a['camera']!r} (known: {', '.join(sorted(known.values()))})")
        t0, t1 = _time(a["t_start"], tz, f"{at}.t_start"), _time(a["t_end"], tz, f"{at}.t_end")
        if t1 < t0:
            raise LabelsError(f"{at}: t_end is before t_start")
        boxes = tuple(_row(b, 5, tz, f"{at}.boxes") for b in a.get("boxes", []))
        points = tuple(_row(p, 3, tz, f"{at}.points") for p in a.get("points", []))
        out.append(Interval(camera, t0, t1, boxes, points))  # type: ignore[arg-type]
    return tuple(out)


def _time(value: Any, tz: ZoneInfo, where: str) -> float:
    try:
        t = to_epoch(value, tz, where)
    except SearchInputError as exc:
        raise LabelsError(str(exc)) from None
    if t is None:
        raise LabelsError(f"{where}: missing time")
    return t


def _row(value: Any, n: int, tz: ZoneInfo, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise LabelsError(f"{where}: expected [t, {'x1, y1, x2, y2' if n == 5 else 'x, y'}] entries")
    t = _time(value[0], tz, where)
    try:
        rest = [float(v) for v in value[1:]]
    except (TypeError, ValueError):
        raise LabelsError(f"{where}: coordinates must be numbers") from None
    if not all(math.isfinite(v) for v in rest):
        raise LabelsError(f"{where}: coordinates must be finite numbers")
    return (t, *rest)


# ----------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Track:
    """One index row's tracked boxes, in absolute time."""

    camera: str
    t_start: float
    t_end: float
    times: np.ndarray  # (M,) UTC epoch
    boxes: np.ndarray  # (M, 4)


def tracks_of(engine, sightings: list[Sighting]) -> dict[str, Track]:
    """The tracked boxes of every row of ``sightings`` (read only when some interval has boxes or points)."""
    ids = sorted({m for s in sightings for m in s.member_ids})
    if not ids:
        return {}
    cols = [SightingField.CAMERA_ID, SightingField.T_START, SightingField.T_END, SightingField.OFFSET_START_S,
            SightingField.TRACK_OFFSETS, SightingField.TRACK_BOXES]
    out = {}
    for r in engine.reader.fetch(ids, cols).to_pylist():
        file_start = r[SightingField.T_START] - r[SightingField.OFFSET_START_S]
        times = file_start + np.asarray(r[SightingField.TRACK_OFFSETS], dtype=np.float64)
        boxes = np.asarray(r[SightingField.TRACK_BOXES], dtype=np.float64).reshape(-1, 4)
        out[r[SightingField.SIGHTING_ID]] = Track(r[SightingField.CAMERA_ID], r[SightingField.T_START],
                                                  r[SightingField.T_END], times, boxes)
    return out


def _iou(a: np.ndarray, b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def tracked_box_at(track: Track, t: float) -> np.ndarray | None:
    """The row's tracked box at its tracked time nearest ``t``, if within :data:`MATCH_DT_S`."""
    if not len(track.times):
        return None
    i = int(np.argmin(np.abs(track.times - t)))
    return track.boxes[i] if abs(track.times[i] - t) <= MATCH_DT_S else None


def row_hits(row: Track, iv: Interval) -> bool:
    """Whether one index row shows the person of ``iv`` (see the module docstring)."""
    if row.camera != iv.camera or row.t_end < iv.t_start or row.t_start > iv.t_end:
        return False
    if not iv.boxes and not iv.points:
        return True
    for t, *box in iv.boxes:
        b = tracked_box_at(row, t)
        if b is not None and _iou(b, tuple(box)) >= MIN_IOU:
            return True
    for t, x, y in iv.points:
        b = tracked_box_at(row, t)
        if b is not None and b[0] <= x <= b[2] and b[1] <= y <= b[3]:
            return True
    return False


def score_ranking(ranked_rows: list[list[Track]], intervals: tuple[Interval, ...]) -> tuple[list[int], dict, float]:
    """Hit ranks, recall@k and average precision of a ranking (each entry: the rows of one result)."""
    used: set[int] = set()
    ranks: list[int] = []
    for rank, rows in enumerate(ranked_rows, start=1):
        for j, iv in enumerate(intervals):
            if j not in used and any(row_hits(r, iv) for r in rows):
                used.add(j)
                ranks.append(rank)
                break  # one result hits at most one interval: each interval is counted once, by one result
    n = len(intervals)
    recall = {k: sum(r <= k for r in ranks) / n for k in KS}
    ap = sum((i + 1) / r for i, r in enumerate(ranks)) / n
    return ranks, recall, ap


def evaluate_query(engine, q: LabelledQuery, *, depth: int = DEFAULT_DEPTH, use_clip: bool = True,
                   include_weak: bool = False) -> QueryScore:
    result = engine.search(replace(q.request, limit=depth, use_clip=use_clip, include_weak=include_weak))
    needs_boxes = any(iv.boxes or iv.points for iv in q.intervals)
    if needs_boxes:
        tracks = tracks_of(engine, result.sightings)
        ranked = [[tracks[m] for m in s.member_ids if m in tracks] for s in result.sightings]
    else:
        ranked = [[Track(s.camera_id, s.t_start, s.t_end, np.zeros(0), np.zeros((0, 4)))]
                  for s in result.sightings]
    ranks, recall, ap = score_ranking(ranked, q.intervals)
    return QueryScore(q, ranks, len(result.sightings), result.no_result, result.message, recall, ap)


def summarise(scores: list[QueryScore]) -> dict[str, dict[str, float]]:
    """Mean recall@k and mAP per query kind, and over all queries."""
    out: dict[str, dict[str, float]] = {}
    groups = {"text": [s for s in scores if s.query.kind == "text"],
              "photo": [s for s in scores if s.query.kind == "photo"], "all": scores}
    for kind, group in groups.items():
        if not group:
            continue
        out[kind] = {"queries": len(group), **{f"R@{k}": round(float(np.mean([s.recall[k] for s in group])), 4)
                                               for k in KS},
                     "mAP": round(float(np.mean([s.ap for s in group])), 4)}
    return out

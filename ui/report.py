"""The case export handed to the police: one self-contained, printable HTML file plus JSON and CSV.

The HTML embeds every picture (data: URIs) and the map, so it can be mailed, archived or printed
without the console. JSON carries the same facts for other systems, CSV one row per sighting for a
spreadsheet. Each sighting names its camera, its source file as the archive knows it (camera folder
and file name, :func:`source_file`) and the offsets inside it, so an investigator can go back to the
original footage without this tool. No absolute path of this server (archive root, index, cache)
goes into a report: the files leave the building.

Pictures arrive here already redacted (:mod:`ui.redact`): everyone but the confirmed person blurred,
or no picture at all with the reason. The search's stored thumbnail is never used.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.atomic_file import write_atomic
from indexer.archive import video_id_for
from ui.formatting import clock, date_time, distance, duration, local, offset

if TYPE_CHECKING:  # search is imported lazily by the console; the report only reads a Sighting's fields
    from search.result import Sighting

REPORT_FORMAT = "footage-search-case-report"
REPORT_VERSION = 2  # 2: no video_path (absolute server path); video_file is archive-relative


def source_file(s: Sighting) -> str:
    """The sighting's video as the archive names it (``<camera folder>/.../<file>``), never the server path.

    The part of the path whose hash is the sighting's ``video_id`` is the archive-relative path the
    indexer saw; when the file was reached some other way, the part from the camera's folder on, else
    just the file name.
    """
    parts = PurePosixPath(s.video_path.replace("\\", "/")).parts
    tails = ["/".join(parts[i:]) for i in range(len(parts) - 1, 0, -1)]
    for rel in tails:
        if video_id_for(rel) == s.video_id:
            return rel
    camera_at = [i for i, part in enumerate(parts[:-1]) if i > 0 and part == s.camera_id]
    return "/".join(parts[camera_at[-1]:]) if camera_at else (parts[-1] if parts else "")


@dataclass(frozen=True)
class ReportSighting:
    """One sighting of a report: the search's own :class:`~search.result.Sighting` and what only the report has.

    ``thumbnail`` and ``frame`` are the exported pictures, redacted by :mod:`ui.redact` (empty until then,
    and when withheld: ``redaction`` says why); the sighting's own ``thumbnail`` from the index is never shown.
    """

    sighting: Sighting
    role: str  # "route" | "pinned"
    number: int | None  # stop number on the route
    thumbnail: bytes = field(default=b"", repr=False)  # JPEG of the person, cut from the redacted frame
    frame: bytes = field(default=b"", repr=False)  # the whole redacted frame at the best moment, JPEG
    people_blurred: int = 0
    redaction: str = ""  # what was done to the pictures, or why there are none

    @property
    def sighting_id(self) -> str:
        return self.sighting.sighting_id

    @property
    def video_file(self) -> str:
        return source_file(self.sighting)


@dataclass(frozen=True)
class ReportLeg:
    from_stop: int
    to_stop: int
    gap_s: float
    distance_m: float

    @property
    def speed_mps(self) -> float | None:
        return self.distance_m / self.gap_s if self.gap_s > 0 else None


@dataclass
class CaseReport:
    case_number: str
    operator: str
    notes: str
    timezone: str
    query_text: str
    understood: str
    filters: dict[str, str]
    route: list[ReportSighting]
    legs: list[ReportLeg] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    pinned: list[ReportSighting] = field(default_factory=list)  # pinned but not on the route
    rejected_ids: list[str] = field(default_factory=list)
    route_notes: list[str] = field(default_factory=list)
    reference_photo: bytes | None = field(default=None, repr=False)  # JPEG
    map_svg: str = field(default="", repr=False)
    timeline_svg: str = field(default="", repr=False)
    index: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    purpose: str = ""  # as logged with the case's searches
    exported_by: str = ""  # the signed-in account that exported it
    # every search of the case, oldest first: when, kind, text, understood, filters, results, photo
    searches: list[dict] = field(default_factory=list)
    photo_name: str = ""  # the reference photo the route's search used, if any

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    csv: Path

    def paths(self) -> list[Path]:
        return [self.html, self.json, self.csv]


# ---------------------------------------------------------------------------------------------- JSON


def _sighting_dict(e: ReportSighting, tz: ZoneInfo) -> dict:
    s = e.sighting
    return {
        "role": e.role, "number": e.number, "sighting_id": s.sighting_id, "camera_id": s.camera_id,
        "camera_name": s.camera_name, "district": s.district,
        "t_start": s.t_start, "t_end": s.t_end, "t_best": s.t_best,
        "time_start": date_time(s.t_start, tz), "time_end": date_time(s.t_end, tz),
        "time_best": date_time(s.t_best, tz),
        "video_file": e.video_file,
        "offset_start_s": s.offset_start_s, "offset_end_s": s.offset_end_s, "offset_best_s": s.offset_best_s,
        "box": [round(float(v), 1) for v in s.box], "direction": s.direction,
        "score": None if s.score is None else round(s.score, 4),
        "people_blurred": e.people_blurred, "redaction": e.redaction,
        "thumbnail_jpeg_base64": base64.b64encode(e.thumbnail).decode("ascii") if e.thumbnail else None,
        "frame_jpeg_base64": base64.b64encode(e.frame).decode("ascii") if e.frame else None,
    }


def report_dict(r: CaseReport) -> dict:
    tz = r.tz
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "created_at": date_time(r.created_at, tz),
        "created_at_epoch": r.created_at,
        "timezone": r.timezone,
        "case": {"case_number": r.case_number, "operator": r.operator, "notes": r.notes,
                 **({"purpose": r.purpose} if r.purpose else {}),
                 **({"exported_by": r.exported_by} if r.exported_by else {})},
        "query": {"text": r.query_text, "understood": r.understood, "filters": r.filters,
                  "reference_photo": r.reference_photo is not None,
                  **({"photo_name": r.photo_name} if r.photo_name else {})},
        "searches": r.searches,
        "route": [_sighting_dict(s, tz) for s in r.route],
        "legs": [{**asdict(leg), "speed_mps": None if leg.speed_mps is None else round(leg.speed_mps, 2)}
                 for leg in r.legs],
        "route_notes": r.route_notes,
        "next_camera_suggestions": r.suggestions,
        "pinned_not_on_route": [_sighting_dict(s, tz) for s in r.pinned],
        "rejected_sighting_ids": r.rejected_ids,
        "index": r.index,
    }


def to_json(r: CaseReport) -> str:
    return json.dumps(report_dict(r), ensure_ascii=False, indent=2)


# ----------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("case_number", "role", "stop", "sighting_id", "camera_id", "camera_name", "district",
               "start_local", "end_local", "best_local", "start_epoch", "end_epoch", "video_file",
               "offset_start_s", "offset_best_s", "offset_end_s", "box_x1", "box_y1", "box_x2", "box_y2",
               "direction", "score")


def _cell(value: object) -> object:
    # Spreadsheets run cells that start with = + - @ as formulas; camera names are admin-typed text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(r: CaseReport) -> str:
    tz = r.tz
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in [*r.route, *r.pinned]:
        s = e.sighting
        w.writerow([_cell(v) for v in (
            r.case_number, e.role, e.number if e.number is not None else "", s.sighting_id, s.camera_id,
            s.camera_name, s.district, date_time(s.t_start, tz), date_time(s.t_end, tz), date_time(s.t_best, tz),
            f"{s.t_start:.3f}", f"{s.t_end:.3f}", e.video_file,
            f"{s.offset_start_s:.2f}", f"{s.offset_best_s:.2f}", f"{s.offset_end_s:.2f}",
            *(f"{v:.0f}" for v in s.box), s.direction, "" if s.score is None else f"{s.score:.3f}",
        )])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans KR", sans-serif; color: #111827;
       margin: 24px auto; max-width: 980px; padding: 0 16px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 2px solid #111827; }
.meta { color: #374151; } .meta b { color: #111827; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #CBD5E1; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #F1F5F9; }
td.thumb img { height: 110px; display: block; }
code { font-size: 12px; word-break: break-all; }
.photo img { max-height: 180px; border: 1px solid #CBD5E1; }
.muted { color: #6B7280; } .figure { margin: 8px 0; }
ul.suggestions li { margin: 2px 0; }
.frames { display: flex; flex-wrap: wrap; gap: 10px; } figure.frame { margin: 0; break-inside: avoid; }
figure.frame img { max-width: 460px; display: block; border: 1px solid #CBD5E1; }
figure.frame figcaption { font-size: 12px; color: #374151; }
@page { size: A4; margin: 14mm; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr, .figure { break-inside: avoid; } }
"""


def _img(jpeg: bytes, alt: str, missing: str = "no picture") -> str:
    if not jpeg:
        return f'<span class="muted">{escape(missing)}</span>'
    return f'<img alt="{escape(alt)}" src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode("ascii")}">'


def _sighting_rows(items: list[ReportSighting], tz: ZoneInfo) -> str:
    rows = []
    for e in items:
        s = e.sighting
        score = "" if s.score is None else f"{s.score:.2f}"
        rows.append(
            "<tr>"
            f"<td>{e.number if e.number is not None else '–'}</td>"
            f'<td class="thumb">{_img(e.thumbnail, f"sighting {s.sighting_id}", e.redaction or "no picture")}</td>'
            f"<td><b>{escape(s.camera_id)}</b><br>{escape(s.camera_name)}<br>{escape(s.district)}</td>"
            f"<td>{escape(date_time(s.t_start, tz))}<br>to {escape(clock(s.t_end, tz))}<br>"
            f"<span class=muted>{escape(duration(s.t_end - s.t_start))}</span></td>"
            f"<td>{escape(s.direction)}</td><td>{escape(score)}</td>"
            f"<td><code>{escape(e.video_file)}</code><br>offsets {escape(offset(s.offset_start_s))} – "
            f"{escape(offset(s.offset_end_s))}, best {escape(offset(s.offset_best_s))} "
            f"({s.offset_best_s:.1f} s)<br>box {', '.join(f'{v:.0f}' for v in s.box)}<br>"
            f"<span class=muted>id {escape(s.sighting_id)}</span></td>"
            "</tr>")
    head = ("<tr><th>#</th><th>Picture</th><th>Camera</th><th>Time</th><th>Direction</th><th>Score</th>"
            "<th>Source file and offsets</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _frames(items: list[ReportSighting]) -> str:
    shown = [e for e in items if e.frame]
    if not shown:
        return ""
    figs = "".join(f'<figure class="frame"><img alt="frame of stop {e.number}" src="data:image/jpeg;base64,'
                   f'{base64.b64encode(e.frame).decode("ascii")}"><figcaption>Stop {e.number}: '
                   f"{escape(e.sighting.camera_id)} at {escape(offset(e.sighting.offset_best_s))} · "
                   f"{escape(e.redaction)}</figcaption></figure>" for e in shown)
    return f'<h2>Frames (other people blurred)</h2><div class="frames">{figs}</div>'


def _searches_html(searches: list[dict]) -> str:
    """Every search of the case, in the order they were made."""
    if not searches:
        return ""
    rows = "".join(
        f"<tr><td>{k}</td><td>{escape(e.get('when', ''))}</td><td>{escape(e.get('kind', ''))}</td>"
        f"<td>{escape(e.get('text') or '–')}"
        + (f"<br>photo: {escape(e['photo'])}" if e.get("photo") else "")
        + f"</td><td>{escape(e.get('understood') or '–')}</td>"
        f"<td>{escape(', '.join(f'{a.lower()} {b}' for a, b in (e.get('filters') or {}).items()) or 'none')}</td>"
        f"<td>{e.get('results', 0)}</td></tr>" for k, e in enumerate(searches, start=1))
    return (f"<h2>Searches in this case ({len(searches)})</h2><table class='searches'><tr><th>#</th><th>When</th>"
            "<th>Kind</th><th>Description / photo</th><th>Understood as</th><th>Filters</th><th>Results</th></tr>"
            f"{rows}</table>")


def to_html(r: CaseReport) -> str:
    tz = r.tz
    title = f"Case {r.case_number}" if r.case_number else "Case report"
    filters = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in r.filters.items())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)} – footage-search</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}: missing person route</h1>",
        f'<p class="meta">Case number: <b>{escape(r.case_number or "(none)")}</b> · Operator: '
        f'<b>{escape(r.operator or "(none)")}</b> · Exported {escape(date_time(r.created_at, tz))} '
        f"({escape(r.timezone)})" + (f" by {escape(r.exported_by)}" if r.exported_by else "") + "</p>",
    ]
    if r.purpose:
        parts.append(f'<p class="meta">Purpose: {escape(r.purpose)}</p>')
    if r.notes:
        parts.append(f"<p>{escape(r.notes)}</p>")
    photo_row = f"<tr><th>Reference photo</th><td>{escape(r.photo_name)}</td></tr>" if r.photo_name else ""
    parts.append("<h2>Search that found the route</h2><table>"
                 f"<tr><th>Description</th><td>{escape(r.query_text or ('(photo only)' if r.photo_name else '(none)'))}"
                 f"</td></tr>{photo_row}"
                 f"<tr><th>Understood as</th><td>{escape(r.understood or '–')}</td></tr>{filters}</table>")
    parts.append(_searches_html(r.searches))
    if r.reference_photo:
        parts.append(f'<div class="photo figure"><p>Reference photo:</p>{_img(r.reference_photo, "reference photo")}'
                     "</div>")
    parts.append(f"<h2>Confirmed route ({len(r.route)} stops)</h2>")
    if not r.route:
        parts.append('<p class="muted">No route was confirmed.</p>')
    else:
        if r.map_svg:
            parts.append(f'<div class="figure">{r.map_svg}</div>')
        if r.timeline_svg:
            parts.append(f'<div class="figure">{r.timeline_svg}</div>')
        parts.append(_sighting_rows(r.route, tz))
        parts.append(_frames(r.route))
    if r.legs:
        rows = "".join(
            f"<tr><td>{leg.from_stop} → {leg.to_stop}</td><td>{escape(duration(leg.gap_s))}</td>"
            f"<td>{'same camera' if leg.distance_m == 0 else escape(distance(leg.distance_m))}</td>"
            f"<td>{'–' if not leg.speed_mps else f'{leg.speed_mps:.2f} m/s'}</td></tr>" for leg in r.legs)
        parts.append("<h2>Legs</h2><table><tr><th>Stops</th><th>Time between</th><th>Straight-line distance</th>"
                     f"<th>Implied speed</th></tr>{rows}</table>")
    if r.route_notes:
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in r.route_notes) + "</ul>")
    if r.suggestions:
        parts.append("<h2>Where to look next</h2><ul class=suggestions>"
                     + "".join(f"<li>{escape(s)}</li>" for s in r.suggestions) + "</ul>")
    if r.pinned:
        parts.append(f"<h2>Other pinned sightings ({len(r.pinned)})</h2>")
        parts.append(_sighting_rows(r.pinned, tz))
    if r.rejected_ids:
        parts.append(f"<h2>Rejected sightings ({len(r.rejected_ids)})</h2><p class=muted>"
                     + ", ".join(escape(i) for i in r.rejected_ids) + "</p>")
    index = " · ".join(f"{escape(k)}: {escape(v)}" for k, v in r.index.items())
    parts.append(f'<h2>About this report</h2><p class="muted">Times are local ({escape(r.timezone)}). Offsets are '
                 "seconds from the start of the source file (hh:mm:ss.s), named by its camera folder in the "
                 "archive. Boxes are x1, y1, x2, y2 in the source video's pixels. Scores rank candidates; they are "
                 f"not identifications. Everyone but the confirmed person is blurred in the pictures. {index}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- writing


def report_stem(r: CaseReport) -> str:
    case = re.sub(r"[^A-Za-z0-9._-]+", "_", r.case_number).strip("._")[:60] or "no-case-number"
    stamp = local(r.created_at, r.tz).strftime("%Y%m%d-%H%M%S")
    return f"case-{case}-{stamp}"


def write_report(r: CaseReport, out_dir: str | Path) -> ReportFiles:
    """Write the three files into ``out_dir`` (the console gives a fresh unguessable folder per export,
    see ``ui.case_files``), readable by the console's account only: folder 0700, files 0600."""
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    stem = report_stem(r)
    files = ReportFiles(out / f"{stem}.html", out / f"{stem}.json", out / f"{stem}.csv")
    write_atomic(files.html, to_html(r).encode("utf-8"), mode=0o600)
    write_atomic(files.json, to_json(r).encode("utf-8"), mode=0o600)
    # BOM: Excel then opens Korean camera names correctly.
    write_atomic(files.csv, ("\ufeff" + to_csv(r)).encode("utf-8"), mode=0o600)
    return files

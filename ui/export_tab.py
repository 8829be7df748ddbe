"""The Case export tab, Gradio-free: the case report (HTML, JSON, CSV) of the session's route and
pinned sightings, what an export would hold right now, and the export itself.

Every picture in a report is cut anew from the source video with everyone but the confirmed person
pixelated (``ui.redact``). Each export gets its own unguessable folder, served only to the exporting
user and admins (``ui.case_files``), and is audited with a digest of every file.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from core.auth import Permission
from ui import formatting as fmt
from ui.console import Console, ConsoleError, Session, status_box
from ui.policy import audit, authorize, require_case
from ui.report import CaseReport, ReportFiles, ReportLeg, ReportSighting, write_report
from ui.route_tab import map_items, next_cameras, route_summary, route_view
from ui.tile_map import report_map

if TYPE_CHECKING:
    from search.result import Sighting

log = logging.getLogger(__name__)


def _report_sighting(s: Sighting, role: str, number: int | None) -> ReportSighting:
    # no pictures yet: the index's stored thumbnail may show a neighbour; ui.redact cuts new ones
    return ReportSighting(sighting=s, role=role, number=number)


def build_report(console: Console, session: Session, case_number: str, operator: str, notes: str) -> CaseReport:
    """The report as it is exported: every picture redacted (see :mod:`ui.redact`)."""
    route = session.route
    tz = console.tz
    stops: list[ReportSighting] = []
    legs: list[ReportLeg] = []
    map_svg = timeline_svg = ""
    suggestions: list[str] = []
    route_notes: list[str] = []
    if route is not None and route.stops:
        view = route_view(console, session)
        # the SVG, over the street map's tiles as one picture when one is configured: the file stays self-contained
        map_stops, map_sugs = map_items(console, route)
        map_svg, timeline_svg = report_map(console, stops=map_stops, suggestions=map_sugs), view.timeline_html
        for k, st in enumerate(route.stops, start=1):
            if st.sighting is not None:
                stops.append(_report_sighting(st.sighting, "route", k))
            if st.leg is not None and k > 1:
                legs.append(ReportLeg(k - 1, k, st.leg.gap_s, st.leg.distance_m))
        suggestions = [f"{c.camera_id} {c.camera_name} ({c.district}), {fmt.distance(c.distance_m)} away: "
                       f"{fmt.clock(c.earliest, tz)}–{fmt.clock(c.latest, tz)}"
                       + ("" if c.has_footage else " (no indexed footage in that window)")
                       + (f" ({n.behind})" if n.behind else "")
                       for n in next_cameras(console, route) for c in [n.suggestion]]
        route_notes = [route_summary(console, route)]
        route_notes += [
            f"between stops {g.after_stop + 1} and {g.after_stop + 2}: also check {', '.join(g.cameras_between)}"
            for g in route.gaps if g.cameras_between]
    on_route = {s.sighting_id for s in stops}
    pinned = [_report_sighting(session.known[i], "pinned", None) for i in session.pinned
              if i in session.known and i not in on_route]
    stops = [console.redactor.redact_sighting(s) for s in stops]
    pinned = [console.redactor.redact_sighting(s) for s in pinned]
    photo = None
    if session.photo_preview is not None and Path(session.photo_preview).is_file():
        photo = console.redactor.redact_photo(Path(session.photo_preview).read_bytes()) or None
        if photo is None:
            route_notes.append("The reference photo is left out: without the person detector the other people in "
                               "it cannot be blurred.")
    index = {"timezone": console.cfg.index.timezone}  # never the index's location: reports leave the server
    try:
        clip_model = console.engine().db.clip_model()
        index["CLIP model"] = clip_model or "none"
    except Exception as exc:  # the report is still worth having without it
        log.warning("no CLIP model name for the report: %s", exc)
    query = session.route_query if route is not None and session.route_query else {
        "text": session.query_text, "understood": session.understood, "filters": dict(session.filters),
        "photo": session.photo_name if session.photo is not None else ""}
    case = session.case
    who = session.user
    return CaseReport(case_number=case_number.strip(), operator=operator.strip(), notes=notes.strip(),
                      purpose=case.purpose if case else "",
                      exported_by=f"{who.name} ({who.role.value})" if who is not None else "",
                      timezone=console.cfg.index.timezone, query_text=query["text"],
                      understood=query["understood"].removeprefix("understood: "), filters=dict(query["filters"]),
                      route=stops, legs=legs, suggestions=suggestions, pinned=pinned,
                      rejected_ids=list(session.rejected), route_notes=route_notes, reference_photo=photo,
                      map_svg=map_svg.replace('id="camera-map"', 'id="report-map"'), timeline_svg=timeline_svg,
                      index=index, searches=[asdict(e) for e in session.case_searches()],
                      photo_name=query.get("photo", ""))


def export_preview(console: Console, session: Session) -> str:
    """What an export would hold right now, so nobody exports an empty or stale route by mistake."""
    route = session.route
    if route is None and not session.pinned:
        return status_box("Nothing to export yet: search, pin the sightings you are sure of and build the route.",
                          "warn")
    n_stops = len(route.stops) if route is not None else 0
    parts = [f"Route: <b>{n_stops}</b> stop(s)" if route is not None else "No route built yet (pinned sightings only)",
             f"pinned: <b>{len(session.pinned)}</b>", f"rejected: <b>{len(session.rejected)}</b>"]
    if session.query_text:
        parts.append(f"query: {escape(session.query_text[:80])}")
    parts.append(f"searches in this case: <b>{len(session.case_searches())}</b>")
    if route is not None:
        on_route = {st.sighting.sighting_id for st in route.stops if st.sighting is not None}
        missing = [i for i in session.pinned if i not in on_route]
        if missing:
            parts.append(f"<b>{len(missing)} pinned sighting(s) are not on the route</b>: rebuild the route if "
                         "you pinned them after building it")
    return status_box(" · ".join(parts))


def export_case(console: Console, session: Session, operator: str, notes: str) -> tuple[ReportFiles, str]:
    """Write the case report of the session's case (number from :func:`set_case`), redacted and audited."""
    who = authorize(console, session, Permission.EXPORT, "export case reports")
    case = require_case(session)
    if session.route is None and not session.pinned:
        raise ConsoleError("Nothing to export yet: pin sightings and build the route first.")
    operator = (operator or "").strip() or (who.name if who.authenticated else "")
    report = build_report(console, session, case.number, operator, notes or "")
    # a fresh unguessable folder per export, and a record of who may download it (ui.case_files)
    folder = console.case_files.new_folder()
    files = write_report(report, folder)
    console.case_files.register(folder, who, case.number, case.purpose, files.paths())
    pictures = [*report.route, *report.pinned]
    audit(console, session, "export", route=[s.sighting_id for s in report.route],
          pinned=[s.sighting_id for s in report.pinned], operator=operator, folder=folder.name,
          files={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.paths()},
          people_blurred=sum(s.people_blurred for s in pictures),
          pictures_withheld=sum(1 for s in pictures if not s.thumbnail))
    n = len(report.route)
    msg = (f"Exported case report {escape(report.case_number)}: {n} route stop(s), {len(report.pinned)} other "
           "pinned sighting(s); everyone but the confirmed person is blurred. Download the files below.")
    return files, status_box(msg, "ok")

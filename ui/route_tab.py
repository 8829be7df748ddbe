"""The Route & map tab, Gradio-free: the route through the pinned sightings (or from the last
search), drawn as a map, a timeline and a table of stops, with the cameras to look at next.

Routes are planned by ``search.route``; here they are checked (role, case), audited, and turned into
HTML. Rejecting a stop rebuilds the route without it, and a suggested camera is searched in its
window with the session's description (:func:`search_suggestion`).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from core.auth import Permission
from core.compass import angle_diff_deg, compass_name
from core.registry import CameraRegistry
from ui import formatting as fmt
from ui.console import Console, ConsoleError, Session, status_box
from ui.map_geometry import MapStop, MapSuggestion
from ui.marks import MarksView, marks_view
from ui.models_panel import operator_notes
from ui.policy import audit, audited_search, authorize, photo_digest, require_case
from ui.search_tab import ResultsView, clean_list, filters_summary, record_search, results_view
from ui.tile_map import route_map
from ui.timeline_view import TimelineStop, render_timeline_svg

if TYPE_CHECKING:
    from search.route_result import CameraSuggestion, Route


@dataclass
class RouteView:
    status_html: str
    map_html: str
    timeline_html: str
    stops_html: str
    suggestions_html: str
    suggestion_choices: list[tuple[str, str]]
    stop_choices: list[tuple[str, str]] = field(default_factory=list)  # stops an operator may reject


@dataclass(frozen=True)
class NextCamera:
    """A camera the route suggests, and why it lies behind the person ("" when it lies ahead)."""

    index: int  # in Route.suggestions (what "Search there" is given)
    suggestion: CameraSuggestion
    behind: str = ""


def heading_of(registry: CameraRegistry, route: Route) -> float | None:
    """Which way the person was going at the last stop: the sighting's own direction of movement, else the
    way from the previous camera on the route to the last one."""
    last = route.stops[-1]
    if last.sighting is not None and last.sighting.bearing_deg is not None:
        return last.sighting.bearing_deg
    for st in reversed(route.stops[:-1]):
        if st.camera_id != last.camera_id and st.camera_id in registry and last.camera_id in registry:
            return registry.bearing_deg(st.camera_id, last.camera_id)
    return None


def next_cameras(console: Console, route: Route) -> list[NextCamera]:
    """The route's suggestions, each marked when it lies behind the person: a camera they already passed
    (earlier on the route), or one the wrong way from their direction of travel. Ahead ones first."""
    if not route.stops:
        return []
    heading = heading_of(console.registry, route)
    passed = {st.camera_id: st.t_start for st in route.stops[:-1] if st.camera_id != route.stops[-1].camera_id}
    out = []
    for i, c in enumerate(route.suggestions):
        behind = ""
        if c.camera_id in passed:
            behind = f"behind: already passed at {fmt.clock(passed[c.camera_id], console.tz)}"
        elif heading is not None and math.cos(math.radians(angle_diff_deg(heading, c.bearing_deg))) < 0:
            behind = "behind: the way the person came from"
        out.append(NextCamera(i, c, behind))
    return sorted(out, key=lambda n: (bool(n.behind), n.index))


def route_summary(console: Console, route: Route) -> str:
    """The route in one line, counting pinned stops and the ones the search found apart."""
    stops = route.stops
    if not stops:
        return route.message
    pinned = sum(1 for st in stops if st.pinned)
    found = sum(1 for st in stops if st.sighting is not None and not st.pinned)
    start = "" if stops[0].sighting is not None else ", starting from the last-seen point"
    parts = [f"{pinned} pinned"] if pinned else []
    if found:
        parts.append(f"{found} found by the search")
    tz = console.tz
    return (f"Route of {len(stops)} stop(s) ({', '.join(parts) or 'none confirmed'}{start}) across "
            f"{len(route.districts)} district(s): {' → '.join(route.districts)}, "
            f"{fmt.date_time(stops[0].t_start, tz)} to {fmt.date_time(stops[-1].t_end, tz)[11:]}")


def base_map(console: Console, session: Session | None = None) -> str:
    """The map before a route exists: every camera, with the current results' cameras ringed (over the
    street map when one is configured: ``ui.tile_map``)."""
    highlight = sorted({s.camera_id for s in session.items}) if session is not None else []
    return route_map(console, highlight=highlight)


def map_items(console: Console, route: Route) -> tuple[list[MapStop], list[MapSuggestion]]:
    """The route's stops and the first three suggestions ahead of the person, as both maps draw them."""
    tz = console.tz
    stops = [MapStop(k + 1, st.camera_id, fmt.clock(st.t_start, tz)) for k, st in enumerate(route.stops)]
    ahead = [n for n in next_cameras(console, route) if not n.behind]
    sugs = [MapSuggestion(n.suggestion.camera_id, f"{fmt.clock(n.suggestion.earliest, tz)[:5]}–"
                                                  f"{fmt.clock(n.suggestion.latest, tz)[:5]}") for n in ahead[:3]]
    return stops, sugs


def build_route(console: Console, session: Session) -> RouteView:
    """The route through the pinned sightings (the earliest is the start), or from the description."""
    from search.route import RouteRequest
    from search.route import build_route as search_route

    authorize(console, session, Permission.ROUTE, "build routes")
    require_case(session)
    window = session.request or {}
    pinned = [i for i in session.pinned if i in session.known]
    pinned.sort(key=lambda i: session.known[i].t_start)
    if pinned:
        req = RouteRequest(start_sighting_id=pinned[0], pinned=pinned[1:], rejected=list(session.rejected),
                           text=session.query_text, photo=session.photo)
    elif session.query_text or session.photo is not None:
        req = RouteRequest(text=session.query_text, photo=session.photo, rejected=list(session.rejected),
                           time_from=window.get("time_from"), time_to=window.get("time_to"))
    else:
        raise ConsoleError("Pin at least one sighting (or run a search) before asking for the route.")
    details = {"pinned": pinned, "rejected": list(session.rejected), "query": session.query_text,
               "photo_sha256": photo_digest(session)}
    try:
        route = search_route(console.engine(), req)
    except Exception as exc:
        audit(console, session, "route", **details, error=str(exc)[:300])
        raise
    audit(console, session, "route", **details, stops=[st.sighting.sighting_id if st.sighting else st.camera_id
                                                       for st in route.stops],
          suggestions=[c.camera_id for c in route.suggestions])
    session.route = route
    session.route_query = {"text": session.query_text, "understood": session.understood,
                           "filters": dict(session.filters),
                           "photo": session.photo_name if session.photo is not None else ""}
    for stop in route.stops:
        if stop.sighting is not None:
            session.known.setdefault(stop.sighting.sighting_id, stop.sighting)
    return route_view(console, session)


def route_view(console: Console, session: Session) -> RouteView:
    route = session.route
    if route is None:
        return RouteView(status_box("No route yet: pin the sightings you are sure of, then press <b>Build route</b>."),
                         base_map(console, session), "", "", "", [])
    tz = console.tz
    stops = route.stops
    nexts = next_cameras(console, route)
    map_stops, sugs = map_items(console, route)
    map_html = route_map(console, stops=map_stops, suggestions=sugs)
    timeline = render_timeline_svg(
        [TimelineStop(k + 1, st.camera_id, st.district, st.t_start, st.t_end) for k, st in enumerate(stops)],
        console.registry, tz)
    rows = []
    for k, st in enumerate(stops):
        s = st.sighting
        thumb = ""
        if s is not None and s.thumbnail:
            # inline: a handful of small JPEGs, and the table then needs no file route to be allowed
            thumb = (f'<img class="fs-stop-thumb" alt="stop {k + 1}" '
                     f'src="data:image/jpeg;base64,{base64.b64encode(s.thumbnail).decode("ascii")}">')
        leg = ""
        if st.leg is not None:
            where = "same camera" if st.leg.distance_m == 0 else fmt.distance(st.leg.distance_m)
            leg = f"{fmt.duration(st.leg.gap_s)} after, {where}"
        flags = ", ".join(f for f, on in (("start", st.is_start), ("pinned", st.pinned)) if on)
        rows.append(f"<tr><td><b>{k + 1}</b></td><td>{thumb}</td><td>{escape(st.camera_id)}</td>"
                    f"<td>{escape(st.district)}</td><td>{escape(fmt.local(st.t_start, tz).strftime('%Y-%m-%d'))} "
                    f"{escape(fmt.span(st.t_start, st.t_end, tz))}</td>"
                    f"<td>{escape(s.direction if s is not None else '–')}</td>"
                    f"<td>{escape(f'{s.video_file} @ {fmt.offset(s.offset_best_s)}' if s is not None else '–')}</td>"
                    f"<td>{escape(leg)}</td>"
                    f"<td>{escape(flags)}</td></tr>")
    stops_html = ("<table class='fs-table fs-route'><tr><th>#</th><th></th><th>Camera</th><th>District</th>"
                  "<th>Time</th><th>Dir.</th><th>File @ position</th><th>From previous</th><th></th></tr>"
                  + "".join(rows) + "</table>"
                  if rows else "")
    for gap in route.gaps:
        if gap.cameras_between:
            stops_html += (f"<p class='fs-note'>Between stops {gap.after_stop + 1} and {gap.after_stop + 2} "
                           f"({fmt.duration(gap.gap_s)}): also check {escape(', '.join(gap.cameras_between))}</p>")
    sug_items, behind_items = [], []
    choices = []
    for n in nexts:
        c = n.suggestion
        footage = "footage indexed" if c.has_footage else "no indexed footage in that window"
        item = (f"<b>{escape(c.camera_id)}</b> {escape(c.camera_name)} ({escape(c.district)}): "
                f"{escape(fmt.distance(c.distance_m))} {escape(compass_name(c.bearing_deg))}, between "
                f"{escape(fmt.clock(c.earliest, tz))} and {escape(fmt.clock(c.latest, tz))} · {escape(footage)}")
        if n.behind:
            behind_items.append(f"<li class='fs-behind'>{item} · <i>{escape(n.behind)}</i></li>")
            continue
        sug_items.append(f"<li>{item}</li>")
        # numbered as on the map; only cameras ahead of the person are offered for a search
        choices.append((f"{len(choices) + 1}. {c.camera_id} {fmt.clock(c.earliest, tz)[:5]}–"
                        f"{fmt.clock(c.latest, tz)[:5]}", str(n.index)))
    suggestions_html = "<h4 class='fs-h'>Where to look next</h4>" + (
        ("<ol class='fs-suggestions'>" + "".join(sug_items) + "</ol>") if sug_items else
        "<p class='fs-note'>No camera is within reach ahead of the person after the last stop.</p>")
    if behind_items:
        suggestions_html += ("<details class='fs-behind-list'><summary>Behind the person "
                             f"({len(behind_items)}): not suggested</summary><ul>{''.join(behind_items)}</ul>"
                             "</details>")
    kind = "ok" if stops else "warn"
    notes = operator_notes(route.warnings)
    status = escape(route_summary(console, route)) + "".join(f"<br><i>Note:</i> {escape(w)}" for w in notes)
    stop_choices = [(f"{k + 1}. {st.camera_id} {fmt.clock(st.t_start, tz)}", st.sighting.sighting_id)
                    for k, st in enumerate(stops) if st.sighting is not None and not st.pinned]
    return RouteView(status_box(status, kind), map_html, timeline, stops_html, suggestions_html, choices,
                     stop_choices)


def reject_stops(console: Console, session: Session, sighting_ids: Sequence[str] | str | None
                 ) -> tuple[MarksView, RouteView]:
    """The operator saw someone else on the route: reject those stops and build the route again."""
    authorize(console, session, Permission.ROUTE, "build routes")
    ids = clean_list(sighting_ids)
    if not ids:
        raise ConsoleError("Choose the route stops that show someone else, then press Reject and rebuild.")
    for sid in ids:
        if sid in session.pinned:
            session.pinned.remove(sid)
        if sid not in session.rejected:
            session.rejected.append(sid)
    route = build_route(console, session)
    return marks_view(console, session), route


def search_suggestion(console: Console, session: Session, choice: str | None,
                      form: dict | None = None) -> tuple[ResultsView, dict]:
    """Search the suggested next camera in its time window with the current description.

    The search form is then filled with that camera and window (the caller shows them), and ``form``,
    the filters it held before, is kept so that the operator can put them back (``suggestion_undo``).
    """
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    require_case(session)
    if session.route is None or choice is None or choice == "":
        raise ConsoleError("Build a route, then choose one of the suggested cameras.")
    try:
        c = session.route.suggestions[int(choice)]
    except (ValueError, IndexError):
        raise ConsoleError("That suggestion is out of date: build the route again.") from None
    if not session.query_text and session.photo is None:
        raise ConsoleError("Type a description or upload a photo to search the suggested camera.")
    tz = console.tz
    request = {"text": session.query_text, "direction": None,
               "time_from": fmt.date_time(c.earliest - 60, tz), "time_to": fmt.date_time(c.latest + 60, tz),
               "districts": [], "cameras": [c.camera_id]}
    req = SearchRequest(**request, photo=session.photo, exclude_ids=list(session.rejected), offset=0,
                        limit=console.page_size)
    result = audited_search(console, session, "suggestion", request, req)
    session.request, session.like_id, session.offset = request, None, 0
    session.filters = filters_summary(request, session)
    if form is not None and session.undo_filters is None:  # a second suggestion keeps the operator's own filters
        session.undo_filters = dict(form)
    view = results_view(console, session, result)
    record_search(console, session, "suggestion", result)
    view.status_html = view.status_html.replace(
        "<b>Filters:</b>", f"<b>Suggested camera {escape(c.camera_id)}:</b> the form's camera and time filters "
        "were set for it (<b>Undo suggested filters</b> puts yours back). <b>Filters:</b>", 1)
    return view, request

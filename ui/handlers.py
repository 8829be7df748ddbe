"""What the console's buttons do, as plain functions over a :class:`Console` and a :class:`Session`.

Nothing here imports Gradio: each handler takes the console (config, registry, engine, caches), the
operator's session and the form values, and returns a small view object that ``ui.app`` puts on
screen. So every handler can be unit-tested.

Access control and accountability live here too, on the server, whatever the page shows: each handler
checks the role of ``session.user`` (set by ``ui.app`` from the signed-in user on every event) before
it acts, searches/uploads/routes/exports need a case number and purpose (:func:`set_case`), and those
acts are written to the audit log before their results are returned.

Errors an operator can act on (bad input, missing index, busy indexer...) become :class:`ConsoleError`
with a readable message; anything else is logged with its traceback on the server and reported to
the operator as one line (see :func:`readable_error`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.audit import AuditLog
from core.auth import Identity, Permission, Role
from core.config import Config
from core.errors import FootageSearchError
from core.index_status import index_status
from core.registry import CameraRegistry
from ui import formatting as fmt
from ui.access import AccessDenied, ConsoleAccess
from ui.case_files import CaseFileStore
from ui.index_panel import Reindexer, status_html
from ui.map_view import (
    DistrictShape,
    MapStop,
    MapSuggestion,
    district_shapes_from_registry,
    render_map_svg,
)
from ui.redact import ExportRedactor
from ui.report import CaseReport, ReportFiles, ReportLeg, ReportSighting, write_report
from ui.thumbnails import DetailImages, ThumbnailCache, TrackPath, encode_jpeg
from ui.timeline_view import TimelineStop, render_timeline_svg

if TYPE_CHECKING:  # search is imported lazily: the console starts (and shows index status) without it
    from search.engine import SearchEngine
    from search.result import SearchResult, Sighting
    from search.route import Route

log = logging.getLogger(__name__)

PAGE_SIZE = 24
ANY_DIRECTION = "any"


class ConsoleError(FootageSearchError):
    """A problem the operator can understand and usually fix; shown as is, never with a traceback."""


def readable_error(exc: BaseException) -> str:
    """One line for the operator. Unexpected errors are logged here with their traceback."""
    # A missing file the operator named is theirs to fix, whichever library raised it.
    if isinstance(exc, (FootageSearchError, FileNotFoundError)):
        return str(exc) or type(exc).__name__
    log.error("console handler failed", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"Something went wrong ({type(exc).__name__}{': ' + first if first else ''}). "
            "The details are in the console's server log; please tell your administrator.")


# ------------------------------------------------------------------------------------------- state


@dataclass
class Console:
    """Everything the handlers share: one per running console (no module-level state)."""

    cfg: Config
    registry: CameraRegistry
    cache_dir: Path
    archive: Path | None = None
    shapes: list[DistrictShape] | None = None
    page_size: int = PAGE_SIZE
    engine_factory: Callable[[Config, CameraRegistry], SearchEngine] | None = None
    audit: AuditLog | None = None  # default: the configured audit log (audit.log_path)
    access: ConsoleAccess | None = None  # default: from the configured users file (auth.users_file)
    _engine: SearchEngine | None = field(default=None, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir)
        self.thumbs = ThumbnailCache(self.cache_dir)  # makes the folder 0700: this console's own
        # exports/<token>/: served only by ui.case_files's route, to the exporting user and admins
        self.case_files = CaseFileStore(self.cache_dir / "exports")
        self.exports_dir = self.case_files.root
        self.reindexer = Reindexer(self.cfg, self.registry, self.archive)
        if self.shapes is None:
            self.shapes = district_shapes_from_registry(self.registry)
        if self.audit is None:
            self.audit = AuditLog.for_config(self.cfg)
        if self.access is None:
            self.access = ConsoleAccess.for_config(self.cfg, self.audit)
        self.redactor = ExportRedactor(self.cfg)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.cfg.index.timezone)

    def engine(self) -> SearchEngine:
        """The search engine, opened on first use (the index may not exist when the console starts)."""
        with self._engine_lock:
            if self._engine is None:
                if self.engine_factory is not None:
                    self._engine = self.engine_factory(self.cfg, self.registry)
                else:
                    from search.engine import SearchEngine

                    self._engine = SearchEngine(self.cfg, self.registry)
            return self._engine


@dataclass(frozen=True)
class CaseContext:
    """The case an operator works on; every audited act carries it."""

    number: str
    purpose: str


@dataclass
class Session:
    """One operator's browser tab: the current search, what they pinned or rejected, the route."""

    # who is acting: set from the signed-in user on every event (never from anything the page sends)
    user: Identity | None = None
    case: CaseContext | None = None
    request: dict = field(default_factory=dict)  # the last search (SearchRequest fields) for paging
    query_text: str = ""
    understood: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    like_id: str | None = None
    offset: int = 0
    total: int = 0
    items: list = field(default_factory=list)  # Sightings on the current page, in gallery order
    known: dict = field(default_factory=dict)  # every sighting shown in this session, by id
    selected: str | None = None
    pinned: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    photo: bytes | None = None
    photo_name: str = ""
    photo_preview: Path | None = None
    route: Route | None = None
    # the query and filters as they were when the route was built: searches made afterwards (a
    # suggested camera, say) must not be reported as what found the route
    route_query: dict = field(default_factory=dict)


# -------------------------------------------------------------------------------------------- views


@dataclass
class ResultsView:
    gallery: list[tuple[str, str]]
    page_label: str
    has_prev: bool
    has_next: bool
    status_html: str
    no_result: bool


@dataclass
class DetailView:
    frame: str | None
    strip: str | None
    info_html: str
    sighting_id: str


@dataclass
class MarksView:
    summary: str
    pinned_choices: list[tuple[str, str]]
    rejected_choices: list[tuple[str, str]]
    pinned_gallery: list[tuple[str, str]]
    results_gallery: list[tuple[str, str]]


@dataclass
class RouteView:
    status_html: str
    map_html: str
    timeline_html: str
    stops_html: str
    suggestions_html: str
    suggestion_choices: list[tuple[str, str]]
    stop_choices: list[tuple[str, str]] = field(default_factory=list)  # stops an operator may reject


@dataclass
class PhotoView:
    preview: str | None
    status_html: str


def status_box(text: str, kind: str = "info") -> str:
    """A message block; ``kind`` is info | ok | warn | error (colours in ui/app.py's CSS)."""
    return f'<div class="fs-msg fs-msg-{kind}" role="{"alert" if kind == "error" else "status"}">{text}</div>'


# ------------------------------------------------------------------------------------------ access

CASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:()-]{1,47}$")
PURPOSE_MIN, PURPOSE_MAX = 10, 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def set_case(console: Console, session: Session, number: str | None, purpose: str | None) -> CaseContext:
    """Check the case number and purpose typed in the console and make them the session's case."""
    number = " ".join((number or "").split())
    purpose = " ".join((purpose or "").split())
    if not number:
        raise ConsoleError("Enter the case number first (e.g. 2026-SEO-0142): every search, photo, route and "
                           "export is logged with its case.")
    if not CASE_RE.match(number):
        raise ConsoleError(f"Case number {number[:60]!r} is not valid: 2 to 48 letters, digits, spaces "
                           "or . _ / # : ( ) -, starting with a letter or digit.")
    if len(purpose) < PURPOSE_MIN:
        raise ConsoleError(f"Enter the purpose of this search (at least {PURPOSE_MIN} characters, e.g. 'missing "
                           "child reported 09:10 near Seoul Station'): it is logged with every search.")
    if len(purpose) > PURPOSE_MAX or _CONTROL.search(purpose):
        raise ConsoleError(f"The purpose must be one line of at most {PURPOSE_MAX} characters.")
    session.case = CaseContext(number, purpose)
    return session.case


def _require_case(session: Session) -> CaseContext:
    if session.case is None:
        raise ConsoleError("Enter the case number and purpose first: every search is logged with its case.")
    return session.case


def authorize(console: Console, session: Session, permission: Permission, action: str) -> Identity:
    """The acting user, if their role allows ``permission``; a refusal is audited and raised."""
    who = session.user
    if who is None:
        raise AccessDenied("You are not signed in: reload the page and sign in.")
    if not who.can(permission):
        audit(console, session, "denied", action=action, needs=permission.value)
        raise AccessDenied(f"Your role ({who.role.value}) may not {action}: ask an administrator.")
    return who


def audit(console: Console, session: Session, event: str, **details: Any) -> None:
    """Write one audit record for the session's user and case (fsynced before the caller goes on)."""
    assert console.audit is not None
    case = session.case
    console.audit.write(event, session.user, case=case.number if case else "", purpose=case.purpose if case else "",
                        details=details)


def _photo_digest(session: Session) -> str | None:
    return hashlib.sha256(session.photo).hexdigest() if session.photo is not None else None


def _audited_search(console: Console, session: Session, kind: str, request: dict, req: Any,
                    offset: int = 0) -> SearchResult:
    """Run one search and log it (with what it found, or why it failed) before anyone sees results."""
    details: dict[str, Any] = {"kind": kind, "query": request.get("text", ""), "offset": offset,
                               "filters": {k: v for k, v in request.items() if k != "text"},
                               "excluded": len(session.rejected)}
    if session.photo is not None and getattr(req, "photo", None) is not None:
        details["photo_sha256"] = _photo_digest(session)
    if getattr(req, "like", None):
        details["like"] = req.like
    try:
        result = console.engine().search(req)
    except Exception as exc:
        audit(console, session, "search", **details, error=str(exc)[:300])
        raise
    audit(console, session, "search", **details, results=result.total, shown=len(result.sightings),
          no_result=result.no_result)
    return result


# ------------------------------------------------------------------------------------------ search


def _clean_list(values: Sequence[str] | str | None) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = [values]
    return [v for v in values if v]


def _caption(console: Console, s: Sighting, session: Session) -> str:
    mark = ("PINNED · " if s.sighting_id in session.pinned else
            "REJECTED · " if s.sighting_id in session.rejected else "")
    score = "" if s.score is None else f" · {s.score:.2f}"
    weak = " (weak)" if s.weak else ""
    direction = f"→{s.direction}" if s.direction != "-" else "still"
    return f"{mark}{s.camera_id} · {s.district}\n{fmt.clock(s.t_best, console.tz)} · {direction}{score}{weak}"


def _thumb(console: Console, s: Sighting) -> str | None:
    path = console.thumbs.thumbnail(s.sighting_id, s.thumbnail)
    return str(path) if path else None


def _results_view(console: Console, session: Session, result: SearchResult) -> ResultsView:
    session.items = list(result.sightings)
    session.total = result.total
    _remember(session, result.sightings)
    gallery = gallery_items(console, session)
    first = session.offset + 1 if result.sightings else 0
    last = session.offset + len(result.sightings)
    span = f"{first}–{last}" if last > first else f"{first}"
    page_label = f"{span} of {result.total}" if result.total else "no results"
    parts = []
    if session.like_id:
        like = session.known.get(session.like_id)
        where = f" ({like.camera_id} {fmt.clock(like.t_best, console.tz)})" if like else ""
        parts.append(f"<b>More like</b> sighting {escape(session.like_id)}{escape(where)}")
    if result.parsed is not None:
        parts.append(f"<b>Understood:</b> {escape(result.parsed.summary().removeprefix('understood: '))}")
        if result.parsed.clip_text:
            parts.append(f"<b>Free text for CLIP:</b> {escape(result.parsed.clip_text)}")
    if result.photo is not None:
        parts.append(f"<b>Photo:</b> {escape(_photo_summary(result.photo))}")
    kind = "warn" if result.no_result else "ok"
    msg = result.message
    if result.parsed is not None:  # already shown on its own line
        msg = msg.replace(f"; {result.parsed.summary()}", "")
    if result.no_result:
        msg = f"No plausible sighting. {msg}" if not msg.lower().startswith("no ") else msg
    shown = {k: v for k, v in session.filters.items() if v not in ("any", "all", "(no limit)")
             and k != "Reference photo"}
    if "Direction" not in shown and result.parsed is not None and result.parsed.direction:
        # the search applies a direction named in the text; say so where the filters are listed
        shown["Direction"] = f"{result.parsed.direction} (from the description)"
    filters = ", ".join(f"{k.lower()} {v}" for k, v in shown.items())
    parts.append(f"<b>Filters:</b> {escape(filters or 'none (all cameras, any time, any direction)')}")
    parts.append(f'<span class="fs-result-message">{escape(msg)}</span>')
    parts += [f"<i>Note:</i> {escape(w)}" for w in result.warnings]
    session.understood = result.parsed.summary() if result.parsed is not None else ""
    return ResultsView(gallery=gallery, page_label=page_label, has_prev=session.offset > 0,
                       has_next=session.offset + len(result.sightings) < result.total,
                       status_html=status_box("<br>".join(parts), kind), no_result=result.no_result)


def _remember(session: Session, shown: Sequence[Sighting]) -> None:
    """Keep the sightings the session can still refer to (page, marks, route), not every one ever shown."""
    keep = set(session.pinned) | set(session.rejected) | {session.like_id, session.selected}
    if session.route is not None:
        keep |= {s.sighting_id for s in session.route.sightings}
    session.known = {k: v for k, v in session.known.items() if k in keep}
    for s in shown:
        session.known[s.sighting_id] = s


def gallery_items(console: Console, session: Session) -> list[tuple[str, str]]:
    """The current page as (thumbnail file, caption), marks included."""
    return [(p, _caption(console, s, session)) for s in session.items if (p := _thumb(console, s))]


def _photo_summary(photo) -> str:
    d = photo.to_dict()
    found = {"detector": f"person found by the detector ({d['people_found']} in the photo, confidence "
                         f"{d['confidence']:.2f})",
             "whole-image": "no person detected; the whole photo is used as a crop of the person",
             "operator-box": "using the box you drew"}.get(d["source"], d["source"])
    colours = ""
    if "upper_colours" in d:
        colours = (f"; upper {', '.join(n for n, _ in d['upper_colours'][:2])}, "
                   f"lower {', '.join(n for n, _ in d['lower_colours'][:2])}")
    return found + colours


def run_search(console: Console, session: Session, text: str, direction: str | None, time_from: str | None,
               time_to: str | None, districts: Sequence[str] | None, cameras: Sequence[str] | None,
               limit: int | None = None) -> ResultsView:
    """A new search from the form (page 1)."""
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    _require_case(session)
    text = (text or "").strip()
    if not text and session.photo is None:
        raise ConsoleError("Type a description (e.g. 'purple coat, blue jeans, walking south') or upload a "
                           "reference photo, then press Search.")
    direction = None if not direction or direction == ANY_DIRECTION else direction
    request = {"text": text, "direction": direction, "time_from": (time_from or "").strip() or None,
               "time_to": (time_to or "").strip() or None,
               "districts": _clean_list(districts), "cameras": _clean_list(cameras)}
    req = SearchRequest(**request, photo=session.photo, exclude_ids=list(session.rejected), offset=0,
                        limit=limit or console.page_size)
    result = _audited_search(console, session, "photo" if session.photo is not None and not text else "describe",
                             request, req)
    # only a search that ran replaces the session's query: a typo must not change what paging,
    # the route and the report use
    session.request, session.like_id, session.offset, session.query_text = request, None, 0, text
    session.filters = _filters_summary(request, session)
    return _results_view(console, session, result)


def _filters_summary(request: dict, session: Session) -> dict[str, str]:
    out = {"Direction": request.get("direction") or "any",
           "Time from": request.get("time_from") or "(no limit)", "Time to": request.get("time_to") or "(no limit)",
           "Districts": ", ".join(request.get("districts") or []) or "all",
           "Cameras": ", ".join(request.get("cameras") or []) or "all"}
    if session.photo is not None:
        out["Reference photo"] = session.photo_name or "uploaded"
    return out


def change_page(console: Console, session: Session, step: int) -> ResultsView:
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    _require_case(session)
    if not session.request and not session.like_id:
        raise ConsoleError("Run a search first.")
    offset = max(0, session.offset + step * console.page_size)
    if session.total and offset >= session.total:
        offset = session.offset
    if session.like_id:
        req = SearchRequest(like=session.like_id, time_from=session.request.get("time_from"),
                            time_to=session.request.get("time_to"), exclude_ids=list(session.rejected),
                            offset=offset, limit=console.page_size)
    else:
        req = SearchRequest(**session.request, photo=session.photo, exclude_ids=list(session.rejected),
                            offset=offset, limit=console.page_size)
    result = _audited_search(console, session, "page", {"text": session.query_text, **session.request}, req, offset)
    session.offset = offset
    return _results_view(console, session, result)


def more_like_this(console: Console, session: Session, shown_id: str | None = None) -> ResultsView:
    """Search with the selected sighting as the query, anywhere (the person moves between cameras)."""
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    _require_case(session)
    sid = _require_selected(session, shown_id)
    window = session.request or {}
    req = SearchRequest(like=sid, time_from=window.get("time_from"), time_to=window.get("time_to"),
                        exclude_ids=list(session.rejected), offset=0, limit=console.page_size)
    result = _audited_search(console, session, "like",
                             {"text": "", "time_from": window.get("time_from"), "time_to": window.get("time_to")},
                             req)
    session.like_id, session.offset = sid, 0
    return _results_view(console, session, result)


# ------------------------------------------------------------------------------------------ detail


def _require_selected(session: Session, shown_id: str | None = None) -> str:
    """The sighting a button acts on: the one the detail panel shows (``shown_id``), else the last selected.

    Buttons act on what the operator sees: a Pin pressed while another thumbnail is still loading pins
    the sighting on screen, not the one whose picture has not appeared yet.
    """
    sid = shown_id or session.selected
    if not sid:
        raise ConsoleError("Click a sighting in the results first.")
    if sid not in session.known:
        raise ConsoleError("That sighting is no longer on screen: click it again in the results.")
    session.selected = sid
    return sid


def select_sighting(console: Console, session: Session, index: int | None) -> DetailView:
    authorize(console, session, Permission.SEARCH, "look at sightings")
    if index is None or not 0 <= index < len(session.items):
        raise ConsoleError("That result is no longer on the page; search again.")
    s = session.items[index]
    session.selected = s.sighting_id
    return detail_view(console, session, s)


def _track_path(console: Console, s: Sighting) -> TrackPath:
    """The person's boxes over the whole sighting (all merged rows), from the index."""
    try:
        table = console.engine().reader.fetch(list(s.member_ids), ["track_offsets", "track_boxes"])
    except Exception as exc:  # the strip is a nicety: a read failure must not hide the sighting
        log.warning("cannot read track boxes of %s: %s", s.sighting_id, exc)
        return TrackPath((s.offset_best_s,), (s.box,))
    pairs = sorted({(float(o), tuple(float(v) for v in b)) for row in table.to_pylist()
                    for o, b in zip(row["track_offsets"], row["track_boxes"], strict=False)})
    if not pairs:
        return TrackPath((s.offset_best_s,), (s.box,))
    return TrackPath(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))  # type: ignore[misc]


def detail_view(console: Console, session: Session, s: Sighting) -> DetailView:
    tz = console.tz
    video_start = s.t_best - s.offset_best_s
    images: DetailImages = console.thumbs.detail(
        s.sighting_id, s.video_path, s.offset_best_s, s.box, _track_path(console, s),
        label=f"{s.camera_id} {fmt.clock(s.t_best, tz)}",
        tile_label=lambda off: fmt.clock(video_start + off, tz))
    frame = str(images.frame) if images.frame else (_thumb(console, s) or None)
    state = ("pinned" if s.sighting_id in session.pinned else
             "rejected" if s.sighting_id in session.rejected else "not marked")
    score = "–" if s.score is None else f"{s.score:.3f}"
    evidence = ", ".join(f"{k} {v:.2f}" for k, v in s.evidence.items())
    rows = [
        ("Camera", f"{s.camera_id} · {s.camera_name}"), ("District", s.district),
        ("Time", f"{fmt.date_time(s.t_start, tz)} – {fmt.clock(s.t_end, tz)} ({fmt.duration(s.duration_s)})"),
        ("Direction", f"{s.direction}" + (f" ({s.bearing_deg:.0f}°, {s.speed_mps:.1f} m/s)"
                                          if s.bearing_deg is not None else " (not moving)")),
        ("Score", score + (f" ({evidence})" if evidence else "") + (" – weak" if s.weak else "")),
        ("Source file", s.video_path),
        ("Offsets", f"{fmt.offset(s.offset_start_s)} – {fmt.offset(s.offset_end_s)}, best "
                    f"{fmt.offset(s.offset_best_s)}"),
        ("Box", f"{', '.join(f'{v:.0f}' for v in s.box)} at {s.offset_best_s:.1f} s"),
        ("Sighting", s.sighting_id), ("Marked", state),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    note = f'<p class="fs-note">{escape(images.message)}</p>' if images.message else ""
    return DetailView(frame=frame, strip=str(images.strip) if images.strip else None,
                      info_html=f'<table class="fs-table fs-detail">{table}</table>{note}', sighting_id=s.sighting_id)


# ------------------------------------------------------------------------------------- pin/reject


def _label(console: Console, session: Session, sid: str) -> str:
    s = session.known.get(sid)
    if s is None:
        return sid
    return f"{s.camera_id} {fmt.clock(s.t_best, console.tz)} ({s.district})"


def pin_selected(console: Console, session: Session, shown_id: str | None = None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "pin sightings")
    sid = _require_selected(session, shown_id)
    if sid in session.rejected:
        session.rejected.remove(sid)
    if sid not in session.pinned:
        session.pinned.append(sid)
    return marks_view(console, session)


def reject_selected(console: Console, session: Session, shown_id: str | None = None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "reject sightings")
    sid = _require_selected(session, shown_id)
    if sid in session.pinned:
        session.pinned.remove(sid)
    if sid not in session.rejected:
        session.rejected.append(sid)
    return marks_view(console, session)


def unmark(console: Console, session: Session, sighting_ids: Sequence[str] | str | None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "change marks")
    ids = _clean_list(sighting_ids)
    if not ids:
        raise ConsoleError("Choose a pinned or rejected sighting to take back.")
    for sid in ids:
        if sid in session.pinned:
            session.pinned.remove(sid)
        if sid in session.rejected:
            session.rejected.remove(sid)
    return marks_view(console, session)


def marks_view(console: Console, session: Session) -> MarksView:
    pinned = sorted(session.pinned, key=lambda i: session.known[i].t_start if i in session.known else math.inf)
    gallery = []
    for sid in pinned:
        s = session.known.get(sid)
        if s is not None and (p := _thumb(console, s)):
            gallery.append((p, _label(console, session, sid)))
    summary = f"Pinned: {len(session.pinned)} · Rejected: {len(session.rejected)}"
    return MarksView(summary=summary,
                     pinned_choices=[(_label(console, session, i), i) for i in pinned],
                     rejected_choices=[(_label(console, session, i), i) for i in session.rejected],
                     pinned_gallery=gallery, results_gallery=gallery_items(console, session))


# -------------------------------------------------------------------------------------------- route


def base_map(console: Console, session: Session | None = None) -> str:
    """The map before a route exists: every camera, with the current results' cameras ringed."""
    highlight = sorted({s.camera_id for s in session.items}) if session is not None else []
    return render_map_svg(console.registry, shapes=console.shapes, highlight=highlight)


def build_route(console: Console, session: Session) -> RouteView:
    """The route through the pinned sightings (the earliest is the start), or from the description."""
    from search.route import RouteRequest
    from search.route import build_route as search_route

    authorize(console, session, Permission.ROUTE, "build routes")
    _require_case(session)
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
               "photo_sha256": _photo_digest(session)}
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
                           "filters": dict(session.filters)}
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
    map_stops = [MapStop(k + 1, st.camera_id, fmt.clock(st.t_start, tz)) for k, st in enumerate(stops)]
    sugs = [MapSuggestion(c.camera_id, f"{fmt.clock(c.earliest, tz)[:5]}–{fmt.clock(c.latest, tz)[:5]}")
            for c in route.suggestions[:3]]
    map_html = render_map_svg(console.registry, shapes=console.shapes, stops=map_stops, suggestions=sugs)
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
                    f"<td>{escape(st.district)}</td><td>{escape(fmt.span(st.t_start, st.t_end, tz))}</td>"
                    f"<td>{escape(s.direction if s is not None else '–')}</td><td>{escape(leg)}</td>"
                    f"<td>{escape(flags)}</td></tr>")
    stops_html = ("<table class='fs-table fs-route'><tr><th>#</th><th></th><th>Camera</th><th>District</th>"
                  "<th>Time</th><th>Dir.</th><th>From previous</th><th></th></tr>" + "".join(rows) + "</table>"
                  if rows else "")
    for gap in route.gaps:
        if gap.cameras_between:
            stops_html += (f"<p class='fs-note'>Between stops {gap.after_stop + 1} and {gap.after_stop + 2} "
                           f"({fmt.duration(gap.gap_s)}): also check {escape(', '.join(gap.cameras_between))}</p>")
    sug_items = []
    choices = []
    for i, c in enumerate(route.suggestions, start=1):
        footage = "footage indexed" if c.has_footage else "no indexed footage in that window"
        sug_items.append(f"<li><b>{escape(c.camera_id)}</b> {escape(c.camera_name)} ({escape(c.district)}): "
                         f"{escape(fmt.distance(c.distance_m))} away, between {escape(fmt.clock(c.earliest, tz))} and "
                         f"{escape(fmt.clock(c.latest, tz))} · {escape(footage)}</li>")
        choices.append((f"{i}. {c.camera_id} {fmt.clock(c.earliest, tz)[:5]}–{fmt.clock(c.latest, tz)[:5]}",
                        str(i - 1)))
    suggestions_html = "<h4 class='fs-h'>Where to look next</h4>" + (
        ("<ol class='fs-suggestions'>" + "".join(sug_items) + "</ol>") if sug_items else
        "<p class='fs-note'>No camera is within reach after the last stop.</p>")
    kind = "ok" if stops else "warn"
    status = escape(route.message) + "".join(f"<br><i>Note:</i> {escape(w)}" for w in route.warnings)
    stop_choices = [(f"{k + 1}. {st.camera_id} {fmt.clock(st.t_start, tz)}", st.sighting.sighting_id)
                    for k, st in enumerate(stops) if st.sighting is not None and not st.pinned]
    return RouteView(status_box(status, kind), map_html, timeline, stops_html, suggestions_html, choices,
                     stop_choices)


def reject_stops(console: Console, session: Session, sighting_ids: Sequence[str] | str | None
                 ) -> tuple[MarksView, RouteView]:
    """The operator saw someone else on the route: reject those stops and build the route again."""
    authorize(console, session, Permission.ROUTE, "build routes")
    ids = _clean_list(sighting_ids)
    if not ids:
        raise ConsoleError("Choose the route stops that show someone else, then press Reject and rebuild.")
    for sid in ids:
        if sid in session.pinned:
            session.pinned.remove(sid)
        if sid not in session.rejected:
            session.rejected.append(sid)
    route = build_route(console, session)
    return marks_view(console, session), route


def search_suggestion(console: Console, session: Session, choice: str | None) -> tuple[ResultsView, dict]:
    """Search the suggested next camera in its time window with the current description."""
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    _require_case(session)
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
    result = _audited_search(console, session, "suggestion", request, req)
    session.request, session.like_id, session.offset = request, None, 0
    session.filters = _filters_summary(request, session)
    return _results_view(console, session, result), request


# -------------------------------------------------------------------------------------------- photo


def upload_photo(console: Console, session: Session, path: str | None) -> PhotoView:
    """Check an uploaded reference photo at once, so a bad file is reported before any search."""
    from search.errors import SearchInputError
    from search.photo import decode_photo

    if not path:
        return clear_photo(console, session)
    authorize(console, session, Permission.SEARCH, "upload photos")
    _require_case(session)
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConsoleError(f"cannot read the uploaded file: {exc.strerror or exc}") from None
    name = p.name
    # the image itself never goes to the log: its digest is enough to prove which photo was used
    details = {"file_name": name[:200], "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        image = decode_photo(data)
    except SearchInputError as exc:
        session.photo, session.photo_name, session.photo_preview = None, "", None
        audit(console, session, "photo_upload", **details, accepted=False, error=str(exc)[:200])
        raise ConsoleError(f"Reference photo {name}: {exc}. Upload a JPEG or PNG photo of the person.") from None
    audit(console, session, "photo_upload", **details, accepted=True)
    session.photo, session.photo_name = data, name
    h, w = image.shape[:2]
    k = min(1.0, 320 / max(h, w))
    import cv2

    small = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    session.photo_preview = console.thumbs.image(f"photo-{name}", encode_jpeg(small), folder="photos")
    return PhotoView(str(session.photo_preview),
                     status_box(f"Reference photo <b>{escape(name)}</b> ({w}×{h}) ready: press Search.", "ok"))


def clear_photo(console: Console, session: Session) -> PhotoView:
    session.photo, session.photo_name, session.photo_preview = None, "", None
    return PhotoView(None, status_box("No reference photo."))


# ------------------------------------------------------------------------------------------- export


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
        map_svg, timeline_svg = view.map_html, view.timeline_html
        for k, st in enumerate(route.stops, start=1):
            if st.sighting is not None:
                stops.append(_report_sighting(st.sighting, "route", k))
            if st.leg is not None and k > 1:
                legs.append(ReportLeg(k - 1, k, st.leg.gap_s, st.leg.distance_m))
        suggestions = [f"{c.camera_id} {c.camera_name} ({c.district}), {fmt.distance(c.distance_m)} away: "
                       f"{fmt.clock(c.earliest, tz)}–{fmt.clock(c.latest, tz)}"
                       + ("" if c.has_footage else " (no indexed footage in that window)") for c in route.suggestions]
        route_notes = [route.message] + [
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
        "text": session.query_text, "understood": session.understood, "filters": dict(session.filters)}
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
                      index=index)


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
    case = _require_case(session)
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


# -------------------------------------------------------------------------------------------- index


def index_status_view(console: Console, session: Session | None = None) -> str:
    if session is not None:
        authorize(console, session, Permission.SEARCH, "see the index status")
    return status_html(index_status(console.cfg), console.registry)


def reindex(console: Console, session: Session, on_progress: Callable[[int, int, float], None] | None = None) -> str:
    authorize(console, session, Permission.REINDEX, "start a reindex")
    audit(console, session, "reindex_start", archive=str(console.archive) if console.archive else None)
    # A running engine needs no reopening: it follows the index's writes (IndexDB follow_writes).
    try:
        summary = console.reindexer.run(on_progress)
    except Exception as exc:
        audit(console, session, "reindex_end", error=str(exc)[:300])
        raise
    audit(console, session, "reindex_end", indexed=summary.indexed, failed=len(summary.failed),
          unchanged=summary.unchanged)
    lines = summary.lines()
    kind = "warn" if summary.failed else "ok"
    return status_box("<b>Reindex finished.</b><br>" + "<br>".join(escape(line) for line in lines), kind)


# -------------------------------------------------------------------------------------------- users


def header_html(console: Console, session: Session) -> str:
    """Who is signed in (with a sign-out link), or a plain warning that the console is open."""
    who = session.user
    if who is None:
        return ""
    if not who.authenticated:
        return ('<span class="fs-open" role="alert">OPEN CONSOLE: no login (no users configured), reachable from '
                "this machine only. Everyone acts as <b>local</b> (admin); every search is still audited. "
                "Add users with <code>footage-search users add</code> to require a login.</span>")
    return (f'<span class="fs-user">Signed in as <b>{escape(who.name)}</b> ({escape(who.role.value)}) · '
            '<a href="logout" id="fs-logout">Sign out</a></span>')


def users_view(console: Console, session: Session) -> str:
    authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None
    store = console.access.authenticator.store
    users = sorted(store.users().values(), key=lambda u: u.name)
    rows = "".join(f"<tr><td>{escape(u.name)}</td><td>{escape(u.role.value)}</td><td>{escape(u.created)}</td>"
                   f"<td>{escape(u.created_by)}</td></tr>" for u in users)
    note = ("" if not console.access.open_mode else
            "<p class='fs-note'>The console is open (no users when it started): restart it after adding the first "
            "user to require a login.</p>")
    return (f"<p class='fs-note'>Users file <code>{escape(str(store.path))}</code></p>"
            "<table class='fs-table fs-users'><tr><th>User</th><th>Role</th><th>Created</th><th>By</th></tr>"
            f"{rows or '<tr><td colspan=4>no users</td></tr>'}</table>{note}")


def add_user(console: Console, session: Session, name: str, role: str, password: str) -> str:
    authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None and session.user is not None
    user = console.access.authenticator.store.add(name, role or Role.OPERATOR.value, password or "",
                                                  created_by=session.user.name)
    audit(console, session, "user_add", name=user.name, role=user.role.value)
    return status_box(f"User <b>{escape(user.name)}</b> ({escape(user.role.value)}) added.", "ok")


def remove_user(console: Console, session: Session, name: str) -> str:
    who = authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None
    if (name or "").strip() == who.name:
        raise ConsoleError("You cannot remove your own account while signed in with it.")
    gone = console.access.authenticator.store.remove(name)
    audit(console, session, "user_remove", name=gone.name, role=gone.role.value)
    return status_box(f"User <b>{escape(gone.name)}</b> removed.", "ok")


# ---------------------------------------------------------------------------------------------- API


def api_search(console: Console, session: Session, case_number: str, purpose: str, text: str,
               direction: str | None = None, time_from: str | None = None, time_to: str | None = None,
               districts: Sequence[str] | None = None, cameras: Sequence[str] | None = None,
               limit: int | None = None) -> dict[str, Any]:
    """The console's JSON search endpoint: the same checks, audit and search as the Search button."""
    set_case(console, session, case_number, purpose)
    if limit is not None and not 1 <= limit <= 200:
        raise ConsoleError("limit must be between 1 and 200")
    view = run_search(console, session, text, direction, time_from, time_to, districts, cameras, limit=limit)
    tz = console.tz
    return {"case_number": session.case.number if session.case else "", "total": session.total,
            "no_result": view.no_result, "understood": session.understood,
            "sightings": [{"sighting_id": s.sighting_id, "camera_id": s.camera_id, "district": s.district,
                           "start": fmt.date_time(s.t_start, tz), "end": fmt.date_time(s.t_end, tz),
                           "t_start": s.t_start, "t_end": s.t_end, "direction": s.direction,
                           "score": None if s.score is None else round(float(s.score), 4),
                           "video_path": s.video_path, "offset_best_s": s.offset_best_s,
                           "box": [round(float(v), 1) for v in s.box]} for s in session.items]}

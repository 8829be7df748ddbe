"""The Search tab, Gradio-free: a search from the form, the next page, more like a sighting, the
reference photo, and the same search as JSON for the ``/search`` API.

Each search runs through :func:`ui.policy.audited_search`, so what it looked for and what it found
are in the audit log before the results are on screen. The session keeps the last search that ran
(not what is typed in the form), because paging, the route and the report use it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.auth import Permission
from ui import formatting as fmt
from ui.console import ANY_DIRECTION, Console, ConsoleError, SearchRecord, Session, status_box
from ui.models_panel import operator_notes
from ui.policy import audit, audited_search, authorize, require_case, set_case
from ui.thumbnails import encode_jpeg

if TYPE_CHECKING:
    from search.result import SearchResult, Sighting


@dataclass
class ResultsView:
    gallery: list[tuple[str, str]]
    page_label: str
    has_prev: bool
    has_next: bool
    status_html: str
    no_result: bool


@dataclass
class PhotoView:
    preview: str | None
    status_html: str


def clean_list(values: Sequence[str] | str | None) -> list[str]:
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
    # date and time (a case spans days), and where to find it in the footage: file and position
    return (f"{mark}{s.camera_id} · {s.district}\n{fmt.date_time(s.t_best, console.tz)} · {direction}{score}{weak}"
            f"\n{s.video_file} @ {fmt.offset(s.offset_best_s)}")


def thumb(console: Console, s: Sighting) -> str | None:
    path = console.thumbs.thumbnail(s.sighting_id, s.thumbnail)
    return str(path) if path else None


def results_view(console: Console, session: Session, result: SearchResult) -> ResultsView:
    session.ranked = [x.sighting_id for x in result.sightings]
    session.items = order_items(session, result.sightings)
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
    parts += [f"<i>Note:</i> {escape(w)}" for w in operator_notes(result.warnings)]
    session.understood = result.parsed.summary() if result.parsed is not None else ""
    return ResultsView(gallery=gallery, page_label=page_label, has_prev=session.offset > 0,
                       has_next=session.offset + len(result.sightings) < result.total,
                       status_html=status_box("<br>".join(parts), kind), no_result=result.no_result)


def order_items(session: Session, sightings: Sequence[Sighting]) -> list[Sighting]:
    """The page as the engine ranked it, or in time order when the operator asked for that."""
    items = list(sightings)
    return sorted(items, key=lambda x: (x.t_start, x.camera_id)) if session.sort_by_time else items


def sort_results(console: Console, session: Session, by_time: bool) -> list[tuple[str, str]]:
    """Switch the results between best match first and time order (the page on screen, then every page)."""
    session.sort_by_time = bool(by_time)
    if not by_time and session.ranked:
        rank = {sid: k for k, sid in enumerate(session.ranked)}
        session.items.sort(key=lambda x: rank.get(x.sighting_id, len(rank)))
    else:
        session.items = order_items(session, session.items)
    session.selected = None  # gallery positions changed
    return gallery_items(console, session)


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
    return [(p, _caption(console, s, session)) for s in session.items if (p := thumb(console, s))]


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
    require_case(session)
    text = (text or "").strip()
    if not text and session.photo is None:
        raise ConsoleError("Type a description (e.g. 'purple coat, blue jeans, walking south') or upload a "
                           "reference photo, then press Search.")
    direction = None if not direction or direction == ANY_DIRECTION else direction
    request = {"text": text, "direction": direction, "time_from": (time_from or "").strip() or None,
               "time_to": (time_to or "").strip() or None,
               "districts": clean_list(districts), "cameras": clean_list(cameras)}
    req = SearchRequest(**request, photo=session.photo, exclude_ids=list(session.rejected), offset=0,
                        limit=limit or console.page_size, pinned=list(session.pinned))
    result = audited_search(console, session, "photo" if session.photo is not None and not text else "describe",
                             request, req)
    # only a search that ran replaces the session's query: a typo must not change what paging,
    # the route and the report use
    session.request, session.like_id, session.offset, session.query_text = request, None, 0, text
    session.filters = filters_summary(request, session)
    session.undo_filters = None  # the operator searched with what the form shows now
    view = results_view(console, session, result)
    record_search(console, session, "photo" if session.photo is not None and not text else "describe", result)
    return view


def record_search(console: Console, session: Session, kind: str, result: SearchResult) -> None:
    """Add a search that ran to the case's history (after results_view: ``session.understood`` is its own)."""
    session.searches.append(SearchRecord(
        case_number=session.case.number if session.case else "", when=fmt.date_time(time.time(), console.tz),
        kind=kind, text=session.query_text if kind != "like" else f"more like sighting {session.like_id}",
        understood=session.understood.removeprefix("understood: "),
        filters={k: v for k, v in session.filters.items() if v not in ("any", "all", "(no limit)")
                 and (kind != "like" or k.startswith("Time"))},  # "more like" uses the time window only
        results=result.total, photo=session.photo_name if session.photo is not None and kind != "like" else ""))


def filters_summary(request: dict, session: Session) -> dict[str, str]:
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
    require_case(session)
    if not session.request and not session.like_id:
        raise ConsoleError("Run a search first.")
    offset = max(0, session.offset + step * console.page_size)
    if session.total and offset >= session.total:
        offset = session.offset
    if session.like_id:
        req = SearchRequest(like=session.like_id, time_from=session.request.get("time_from"),
                            time_to=session.request.get("time_to"), exclude_ids=list(session.rejected),
                            offset=offset, limit=console.page_size, pinned=list(session.pinned))
    else:
        req = SearchRequest(**session.request, photo=session.photo, exclude_ids=list(session.rejected),
                            offset=offset, limit=console.page_size, pinned=list(session.pinned))
    result = audited_search(console, session, "page", {"text": session.query_text, **session.request}, req, offset)
    session.offset = offset
    return results_view(console, session, result)


def require_selected(session: Session, shown_id: str | None = None) -> str:
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


def more_like_this(console: Console, session: Session, shown_id: str | None = None) -> ResultsView:
    """Search with the selected sighting as the query, anywhere (the person moves between cameras)."""
    from search.request import SearchRequest

    authorize(console, session, Permission.SEARCH, "search")
    require_case(session)
    sid = require_selected(session, shown_id)
    window = session.request or {}
    # pins are more examples of the person (query expansion: search.engine.SearchEngine.expand)
    req = SearchRequest(like=sid, time_from=window.get("time_from"), time_to=window.get("time_to"),
                        exclude_ids=list(session.rejected), offset=0, limit=console.page_size,
                        pinned=list(session.pinned))
    result = audited_search(console, session, "like",
                             {"text": "", "time_from": window.get("time_from"), "time_to": window.get("time_to")},
                             req)
    session.like_id, session.offset = sid, 0
    view = results_view(console, session, result)
    record_search(console, session, "like", result)
    return view


def upload_photo(console: Console, session: Session, path: str | None) -> PhotoView:
    """Check an uploaded reference photo at once, so a bad file is reported before any search."""
    from search.errors import SearchInputError
    from search.photo import decode_photo

    if not path:
        return clear_photo(console, session)
    authorize(console, session, Permission.SEARCH, "upload photos")
    require_case(session)
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


def clear_form(console: Console, session: Session) -> PhotoView:
    """"Clear form": the reference photo goes too, so the next description search uses only what is typed."""
    session.undo_filters = None
    return clear_photo(console, session)


def suggestion_undo(session: Session) -> dict:
    """The form's filters as they were before "Search there" filled them in (then forgotten)."""
    if session.undo_filters is None:
        raise ConsoleError("There is no suggested search to undo.")
    before, session.undo_filters = session.undo_filters, None
    return before


def clear_photo(console: Console, session: Session) -> PhotoView:
    session.photo, session.photo_name, session.photo_preview = None, "", None
    return PhotoView(None, status_box("No reference photo."))


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

"""Pin and reject, Gradio-free: what the operator is sure of (pinned: the route goes through it, the
report lists it) and sure against (rejected: left out of every later search and route).

Marks act on the sighting the detail panel shows (:func:`ui.search_tab.require_selected`), are
taken back from the Route tab, and stay with the session until the tab is closed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.auth import Permission
from ui import formatting as fmt
from ui.console import Console, ConsoleError, Session
from ui.policy import authorize
from ui.search_tab import clean_list, gallery_items, require_selected, thumb


@dataclass
class MarksView:
    summary: str
    pinned_choices: list[tuple[str, str]]
    rejected_choices: list[tuple[str, str]]
    pinned_gallery: list[tuple[str, str]]
    results_gallery: list[tuple[str, str]]


def _label(console: Console, session: Session, sid: str) -> str:
    s = session.known.get(sid)
    if s is None:
        return sid
    return f"{s.camera_id} {fmt.clock(s.t_best, console.tz)} ({s.district})"


def pin_selected(console: Console, session: Session, shown_id: str | None = None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "pin sightings")
    sid = require_selected(session, shown_id)
    if sid in session.rejected:
        session.rejected.remove(sid)
    if sid not in session.pinned:
        session.pinned.append(sid)
    return marks_view(console, session)


def reject_selected(console: Console, session: Session, shown_id: str | None = None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "reject sightings")
    sid = require_selected(session, shown_id)
    if sid in session.pinned:
        session.pinned.remove(sid)
    if sid not in session.rejected:
        session.rejected.append(sid)
    return marks_view(console, session)


def unmark(console: Console, session: Session, sighting_ids: Sequence[str] | str | None) -> MarksView:
    authorize(console, session, Permission.SEARCH, "change marks")
    ids = clean_list(sighting_ids)
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
        if s is not None and (p := thumb(console, s)):
            gallery.append((p, _label(console, session, sid)))
    summary = f"Pinned: {len(session.pinned)} · Rejected: {len(session.rejected)}"
    return MarksView(summary=summary,
                     pinned_choices=[(_label(console, session, i), i) for i in pinned],
                     rejected_choices=[(_label(console, session, i), i) for i in session.rejected],
                     pinned_gallery=gallery, results_gallery=gallery_items(console, session))

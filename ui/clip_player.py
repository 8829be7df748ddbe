"""The clip player, Gradio-free: a few seconds of a sighting's source video, played in the page.

"Play clip" in the detail panel (Search tab) and beside the route's stops calls :func:`play_clip`:
it checks the role and the case, finds the source video (the path the index recorded, else the
same archive-relative path under the console's ``--archive``), cuts ``ui.clip_seconds_before`` to
``ui.clip_seconds_after`` around the sighting's best moment, clamped to the file (``ui.clip_cut``,
cached by ``ui.clip_store``), lends the clip to the signed-in user under a fresh token, and writes a
``clip_view`` record (user, case, sighting, archive-relative video, offset, window) before the page
gets the link. A clip that cannot be made is one line for the operator, audited with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from core.auth import Permission
from indexer.archive import video_id_for
from ui import formatting as fmt
from ui.clip_cut import ClipCutError, clip_window, probe_duration
from ui.clip_store import ClipLibrary
from ui.console import Console, ConsoleError, Session
from ui.policy import audit, authorize, require_case
from ui.report import source_file

if TYPE_CHECKING:
    from search.result import Sighting


@dataclass(frozen=True)
class ClipView:
    html: str  # the <video> and a line about what it shows
    url: str
    start_s: float  # the clip's window in the source file
    end_s: float


def find_sighting(session: Session, sighting_id: str | None) -> Sighting:
    """A sighting the session shows (results, marks, the route's stops), by id."""
    s = session.known.get(sighting_id or "")
    if s is None and session.route is not None:
        s = next((st.sighting for st in session.route.stops
                  if st.sighting is not None and st.sighting.sighting_id == sighting_id), None)
    if s is None:
        raise ConsoleError("Choose a sighting first (click one in the results, or a stop of the route), "
                           "then press Play clip.")
    return s


def archive_path(s: Sighting) -> str:
    """The sighting's video as the archive names it (``<camera>/<file>``); also when the index kept it relative."""
    path = s.video_path.replace("\\", "/")
    if path and not path.startswith("/") and video_id_for(path) == s.video_id:
        return path
    return source_file(s)


def source_video(console: Console, s: Sighting) -> Path:
    """The sighting's source video on this server; a :class:`ConsoleError` saying why not."""
    rel = archive_path(s)
    recorded = Path(s.video_path) if s.video_path else None
    if recorded is not None and recorded.is_absolute() and recorded.is_file():
        return recorded
    if console.archive is not None and rel:
        root = Path(os.path.abspath(console.archive))
        candidate = Path(os.path.abspath(root / rel))
        if root in candidate.parents and candidate.is_file():
            return candidate
    if (recorded is None or not recorded.is_absolute()) and console.archive is None:
        raise ConsoleError(f"The index does not say where the archive of {rel or 'this sighting'} is: start the "
                           "console with --archive ARCHIVE to play its clips.")
    hint = "" if console.archive is not None else " If the archive moved, start the console with --archive ARCHIVE."
    raise ConsoleError(f"The source video {rel or s.video_file} is no longer in the archive (moved or deleted): "
                       f"no clip to play.{hint}")


def play_clip(console: Console, session: Session, sighting_id: str | None) -> ClipView:
    authorize(console, session, Permission.SEARCH, "play clips of sightings")
    require_case(session)
    s = find_sighting(session, sighting_id)
    rel = archive_path(s) or s.video_file
    details = {"sighting": s.sighting_id, "camera": s.camera_id, "video": rel, "offset_s": round(s.offset_best_s, 3)}
    try:
        video = source_video(console, s)
        try:
            start, end = clip_window(s.offset_best_s, console.cfg.ui.clip_seconds_before,
                                     console.cfg.ui.clip_seconds_after, probe_duration(video))
            path, cached = console.clips.clip(s.sighting_id, video, start, end, s.t_best - s.offset_best_s + start)
        except ClipCutError as exc:
            raise ConsoleError(f"The source video {rel} cannot be played: {exc}.") from None
    except ConsoleError as exc:
        audit(console, session, "clip_view", **details, error=str(exc)[:300])
        raise
    assert session.user is not None and session.case is not None
    grant = console.clips.lend(session.user, session.case.number, session.case.purpose, s.sighting_id, rel,
                               s.offset_best_s, path)
    audit(console, session, "clip_view", **details, start_s=round(start, 3), end_s=round(end, 3), cached=cached)
    url = ClipLibrary.url(grant)
    tz = console.tz
    t0 = s.t_best - s.offset_best_s
    caption = (f"{s.camera_id} · {fmt.clock(t0 + start, tz)}–{fmt.clock(t0 + end, tz)} ({end - start:.1f} s; the "
               f"sighting at {fmt.clock(s.t_best, tz)}) · {rel} @ {fmt.offset(start)}")
    html = (f'<div class="fs-clip"><video class="fs-clip-video" src="{escape(url)}" controls autoplay muted '
            f'playsinline preload="auto" data-start="{start:.3f}" data-end="{end:.3f}" '
            f'style="width:100%;max-height:360px;background:#000"></video>'
            f'<p class="fs-note">{escape(caption)}. Your viewing is logged.</p></div>')
    return ClipView(html=html, url=url, start_s=start, end_s=end)

"""The detail panel, Gradio-free: the sighting an operator clicked, larger, with a strip of frames
across it and everything the index knows about it (source file, offsets, box, score).

The frame and the strip are read from the source video (``ui.thumbnails``); a sighting whose video
cannot be read still shows its stored thumbnail and the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from core.auth import Permission
from core.schema import SightingField
from ui import formatting as fmt
from ui.console import Console, ConsoleError, Session
from ui.policy import authorize
from ui.search_tab import thumb
from ui.thumbnails import DetailImages, TrackPath

if TYPE_CHECKING:
    from search.result import Sighting

log = logging.getLogger(__name__)


@dataclass
class DetailView:
    frame: str | None
    strip: str | None
    info_html: str
    sighting_id: str


def select_sighting(console: Console, session: Session, index: int | None) -> DetailView:
    authorize(console, session, Permission.SEARCH, "look at sightings")
    if index is None or not 0 <= index < len(session.items):
        raise ConsoleError("That result is no longer on the page; search again.")
    s = session.items[index]
    session.selected = s.sighting_id
    return detail_view(console, session, s)


def _track_path(console: Console, s: Sighting) -> TrackPath:
    """The person's boxes over the whole sighting (all merged rows), from the index."""
    offsets, boxes = SightingField.TRACK_OFFSETS, SightingField.TRACK_BOXES
    try:
        table = console.engine().reader.fetch(list(s.member_ids), [offsets, boxes])
    except Exception as exc:  # the strip is a nicety: a read failure must not hide the sighting
        log.warning("cannot read track boxes of %s: %s", s.sighting_id, exc)
        return TrackPath((s.offset_best_s,), (s.box,))
    pairs = sorted({(float(o), tuple(float(v) for v in b)) for row in table.to_pylist()
                    for o, b in zip(row[offsets], row[boxes], strict=False)})
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
    frame = str(images.frame) if images.frame else (thumb(console, s) or None)
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

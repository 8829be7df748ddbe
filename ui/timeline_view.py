"""The route on a time axis, one lane per district: when the person was where, and the gaps between.

Lanes make district changes (the hand-over between control rooms) visible at a glance; the gap
labels (time and straight-line distance) let the operator judge whether a leg is walkable.
Consecutive stops at one camera are drawn as one bar numbered like the map ("5–8").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from core.registry import CameraRegistry
from ui.formatting import clock, distance, duration
from ui.map_geometry import ROUTE_COLOUR, district_colours


@dataclass(frozen=True)
class TimelineStop:
    number: int
    camera_id: str
    district: str
    t_start: float
    t_end: float


@dataclass
class _Bar:
    camera_id: str
    district: str
    numbers: list[int]
    t_start: float
    t_end: float

    @property
    def badge(self) -> str:
        return str(self.numbers[0]) if len(self.numbers) == 1 else f"{self.numbers[0]}–{self.numbers[-1]}"


_TICKS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
CHAR_PX = 5.6  # rough width of one 10px label character


def _tick_step(span_s: float, max_ticks: int = 8) -> int:
    return next((t for t in _TICKS_S if span_s / t <= max_ticks), _TICKS_S[-1])


def _bars(stops: Sequence[TimelineStop]) -> list[_Bar]:
    out: list[_Bar] = []
    for s in stops:
        if out and out[-1].camera_id == s.camera_id:
            out[-1].numbers.append(s.number)
            out[-1].t_end = max(out[-1].t_end, s.t_end)
        else:
            out.append(_Bar(s.camera_id, s.district, [s.number], s.t_start, s.t_end))
    return out


def render_timeline_svg(stops: Sequence[TimelineStop], registry: CameraRegistry, tz: ZoneInfo, *, width: int = 760,
                        element_id: str = "route-timeline") -> str:
    if not stops:
        return ""
    colours = district_colours(registry.districts)
    bars = _bars(stops)
    lanes: list[str] = []
    for b in bars:
        if b.district not in lanes:
            lanes.append(b.district)
    label_w, top, lane_h, right = 104.0, 30.0, 54.0, 30.0
    height = int(top + lane_h * len(lanes) + 8)
    t0, t1 = bars[0].t_start, max(b.t_end for b in bars)
    margin = max((t1 - t0) * 0.03, 5.0)
    t0, t1 = t0 - margin, t1 + margin
    sx = (width - label_w - right) / (t1 - t0)

    def x_of(t: float) -> float:
        return label_w + (t - t0) * sx

    def lane_y(d: str) -> float:
        return top + lane_h * lanes.index(d) + lane_h / 2 - 6

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(element_id)}" class="route-timeline" '
           f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;height:auto" role="img" '
           f'aria-label="Route timeline" font-family="system-ui, -apple-system, Segoe UI, Roboto, Noto Sans KR, '
           f'sans-serif">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff" stroke="#CBD5E1"/>']
    for i, d in enumerate(lanes):
        y = top + lane_h * i
        out.append(f'<rect x="0" y="{y:.1f}" width="{width}" height="{lane_h}" fill="{colours.get(d, "#888")}" '
                   f'fill-opacity="{0.07 if i % 2 == 0 else 0.12}"/>')
        out.append(f'<text x="8" y="{y + lane_h / 2 + 4:.1f}" font-size="12" font-weight="600" '
                   f'fill="{colours.get(d, "#333")}">{escape(d)}</text>')
    step = _tick_step(t1 - t0)
    t = math.ceil(t0 / step) * step
    while t <= t1:
        x = x_of(t)
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 8}" stroke="#CBD5E1" '
                   f'stroke-dasharray="2 3"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 10}" font-size="11" text-anchor="middle" fill="#475569">'
                   f'{clock(t, tz)[:5] if step >= 60 else clock(t, tz)}</text>')
        t += step
    # legs between visits, labelled when there is room for the label
    for a, b in itertools.pairwise(bars):
        xa, ya, xb, yb = x_of(a.t_end), lane_y(a.district), x_of(b.t_start), lane_y(b.district)
        out.append(f'<path class="leg" d="M{xa:.1f},{ya:.1f} C{(xa + xb) / 2:.1f},{ya:.1f} {(xa + xb) / 2:.1f},'
                   f'{yb:.1f} {xb:.1f},{yb:.1f}" fill="none" stroke="{ROUTE_COLOUR}" stroke-width="1.5" '
                   'opacity="0.6"/>')
        gap = duration(b.t_start - a.t_end)
        if a.camera_id in registry and b.camera_id in registry:
            gap += f" · {distance(registry.distance_m(a.camera_id, b.camera_id))}"
        if xb - xa > CHAR_PX * len(gap) + 8:
            ly = (ya + yb) / 2 + (4 if ya != yb else -8)
            out.append(f'<text class="leg-label" x="{(xa + xb) / 2:.1f}" y="{ly:.1f}" font-size="10" '
                       f'text-anchor="middle" fill="#334155" stroke="#ffffff" stroke-width="3" '
                       f'paint-order="stroke">{escape(gap)}</text>')
    label_end: dict[str, list[float]] = {}  # per lane: right end of the labels on each row
    for b in bars:
        x1, x2, y = x_of(b.t_start), x_of(b.t_end), lane_y(b.district)
        colour = colours.get(b.district, "#888")
        w_badge = max(18.0, 8.0 + 6.6 * len(b.badge))
        out.append(f'<g class="timeline-stop" data-stop="{escape(b.badge)}" data-camera="{escape(b.camera_id)}">'
                   f'<rect x="{x1:.1f}" y="{y - 7:.1f}" width="{max(x2 - x1, 6):.1f}" height="14" rx="3" '
                   f'fill="{colour}"/>'
                   f'<rect x="{x1 - w_badge / 2:.1f}" y="{y - 9:.1f}" width="{w_badge:.1f}" height="18" rx="9" '
                   f'fill="{ROUTE_COLOUR}" stroke="#fff" stroke-width="1.5"/>'
                   f'<text x="{x1:.1f}" y="{y + 4:.1f}" font-size="11" font-weight="700" text-anchor="middle" '
                   f'fill="#fff">{escape(b.badge)}</text>'
                   f'<title>{escape(b.badge)}. {escape(b.camera_id)} {clock(b.t_start, tz)}–{clock(b.t_end, tz)}'
                   f'</title></g>')
        text = f"{b.camera_id} {clock(b.t_start, tz)}"
        w = CHAR_PX * len(text)
        lx = min(max(x1, label_w + w / 2), width - w / 2 - 2)
        rows = label_end.setdefault(b.district, [])
        row = next((r for r, end in enumerate(rows) if lx - w / 2 > end + 6), len(rows))
        if row == len(rows):
            rows.append(0.0)
        rows[row] = lx + w / 2
        out.append(f'<text x="{lx:.1f}" y="{y + 21 + 11 * min(row, 2):.1f}" font-size="10" text-anchor="middle" '
                   f'fill="#111827">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)

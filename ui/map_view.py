"""The camera map as one inline SVG: districts, cameras, a numbered route with arrows, next-camera hints.

No online tiles: a control room may have no internet, and the operator needs where the cameras
are relative to each other, not streets. District outlines come from a GeoJSON file when one is
configured, otherwise from the registry itself (a buffered convex hull of each district's cameras),
so a new registry gets a usable map with no extra work.

The same SVG goes into the console and into the printed case report. When a street map is configured
(``ui.tile_url`` / ``ui.mbtiles``), the console shows ``ui.tile_map``'s slippy map instead, built from
the same geometry (:mod:`ui.map_geometry`; district outlines from :mod:`ui.map_districts`), and the
report's SVG gets the tiles under it as a picture (``backdrop``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from core.registry import CameraRegistry
from ui.map_districts import DistrictShape, district_shapes_from_registry
from ui.map_geometry import (
    FOCUS_MARGIN_M,
    ROUTE_COLOUR,
    SUGGEST_COLOUR,
    LocalFrame,
    MapBackdrop,
    MapBounds,
    MapStop,
    MapSuggestion,
    default_focus,
    district_colours,
    route_visits,
)
from ui.map_labels import Box, distance_label, free_label_spot, nice_length, pill_reach, svg_text


@dataclass(frozen=True)
class _View:
    frame: LocalFrame
    scale: float  # px per metre
    x_min: float
    y_max: float
    pad: float

    def px(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = self.frame.to_m(lat, lon)
        return self.pad + (x - self.x_min) * self.scale, self.pad + (self.y_max - y) * self.scale

    def deg(self, px: float, py: float) -> tuple[float, float]:
        """(lat, lon) at a pixel: the inverse of :meth:`px`."""
        return self.frame.to_deg((px - self.pad) / self.scale + self.x_min, self.y_max - (py - self.pad) / self.scale)


def _fit(registry: CameraRegistry, shapes: Sequence[DistrictShape], focus: Sequence[str], width: int,
         height: int, pad: float, legend_h: float) -> _View:
    cams = list(registry)
    frame = LocalFrame(sum(c.lat for c in cams) / len(cams), sum(c.lon for c in cams) / len(cams))
    focused = [registry.get(cid) for cid in focus if cid in registry]
    if focused:
        # Zoom to the route: the operator reads stops and arrows, not the whole city. A margin keeps
        # the neighbourhood (and the buffered outlines) in view.
        pts = []
        for c in focused:
            x, y = frame.to_m(c.lat, c.lon)
            pts += [(x - FOCUS_MARGIN_M, y - FOCUS_MARGIN_M), (x + FOCUS_MARGIN_M, y + FOCUS_MARGIN_M)]
    else:
        pts = [frame.to_m(c.lat, c.lon) for c in cams]
        pts += [frame.to_m(lat, lon) for s in shapes for ring in s.rings for lat, lon in ring]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    span_x, span_y = max(max(xs) - min(xs), 50.0), max(max(ys) - min(ys), 50.0)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad - legend_h) / span_y)
    # centre the drawing in the space left under the legend
    x_min = min(xs) - ((width - 2 * pad) / scale - (max(xs) - min(xs))) / 2
    y_max = max(ys) + ((height - 2 * pad - legend_h) / scale - (max(ys) - min(ys))) / 2
    return _View(frame, scale, x_min, y_max + legend_h / scale, pad)


def _edge_point(cx: float, cy: float, x: float, y: float, x0: float, y0: float, x1: float, y1: float
                ) -> tuple[float, float]:
    """Where the ray from the view centre toward (x, y) leaves the rectangle (x0, y0)-(x1, y1)."""
    dx, dy = x - cx, y - cy
    t = min((x1 - cx) / dx if dx > 0 else (x0 - cx) / dx if dx < 0 else math.inf,
            (y1 - cy) / dy if dy > 0 else (y0 - cy) / dy if dy < 0 else math.inf)
    return cx + t * dx, cy + t * dy


def render_map_svg(registry: CameraRegistry, *, shapes: Sequence[DistrictShape] | None = None,
                   stops: Sequence[MapStop] = (), suggestions: Sequence[MapSuggestion] = (),
                   highlight: Sequence[str] = (), focus: Sequence[str] | None = None, width: int = 760,
                   height: int = 520, title: str = "Cameras by district", element_id: str = "camera-map",
                   backdrop: Callable[[MapBounds], MapBackdrop | None] | None = None) -> str:
    """The map as an ``<svg>`` string (scales to its container's width).

    ``focus`` zooms to those cameras (default: the route's stops when there is a route, else the whole
    registry); cameras outside the view get a pointer at the edge with their distance. ``backdrop`` is
    asked for a picture of the view's box (street tiles), drawn under everything else.
    """
    shapes = list(shapes) if shapes is not None else district_shapes_from_registry(registry)
    colours = district_colours([*registry.districts, *(s.district for s in shapes)])
    if focus is None:
        focus = default_focus(registry, stops, suggestions)
    legend_h = 26.0
    view = _fit(registry, shapes, focus, width, height, pad=34.0, legend_h=legend_h)
    marker = f"{element_id}-arrow"
    inner = (12.0, legend_h + 12.0, width - 12.0, height - 26.0)  # where edge pointers sit

    def visible(x: float, y: float) -> bool:
        return inner[0] <= x <= inner[2] and inner[1] <= y <= inner[3]

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(element_id)}" class="camera-map" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;height:auto;overflow:hidden" '
        f'role="img" aria-label="{escape(title)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Noto Sans KR, sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{ROUTE_COLOUR}"/></marker>'
        f'<clipPath id="{element_id}-clip"><rect x="0" y="0" width="{width}" height="{height}"/></clipPath></defs>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#F8FAFC" stroke="#CBD5E1"/>',
        f'<g clip-path="url(#{element_id}-clip)">',
    ]
    picture = None
    if backdrop is not None:
        (north, west), (south, east) = view.deg(0, 0), view.deg(width, height)
        picture = backdrop(MapBounds(north, south, west, east, width, height))
    if picture is not None:
        out.append(f'<image class="map-tiles" href="{escape(picture.data_uri)}" x="0" y="0" width="{width}" '
                   f'height="{height}" preserveAspectRatio="none"/>')
    # districts
    for s in shapes:
        colour = colours[s.district]
        top: tuple[float, float] | None = None
        for ring in s.rings:
            pts = [view.px(lat, lon) for lat, lon in ring]
            if len(pts) < 3:
                continue
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polygon class="district" data-district="{escape(s.district)}" points="{d}" '
                       f'fill="{colour}" fill-opacity="0.13" stroke="{colour}" stroke-width="1.5" '
                       f'stroke-opacity="0.8"><title>{escape(s.district)}</title></polygon>')
            ring_top = min(pts, key=lambda p: p[1])
            if visible(*ring_top) and (top is None or ring_top[1] < top[1]):
                top = ring_top
        if top is not None:
            out.append(svg_text(top[0], max(top[1] - 6, legend_h + 14), s.district, size=13, anchor="middle",
                                weight="600", fill=colour, cls="district-label"))
    # consecutive stops at one camera are one visit (one badge "5–8"); repeat visits sit side by side
    visits = route_visits([st for st in stops if st.camera_id in registry])
    badges: dict[int, tuple[float, float, float]] = {}  # visit index -> (x, y, width)
    right_edge: dict[str, float] = {}
    for i, v in enumerate(visits):
        cam = registry.get(v.camera_id)
        x, y = view.px(cam.lat, cam.lon)
        w = v.badge_width
        start = right_edge.get(v.camera_id)
        bx = x if start is None else start + 4 + w / 2
        badges[i] = (bx, y, w)
        right_edge[v.camera_id] = bx + w / 2
    # cameras (with a short tick showing which way each one looks)
    hl = set(highlight)
    off_view: list[tuple[float, float, str, str]] = []
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    for c in registry:
        x, y = view.px(c.lat, c.lon)
        colour = colours[c.district]
        if not visible(x, y):
            ex, ey = _edge_point(cx, cy, x, y, *inner)
            off_view.append((ex, ey, c.camera_id, colour))
            continue
        hx, hy = x + 14 * math.sin(math.radians(c.heading_deg)), y - 14 * math.cos(math.radians(c.heading_deg))
        out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{hx:.1f}" y2="{hy:.1f}" stroke="{colour}" '
                   f'stroke-width="2" stroke-linecap="round" opacity="0.7"/>')
        if c.camera_id in hl:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<circle class="camera" data-camera="{escape(c.camera_id)}" cx="{x:.1f}" cy="{y:.1f}" r="6" '
                   f'fill="{colour}" stroke="#ffffff" stroke-width="1.5"><title>{escape(c.camera_id)}: '
                   f'{escape(c.name)} ({escape(c.district)})</title></circle>')
        on_route = c.camera_id in right_edge
        lx = right_edge[c.camera_id] + 4 if on_route else x + 9
        out.append(svg_text(lx, y - (3 if on_route else 8), c.camera_id, size=12, weight="600", cls="camera-label"))
    # next-camera suggestions: dashed, so they never read as part of the confirmed route
    last_xy = None
    if stops and stops[-1].camera_id in registry:
        last = registry.get(stops[-1].camera_id)
        last_xy = view.px(last.lat, last.lon)
    # what a suggestion's label must not cover: the stops' badges and labels (drawn after, on top)
    taken: list[Box] = [(bx - w / 2 - 2, by - 14, bx + w / 2 + 2, by + 14) for bx, by, w in badges.values()]
    for v in visits:
        cam = registry.get(v.camera_id)
        _, vy = view.px(cam.lat, cam.lon)
        taken.append((right_edge[v.camera_id] + 2, vy, right_edge[v.camera_id] + 8 + 6.2 * len(v.label), vy + 16))
    for i, sug in enumerate(suggestions, start=1):
        if sug.camera_id not in registry:
            continue
        cam = registry.get(sug.camera_id)
        x, y = view.px(cam.lat, cam.lon)
        if not visible(x, y):
            continue  # the edge pointer names it
        if last_xy is not None and (x, y) != last_xy:
            out.append(f'<line x1="{last_xy[0]:.1f}" y1="{last_xy[1]:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                       f'stroke="{SUGGEST_COLOUR}" stroke-width="1.5" stroke-dasharray="5 4" opacity="0.8"/>')
        out.append(f'<circle class="suggestion" data-camera="{escape(sug.camera_id)}" cx="{x:.1f}" cy="{y:.1f}" '
                   f'r="17" fill="none" stroke="{SUGGEST_COLOUR}" stroke-width="2" stroke-dasharray="4 3">'
                   f'<title>next? {i}: {escape(sug.camera_id)} {escape(sug.label)}</title></circle>')
        # the number only: times are in the list beside the map, and long labels would cover the route;
        # placed where it covers no stop badge, stop label or other suggestion's label
        text = f"next? {i}"
        lx, ly, anchor, box = free_label_spot(x, y, text, taken)
        taken.append(box)
        out.append(svg_text(lx, ly, text, size=11, anchor=anchor, fill=SUGGEST_COLOUR, weight="600",
                            cls="suggestion-label"))
    # the route: arrows first, numbered badges on top
    for i in range(1, len(visits)):
        (x1, y1, w1), (x2, y2, w2) = badges[i - 1], badges[i]
        dist = math.hypot(x2 - x1, y2 - y1)
        if dist < 30:
            continue
        ux, uy = (x2 - x1) / dist, (y2 - y1) / dist
        r1, r2 = pill_reach(w1, ux, uy), pill_reach(w2, ux, uy)
        out.append(f'<line class="route-leg" x1="{x1 + (r1 + 2) * ux:.1f}" y1="{y1 + (r1 + 2) * uy:.1f}" '
                   f'x2="{x2 - (r2 + 3) * ux:.1f}" y2="{y2 - (r2 + 3) * uy:.1f}" stroke="{ROUTE_COLOUR}" '
                   f'stroke-width="2.5" marker-end="url(#{marker})"/>')
    for i, v in enumerate(visits):
        x, y, w = badges[i]
        out.append(f'<g class="route-stop" data-stop="{escape(v.badge)}" data-camera="{escape(v.camera_id)}">'
                   f'<rect x="{x - w / 2:.1f}" y="{y - 12:.1f}" width="{w:.1f}" height="24" rx="12" '
                   f'fill="{ROUTE_COLOUR}" stroke="#ffffff" stroke-width="2"/>'
                   f'<text x="{x:.1f}" y="{y + 4.5:.1f}" font-size="13" font-weight="700" text-anchor="middle" '
                   f'fill="#ffffff">{escape(v.badge)}</text><title>{escape(v.badge)}. {escape(v.camera_id)} '
                   f'{escape(v.label)}</title></g>')
    labels: dict[str, list[str]] = {}
    for v in visits:
        labels.setdefault(v.camera_id, []).append(v.label)
    for cam_id, texts in labels.items():
        cam = registry.get(cam_id)
        _, y = view.px(cam.lat, cam.lon)
        out.append(svg_text(right_edge[cam_id] + 4, y + 12, " · ".join(texts), size=11, cls="stop-label"))
    out.append("</g>")
    # cameras outside the zoomed view: a pointer at the edge, so nobody forgets they exist
    sug_rank = {sug.camera_id: i for i, sug in enumerate(suggestions, start=1)}
    merged: list[list] = []
    for ex, ey, cam_id, colour in sorted(off_view, key=lambda t: (t[0], t[1])):
        for m in merged:
            if math.hypot(m[0] - ex, m[1] - ey) < 120:
                m[2].append(cam_id)
                break
        else:
            merged.append([ex, ey, [cam_id], colour])
    for ex, ey, ids, colour in merged:
        ang = math.degrees(math.atan2(ey - cy, ex - cx))
        out.append(f'<g class="off-view" data-cameras="{escape(",".join(ids))}"><path d="M-4,-5 L12,0 L-4,5 L0,0 z" '
                   f'fill="{colour}" transform="translate({ex:.1f},{ey:.1f}) rotate({ang:.0f})"/></g>')
        # nearest first, with the distance range, so a far group never hides a near camera's distance
        dists = {i: min((registry.distance_m(i, f) for f in focus if f in registry), default=0.0) for i in ids}
        ids = sorted(ids, key=lambda i: dists[i])
        first = registry.get(ids[0])
        names = ", ".join(f"{i} (next? {sug_rank[i]})" if i in sug_rank else i for i in ids)
        lo, hi = dists[ids[0]], dists[ids[-1]]
        span = distance_label(lo) if hi - lo < 100 else f"{distance_label(lo)}–{distance_label(hi)}"
        label = f"{names} · {span}" if hi > 0 else names
        anchor = "end" if ex > width * 0.66 else "start" if ex < width * 0.33 else "middle"
        ty = ey + 16 if ey < height / 2 else ey - 8
        tx = ex - 12 if anchor == "end" else ex + 12 if anchor == "start" else ex
        out.append(svg_text(tx, ty, label, size=11, anchor=anchor, fill=colours[first.district], cls="off-view-label"))
    # legend, scale bar, north
    lx = 12.0
    for d in sorted(colours):
        out.append(f'<rect x="{lx:.0f}" y="9" width="12" height="12" rx="2" fill="{colours[d]}"/>')
        out.append(svg_text(lx + 16, 19.5, d, size=12))
        lx += 16 + 7.2 * len(d) + 18
    bar_m = nice_length((width * 0.2) / view.scale)
    bar_px = bar_m * view.scale
    bx, by = width - 20 - bar_px, height - 10
    out.append(f'<path d="M{bx:.1f},{by - 5} v5 h{bar_px:.1f} v-5" fill="none" stroke="#334155" stroke-width="1.5"/>')
    out.append(svg_text(bx + bar_px / 2, by - 8, distance_label(bar_m), size=11, anchor="middle"))
    out.append(svg_text(width - 14, 19.5, "N ↑", size=13, anchor="end", weight="700"))
    if picture is not None and picture.attribution:
        out.append(svg_text(8, height - 6, f"Map: {picture.attribution}", size=10, fill="#334155", cls="map-credit"))
    out.append("</svg>")
    return "\n".join(out)

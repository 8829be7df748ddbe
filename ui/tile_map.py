"""The route map over a street map, when one is configured (``ui.tile_url`` / ``ui.mbtiles``).

:func:`route_map` is what the Route & map tab shows: without a street map, ``ui.map_view``'s SVG as
before; with one, a slippy map drawn by Leaflet (cameras, district outlines, the route's numbered
stops joined by a line, the "where to look next" suggestions) from the same geometry as the SVG
(:func:`map_layers`). Gradio does not run scripts in HTML it is sent, so the map is a small page in an
``<iframe srcdoc>``: the page loads Leaflet and its own script from the console
(``fs-map/leaflet/…``, ``fs-map/route_map.js``: :func:`routes`), nothing from the internet, and the
tiles from the agency's tile server or, for an MBTiles file, from ``fs-map/tiles/{z}/{x}/{y}``. Those
routes sit behind ``ui.http_guard`` like every other: in login mode only a signed-in browser gets them
(the iframe shares the console's origin, so its cookie goes along).

The case report stays one printable file: :func:`report_map` is the same SVG as always, with the
street map under it as one stitched picture (``ui.tile_source.tile_mosaic``), so nothing in it runs
or loads anything.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from core.config import ConfigError, UIConfig
from core.registry import CameraRegistry
from ui.map_districts import DistrictShape, district_shapes_from_registry
from ui.map_geometry import (
    FOCUS_MARGIN_M,
    M_PER_DEG_LAT,
    M_PER_DEG_LON_EQUATOR,
    ROUTE_COLOUR,
    SUGGEST_COLOUR,
    MapBackdrop,
    MapBounds,
    MapStop,
    MapSuggestion,
    default_focus,
    district_colours,
    route_visits,
)
from ui.map_view import render_map_svg
from ui.tile_source import MBTILES_ROUTE, TileSource, read_mbtiles_tile, tile_mosaic, tile_source

if TYPE_CHECKING:
    from ui.console import Console

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
ROUTE = "fs-map"  # <console>/fs-map/leaflet/…, /fs-map/route_map.js, /fs-map/tiles/{z}/{x}/{y}
MAP_HEIGHT_PX = 540
REPORT_SCALE = 2  # the report's street picture at twice the SVG's pixels: sharp on paper
_NO_SNIFF = {"X-Content-Type-Options": "nosniff"}


def map_layers(registry: CameraRegistry, shapes: Sequence[DistrictShape] | None = None, *,
               stops: Sequence[MapStop] = (), suggestions: Sequence[MapSuggestion] = (),
               highlight: Sequence[str] = ()) -> dict:
    """What the slippy map draws, as JSON: the SVG's districts, colours, cameras, visits and suggestions,
    and the box it first shows (the SVG's focus, with its margin)."""
    shapes = list(shapes) if shapes is not None else district_shapes_from_registry(registry)
    colours = district_colours([*registry.districts, *(s.district for s in shapes)])
    hl = set(highlight)
    cams = [{"id": c.camera_id, "name": c.name, "district": c.district, "colour": colours[c.district],
             "lat": c.lat, "lon": c.lon, "heading": c.heading_deg, "highlight": c.camera_id in hl} for c in registry]
    visits = [{"badge": v.badge, "camera": v.camera_id, "label": v.label,
               "lat": registry.get(v.camera_id).lat, "lon": registry.get(v.camera_id).lon}
              for v in route_visits([st for st in stops if st.camera_id in registry])]
    sugs = [{"n": i, "camera": s.camera_id, "label": s.label, "lat": registry.get(s.camera_id).lat,
             "lon": registry.get(s.camera_id).lon}
            for i, s in enumerate(suggestions, start=1) if s.camera_id in registry]
    focus = [registry.get(c) for c in default_focus(registry, stops, suggestions) if c in registry]
    if focus:
        lat0 = sum(c.lat for c in focus) / len(focus)
        dlat = FOCUS_MARGIN_M / M_PER_DEG_LAT
        dlon = FOCUS_MARGIN_M / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0)))
        box = [[min(c.lat for c in focus) - dlat, min(c.lon for c in focus) - dlon],
               [max(c.lat for c in focus) + dlat, max(c.lon for c in focus) + dlon]]
    else:
        pts = [(c.lat, c.lon) for c in registry] + [p for s in shapes for ring in s.rings for p in ring]
        box = [[min(p[0] for p in pts), min(p[1] for p in pts)], [max(p[0] for p in pts), max(p[1] for p in pts)]]
    return {"districts": [{"name": s.district, "colour": colours[s.district],
                           "rings": [[list(p) for p in ring] for ring in s.rings if len(ring) >= 3]} for s in shapes],
            "cameras": cams, "visits": visits, "suggestions": sugs, "bounds": box,
            "legend": [{"name": d, "colour": colours[d]} for d in sorted(colours)],
            "routeColour": ROUTE_COLOUR, "suggestColour": SUGGEST_COLOUR}


def slippy_map_html(source: TileSource, registry: CameraRegistry, shapes: Sequence[DistrictShape] | None = None, *,
                    stops: Sequence[MapStop] = (), suggestions: Sequence[MapSuggestion] = (),
                    highlight: Sequence[str] = (), title: str = "Route map", height: int = MAP_HEIGHT_PX) -> str:
    """The Leaflet map as an ``<iframe srcdoc>`` for a Gradio HTML component (see the module doc)."""
    data = map_layers(registry, shapes, stops=stops, suggestions=suggestions, highlight=highlight)
    data["tiles"] = {"url": source.url, "attribution": source.attribution, "minZoom": source.min_zoom,
                     "maxNativeZoom": source.max_zoom, "kind": source.kind}
    # "<" escaped: a camera name cannot end the script element it sits in
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<link rel='stylesheet' href='{ROUTE}/leaflet/leaflet.css'>"
            "<style>html,body,#map{margin:0;height:100%;font-family:system-ui,'Segoe UI',Roboto,'Noto Sans KR',"
            "sans-serif}.fs-badge{background:#111827;color:#fff;border:2px solid #fff;border-radius:12px;"
            "font:700 13px/20px system-ui,sans-serif;text-align:center;box-shadow:0 1px 3px #0006}"
            ".fs-legend{background:#fffe;padding:4px 8px;border-radius:6px;font-size:12px;line-height:18px}"
            ".fs-legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px -1px 0}"
            ".fs-arrow{color:#111827;font-size:16px;line-height:16px;text-shadow:0 0 3px #fff}"
            ".fs-label{background:none;border:0;box-shadow:none;padding:0;font-size:12px;color:#111827;"
            "line-height:14px;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff}.fs-label:before{display:none}"
            ".fs-tiles img.leaflet-tile{mix-blend-mode:normal;width:256.5px!important;height:256.5px!important}</style>"
            f"<script src='{ROUTE}/leaflet/leaflet.js'></script></head><body>"
            f"<div id='map' role='application' aria-label='{escape(title)}'></div>"
            f"<script type='application/json' id='fs-map-data'>{blob}</script>"
            f"<script src='{ROUTE}/route_map.js'></script></body></html>")
    return (f'<iframe class="fs-tile-map" title="{escape(title)}" srcdoc="{escape(page, quote=True)}" '
            f'style="width:100%;height:{height}px;border:1px solid #CBD5E1;border-radius:6px" '
            'referrerpolicy="no-referrer"></iframe>')


def configured_source(ui: UIConfig) -> TileSource | None:
    """The street map, or None; a setting gone bad since the console started (a deleted MBTiles file)
    is logged and the schematic map is drawn, so a route is never lost over its background."""
    try:
        return tile_source(ui)
    except ConfigError as exc:
        log.warning("street map unavailable, drawing the schematic map: %s", exc)
        return None


def route_map(console: Console, *, stops: Sequence[MapStop] = (), suggestions: Sequence[MapSuggestion] = (),
              highlight: Sequence[str] = ()) -> str:
    """The Route & map tab's map: the slippy map over the configured street map, else the SVG."""
    source = configured_source(console.cfg.ui)
    if source is None:
        return render_map_svg(console.registry, shapes=console.shapes, stops=stops, suggestions=suggestions,
                              highlight=highlight)
    return slippy_map_html(source, console.registry, console.shapes, stops=stops, suggestions=suggestions,
                           highlight=highlight)


def street_backdrop(source: TileSource) -> Callable[[MapBounds], MapBackdrop | None]:
    """For ``render_map_svg(backdrop=...)``: the tiles under the SVG's box, stitched into one JPEG."""

    def draw(b: MapBounds) -> MapBackdrop | None:
        mosaic = tile_mosaic(source, b.north, b.south, b.west, b.east, b.width * REPORT_SCALE,
                             b.height * REPORT_SCALE)
        if mosaic is None:
            log.warning("no street-map tile could be fetched for the report's map; it is drawn without one")
            return None
        credit = source.attribution
        if mosaic.missing:
            credit = f"{credit} ({mosaic.missing} of {mosaic.tiles} tiles unavailable)".strip()
        return MapBackdrop("data:image/jpeg;base64," + base64.b64encode(mosaic.image).decode("ascii"), credit)

    return draw


def report_map(console: Console, *, stops: Sequence[MapStop] = (), suggestions: Sequence[MapSuggestion] = (),
               element_id: str = "camera-map") -> str:
    """The case report's map: the SVG, over the street map's tiles when one is configured (self-contained)."""
    source = configured_source(console.cfg.ui)
    return render_map_svg(console.registry, shapes=console.shapes, stops=stops, suggestions=suggestions,
                          element_id=element_id, backdrop=street_backdrop(source) if source is not None else None)


# ------------------------------------------------------------------------------------------- serving


def _static_files() -> dict[str, Path]:
    """What the map page may load from the console, by the name it asks for (nothing else is served)."""
    files = {f"leaflet/{p.relative_to(STATIC / 'leaflet').as_posix()}": p
             for p in (STATIC / "leaflet").rglob("*") if p.is_file() and p.suffix in (".js", ".css", ".png")}
    files["route_map.js"] = STATIC / "route_map.js"
    return files


def routes(ui: UIConfig) -> list[BaseRoute]:
    """The map page's files and an MBTiles file's tiles, for ``gr.Blocks.launch(app_kwargs={"routes": ...})``.
    Access is ``ui.http_guard``'s: in login mode a request without a live session never gets here."""
    files = _static_files()
    source = tile_source(ui)  # checked again here: a console never starts on a bad setting
    mbtiles = source.mbtiles if source is not None else None

    async def static(request: Request) -> Response:
        path = files.get(request.path_params["name"])
        if path is None:
            return PlainTextResponse("Not found.", status_code=404, headers=_NO_SNIFF)
        return FileResponse(path, headers={**_NO_SNIFF, "Cache-Control": "private, max-age=86400"})

    def tile(request: Request) -> Response:  # sync: Starlette runs it in its thread pool (SQLite reads)
        p = request.path_params
        data = read_mbtiles_tile(mbtiles, p["z"], p["x"], p["y"]) if mbtiles is not None else None
        if data is None:
            return PlainTextResponse("No such tile.", status_code=404, headers=_NO_SNIFF)
        assert source is not None
        return Response(data, media_type=source.mime, headers={**_NO_SNIFF, "Cache-Control": "private, max-age=3600"})

    return [Route(f"/{MBTILES_ROUTE}/{{z:int}}/{{x:int}}/{{y:int}}", tile, methods=["GET"]),
            Route(f"/{ROUTE}/{{name:path}}", static, methods=["GET"])]

"""A street map under the route map (``ui.tile_url`` / ``ui.mbtiles``): the settings' checks, an MBTiles
file's tiles served by the console (behind its login), the slippy map's data, and the case report's map
with the tiles stitched under it.

Tiles are generated here: each one a flat colour that encodes where it is (x and y modulo 8, 32 levels
apart, and the zoom), so a pixel of a stitched JPEG still says which tile it came from. The MBTiles file
is written with sqlite3 and Pillow; the tile server is a local http.server in a thread.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.auth import Identity, Role, UserStore
from core.config import ConfigError, UIConfig
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, write_index
from ui.console import CaseContext, Console, Session
from ui.detail import select_sighting
from ui.export_tab import export_case
from ui.map_geometry import MapStop, MapSuggestion
from ui.map_view import render_map_svg
from ui.marks import pin_selected
from ui.route_tab import base_map, build_route
from ui.search_tab import run_search
from ui.tile_map import map_layers, routes, slippy_map_html
from ui.tile_source import TILE_PX, tile_source, world_px

GRID = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100)])
CASE = CaseContext("2026-SEO-0142", "missing child, 8, reported 09:10 at the station")
ZOOMS = range(13, 17)


def tile_colour(z: int, x: int, y: int) -> tuple[int, int, int]:
    return 16 + 32 * (x % 8), 16 + 32 * (y % 8), 12 * z


def tile_png(z: int, x: int, y: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (TILE_PX, TILE_PX), tile_colour(z, x, y)).save(buf, "PNG")
    return buf.getvalue()


def grid_tiles(z: int, margin_deg: float = 0.02) -> list[tuple[int, int]]:
    lats, lons = [c.lat for c in GRID], [c.lon for c in GRID]
    x0, y0 = world_px(max(lats) + margin_deg, min(lons) - margin_deg, z)
    x1, y1 = world_px(min(lats) - margin_deg, max(lons) + margin_deg, z)
    return [(x, y) for x in range(int(x0 // TILE_PX), int(x1 // TILE_PX) + 1)
            for y in range(int(y0 // TILE_PX), int(y1 // TILE_PX) + 1)]


def make_mbtiles(path: Path, zooms=ZOOMS, fmt: str = "png") -> Path:
    """A small MBTiles file around the grid's cameras; rows numbered from the south, as the spec says."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)",
                       [("name", "test city"), ("format", fmt), ("minzoom", str(min(zooms))),
                        ("maxzoom", str(max(zooms))), ("attribution", "© Test City Mapping")])
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(z, x, 2 ** z - 1 - y, tile_png(z, x, y)) for z in zooms for x, y in grid_tiles(z)])
    return path


@dataclass
class TileServer:
    """A local XYZ tile server: any /z/x/y.png is a tile of :func:`tile_colour`; ``requests`` lists them."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def tile_server() -> Iterator[TileServer]:
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            m = re.fullmatch(r"/(\d+)/(\d+)/(\d+)\.png", self.path)
            served.append(self.path)
            if m is None:
                self.send_error(404)
                return
            body = tile_png(*(int(v) for v in m.groups()))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TileServer(f"http://127.0.0.1:{server.server_address[1]}", served)
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------ settings


def test_without_a_street_map_the_schematic_svg_stays(tmp_path: Path):
    assert tile_source(UIConfig()) is None
    console = grid_console(tmp_path)
    assert base_map(console) == render_map_svg(GRID, shapes=console.shapes)


@pytest.mark.parametrize(("template", "says"), [
    ("tiles.example/{z}/{x}/{y}.png", "not an http(s) URL template"),
    ("ftp://tiles.example/{z}/{x}/{y}.png", "not an http(s) URL template"),
    ("https://tiles.example/{z}/{x}.png", "lacks {y}"),
    ("https://tiles.example/tiles.png", "lacks {z}, {x}, {y}"),
    ("https://tiles.example/{z}/{x}/{y}.png?key={apikey}", "unknown placeholder {apikey}"),
])
def test_a_bad_tile_url_is_one_line_naming_the_setting(template: str, says: str, tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        tile_source(UIConfig(tile_url=template))
    assert str(err.value).startswith("ui.tile_url: ") and says in str(err.value) and "\n" not in str(err.value)
    # and the console refuses to start on it, with the same line
    from ui.app import build_console

    cfg = make_config(tmp_path / "index", ui__tile_url=template, ui__cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=r"ui\.tile_url"):
        build_console(cfg, GRID)


def test_good_tile_urls_are_kept():
    for template in ("https://tiles.example/{z}/{x}/{y}.png", "http://{s}.tiles.local:8080/osm/{z}/{x}/{y}{r}.png"):
        source = tile_source(UIConfig(tile_url=f"  {template} ", tile_attribution="© Seoul"))
        assert source is not None and source.url == template and source.attribution == "© Seoul"


def test_a_bad_mbtiles_setting_is_one_line_naming_the_setting(tmp_path: Path):
    text = tmp_path / "notes.mbtiles"
    text.write_text("not a database " * 100)
    no_tiles = tmp_path / "empty.mbtiles"
    with sqlite3.connect(no_tiles) as db:
        db.execute("CREATE TABLE other (a)")
    vector = make_mbtiles(tmp_path / "vector.mbtiles", zooms=[13], fmt="pbf")
    cases = {tmp_path / "missing.mbtiles": "MBTiles file not found", text: "is not an MBTiles file",
             no_tiles: "has no tiles table", vector: "'pbf' tiles"}
    for path, says in cases.items():
        with pytest.raises(ConfigError) as err:
            tile_source(UIConfig(mbtiles=str(path)))
        msg = str(err.value)
        assert msg.startswith("ui.mbtiles: ") and says in msg and "\n" not in msg, msg
    with pytest.raises(ConfigError, match="choose one street map"):
        tile_source(UIConfig(tile_url="https://t.example/{z}/{x}/{y}.png", mbtiles=str(vector)))


# ---------------------------------------------------------------------------------- MBTiles serving


def test_an_mbtiles_files_tiles_are_served_in_xyz_order(tmp_path: Path):
    mb = make_mbtiles(tmp_path / "city.mbtiles")
    source = tile_source(UIConfig(mbtiles=str(mb)))
    assert source is not None and (source.min_zoom, source.max_zoom) == (13, 16)
    assert source.url == "fs-map/tiles/{z}/{x}/{y}" and source.attribution == "© Test City Mapping"
    client = TestClient(Starlette(routes=routes(UIConfig(mbtiles=str(mb)))))
    z = 15
    for x, y in grid_tiles(z)[:6]:
        got = client.get(f"/fs-map/tiles/{z}/{x}/{y}")
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(got.content)).convert("RGB").getpixel((100, 100)) == tile_colour(z, x, y)
    assert client.get("/fs-map/tiles/15/0/0").status_code == 404  # not in the file
    assert client.get("/fs-map/tiles/12/3000/1500").status_code == 404  # out of the world at that zoom
    assert client.get("/fs-map/tiles/a/b/c").status_code == 404
    leaflet = client.get("/fs-map/leaflet/leaflet.js")
    assert leaflet.status_code == 200 and b"Leaflet 1.9.4" in leaflet.content
    assert client.get("/fs-map/leaflet/images/layers.png").status_code == 200
    assert b"fs-route-line" in client.get("/fs-map/route_map.js").content
    for sneaky in ("/fs-map/leaflet/../tile_map.py", "/fs-map/leaflet/..%2F..%2Ftile_map.py", "/fs-map/../app.py",
                   "/fs-map/leaflet/LICENSE", "/fs-map/leaflet/leaflet.js.map"):
        assert client.get(sneaky).status_code == 404, sneaky
    # with no MBTiles configured, no tile is served at all
    assert TestClient(Starlette(routes=routes(UIConfig()))).get(f"/fs-map/tiles/{z}/{x}/{y}").status_code == 404


@pytest.mark.slow  # launches a console
def test_map_files_and_tiles_are_served_only_to_a_signed_in_user(tmp_path: Path):
    from ui.app import launch

    mb = make_mbtiles(tmp_path / "city.mbtiles", zooms=[15])
    index = tmp_path / "index"
    write_index(index, GRID, grid_rows())
    state = tmp_path / "state"
    cfg = make_config(index, auth__users_file=str(state / "users.json"), audit__log_path=str(state / "audit.jsonl"),
                      ui__cache_dir=str(tmp_path / "cache"), ui__mbtiles=str(mb))
    UserStore(state / "users.json").add("lee", "operator", "lee's long password")
    running = launch(cfg, GRID, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    x, y = grid_tiles(15)[0]
    paths = [f"fs-map/tiles/15/{x}/{y}", "fs-map/leaflet/leaflet.js", "fs-map/route_map.js"]
    try:
        for p in paths:
            assert httpx.get(running.url + p, timeout=30).status_code == 401, p
        with httpx.Client(base_url=running.url, timeout=60) as http:
            assert http.post("/login", data={"username": "lee", "password": "lee's long password"}).status_code == 200
            for p in paths:
                assert http.get("/" + p).status_code == 200, p
            assert http.get(f"/fs-map/tiles/15/{x}/{y}").content == tile_png(15, x, y)
    finally:
        running.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------- slippy map


def srcdoc_data(iframe: str) -> dict:
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', iframe).group(1))
    assert "<script src='fs-map/leaflet/leaflet.js'>" in page and "<script src='fs-map/route_map.js'>" in page
    assert "https://" not in page.replace("https://tiles.example", "")  # nothing from the internet
    return json.loads(re.search(r"<script type='application/json' id='fs-map-data'>(.*?)</script>", page, re.S)
                      .group(1))


def test_the_slippy_map_draws_what_the_svg_draws():
    source = tile_source(UIConfig(tile_url="https://tiles.example/{z}/{x}/{y}.png", tile_attribution="© Seoul"))
    assert source is not None
    stops = [MapStop(1, "G-1", "10:00:05"), MapStop(2, "G-2", "10:02:05"), MapStop(3, "G-2", "10:02:40"),
             MapStop(4, "G-3", "10:05:05")]
    sugs = [MapSuggestion("G-1", "10:06–10:09")]
    iframe = slippy_map_html(source, GRID, stops=stops, suggestions=sugs)
    assert iframe.startswith('<iframe class="fs-tile-map"')
    data = srcdoc_data(iframe)
    assert data["tiles"]["url"] == "https://tiles.example/{z}/{x}/{y}.png" and data["tiles"]["attribution"] == "© Seoul"
    # the SVG's badges (stops 2 and 3 at one camera are one visit "2–3"), colours and district outlines
    svg = render_map_svg(GRID, stops=stops, suggestions=sugs)
    assert [v["badge"] for v in data["visits"]] == re.findall(r'class="route-stop" data-stop="([^"]+)"', svg) \
        == ["1", "2–3", "4"]
    assert [v["camera"] for v in data["visits"]] == ["G-1", "G-2", "G-3"]
    assert [(s["n"], s["camera"]) for s in data["suggestions"]] == [(1, "G-1")]
    svg_colours = dict(re.findall(r'class="district" data-district="([^"]+)" points="[^"]+" fill="([^"]+)"', svg))
    assert {d["name"]: d["colour"] for d in data["districts"]} == svg_colours
    assert all(len(r) >= 3 for d in data["districts"] for r in d["rings"])
    (south, west), (north, east) = data["bounds"]
    assert all(south < c.lat < north and west < c.lon < east for c in GRID)


def test_a_camera_name_cannot_break_out_of_the_map_page():
    evil = grid_registry([("G-1", "North-gu", 0, 0)])
    cam = evil.get("G-1")
    object.__setattr__(cam, "name", "</script><script>alert(1)</script>")
    source = tile_source(UIConfig(tile_url="https://tiles.example/{z}/{x}/{y}.png"))
    assert source is not None
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', slippy_map_html(source, evil)).group(1))
    assert "<script>alert(1)" not in page
    assert map_layers(evil)["cameras"][0]["name"] == "</script><script>alert(1)</script>"


# ---------------------------------------------------------------------------------- console, report


def grid_rows() -> list[Row]:
    rows = [Row("G-1", T0, T0 + 10, upper="purple", lower="blue", bearing=90, track_id=1),
            Row("G-2", T0 + 120, T0 + 130, upper="purple", lower="blue", bearing=90, track_id=2),
            Row("G-3", T0 + 300, T0 + 310, upper="purple", lower="blue", bearing=120, track_id=3)]
    for r in rows:
        r.extra.setdefault("hair_colour", np.zeros(11, np.float32))
    return rows


def grid_console(tmp_path: Path, **ui: str) -> Console:
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from ui.app import build_console

    index = tmp_path / "index"
    if not index.exists():
        write_index(index, GRID, grid_rows())
    cfg = make_config(index, auth__users_file=str(tmp_path / "users.json"),
                      audit__log_path=str(tmp_path / "audit.jsonl"), ui__cache_dir=str(tmp_path / "cache"),
                      **{f"ui__{k}": v for k, v in ui.items()})
    return build_console(cfg, GRID, engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))


def routed_session(console: Console) -> Session:
    s = Session(user=Identity("lee", Role.OPERATOR, True, "127.0.0.1"), case=CASE)
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    select_sighting(console, s, 0)
    pin_selected(console, s)
    return s


def report_picture(report_html: str) -> tuple[str, np.ndarray]:
    """The report map's SVG and the street picture under it."""
    svg = re.search(r'<svg[^>]*id="report-map".*?</svg>', report_html, re.S).group(0)
    uri = re.search(r'<image class="map-tiles" href="data:image/jpeg;base64,([^"]+)"', svg).group(1)
    return svg, np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("RGB")).astype(int)


def assert_tiles_under_cameras(svg: str, picture: np.ndarray, zooms) -> int:
    """Each route camera's pixel in the picture is the colour of the tile that holds the camera: the tiles
    line up with the SVG's drawing. Returns how many cameras could be checked (not on a tile's edge)."""
    width = float(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    scale = picture.shape[1] / width
    checked = 0
    for cam_id, cx, cy in re.findall(r'class="camera" data-camera="([^"]+)" cx="([\d.]+)" cy="([\d.]+)"', svg):
        cam = GRID.get(cam_id)
        px, py = round(float(cx) * scale), round(float(cy) * scale)
        r, g, b = picture[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3).mean(axis=0)
        z = round(b / 12)
        assert z in zooms, (cam_id, r, g, b)
        wx, wy = world_px(cam.lat, cam.lon, z)
        edge = min(wx % TILE_PX, TILE_PX - wx % TILE_PX, wy % TILE_PX, TILE_PX - wy % TILE_PX)
        if edge < 3:
            continue  # on a tile's edge the picture blends two tiles
        assert (round((r - 16) / 32), round((g - 16) / 32)) == (int(wx // TILE_PX) % 8, int(wy // TILE_PX) % 8), \
            (cam_id, r, g, b)
        checked += 1
    return checked


def tile_edge_errors(svg: str, picture: np.ndarray) -> list[float]:
    """How far (picture pixels) each tile edge crossing the picture's middle lies from where the SVG's own
    drawing puts that edge's longitude or latitude (fitted from two cameras' circles)."""
    width = float(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    scale = picture.shape[1] / width
    at = {c: (float(x) * scale, float(y) * scale)
          for c, x, y in re.findall(r'class="camera" data-camera="([^"]+)" cx="([\d.]+)" cy="([\d.]+)"', svg)}
    a, b = GRID.get("G-1"), GRID.get("G-3")  # apart in both latitude and longitude
    kx = (at["G-3"][0] - at["G-1"][0]) / (b.lon - a.lon)
    ky = (at["G-3"][1] - at["G-1"][1]) / (b.lat - a.lat)
    h, w = picture.shape[0] // 2, picture.shape[1] // 2
    z = round(picture[h, w, 2] / 12)
    world = TILE_PX * 2 ** z

    def crossings(values: np.ndarray) -> list[float]:
        tile = np.round((values - 16) / 32)
        flips = [i + 0.5 for i in range(len(tile) - 1) if tile[i] != tile[i + 1]]
        groups: list[list[float]] = []
        for f in flips:  # resampling and JPEG ringing can flip a few times across one edge: one edge
            if groups and f - groups[-1][-1] <= 4:
                groups[-1].append(f)
            else:
                groups.append([f])
        return [sum(g) / len(g) for g in groups]

    errors = []
    for x in crossings(picture[h, :, 0]):
        edge = round(((x - at["G-1"][0]) / kx + a.lon + 180) / 360 * world / TILE_PX) * TILE_PX
        errors.append(abs(x - (at["G-1"][0] + kx * (edge / world * 360 - 180 - a.lon))))
    for y in crossings(picture[:, w, 1]):
        edge = round(world_px(a.lat + (y - at["G-1"][1]) / ky, 0, z)[1] / TILE_PX) * TILE_PX
        lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * edge / world))))
        errors.append(abs(y - (at["G-1"][1] + ky * (lat - a.lat))))
    return errors


def test_the_report_puts_the_mbtiles_map_under_the_route_and_stays_self_contained(tmp_path: Path):
    mb = make_mbtiles(tmp_path / "city.mbtiles")
    console = grid_console(tmp_path, mbtiles=str(mb))
    s = routed_session(console)
    view = build_route(console, s)
    assert s.route is not None and len(s.route.stops) >= 2
    data = srcdoc_data(view.map_html)  # the console shows the slippy map over the file's tiles
    assert data["tiles"]["url"] == "fs-map/tiles/{z}/{x}/{y}" and len(data["visits"]) >= 2
    files, _ = export_case(console, s, "", "")
    report = files.html.read_text(encoding="utf-8")
    svg, picture = report_picture(report)
    assert picture.shape[:2] == (2 * 520, 2 * 760)
    assert 'class="route-stop"' in svg and "© Test City Mapping" in svg
    assert svg.index('class="map-tiles"') < svg.index('class="route-stop"')  # under the route, not over it
    assert assert_tiles_under_cameras(svg, picture, ZOOMS) >= 2
    errors = tile_edge_errors(svg, picture)  # and the tiles' edges lie where the map's own geometry says
    assert errors and max(errors) < 1.5, errors
    assert "fs-map/" not in report and "<iframe" not in report and "<script" not in report


def test_the_report_fetches_a_tile_servers_tiles_once_and_embeds_them(tmp_path: Path, tile_server: TileServer):
    console = grid_console(tmp_path, tile_url=tile_server.url + "/{z}/{x}/{y}.png", tile_attribution="© Local")
    s = routed_session(console)
    build_route(console, s)
    before = len(tile_server.requests)
    files, _ = export_case(console, s, "", "")
    fetched = tile_server.requests[before:]
    assert 0 < len(fetched) <= 64
    report = files.html.read_text(encoding="utf-8")
    svg, picture = report_picture(report)
    assert assert_tiles_under_cameras(svg, picture, range(0, 20)) >= 2
    errors = tile_edge_errors(svg, picture)
    assert errors and max(errors) < 1.5, errors
    assert tile_server.url not in report and "© Local" in svg


def test_a_report_without_reachable_tiles_keeps_the_schematic_map(tmp_path: Path):
    # a tile server that is down when the report is exported: the map is drawn as without one
    console = grid_console(tmp_path, tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    s = routed_session(console)
    build_route(console, s)
    files, _ = export_case(console, s, "", "")
    report = files.html.read_text(encoding="utf-8")
    assert 'id="report-map"' in report and 'class="route-stop"' in report and "map-tiles" not in report

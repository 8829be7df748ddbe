"""The route map over a street map, in Debian's chromium: a console configured with ``ui.tile_url`` pointing
at a tile server this test starts itself (generated PNG tiles on 127.0.0.1), a search, Build route, and
then, inside the map's iframe, Leaflet (served by the console) drawing the route's line over tiles that
the browser loaded from that server, and nothing fetched from anywhere else.

The index is the small hand-made one of tests/test_ui_tile_map.py (three cameras, one person walking
past them), so no footage is indexed. Screenshot: tests/artifacts/ui_tile_map.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM, make_config
from tests.search_fixtures import write_index
from tests.test_ui_browser import TIMEOUT_MS, VIEWPORT, fill_case, no_traceback, settle
from tests.test_ui_tile_map import GRID, TileServer, free_port, grid_rows, tile_server

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not installed at {CHROMIUM}")]
__all__ = ["tile_server"]  # the module-scoped fixture, shared with the unit tests

SEARCH_MESSAGE = "(document.querySelector('#fs-search-status .fs-msg') || {innerText: ''}).innerText"


@pytest.fixture(scope="module")
def console_url(tile_server: TileServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from ui.app import launch

    base = tmp_path_factory.mktemp("tile-map-console")
    write_index(base / "index", GRID, grid_rows())
    cfg = make_config(base / "index", auth__users_file=str(base / "nobody.json"),
                      audit__log_path=str(base / "audit.jsonl"), ui__cache_dir=str(base / "cache"),
                      ui__tile_url=tile_server.url + "/{z}/{x}/{y}.png", ui__tile_attribution="© Test tiles")
    running = launch(cfg, GRID, host="127.0.0.1", port=free_port(), block=False, quiet=True,
                     engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))
    yield running.url
    running.close()


def test_the_route_is_drawn_over_tiles_from_the_configured_tile_server(browser, console_url: str,
                                                                      tile_server: TileServer):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda req: fetched.append(req.url))
    try:
        page.goto(console_url)
        page.wait_for_selector("#fs-search")
        fill_case(page)
        before = page.evaluate(SEARCH_MESSAGE)
        page.locator("#fs-description textarea").fill("purple top, blue jeans")
        page.locator("#fs-search").click()
        page.wait_for_function(f"b => {SEARCH_MESSAGE} !== b", arg=before)
        settle(page)
        page.get_by_role("tab", name="Route & map").click()
        served_before = len(tile_server.requests)
        page.locator("#fs-build-route").click()
        page.wait_for_function("document.querySelector('#fs-route-status').innerText.includes('Route of')")
        settle(page)

        frame = page.frame_locator("#fs-map iframe.fs-tile-map")
        frame.locator("path.fs-route-line").wait_for()
        frame.locator("img.leaflet-tile-loaded").first.wait_for()
        page.wait_for_timeout(1000)  # the last tiles of the view
        assert frame.locator(".fs-stop").count() >= 2
        tiles = frame.locator("img.leaflet-tile-loaded").evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return {src: e.src, x: r.left, y: r.top, w: r.width, h: r.height}; })")
        assert tiles and all(t["src"].startswith(tile_server.url + "/") for t in tiles), tiles[:3]
        assert len(tile_server.requests) > served_before  # the browser, not the console, fetched them
        # under the route: the tile pane below the overlay pane, and tiles wherever the route's stops are
        panes = frame.locator(".leaflet-map-pane").evaluate(
            "p => [getComputedStyle(p.querySelector('.leaflet-tile-pane')).zIndex,"
            " getComputedStyle(p.querySelector('.leaflet-overlay-pane')).zIndex]")
        assert int(panes[0]) < int(panes[1]), panes
        stops = frame.locator(".fs-stop").evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left + r.width / 2,"
            " r.top + r.height / 2]; })")
        for x, y in stops:
            assert any(t["x"] <= x <= t["x"] + t["w"] and t["y"] <= y <= t["y"] + t["h"] for t in tiles), (x, y)
        assert "© Test tiles" in frame.locator(".leaflet-control-attribution").inner_text()
        # nothing from the internet: the console (Leaflet, its script) and the tile server only
        hosts = {urlsplit(u).netloc for u in fetched if urlsplit(u).scheme in ("http", "https")}
        assert hosts <= {urlsplit(console_url).netloc, urlsplit(tile_server.url).netloc}, hosts
        assert any(u.endswith("/fs-map/leaflet/leaflet.js") for u in fetched)
        no_traceback(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#fs-map").screenshot(path=str(Path(ARTIFACTS) / "ui_tile_map.png"))
    finally:
        context.close()

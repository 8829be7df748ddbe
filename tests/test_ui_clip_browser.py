"""The clip player in Debian's chromium on the indexed sample city: open a sighting, play its clip, then
play a route stop's clip. The page's own ``<video>`` must load the clip's metadata (the browser can
decode it, and the guarded ``clips/<token>`` route served it to this session) with the window's
duration: 4 s before to 6 s after the sighting's best moment, clamped to the file.

The console and each test's fresh operator page come from tests/test_ui_browser.py's fixtures.
Screenshots go to tests/artifacts/ui_clip_*.png.
"""

from __future__ import annotations

import pytest

from tests import test_ui_browser as ui_browser
from tests.conftest import ARTIFACTS, CHROMIUM
from tests.test_ui_browser import detail_rows, no_traceback, pin, search, select, settle

# the browser module's fixtures (one console for this module, a fresh operator page per test)
console_url, page = ui_browser.console_url, ui_browser.page

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not installed at {CHROMIUM}")]

LOADED = """sel => { const v = document.querySelector(sel + ' video');
  return v !== null && (v.readyState >= 1 || v.error !== null); }"""
VIDEO = """sel => { const v = document.querySelector(sel + ' video');
  return {ready: v.readyState, error: v.error && v.error.code, duration: v.duration, src: v.currentSrc,
          start: parseFloat(v.dataset.start), end: parseFloat(v.dataset.end)}; }"""


def played(page, box: str) -> dict:
    """Wait until the clip in ``box`` has its metadata (or failed); what the <video> element says."""
    page.wait_for_function(LOADED, arg=box)
    video = page.evaluate(VIDEO, box)
    assert video["error"] is None and video["ready"] >= 1, video
    assert "/clips/" in video["src"], video
    # the clip lasts its window (to within a frame of the 10 fps demo footage)
    assert video["duration"] == pytest.approx(video["end"] - video["start"], abs=0.15), video
    return video


def test_a_sightings_clip_and_a_route_stops_clip_play_in_the_page(page):
    search(page, "purple coat, blue jeans")
    select(page, 0)
    best = float(detail_rows(page)["Box"].split(" at ")[1].removesuffix(" s"))
    page.locator("#fs-play-clip").click()
    video = played(page, "#fs-clip")
    assert video["start"] == pytest.approx(max(0.0, best - 4.0), abs=0.06)
    assert best + 0.5 < video["end"] <= best + 6.06  # 6 s after, or the file ends first
    assert "Your viewing is logged" in page.locator("#fs-clip").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "ui_clip_detail.png"), full_page=True)

    # another sighting in the detail panel: the clip of the first one goes away
    select(page, 1)
    page.wait_for_function("document.querySelector('#fs-clip video') === null")

    # a stop of the route
    pin(page, 0, 1)
    page.locator("#fs-to-route").click()
    page.wait_for_selector("#fs-map svg .route-stop")
    page.wait_for_selector("#fs-play-stop-clip", state="visible")
    settle(page)
    page.locator("#fs-play-stop-clip").click()
    played(page, "#fs-stop-clip")
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "ui_clip_route_stop.png"), full_page=True)
    no_traceback(page)

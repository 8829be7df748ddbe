"""End-to-end in chromium: a case from the demo city's report, started from the console's "Case from a
report" tab, with sightings arriving and the progress moving while it runs; then Stop.

The console runs over the demo city's archive with a fresh index, so everything the case shows it
analysed itself (window by window) while the page polled. Screenshot: tests/artifacts/ui_case.png.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM, make_config

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason=f"Debian chromium not installed at {CHROMIUM} (apt-get install -y chromium)")]
TIMEOUT_MS = 300_000  # the case indexes the footage it looks at; the CI machine has 2 cores
TEXT = "Woman, long black hair, purple coat, blue jeans, black shoulder bag"
PROGRESS = "document.querySelector('#fs-case-progress')"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def console_url(browser, sample_city, tmp_path_factory, detector_path, colour_table_path) -> Iterator[str]:
    from core.registry import load_registry
    from ui.app import launch

    root = tmp_path_factory.mktemp("case-browser")
    running = launch(make_config(root / "index"), load_registry(sample_city.registry), host="127.0.0.1",
                     port=_free_port(), block=False, quiet=True, archive=sample_city.archive,
                     cache_dir=root / "cache")
    yield running.url
    running.close()


def _windows_done(page) -> int:
    return int(page.evaluate(f"({PROGRESS} || {{dataset: {{}}}}).dataset.windowsDone || '0'"))


def test_a_case_started_in_the_console_shows_sightings_as_they_arrive(browser, console_url, sample_city):
    first = json.loads(Path(sample_city.ground_truth).read_text(encoding="utf-8"))["route"][0]
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(console_url)
        page.locator("#fs-case-number input, #fs-case-number textarea").first.fill("2026-SEO-0142")
        page.locator("#fs-purpose input, #fs-purpose textarea").first.fill("missing woman, last seen at JG-01")
        page.get_by_role("tab", name="Case from a report").click()
        page.locator("#fs-case-camera input").click()
        page.locator("#fs-case-camera li[role=option]", has_text=first["camera_id"]).first.click()
        page.locator("#fs-case-at input, #fs-case-at textarea").first.fill(first["t_exit"])
        page.locator("#fs-case-text textarea").fill(TEXT)
        page.locator("#fs-case-hours input").fill("0.5")
        page.locator("#fs-case-start").click()

        # the page polls: the bar moves and sightings arrive while the case runs
        page.wait_for_selector("#fs-case-progress")
        page.wait_for_function(f"{PROGRESS} && Number({PROGRESS}.dataset.windowsDone) >= 1")
        early = _windows_done(page)
        page.wait_for_selector("#fs-case-results button.thumbnail-item img")
        page.wait_for_function(f"Number({PROGRESS}.dataset.windowsDone) > {early} || "
                               f"{PROGRESS}.dataset.status !== 'running'")
        assert _windows_done(page) > early or page.evaluate(f"{PROGRESS}.dataset.status") == "done"
        captions = page.locator("#fs-case-results button.thumbnail-item img").evaluate_all(
            "els => els.map(e => e.alt)")
        assert any(c.startswith("JG-02") for c in captions), captions  # her next stop, found by the case
        assert "h</b> of footage analysed" in page.locator("#fs-case-progress").inner_html()

        # Stop: the case ends after the window in progress (or has ended by itself)
        if page.evaluate(f"{PROGRESS}.dataset.status") == "running":
            page.locator("#fs-case-stop").click()
        page.wait_for_function(f"['stopped', 'done'].includes({PROGRESS}.dataset.status)")
        page.wait_for_function("document.querySelector('#fs-case-stop').disabled")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui_case.png"), full_page=True)

        # "Where to look next" lists windows nobody analysed: with no case running, Analyse now indexes one
        if page.locator("#fs-case-analyse").is_visible():
            page.locator("#fs-case-analyse").click()
            page.wait_for_selector("#fs-case-analyse-status .fs-msg")
            said = page.locator("#fs-case-analyse-status").inner_text()
            assert "sighting(s) added" in said or "no footage of that camera" in said, said
        assert "Traceback" not in page.locator("body").inner_text()
    finally:
        context.close()

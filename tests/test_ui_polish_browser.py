"""End-to-end checks of the console's polish, in Debian's chromium on the indexed sample city: what an
operator saw go wrong before (a pop-up from an earlier mistake over later results, a cleared form
that still searched with the photo, suggestions pointing back the way the person came, a report
that listed only the last search) and the models' notice.

The console and each test's fresh operator page come from tests/test_ui_browser.py's fixtures.
Screenshots go to tests/artifacts/ui_polish_*.png.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import test_ui_browser as ui_browser
from tests.conftest import ARTIFACTS, CHROMIUM
from tests.test_ui_browser import download, fill_case, no_traceback, pin, search, settle, who

# the browser module's fixtures (one console for this module, a fresh operator page per test)
appearances, console_url, ground_truth, page = (ui_browser.appearances, ui_browser.console_url,
                                                ui_browser.ground_truth, ui_browser.page)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not installed at {CHROMIUM}")]

TOASTS = "(document.querySelector('.toast-wrap') || {innerText: ''}).innerText"


def shot(page, name: str) -> None:
    settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui_polish_{name}.png"), full_page=True)


def test_the_model_notice_is_said_once_in_the_header_and_the_index_tab(page):
    # the test console runs the tiny random-weight CLIP: a fallback the notice must name
    page.wait_for_function("document.querySelector('#fs-models').innerText.includes('Unavailable: CLIP')",
                           timeout=120_000)
    header = page.locator("#fs-models").inner_text()
    assert "Index" in header and "Traceback" not in header
    shot(page, "model_notice_header")
    search(page, "purple coat, blue jeans")
    assert "CLIP unavailable" not in page.locator("#fs-search-status").inner_text()
    page.get_by_role("tab", name="Index").click()
    page.wait_for_function("document.querySelector('#fs-models-panel').innerText.includes('To fix:')")
    panel = page.locator("#fs-models-panel").inner_text()
    assert "person detector: loaded" in panel and "CLIP fallback" in panel
    assert page.locator("#fs-retry-models").is_visible()  # the open console's local user is an admin
    shot(page, "model_notice_index")


def test_a_popup_goes_away_with_the_next_action(page):
    # (a pop-up would also leave by itself after 8 s: each check below comes well before that)
    gone = f"t => !{TOASTS}.includes(t)"
    # 1. a search without the case number: the pop-up says so
    fill_case(page, number="")
    page.locator("#fs-description textarea").fill("purple coat, blue jeans")
    page.locator("#fs-search").click()
    page.wait_for_function(f"{TOASTS}.includes('Enter the case number first')")
    # the operator fills it in and searches again: the old pop-up goes at once, the results come
    fill_case(page)
    page.locator("#fs-search").click()
    page.wait_for_function(gone, arg="Enter the case number", timeout=3000)
    page.wait_for_selector("#fs-search-status .fs-msg-ok")
    settle(page)
    assert "Enter the case number" not in page.evaluate(TOASTS)

    # 2. Build route before any pin (a fresh session), then search, pin and build: no stale pop-up
    fresh = page.context.new_page()
    fresh.goto(page.url)
    fresh.wait_for_selector("#fs-search")
    fill_case(fresh)
    fresh.get_by_role("tab", name="Route & map").click()
    fresh.locator("#fs-build-route").click()
    fresh.wait_for_function(f"{TOASTS}.includes('Pin at least one sighting')")
    fresh.get_by_role("tab", name="Search").click()
    fresh.wait_for_function(gone, arg="Pin at least one sighting", timeout=3000)
    search(fresh, "purple coat, blue jeans")
    pin(fresh, 0, 1)
    fresh.locator("#fs-to-route").click()
    fresh.wait_for_selector("#fs-map svg .route-stop")
    settle(fresh)
    assert "Pin at least one sighting" not in fresh.evaluate(TOASTS)
    no_traceback(fresh)
    fresh.close()


def test_clear_form_clears_the_photo_and_the_report_lists_every_search(page, appearances, tmp_path: Path):
    # a reference photo (a plain purple figure: any image is accepted) and a photo search
    img = np.full((160, 80, 3), 200, np.uint8)
    img[20:90, 15:65] = (128, 0, 128)
    img[90:150, 20:60] = (160, 60, 20)
    photo = tmp_path / "reference_photo.png"
    cv2.imwrite(str(photo), img)
    page.locator("#fs-photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("document.querySelector('#fs-photo-status').innerText.includes('ready')")
    page.locator("#fs-search").click()
    page.wait_for_function("document.querySelector('#fs-search-status').innerText.includes('Photo:')")
    settle(page)

    # Clear form takes the photo away too: the next description search uses the description only
    page.locator("#fs-clear").click()
    page.wait_for_function("document.querySelector('#fs-photo-status').innerText.includes('No reference photo')")
    assert page.locator("#fs-photo-preview img").count() == 0
    captions = search(page, "purple coat, blue jeans")
    status = page.locator("#fs-search-status").inner_text()
    assert "Photo:" not in status and "reference" not in status.lower()

    targets = [i for i, c in enumerate(captions) if (a := who(c, appearances)) is not None and a.role == "target"]
    assert targets, captions
    pin(page, targets[0], 1)
    page.locator("#fs-to-route").click()
    page.wait_for_selector("#fs-map svg .route-stop")
    settle(page)

    page.get_by_role("tab", name="Case export").click()
    page.wait_for_function("document.querySelector('#fs-export-status').innerText.includes('searches in this case: 2')")
    page.locator("#fs-export").click()
    page.wait_for_selector("#fs-export-files a[download$='.json']")
    report = json.loads(download(page, ".json", tmp_path).read_text(encoding="utf-8"))
    assert [(e["kind"], e["text"], e["photo"]) for e in report["searches"]] == [
        ("photo", "", "reference_photo.png"), ("describe", "purple coat, blue jeans", "")]
    html = download(page, ".html", tmp_path).read_text(encoding="utf-8")
    assert "Searches in this case (2)" in html and "reference_photo.png" in html
    shot(page, "report_history")


def test_suggestions_lie_ahead_and_a_suggested_search_can_be_undone(page, appearances):
    captions = search(page, "purple coat, blue jeans")
    targets = sorted(((who(c, appearances), i) for i, c in enumerate(captions)),
                     key=lambda t: t[0].start if t[0] is not None else "")
    targets = [(a, i) for a, i in targets if a is not None and a.role == "target"]
    cameras = list(dict.fromkeys(a.camera_id for a, _ in targets))
    assert len(cameras) >= 2, captions
    n = 0
    for cam in cameras:  # the first sighting of the target at each camera, in time order
        n += 1
        pin(page, next(i for a, i in targets if a.camera_id == cam), n)
    page.locator("#fs-to-route").click()
    page.wait_for_selector("#fs-map svg .route-stop")
    settle(page)
    stops = page.locator("#fs-map svg .route-stop").evaluate_all("els => els.map(e => e.dataset.camera)")
    status = page.locator("#fs-route-status").inner_text()
    assert re.search(rf"Route of \d+ stop\(s\) \({n} pinned[,)]", status), status  # every pin counted
    # no camera the person already passed is offered as "next"
    ahead = page.locator("#fs-suggestions ol li b").all_inner_texts()
    passed = set(stops[:-1]) - {stops[-1]}
    assert not passed & set(ahead), (stops, ahead)
    if page.locator(".fs-behind-list").count():  # collapsed: its items are in the page, not on screen
        behind = page.locator(".fs-behind-list").text_content()
        assert "behind: already passed" in behind or "behind: the way the person came from" in behind
    shot(page, "route_suggestions")
    if not ahead:
        pytest.skip("no camera within reach ahead of the last stop in the sample city")

    # Search there fills the form visibly; Undo puts the operator's own (empty) filters back
    page.locator("#fs-search-suggestion").click()
    page.wait_for_selector("#fs-undo-suggestion", state="visible")
    settle(page)
    time_from = page.locator("#fs-time-from textarea, #fs-time-from input").first
    assert time_from.input_value().startswith("20")
    assert ahead[0] in page.locator("#fs-cameras").inner_text()
    assert "Undo suggested filters" in page.locator("#fs-search-status").inner_text()
    page.locator("#fs-undo-suggestion").click()
    page.wait_for_selector("#fs-undo-suggestion", state="hidden")
    settle(page)
    assert time_from.input_value() == "" and ahead[0] not in page.locator("#fs-cameras").inner_text()
    no_traceback(page)

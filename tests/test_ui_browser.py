"""End-to-end: the console in Debian's chromium (Playwright) on the indexed sample city.

One console is started for the module (background thread, free 127.0.0.1 port, no users: the open
loopback mode of ``make demo``) and each test opens a fresh browser context, i.e. a fresh operator
session, which fills in the required case number and purpose first. Login and roles are in
tests/test_ui_browser_auth.py. The scripted missing person's ground truth says
which sightings are really the target, so the tests pin what a careful operator would pin.

Screenshots of the main screens go to tests/artifacts/ui_*.png.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM

# Skip before any fixture runs: without a browser there is no point generating and indexing the city.
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason=f"Debian chromium not installed at {CHROMIUM} (apt-get install -y chromium)")]
TZ = ZoneInfo("Asia/Seoul")
TIMEOUT_MS = 90_000  # the first search loads models; the CI machine has 2 cores
VIEWPORT = {"width": 1600, "height": 1000}
CASE_NUMBER = "2026-SEO-0142"
PURPOSE = "missing person (dementia), reported 09:05 near Seoul Station"


@dataclass(frozen=True)
class Appearance:
    person: str
    role: str
    camera_id: str
    start: str  # local HH:MM:SS
    end: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, TZ).strftime("%H:%M:%S")


@pytest.fixture(scope="module")
def ground_truth(sample_city) -> dict:
    return json.loads(Path(sample_city.ground_truth).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def appearances(ground_truth) -> list[Appearance]:
    return [Appearance(a["person_id"], a["role"], a["camera_id"], _clock(a["t_start_epoch"] - 1),
                       _clock(a["t_end_epoch"] + 1)) for a in ground_truth["appearances"]]


@pytest.fixture(scope="module")
def console_url(browser, sample_index, sample_city, tmp_path_factory) -> Iterator[str]:
    from core.registry import load_registry
    from ui.app import launch

    running = launch(sample_index, load_registry(sample_city.registry), host="127.0.0.1", port=_free_port(),
                     block=False, quiet=True, archive=sample_city.archive,
                     cache_dir=tmp_path_factory.mktemp("console-cache"))
    yield running.url
    running.close()


@pytest.fixture
def page(browser, console_url, request):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.goto(console_url)
    pg.wait_for_selector("#fs-search")
    fill_case(pg)
    failed_before = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed_before:  # what the screen showed when the test failed
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"ui_FAILED_{request.node.name}.png"), full_page=True)
    context.close()


def fill_case(page, number: str = CASE_NUMBER, purpose: str = PURPOSE) -> None:
    """The case fields every search needs (the console logs them with each search)."""
    page.locator("#fs-case-number textarea, #fs-case-number input").first.fill(number)
    page.locator("#fs-purpose textarea, #fs-purpose input").first.fill(purpose)


def settle(page) -> None:
    """Wait until no event is running (Gradio dims outputs while one is) and the toasts are read."""
    page.wait_for_function("document.querySelectorAll('[data-testid=status-tracker]:not(.hide)').length === 0")
    page.wait_for_timeout(300)


def shot(page, name: str) -> None:
    settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui_{name}.png"), full_page=True)


def no_traceback(page) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and 'File "' not in text


# the message itself, not its block: while an event runs, the block also shows a progress timer
SEARCH_MESSAGE = "(document.querySelector('#fs-search-status .fs-msg') || {innerText: ''}).innerText"


def search(page, description: str) -> list[str]:
    """Type, press Search, wait for the gallery; returns the thumbnails' captions in rank order."""
    before = page.evaluate(SEARCH_MESSAGE)
    page.locator("#fs-description textarea").fill(description)
    page.locator("#fs-search").click()
    page.wait_for_function(f"b => {SEARCH_MESSAGE} !== b", arg=before)
    settle(page)
    page.wait_for_selector("#fs-results button.thumbnail-item img")
    return page.locator("#fs-results button.thumbnail-item img").evaluate_all("els => els.map(e => e.alt)")


def who(caption: str, appearances: list[Appearance]) -> Appearance | None:
    """The ground-truth person a caption ('JG-01 · Jung-gu\\n2026-03-14 09:20:19 · →SW · 0.88\\n…') shows, if any."""
    camera = caption.split(" · ")[0].removeprefix("PINNED · ")
    clock = caption.split("\n")[1].split(" · ")[0].split()[-1]  # "2026-03-14 09:20:19": the clock
    hits = [a for a in appearances if a.camera_id == camera and a.start <= clock <= a.end]
    # several people can be in view at once; the scripted ones are what these tests are about
    priority = {"target": 0, "double": 1, "lookalike": 2}
    return min(hits, key=lambda a: priority.get(a.role, 9), default=None)


def on_target_at(stop_label: str, appearances: list[Appearance]) -> bool:
    """Whether a route stop ('3. YS-01 09:28:35') is when the target was in that camera's view."""
    _, camera, clock = stop_label.split()
    return any(a.role == "target" and a.camera_id == camera and a.start <= clock <= a.end for a in appearances)


DETAIL_TABLE = "(document.querySelector('#fs-detail-info table') || {innerText: ''}).innerText"


def select(page, index: int) -> None:
    """Click a thumbnail and wait until the detail table shows it (not the progress overlay on the old one)."""
    before = page.evaluate(DETAIL_TABLE)
    page.locator("#fs-results button.thumbnail-item").nth(index).click()
    page.wait_for_function(f"b => {{ const t = {DETAIL_TABLE}; return t !== b && t.includes('Sighting'); }}",
                           arg=before)
    settle(page)


def detail_rows(page) -> dict[str, str]:
    rows = page.locator("#fs-detail-info tr").evaluate_all(
        "trs => trs.map(tr => [tr.cells[0].innerText, tr.cells[1].innerText])")
    return dict(rows)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def shows(page, ground_truth: dict, person: str) -> bool:
    """Whether the selected sighting's box is on ``person`` (ground-truth box at the same offset)."""
    rows = detail_rows(page)
    video = rows["Source file"].replace("\n", "").replace("\\", "/")
    box_text, offset_text = rows["Box"].split(" at ")
    box = tuple(float(v) for v in box_text.split(","))
    t = float(offset_text.removesuffix(" s"))
    for app in ground_truth["appearances"]:
        if app["person_id"] != person or not video.endswith(app["video"]):
            continue
        near = min(app["boxes"], key=lambda b: abs(b[0] - t))
        if abs(near[0] - t) <= 0.5 and iou(box, tuple(near[1:])) >= 0.3:
            return True
    return False


def pin(page, index: int, expect_pinned: int) -> None:
    select(page, index)
    page.locator("#fs-pin").click()
    page.wait_for_function(f"document.querySelector('#fs-marks-summary').innerText.includes('Pinned: {expect_pinned}')")


def download(page, suffix: str, dest: Path) -> Path:
    with page.expect_download() as info:
        page.locator(f"#fs-export-files a[download$='{suffix}']").click()
    path = dest / f"report{suffix}"
    info.value.save_as(path)
    return path


def test_describe_pin_route_map_and_export(page, appearances, ground_truth, sample_index, tmp_path: Path):
    # no users: the open loopback console says so, and acts as the local admin
    page.wait_for_function("document.querySelector('#fs-who').innerText.includes('OPEN CONSOLE')")
    captions = search(page, ground_truth["target"]["description_en"])
    status = page.locator("#fs-search-status").inner_text()
    assert "Understood:" in status and "upper=purple" in status and "lower=blue" in status
    targets = [(i, who(c, appearances)) for i, c in enumerate(captions)]
    targets = [(i, a) for i, a in targets if a is not None and a.role == "target"]
    assert len({a.camera_id for _, a in targets}) >= 2, captions
    shot(page, "search_results")

    # pin the earliest and the latest sighting of the target on the page (different cameras), after
    # checking in the detail view that the box is on the target, as an operator would by eye
    confirmed = []
    for i, a in sorted(targets, key=lambda t: t[1].start):
        select(page, i)
        if shows(page, ground_truth, "target"):
            confirmed.append((i, a))
    assert len({a.camera_id for _, a in confirmed}) >= 2, confirmed
    first = confirmed[0]
    last = next(t for t in reversed(confirmed) if t[1].camera_id != first[1].camera_id)
    pin(page, first[0], 1)
    page.wait_for_selector("#fs-detail-frame img")
    page.wait_for_selector("#fs-detail-strip img")
    page.wait_for_function("document.querySelector('#fs-detail-info').innerText.includes('pinned')")
    shot(page, "sighting_detail")
    pin(page, last[0], 2)
    page.wait_for_function("document.querySelectorAll(\"#fs-results img[alt^='PINNED']\").length === 2")

    page.locator("#fs-to-route").click()
    page.wait_for_selector("#fs-map svg .route-stop")
    route_status = page.locator("#fs-route-status").inner_text()
    assert "Route of" in route_status
    stop_cameras = page.locator("#fs-map svg .route-stop").evaluate_all("els => els.map(e => e.dataset.camera)")
    assert stop_cameras[0] == first[1].camera_id and last[1].camera_id in stop_cameras
    districts = page.locator("#fs-map svg polygon.district").evaluate_all("els => els.map(e => e.dataset.district)")
    assert {"Jung-gu", "Yongsan-gu", "Mapo-gu", "Jongno-gu"} <= set(districts)
    assert page.locator("#fs-timeline svg .timeline-stop").count() >= 2
    assert page.locator("#fs-suggestions li").count() >= 1

    # a stop that shows someone else (a passer-by at the same camera): reject it, the route is rebuilt
    if page.locator("#fs-stop-pick").is_visible():
        page.locator("#fs-stop-pick input").click()
        page.wait_for_selector("#fs-stop-pick li[role=option]")
        labels = [t.strip() for t in page.locator("#fs-stop-pick li[role=option]").all_inner_texts()]
        wrong = next((label for label in labels if not on_target_at(label, appearances)), None)
        if wrong is not None:
            page.locator("#fs-stop-pick li[role=option]", has_text=wrong).click()
        page.keyboard.press("Escape")
        if wrong is not None:
            page.locator("#fs-reject-stops").click()
            page.wait_for_function("document.querySelector('#fs-marks-summary').innerText.includes('Rejected: 1')")
            page.wait_for_selector("#fs-map svg .route-stop")
            stop_clock = wrong.split()[-1]
            page.wait_for_function("c => !document.querySelector('#fs-stops').innerText.includes(c + '–')",
                                   arg=stop_clock)
    no_traceback(page)
    shot(page, "route_map")

    # the first next-camera suggestion ahead of the person (the sample city's route may end with every
    # camera left behind it: then none is offered, and the ones behind are listed apart)
    if page.locator("#fs-suggestions ol li b").count():
        camera = page.locator("#fs-suggestions ol li b").first.inner_text()
        page.locator("#fs-search-suggestion").click()
        page.wait_for_function("c => document.querySelector('#fs-search-status').innerText.includes('cameras ' + c)",
                               arg=camera)
        assert page.locator("#fs-time-from textarea, #fs-time-from input").first.input_value().startswith("20")
    else:
        assert "Behind the person" in page.locator("#fs-suggestions").inner_text()
        assert not page.locator("#fs-search-suggestion").is_visible()

    page.get_by_role("tab", name="Case export").click()
    page.wait_for_function("document.querySelector('#fs-export-status').innerText.includes('pinned: 2')")
    page.locator("#fs-operator textarea, #fs-operator input").first.fill("Operator Kim")
    page.locator("#fs-export").click()
    page.wait_for_selector("#fs-export-files a[download$='.html']")
    shot(page, "case_export")
    html_path = download(page, ".html", tmp_path)
    json_path = download(page, ".json", tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "2026-SEO-0142" in html and "Operator Kim" in html and "Confirmed route" in html
    assert first[1].camera_id in html and last[1].camera_id in html and "data:image/jpeg;base64," in html
    assert "Frames (other people blurred)" in html and PURPOSE in html
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["case"]["case_number"] == "2026-SEO-0142" and report["case"]["purpose"] == PURPOSE
    # every exported picture was cut from a redacted frame of its source video
    assert all(s["frame_jpeg_base64"] and "blurred" in s["redaction"] for s in report["route"])
    assert report["query"]["text"] == ground_truth["target"]["description_en"]
    assert report["query"]["filters"]["Cameras"] == "all"  # the route's search, not the later suggestion search
    route_cams = [s["camera_id"] for s in report["route"]]
    assert route_cams[0] == first[1].camera_id and last[1].camera_id in route_cams
    assert all(s["video_file"].endswith(".mp4") and s["offset_best_s"] >= 0 for s in report["route"])
    assert not any(str(s["video_file"]).startswith("/") for s in report["route"])  # no server paths

    # the audit log has the searches, the route and the export, with the case and purpose
    from core.audit import audit_log_path, verify_log

    log = audit_log_path(sample_index)
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    mine = [r for r in records if r["case"] == CASE_NUMBER and r["purpose"] == PURPOSE]
    assert {"search", "route", "export"} <= {r["event"] for r in mine}
    assert any(r["event"] == "search" and r["details"]["query"] == ground_truth["target"]["description_en"]
               for r in mine)
    assert verify_log(log).ok

    # the report as the police will see it
    page.goto(html_path.as_uri())
    page.wait_for_selector("svg#report-map")
    shot(page, "report")


def test_reference_photo_finds_the_target(page, appearances, ground_truth, sample_city, tmp_path: Path):
    import cv2

    from core.video_frames import read_frames_at

    # crop the target out of a generated frame, using the ground-truth box where they are largest
    app = next(a for a in ground_truth["appearances"] if a["role"] == "target" and a["camera_id"] == "YS-02")
    t, x1, y1, x2, y2 = max(app["boxes"], key=lambda b: (b[3] - b[1]) * (b[4] - b[2]))
    frame = read_frames_at(Path(sample_city.root) / app["video"], [t])[0]
    assert frame is not None
    mx, my = 0.15 * (x2 - x1), 0.08 * (y2 - y1)
    crop = frame[max(0, int(y1 - my)): int(y2 + my), max(0, int(x1 - mx)): int(x2 + mx)]
    photo = tmp_path / "reference_photo.png"
    cv2.imwrite(str(photo), crop)

    page.locator("#fs-photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("document.querySelector('#fs-photo-status').innerText.includes('ready')")
    page.wait_for_selector("#fs-photo-preview img")
    page.locator("#fs-search").click()
    page.wait_for_function("document.querySelector('#fs-search-status').innerText.includes('Photo:')")
    page.wait_for_selector("#fs-results button.thumbnail-item img")
    captions = page.locator("#fs-results button.thumbnail-item img").evaluate_all("els => els.map(e => e.alt)")
    found = [who(c, appearances) for c in captions[:6]]
    assert any(a is not None and a.person == "target" for a in found), captions
    no_traceback(page)
    shot(page, "photo_search")

    # reject one that is not the target, then ask for more like the best one
    other = next((i for i, a in enumerate(found) if a is None or a.person != "target"), None)
    if other is not None:
        select(page, other)
        page.locator("#fs-reject").click()
        page.wait_for_function("document.querySelector('#fs-marks-summary').innerText.includes('Rejected: 1')")
        page.wait_for_function("document.querySelectorAll(\"#fs-results img[alt^='REJECTED']\").length === 1")
    select(page, next(i for i, a in enumerate(found) if a is not None and a.person == "target"))
    page.locator("#fs-like").click()
    page.wait_for_function("document.querySelector('#fs-search-status').innerText.includes('More like')")
    no_traceback(page)


def test_errors_are_readable_messages(page, appearances, tmp_path: Path):
    # 1. nothing to search for
    page.locator("#fs-search").click()
    page.wait_for_selector("#fs-search-status .fs-msg-error")
    assert "Type a description" in page.locator("#fs-search-status").inner_text()
    no_traceback(page)
    shot(page, "error_empty_search")

    # 2. a witness statement uploaded as a photo
    bad = tmp_path / "witness_statement.png"
    bad.write_text("Last seen near the station wearing a purple coat.", encoding="utf-8")
    page.locator("#fs-photo input[type=file]").set_input_files(str(bad))
    page.wait_for_selector("#fs-photo-status .fs-msg-error")
    assert "image" in page.locator("#fs-photo-status").inner_text().lower()
    assert page.locator("#fs-photo-preview img").count() == 0
    no_traceback(page)
    shot(page, "error_bad_upload")

    # 3. a time the search cannot read
    page.locator("#fs-time-from textarea, #fs-time-from input").first.fill("half past nine")
    page.locator("#fs-description textarea").fill("purple coat")
    page.locator("#fs-search").click()
    page.wait_for_function("document.querySelector('#fs-search-status').innerText.includes('ISO 8601')")
    page.locator("#fs-time-from textarea, #fs-time-from input").first.fill("")

    # 4. nobody like that: the search says so instead of showing the least bad matches
    search_status = page.locator("#fs-search-status")
    page.locator("#fs-description textarea").fill("yellow raincoat, red trousers")
    page.locator("#fs-search").click()
    page.wait_for_selector("#fs-search-status .fs-msg-warn")
    settle(page)
    assert "no plausible" in search_status.inner_text().lower() and "upper=yellow" in search_status.inner_text()
    assert page.locator("#fs-results button.thumbnail-item").count() == 0
    shot(page, "no_result")

    # 5. pinning the target and their double 2 km away 2 minutes apart: no route can hold both
    captions = search(page, "purple coat, blue jeans")
    people = [who(c, appearances) for c in captions]
    doubles = [i for i, a in enumerate(people) if a is not None and a.role == "double"]
    targets = [i for i, a in enumerate(people) if a is not None and a.role == "target" and a.camera_id == "YS-01"]
    assert doubles and targets, captions
    double, target = doubles[0], targets[0]
    pin(page, double, 1)
    pin(page, target, 2)
    page.locator("#fs-to-route").click()
    page.wait_for_selector("#fs-route-status .fs-msg-error")
    msg = page.locator("#fs-route-status").inner_text()
    assert "cannot" in msg and "unpin" in msg
    no_traceback(page)
    shot(page, "error_impossible_route")


def test_index_status_and_reindex_with_progress(page):
    page.get_by_role("tab", name="Index").click()
    page.wait_for_function("document.querySelector('#fs-index-status').innerText.includes('Sightings')")
    text = page.locator("#fs-index-status").inner_text()
    for camera in ("JG-01", "JG-02", "YS-01", "YS-02", "MP-01", "JN-01", "JN-02"):
        assert camera in text
    assert "CLIP model" in text and "not indexed" not in text
    page.locator("#fs-reindex").click()
    page.wait_for_function("document.querySelector('#fs-reindex-status').innerText.includes('Reindex finished')")
    assert "unchanged" in page.locator("#fs-reindex-status").inner_text()
    no_traceback(page)
    shot(page, "index_status")

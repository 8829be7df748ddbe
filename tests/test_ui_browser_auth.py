"""Login, required case fields and roles in the console, in Debian's chromium (Playwright).

One console with a users file (an admin, two operators) runs for the module on the indexed sample city.
Screenshots: tests/artifacts/ui_login.png, ui_login_failed.png, ui_case_required.png, ui_operator_index.png,
ui_admin_index.png.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, CHROMIUM
from tests.test_ui_browser import (
    TIMEOUT_MS,
    VIEWPORT,
    _free_port,
    fill_case,
    no_traceback,
    settle,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason=f"Debian chromium not installed at {CHROMIUM} (apt-get install -y chromium)")]

USERS = {"kim": ("admin", "kim's long password"), "lee": ("operator", "lee's long password"),
         "park": ("operator", "park's long password")}
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def secured(browser, sample_index, sample_city, tmp_path_factory) -> Iterator:
    from core.auth import UserStore
    from core.registry import load_registry
    from ui.app import launch

    state = tmp_path_factory.mktemp("secured-console")
    cfg = sample_index.with_overrides({"auth.users_file": str(state / "users.json"),
                                       "audit.log_path": str(state / "audit.jsonl"),
                                       "auth.max_failures": MAX_FAILURES})
    store = UserStore(state / "users.json")
    for name, (role, password) in USERS.items():
        store.add(name, role, password)
    running = launch(cfg, load_registry(sample_city.registry), host="127.0.0.1", port=_free_port(), block=False,
                     quiet=True, archive=sample_city.archive, cache_dir=state / "cache")
    yield running
    running.close()


def audit_events(running) -> list[dict]:
    return [json.loads(line) for line in running.console.audit.path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def login_form(page, name: str, password: str) -> int:
    """Fill and send Gradio's login form; returns the HTTP status of the login request."""
    page.wait_for_selector("input[type=password]")
    page.locator("input:not([type=password])").first.fill(name)
    page.locator("input[type=password]").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.rstrip("/").endswith("/login")) as resp:
        page.get_by_role("button", name="Login").click()
    return resp.value.status


def login(context, url: str, name: str):
    page = context.new_page()
    page.goto(url)
    login_form(page, name, USERS[name][1])
    page.wait_for_selector("#fs-search")
    page.wait_for_function("n => document.querySelector('#fs-who').innerText.includes('Signed in as ' + n)",
                           arg=name)
    settle(page)
    return page


def shot(page, name: str) -> None:
    settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui_{name}.png"), full_page=True)


def test_login_page_refuses_a_wrong_password_then_signs_in(secured, context):
    page = context.new_page()
    page.goto(secured.url)
    page.wait_for_selector("input[type=password]")
    assert "every search, photo, route and export is logged" in page.locator("body").inner_text()
    assert page.locator("#fs-search").count() == 0  # nothing of the console before the login
    shot(page, "login")
    assert login_form(page, "lee", "not lee's password") == 400
    page.wait_for_function("document.body.innerText.toLowerCase().includes('incorrect credentials')")
    shot(page, "login_failed")
    login_form(page, "lee", USERS["lee"][1])
    page.wait_for_selector("#fs-search")
    page.wait_for_function("document.querySelector('#fs-who').innerText.includes('Signed in as lee (operator)')")
    events = [(r["event"], r["user"]) for r in audit_events(secured)]
    assert ("login_failed", "lee") in events and ("login", "lee") in events
    client = next(r["client"] for r in audit_events(secured) if r["event"] == "login_failed")
    assert client == "127.0.0.1"  # the login's client address reaches the audit log


def test_repeated_failures_lock_the_account(secured, context):
    page = context.new_page()
    page.goto(secured.url)
    for _ in range(MAX_FAILURES):
        assert login_form(page, "park", "guessing again") == 400
    assert login_form(page, "park", USERS["park"][1]) == 400  # the right password, but too late
    page.wait_for_timeout(1000)
    assert page.locator("#fs-search").count() == 0
    assert [r["event"] for r in audit_events(secured) if r["user"] == "park"][-1] == "login_refused"


def test_case_number_and_purpose_are_required_before_searching(secured, context):
    page = login(context, secured.url, "lee")
    page.locator("#fs-description textarea").fill("purple coat, blue jeans")
    page.locator("#fs-search").click()
    page.wait_for_selector("#fs-search-status .fs-msg-error")
    assert "Enter the case number" in page.locator("#fs-search-status").inner_text()
    shot(page, "case_required")
    page.locator("#fs-case-number textarea, #fs-case-number input").first.fill("2026-SEO-0142")
    page.locator("#fs-search").click()
    page.wait_for_function("document.querySelector('#fs-search-status').innerText.includes('Enter the purpose')")
    assert page.locator("#fs-results button.thumbnail-item").count() == 0
    searches_before = sum(1 for r in audit_events(secured) if r["event"] == "search")
    fill_case(page, "2026-SEO-0142", "missing person, reported 09:05 near Seoul Station")
    page.locator("#fs-search").click()
    page.wait_for_selector("#fs-results button.thumbnail-item img")
    no_traceback(page)
    searches = [r for r in audit_events(secured) if r["event"] == "search"]
    assert len(searches) == searches_before + 1  # refused attempts never reached the index
    last = searches[-1]
    assert (last["user"], last["role"], last["case"]) == ("lee", "operator", "2026-SEO-0142")
    assert last["purpose"] == "missing person, reported 09:05 near Seoul Station"
    assert last["details"]["query"] == "purple coat, blue jeans" and last["details"]["results"] > 0


def _call_hidden_event(url: str, name: str, fn_index: int, trigger_id: int) -> str:
    """What a crafted request does: sign in over HTTP and queue the (hidden) reindex event by its index."""
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/login", data={"username": name, "password": USERS[name][1]}).status_code == 200
        session_hash = uuid.uuid4().hex[:11]
        joined = http.post("/gradio_api/queue/join", json={"data": [None], "event_data": None, "fn_index": fn_index,
                                                           "trigger_id": trigger_id, "session_hash": session_hash})
        assert joined.status_code == 200, joined.text
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return json.dumps(msg.get("output"))
    raise AssertionError("the event never completed")


def test_an_operator_cannot_reindex_not_even_with_a_crafted_request(secured, context):
    page = login(context, secured.url, "lee")
    page.get_by_role("tab", name="Index").click()
    page.wait_for_function("document.querySelector('#fs-index-status').innerText.includes('Sightings')")
    assert page.locator("#fs-reindex").count() == 0 or not page.locator("#fs-reindex").is_visible()
    assert page.locator("#fs-users").count() == 0 or not page.locator("#fs-users").is_visible()
    shot(page, "operator_index")

    fn_index, fn = next((i, f) for i, f in secured.app.fns.items() if f.name == "on_reindex")
    out = _call_hidden_event(secured.url, "lee", fn_index, fn.targets[0][0])
    assert "may not start a reindex" in out
    denied = [r for r in audit_events(secured) if r["event"] == "denied"]
    assert denied and denied[-1]["user"] == "lee" and denied[-1]["details"]["action"] == "start a reindex"
    assert not any(r["event"] == "reindex_start" and r["user"] == "lee" for r in audit_events(secured))


def test_an_admin_sees_reindex_and_user_management(secured, context):
    page = login(context, secured.url, "kim")
    page.get_by_role("tab", name="Index").click()
    page.wait_for_selector("#fs-reindex")
    page.get_by_text("Users (admin)").click()
    page.wait_for_function("(document.querySelector('#fs-users-list') || {innerText: ''}).innerText.includes('lee')")
    assert "operator" in page.locator("#fs-users-list").inner_text()
    shot(page, "admin_index")
    page.locator("#fs-reindex").click()
    page.wait_for_function("document.querySelector('#fs-reindex-status').innerText.includes('Reindex finished')")
    no_traceback(page)
    assert any(r["event"] == "reindex_end" and r["user"] == "kim" for r in audit_events(secured))


def test_the_search_api_needs_a_login_and_a_case(secured):
    # case number, purpose, text, direction, from, to, districts, cameras, limit (all of them over raw HTTP)
    body = {"data": ["2026-SEO-0142", "missing person, API check", "purple coat", "", "", "", [], [], 10]}
    with httpx.Client(base_url=secured.url, timeout=60) as http:
        assert http.post("/gradio_api/call/search", json=body).status_code == 401
        http.post("/login", data={"username": "lee", "password": USERS["lee"][1]})
        event = http.post("/gradio_api/call/search", json=body).json()["event_id"]
        text = http.get(f"/gradio_api/call/search/{event}").text
    assert "event: complete" in text
    result = json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].strip())[0]
    assert result["case_number"] == "2026-SEO-0142" and result["sightings"]
    last = audit_events(secured)[-1]
    assert last["event"] == "search" and last["user"] == "lee" and last["details"]["query"] == "purple coat"
    # the UI's own events stay off the public API
    info = httpx.get(secured.url + "gradio_api/info", cookies=http.cookies).json()
    assert list(info["named_endpoints"]) == ["/search"]


def test_audit_log_verifies_after_all_this(secured):
    from core.audit import verify_log

    res = verify_log(secured.console.audit.path)
    assert res.ok, res.summary()
    assert Path(str(secured.console.audit.path) + ".head").exists()

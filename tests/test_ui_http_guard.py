"""The console's HTTP layer, attacked over real HTTP (ui/http_guard.py).

Each test launches a console with users on 127.0.0.1 (a small hand-made index, no CLIP model) and talks to
it with httpx, as the tester did: forged X-Forwarded-For, a removed user's cookie, private events called
by name. The address parsing is also checked on its own, without a server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from core.auth import UserStore
from core.config import ConfigError
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, write_index
from ui.http_guard import TrustedProxies

GRID = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100)])
PASSWORDS = {"kim": "kim's long password", "lee": "lee's long password"}
SEARCH_BODY = {"data": ["2026-SEO-0142", "missing child near the station", "purple top", "", "", "", [], [], 5]}
FORGED = "203.0.113.66"


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uri = tmp_path_factory.mktemp("guard-index") / "index"
    rows = [Row("G-1", T0, T0 + 10, upper="purple", lower="blue", bearing=90, track_id=1),
            Row("G-2", T0 + 120, T0 + 130, upper="purple", lower="blue", bearing=90, track_id=2),
            Row("G-3", T0 + 300, T0 + 310, upper="red", lower="black", bearing=270, track_id=3)]
    for r in rows:  # TEMP-SCHEMA
        r.extra.setdefault("hair_colour", np.zeros(11, np.float32))  # TEMP-SCHEMA
    write_index(uri, GRID, rows)
    return uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(small_index: Path, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Launch a console with an admin (kim) and an operator (lee), or open (``users=False``);
    ``serve(**config overrides)``."""
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from ui.app import launch

    running = []

    def start(users: bool = True, **overrides: object):
        state = tmp_path / f"console-{len(running)}"
        state.mkdir()
        cfg = make_config(small_index, **{"audit__log_path": str(state / "audit.jsonl"),
                                          "auth__users_file": str(state / "users.json"), **overrides})
        if users:
            store = UserStore(state / "users.json")
            store.add("kim", "admin", PASSWORDS["kim"])
            store.add("lee", "operator", PASSWORDS["lee"])
        (state / "archive").mkdir()
        console = launch(cfg, GRID, host="127.0.0.1", port=_free_port(), block=False, quiet=True,
                         archive=state / "archive", cache_dir=state / "cache",
                         engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))
        running.append(console)
        return console

    yield start
    for console in running:
        console.close()


def client(running) -> httpx.Client:
    return httpx.Client(base_url=running.url, timeout=60, trust_env=False)


def login(http: httpx.Client, name: str, password: str | None = None, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return http.post("/login", data={"username": name, "password": password or PASSWORDS[name]},
                     headers=headers).status_code


def audit(running) -> list[dict]:
    return [json.loads(line) for line in running.console.audit.path.read_text(encoding="utf-8").splitlines()]


def call_search(http: httpx.Client, headers: dict[str, str] | None = None) -> dict:
    """The documented API: POST /gradio_api/call/search, then read the event stream."""
    posted = http.post("/gradio_api/call/search", json=SEARCH_BODY, headers=headers or {})
    assert posted.status_code == 200, posted.text
    text = http.get(f"/gradio_api/call/search/{posted.json()['event_id']}", headers=headers or {}).text
    assert "event: complete" in text, text
    return json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].strip())[0]


# ------------------------------------------------------------------------------- client address


@pytest.mark.parametrize("trusted, peer, forwarded, expected", [
    ([], "127.0.0.1", ["203.0.113.66"], "127.0.0.1"),  # nobody trusted: the peer, whatever the header
    (["10.0.0.5"], "127.0.0.1", ["203.0.113.66"], "127.0.0.1"),  # the peer is not the trusted proxy
    (["10.0.0.5"], "10.0.0.5", ["203.0.113.66"], "203.0.113.66"),
    (["10.0.0.5"], "10.0.0.5", ["6.6.6.6, 203.0.113.66"], "203.0.113.66"),  # rightmost: the client's own is left
    (["10.0.0.0/8"], "10.0.0.5", ["203.0.113.66, 10.9.9.9"], "203.0.113.66"),  # proxies in a chain are skipped
    (["10.0.0.0/8"], "10.0.0.5", ["6.6.6.6", "203.0.113.66:51234"], "203.0.113.66"),  # two headers; a port
    (["10.0.0.0/8"], "10.0.0.5", ["10.1.1.1"], "10.0.0.5"),  # only proxies named: the peer
    (["10.0.0.0/8"], "10.0.0.5", ["6.6.6.6, junk"], "10.0.0.5"),  # garbage a proxy never writes: trust stops
    (["10.0.0.0/8"], "10.0.0.5", [], "10.0.0.5"),
    (["::1"], "::1", ["[2001:db8::7]:443"], "2001:db8::7"),
    (["127.0.0.1"], "::ffff:127.0.0.1", ["198.51.100.2"], "198.51.100.2"),  # dual-stack socket, IPv4 peer
])
def test_the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise(trusted, peer, forwarded, expected):
    assert TrustedProxies.parse(trusted).client(peer, forwarded) == expected


def test_trusted_proxies_setting_parses_and_refuses_garbage(small_index: Path):
    cfg = make_config(small_index, ui__trusted_proxies="10.0.0.5, 192.168.0.0/16")
    assert cfg.ui.trusted_proxies == ["10.0.0.5", "192.168.0.0/16"]
    assert make_config(small_index).ui.trusted_proxies == []
    with pytest.raises(ConfigError, match=r"ui.trusted_proxies: 'proxy.example' is not an IP address"):
        TrustedProxies.parse(["10.0.0.5", "proxy.example"])


def test_forged_x_forwarded_for_neither_bypasses_lockout_nor_reaches_the_audit_log(serve):
    running = serve(auth__max_client_failures=3, auth__max_failures=100)
    with client(running) as http:
        for i in range(4):  # a new forged address and a new name each time, as the tester did
            assert login(http, f"guess{i}", "wrong password", forwarded=f"203.0.113.{i + 1}") == 400
        # the address (127.0.0.1) is locked: the right password, from yet another forged address, is refused
        assert login(http, "lee", forwarded=FORGED) == 400
    recs = [r for r in audit(running) if r["event"].startswith("login")]
    assert [r["event"] for r in recs] == ["login_failed"] * 3 + ["login_refused"] * 2
    assert {r["client"] for r in recs} == {"127.0.0.1"}
    assert "203.0.113." not in running.console.audit.path.read_text(encoding="utf-8")


def test_an_open_consoles_events_record_the_peer_not_the_header(serve):
    running = serve(users=False)
    with client(running) as http:
        assert call_search(http, {"X-Forwarded-For": FORGED})["sightings"]
    last = audit(running)[-1]
    assert (last["event"], last["user"], last["client"]) == ("search", "local", "127.0.0.1")


def test_a_trusted_proxys_forwarded_address_is_the_client_everywhere(serve):
    # the test client on 127.0.0.1 plays the proxy; 10.0.0.0/8 is a second proxy in the chain
    running = serve(ui__trusted_proxies="127.0.0.1, 10.0.0.0/8", auth__max_client_failures=2)
    via = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.1.2.3"}  # client-written 6.6.6.6 is ignored
    with client(running) as http:
        assert login(http, "lee", forwarded=via["X-Forwarded-For"]) == 200
        assert call_search(http, via)["sightings"]  # an event: its gr.Request address is the same one
    recs = audit(running)
    assert (recs[-2]["event"], recs[-2]["client"]) == ("login", "198.51.100.7")
    assert (recs[-1]["event"], recs[-1]["user"], recs[-1]["client"]) == ("search", "lee", "198.51.100.7")
    # lockout counts per forwarded address: 198.51.100.8 is locked, 198.51.100.9 is not
    with client(running) as http:
        for i in range(2):
            assert login(http, f"guess{i}", "wrong password", forwarded="198.51.100.8") == 400
        assert login(http, "lee", forwarded="198.51.100.8") == 400
        assert login(http, "lee", forwarded="198.51.100.9") == 200
    assert audit(running)[-2]["event"] == "login_refused" and audit(running)[-2]["client"] == "198.51.100.8"


# ------------------------------------------------------------------------------------ sessions


def test_a_removed_users_cookie_gets_401_on_every_route(serve, tmp_path: Path):
    running = serve()
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with client(running) as http:
        assert login(http, "lee") == 200
        up = http.post("/gradio_api/upload", files={"files": ("photo.png", photo.read_bytes(), "image/png")})
        assert up.status_code == 200, up.text
        download = f"/gradio_api/file={up.json()[0]}"
        assert http.get(download).status_code == 200
        assert http.get("/config").status_code == 200

        UserStore(running.console.access.users_file).remove("lee")  # `footage-search users remove lee`
        assert http.get(download).status_code == 401
        # later requests too: the session is revoked, not just refused once
        assert http.post("/gradio_api/upload", files={"files": ("p.png", b"x", "image/png")}).status_code == 401
        assert http.get("/config").status_code == 401
        assert http.post("/gradio_api/call/search", json=SEARCH_BODY).status_code == 401
        assert http.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}
                         ).status_code == 401
        # re-adding the name does not bring the old session back
        UserStore(running.console.access.users_file).add("lee", "operator", PASSWORDS["lee"])
        assert http.get(download).status_code == 401
        assert http.get("/").status_code == 200  # the page itself: Gradio's login form
        assert login(http, "lee") == 200 and http.get("/config").status_code == 200


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(serve):
    running = serve()
    with client(running) as old, client(running) as other:
        assert login(old, "lee") == 200 and login(other, "kim") == 200
        assert old.get("/config").status_code == 200
        UserStore(running.console.access.users_file).add("lee", "operator", "a brand new password", replace=True)
        assert old.get("/config").status_code == 401
        assert other.get("/config").status_code == 200  # kim's session is untouched
        assert login(old, "lee", "a brand new password") == 200 and old.get("/config").status_code == 200


def test_without_a_session_only_the_login_page_is_served(serve):
    running = serve()
    with client(running) as http:
        assert http.get("/").status_code == 200 and "<html" in http.get("/").text.lower()
        assert http.get("/config").status_code == 401  # Gradio's answer, with the login message
        # routes Gradio itself serves without a login are refused here
        for path in ("/gradio_api/heartbeat/abc", "/gradio_api/upload_progress?upload_id=x", "/gradio_api/info"):
            assert http.get(path).status_code == 401, path
        assert http.post("/gradio_api/cancel", json={"session_hash": "x", "fn_index": 0, "event_id": "e"}
                         ).status_code == 401
        assert http.post("/gradio_api/reset", json={"session_hash": "x", "event_id": "e"}).status_code == 401


# ------------------------------------------------------------------------------------- the API


def test_private_events_are_refused_by_name_while_search_works(serve):
    running = serve()
    private = sorted({fn.api_name for fn in running.app.fns.values() if fn.api_visibility == "private"})
    assert "on_reindex" in private and len(private) > 10
    with client(running) as http:
        assert login(http, "kim") == 200  # an admin: the events would run if they were reached
        for name in private:
            for path in (f"/gradio_api/call/{name}", f"/gradio_api/call/v2/{name}", f"/gradio_api/run/{name}",
                         f"/gradio_api/api/{name}"):
                got = http.post(path, json={"data": [None]})
                assert got.status_code == 404 and "no API endpoint" in got.text, (path, got.status_code)
        assert http.get("/gradio_api/call/on_reindex/some-event").status_code == 404
        result = call_search(http)
        assert result["case_number"] == "2026-SEO-0142" and result["sightings"]
        assert list(http.get("/gradio_api/info").json()["named_endpoints"]) == ["/search"]
    events = [r["event"] for r in audit(running)]
    assert "reindex_start" not in events and events[-1] == "search"

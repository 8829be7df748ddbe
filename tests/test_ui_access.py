"""Roles, case fields and the audit trail at the handler level (what a browser cannot get around).

Every check here is on the server: the handlers are called directly, as a crafted request would reach
them, with the identity the console binds from the login.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.audit import AuditLog, verify_log
from core.auth import Identity, Role, UserStore
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, write_index
from ui.access import AccessDenied, ConsoleAccess
from ui.admin_tab import add_user, index_status_view, reindex, remove_user, users_view
from ui.console import CaseContext, Console, ConsoleError, Session
from ui.detail import select_sighting
from ui.export_tab import export_case
from ui.marks import pin_selected
from ui.policy import header_html, set_case
from ui.route_tab import build_route
from ui.search_tab import api_search, change_page, more_like_this, run_search, upload_photo

GRID = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100)])
OPERATOR = Identity("lee", Role.OPERATOR, True, "10.0.0.21")
ADMIN = Identity("kim", Role.ADMIN, True, "10.0.0.20")
CASE = CaseContext("2026-SEO-0142", "missing child, 8, reported 09:10 at the station")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory):
    uri = tmp_path_factory.mktemp("access-index") / "index"
    rows = [Row("G-1", T0, T0 + 10, upper="purple", lower="blue", bearing=90, track_id=1),
            Row("G-2", T0 + 120, T0 + 130, upper="purple", lower="blue", bearing=90, track_id=2),
            Row("G-3", T0 + 300, T0 + 310, upper="purple", lower="blue", bearing=120, track_id=3),
            Row("G-1", T0 + 30, T0 + 40, upper="red", lower="black", bearing=270, track_id=4)]
    for r in rows:  # TEMP-SCHEMA
        r.extra.setdefault("hair_colour", np.zeros(11, np.float32))  # TEMP-SCHEMA
    write_index(uri, GRID, rows)
    return uri


@pytest.fixture
def console(small_index, tmp_path: Path) -> Console:
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    cfg = make_config(small_index, **{"audit__log_path": str(tmp_path / "audit.jsonl"),
                                      "auth__users_file": str(tmp_path / "users.json")})
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "admin", "correct horse battery")
    store.add("lee", "operator", "correct horse battery")
    (tmp_path / "archive").mkdir()
    return Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache", page_size=3, archive=tmp_path / "archive",
                   engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))


def session(who: Identity = OPERATOR, case: CaseContext | None = CASE) -> Session:
    return Session(user=who, case=case)


def audit_records(console: Console) -> list[dict]:
    assert console.audit is not None
    return [json.loads(line) for line in console.audit.path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------------------- roles


def test_an_operator_cannot_reindex_even_by_calling_the_handler(console: Console, monkeypatch):
    ran = []
    monkeypatch.setattr(console.reindexer, "run", lambda *a, **k: ran.append(1))
    with pytest.raises(AccessDenied, match=r"operator\) may not start a reindex"):
        reindex(console, session(OPERATOR))
    assert not ran
    denied = audit_records(console)[-1]
    assert denied["event"] == "denied" and denied["user"] == "lee" and denied["details"]["action"] == "start a reindex"
    # nobody signed in at all: refused too
    with pytest.raises(AccessDenied, match="not signed in"):
        reindex(console, Session())
    assert not ran


def test_an_admin_reindex_is_audited(console: Console):
    msg = reindex(console, session(ADMIN, None))
    assert "Reindex finished" in msg
    events = [r["event"] for r in audit_records(console)]
    assert events[-2:] == ["reindex_start", "reindex_end"]


def test_only_admins_manage_users(console: Console):
    with pytest.raises(AccessDenied, match="may not manage users"):
        add_user(console, session(OPERATOR), "park", "admin", "another password")
    with pytest.raises(AccessDenied):
        remove_user(console, session(OPERATOR), "kim")
    with pytest.raises(AccessDenied):
        users_view(console, session(OPERATOR))
    assert "park" not in console.access.authenticator.store.users()
    msg = add_user(console, session(ADMIN), "park", "operator", "another password")
    assert "park" in msg and "park" in users_view(console, session(ADMIN))
    with pytest.raises(ConsoleError, match="your own account"):
        remove_user(console, session(ADMIN), "kim")
    remove_user(console, session(ADMIN), "park")
    events = [(r["event"], r["details"].get("name")) for r in audit_records(console)]
    assert ("user_add", "park") in events and ("user_remove", "park") in events


@pytest.mark.parametrize("call", [
    lambda c, s: run_search(c, s, "purple top", "any", None, None, [], []),
    lambda c, s: build_route(c, s),
    lambda c, s: export_case(c, s, "x", ""),
    lambda c, s: select_sighting(c, s, 0),
    lambda c, s: index_status_view(c, s),
])
def test_no_identity_no_access(console: Console, call):
    with pytest.raises(AccessDenied, match="not signed in"):
        call(console, Session(case=CASE))


# ----------------------------------------------------------------------------------------- case


@pytest.mark.parametrize("number, purpose, words", [
    ("", "missing child near the station", "Enter the case number"),
    ("   ", "missing child near the station", "Enter the case number"),
    ("<script>", "missing child near the station", "not valid"),
    ("x" * 60, "missing child near the station", "not valid"),
    ("2026-SEO-0142", "", "Enter the purpose"),
    ("2026-SEO-0142", "look", "at least 10"),
    ("2026-SEO-0142", "y" * 400, "at most 300"),
])
def test_case_number_and_purpose_are_required_and_checked(console: Console, number, purpose, words):
    s = session(case=None)
    with pytest.raises(ConsoleError, match=words):
        set_case(console, s, number, purpose)
    assert s.case is None
    with pytest.raises(ConsoleError, match="case number and purpose first"):
        run_search(console, s, "purple top", "any", None, None, [], [])


def test_case_fields_are_normalised(console: Console):
    s = session(case=None)
    case = set_case(console, s, "  2026-SEO-0142 ", "missing   child,\n reported at 09:10")
    assert case == CaseContext("2026-SEO-0142", "missing child, reported at 09:10") and s.case == case


# ---------------------------------------------------------------------------------------- audit


def test_searches_are_audited_with_case_query_filters_and_results(console: Console):
    s = session()
    view = run_search(console, s, "purple top, blue jeans", "any", None, None, ["North-gu"], [])
    change_page(console, s, +1)
    select_sighting(console, s, 0)
    more_like_this(console, s)
    with pytest.raises(Exception, match="ISO 8601"):
        run_search(console, s, "red jacket", "N", "half past nine", None, [], [])
    recs = [r for r in audit_records(console) if r["event"] == "search"]
    assert [r["details"]["kind"] for r in recs] == ["describe", "page", "like", "describe"]
    first = recs[0]
    assert (first["user"], first["role"], first["client"]) == ("lee", "operator", "10.0.0.21")
    assert (first["case"], first["purpose"]) == (CASE.number, CASE.purpose)
    assert first["details"]["query"] == "purple top, blue jeans"
    assert first["details"]["filters"]["districts"] == ["North-gu"]
    assert first["details"]["results"] == s.total or first["details"]["results"] >= len(view.gallery)
    assert recs[2]["details"]["like"]
    assert "ISO 8601" in recs[3]["details"]["error"] and recs[3]["details"]["filters"]["direction"] == "N"
    assert verify_log(console.audit.path).ok


def test_photo_uploads_log_a_digest_never_the_image(console: Console, tmp_path: Path):
    img = np.full((200, 100, 3), 200, np.uint8)
    img[40:180, 30:70] = (128, 0, 128)
    photo = tmp_path / "reference.png"
    cv2.imwrite(str(photo), img)
    data = photo.read_bytes()
    s = session()
    upload_photo(console, s, str(photo))
    bad = tmp_path / "statement.png"
    bad.write_text("not a photo at all", encoding="utf-8")
    with pytest.raises(ConsoleError):
        upload_photo(console, s, str(bad))
    with pytest.raises(ConsoleError, match="case number"):
        upload_photo(console, session(case=None), str(photo))
    ups = [r for r in audit_records(console) if r["event"] == "photo_upload"]
    assert ups[0]["details"]["sha256"] == hashlib.sha256(data).hexdigest() and ups[0]["details"]["accepted"]
    assert ups[1]["details"]["accepted"] is False and len(ups) == 2
    text = console.audit.path.read_bytes()
    assert base64.b64encode(data)[:40] not in text and data[100:140] not in text


def test_route_and_export_are_audited_with_the_files_written(console: Console):
    s = session()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    select_sighting(console, s, 0)
    pin_selected(console, s)
    build_route(console, s)
    files, _ = export_case(console, s, "", "notes")
    recs = audit_records(console)
    route = next(r for r in recs if r["event"] == "route")
    assert route["details"]["pinned"] == s.pinned and route["details"]["stops"]
    export = recs[-1]
    assert export["event"] == "export" and export["case"] == CASE.number
    assert export["details"]["operator"] == "lee"  # the signed-in account when no name is typed
    assert export["details"]["files"] == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.paths()}
    # no source video for these synthetic sightings: the pictures are withheld, never exported unredacted
    assert export["details"]["pictures_withheld"] == len(export["details"]["route"])
    report = json.loads(files.json.read_text(encoding="utf-8"))
    assert all(st["thumbnail_jpeg_base64"] is None and "withheld" in st["redaction"] for st in report["route"])
    assert report["case"]["purpose"] == CASE.purpose


def test_api_search_goes_through_the_same_checks(console: Console):
    out = api_search(console, Session(user=OPERATOR), "2026-SEO-0142", "missing child near the station",
                       "purple top", limit=2)
    assert out["total"] >= 2 and len(out["sightings"]) == 2 and out["sightings"][0]["camera_id"].startswith("G-")
    json.dumps(out)  # plain JSON
    with pytest.raises(ConsoleError, match="case number"):
        api_search(console, Session(user=OPERATOR), "", "missing child near the station", "purple top")
    with pytest.raises(AccessDenied):
        api_search(console, Session(), "C-1", "missing child near the station", "purple top")
    assert audit_records(console)[-1]["details"]["query"] == "purple top"


def test_header_says_who_or_that_the_console_is_open(console: Console, tmp_path: Path):
    assert "Signed in as <b>lee</b> (operator)" in header_html(console, session())
    open_access = ConsoleAccess.for_config(make_config(tmp_path / "elsewhere" / "index"),
                                           AuditLog(tmp_path / "a.jsonl"))
    local = open_access.identify(None, "127.0.0.1")
    assert "OPEN CONSOLE" in header_html(console, Session(user=local))

"""Case files by permission, not by path: the attacks a tester made, against real consoles on 127.0.0.1.

A console with users (an admin, two operators) runs in this process on a small hand-made index; a
second, open console on another port of the same host runs in its own process, as ``footage-search ui``
would, with the same ``ui.cache_dir``. Reports are exported through the console's own handler (what
the Export button calls); every attack is then plain HTTP with Gradio's session cookie.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from core.audit import verify_log
from core.auth import Identity, Role, UserStore
from core.config import ConfigError
from core.state_paths import console_cache_dir, default_cache_dir
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, write_index
from ui.console import CaseContext, Console, Session
from ui.detail import select_sighting
from ui.export_tab import export_case
from ui.marks import pin_selected
from ui.report import ReportFiles
from ui.route_tab import build_route
from ui.search_tab import run_search
from ui.thumbnails import ThumbnailCache, private_dir, purge_cache

pytestmark = pytest.mark.slow  # launches consoles

GRID = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100)])
USERS = {"kim": ("admin", "kim's long password"), "lee": ("operator", "lee's long password"),
         "park": ("operator", "park's long password")}
CASE = CaseContext("2026-SEO-0142", "missing child, 8, reported 09:10 at the station")
ROOT = Path(__file__).resolve().parent.parent
GUESSES = 40  # bounded: the tester's 376 requests in 0.5 s, scaled down
STARTUP_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Host:
    """Two consoles of one index on one host: ``secured`` (login, this process) and ``open_url`` (no users,
    its own process), both with the same ``ui.cache_dir``."""

    secured: object  # ui.app.RunningConsole
    open_url: str
    open_port: int
    cache_base: Path
    cfg: object

    @property
    def console(self) -> Console:
        return self.secured.console  # type: ignore[attr-defined]

    def audit(self) -> list[dict]:
        assert self.console.audit is not None
        return [json.loads(line) for line in self.console.audit.path.read_text(encoding="utf-8").splitlines()]


OPEN_CONSOLE = """
import sys
from search.engine import SearchEngine
from search.search_models import SearchModels
from tests.conftest import make_config
from tests.search_fixtures import grid_registry
from ui.app import launch

index, state, cache, port = sys.argv[1:5]
grid = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100)])
cfg = make_config(index, auth__users_file=state + "/nobody.json", audit__log_path=state + "/audit.jsonl",
                  ui__cache_dir=cache)
launch(cfg, grid, host="127.0.0.1", port=int(port), block=True, quiet=True,
       engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))
"""


def wait_up(url: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the open console exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no console at {url} after {STARTUP_S} s")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from ui.app import launch

    base = tmp_path_factory.mktemp("case-files")
    index = base / "index"
    rows = [Row("G-1", T0, T0 + 10, upper="purple", lower="blue", bearing=90, track_id=1),
            Row("G-2", T0 + 120, T0 + 130, upper="purple", lower="blue", bearing=90, track_id=2),
            Row("G-3", T0 + 300, T0 + 310, upper="purple", lower="blue", bearing=120, track_id=3)]
    for r in rows:
        r.extra.setdefault("hair_colour", np.zeros(11, np.float32))
    write_index(index, GRID, rows)
    cache = base / "console-cache"  # both consoles: the same ui.cache_dir, as with one config file
    open_state = base / "open-state"
    open_state.mkdir()
    open_port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", OPEN_CONSOLE, str(index), str(open_state), str(cache),
                             str(open_port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        state = base / "secured-state"
        cfg = make_config(index, auth__users_file=str(state / "users.json"), audit__log_path=str(state / "audit.jsonl"),
                          ui__cache_dir=str(cache))
        store = UserStore(state / "users.json")
        for name, (role, password) in USERS.items():
            store.add(name, role, password)
        secured = launch(cfg, GRID, host="127.0.0.1", port=free_port(), block=False, quiet=True,
                         engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))
        try:
            wait_up(f"http://127.0.0.1:{open_port}/", proc)
            yield Host(secured, f"http://127.0.0.1:{open_port}/", open_port, cache, cfg)
        finally:
            secured.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def signed_in(host: Host, name: str) -> Iterator[httpx.Client]:
    """An HTTP client with Gradio's session cookie for ``name``, as the login form gets it."""
    with httpx.Client(base_url=host.secured.url, timeout=60) as http:  # type: ignore[attr-defined]
        assert http.post("/login", data={"username": name, "password": USERS[name][1]}).status_code == 200
        yield http


def export_as(host: Host, name: str) -> ReportFiles:
    """What the Export button does for ``name``: search, pin, route, export (the console's own handlers)."""
    console = host.console
    s = Session(user=Identity(name, Role(USERS[name][0]), True, "127.0.0.1"), case=CASE)
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    select_sighting(console, s, 0)
    pin_selected(console, s)
    build_route(console, s)
    files, _ = export_case(console, s, "", "")
    return files


def link(host: Host, path: Path) -> str:
    return host.console.case_files.url(path)


def gradio_file(path: Path | str) -> str:
    return f"/gradio_api/file={path}"


# --------------------------------------------------------------------------------------------- tests


def test_the_exporting_user_and_admins_download_and_each_download_is_audited(host: Host):
    files = export_as(host, "lee")
    folder = files.html.parent
    assert folder.parent == host.console.exports_dir and len(folder.name) == 32  # exports/<token>/case-…
    assert files.html.name.startswith(f"case-{CASE.number}-")
    before = len(host.audit())
    with signed_in(host, "lee") as lee:
        for path in files.paths():
            got = lee.get(link(host, path))
            assert got.status_code == 200 and got.content == path.read_bytes()
            assert got.headers["content-disposition"].startswith("attachment")
            assert got.headers["cache-control"] == "no-store"
    with signed_in(host, "kim") as kim:
        assert kim.get(link(host, files.html)).status_code == 200
    new = host.audit()[before:]
    downloads = [r for r in new if r["event"] == "download"]
    assert [(r["user"], r["details"]["file"]) for r in downloads] == \
        [("lee", p.name) for p in files.paths()] + [("kim", files.html.name)]
    assert all(r["case"] == CASE.number and r["client"] == "127.0.0.1" for r in downloads)
    assert downloads[0]["details"]["owner"] == "lee" and len(downloads[0]["details"]["sha256"]) == 64
    assert not [r for r in new if r["event"] == "download_denied"]
    assert verify_log(host.console.audit.path).ok


def test_an_operator_guessing_another_users_report_is_refused_and_audited(host: Host):
    files = export_as(host, "lee")
    token, ts = files.html.parent.name, files.html.stem.rsplit("-", 2)[-2:]
    before = len(host.audit())
    attempts = 0
    with signed_in(host, "park") as park:
        # a leaked link to lee's report: the path is right, the user is not
        for path in files.paths():
            assert park.get(link(host, path)).status_code == 403
            attempts += 1
        # stepping through timestamps, as the tester did, under guessed tokens and no token at all
        stamp = int(ts[1])
        for k in range(GUESSES):
            name = f"case-{CASE.number}-{ts[0]}-{stamp - k:06d}.html"
            guess = token[:-4] + f"{k:04d}" if k % 2 else "x" * 32
            assert park.get(f"/case-files/{guess}/{name}").status_code == 404
            attempts += 1
        # the old predictable place, and the real file, through Gradio's own file route
        for k in range(5):
            old = host.console.exports_dir / f"case-{CASE.number}-{ts[0]}-{stamp - k:06d}.html"
            assert park.get(gradio_file(old)).status_code == 403
            attempts += 1
        assert park.get(gradio_file(files.html)).status_code == 403
        attempts += 1
        # lee's folder by any name, the record beside the files included: refused before the name is looked at
        assert park.get(f"/case-files/{token}/owner.json").status_code == 403
        attempts += 1
    # and nobody signed in at all, with the right link: refused by the console's HTTP guard before any
    # route (401), or by the case-file route itself (403, audited)
    anonymous = httpx.get(host.secured.url + link(host, files.html)).status_code  # type: ignore[attr-defined]
    assert anonymous in (401, 403)
    attempts += anonymous == 403
    denied = [r for r in host.audit()[before:] if r["event"] == "download_denied"]
    assert len(denied) == attempts  # every attempt, none lost
    assert not [r for r in host.audit()[before:] if r["event"] == "download"]
    leaked = denied[0]
    assert (leaked["user"], leaked["client"], leaked["case"]) == ("park", "127.0.0.1", CASE.number)
    assert leaked["details"]["owner"] == "lee" and leaked["details"]["file"] == files.html.name
    assert {r["details"]["reason"] for r in denied[3:3 + GUESSES]} == {"unknown case file"}
    via_gradio = [r for r in denied if r["details"].get("via") == "gradio file route"]
    assert len(via_gradio) == 6 and via_gradio[-1]["details"]["owner"] == "lee"
    if anonymous == 403:
        assert denied[-1]["user"] == "" and denied[-1]["client"] == "127.0.0.1"
    with signed_in(host, "lee") as lee:
        # the record is never served, not even to the exporter, nor is anything outside the folder
        assert lee.get(f"/case-files/{token}/owner.json").status_code == 404
        assert lee.get(f"/case-files/{token}/..%2F..%2Fthumbs%2Fx.jpg").status_code == 404
        assert lee.get(link(host, files.json)).status_code == 200


def test_two_consoles_on_one_host_do_not_see_each_others_files(host: Host):
    files = export_as(host, "lee")
    secured_dir = host.console.cache_dir
    open_dir = console_cache_dir(host.cfg, host.open_port)  # type: ignore[arg-type]
    assert secured_dir.parent == open_dir.parent == default_cache_dir(host.cfg)  # type: ignore[arg-type]
    assert secured_dir != open_dir and open_dir.is_dir()
    with signed_in(host, "lee") as lee, httpx.Client(base_url=host.open_url, timeout=60) as other:
        # what the login console holds: a report, a picture it shows, a photo uploaded to it
        thumb = host.console.thumbs.thumbnail("vid:1:0", b"\xff\xd8\xff\xd9 a face")
        assert thumb is not None
        assert lee.get(gradio_file(thumb)).status_code == 200  # its own signed-in user sees the picture
        assert httpx.get(host.secured.url + gradio_file(thumb)[1:]).status_code in (401, 403)  # type: ignore
        up = lee.post("/gradio_api/upload", files={"files": ("reference.png", b"\x89PNG not really", "image/png")})
        assert up.status_code == 200
        uploaded = Path(up.json()[0])
        assert uploaded.is_relative_to(secured_dir / "gradio")  # Gradio's folder is the console's own
        assert lee.get(gradio_file(uploaded)).status_code == 200
        # none of it through the open console on the other port, by path or by link
        for path in [*files.paths(), thumb, uploaded]:
            assert other.get(gradio_file(path)).status_code == 403, path
        assert other.get(link(host, files.html)).status_code == 404  # a token the open console never wrote
        # and the other way round: what the open console took in stays there
        theirs = other.post("/gradio_api/upload", files={"files": ("notes.txt", b"open console", "text/plain")})
        assert theirs.status_code == 200
        their_path = Path(theirs.json()[0])
        assert their_path.is_relative_to(open_dir / "gradio") and not their_path.is_relative_to("/tmp/gradio")
        assert other.get(gradio_file(their_path)).status_code == 200
        assert lee.get(gradio_file(their_path)).status_code == 403


def test_files_and_folders_are_private(host: Host):
    files = export_as(host, "kim")
    host.console.thumbs.thumbnail("vid:2:0", b"\xff\xd8\xff\xd9 another face")
    root = host.console.cache_dir
    ours = [root, root / "gradio", root / "thumbs", root / "exports", files.html.parent,
            root.parent]  # the per-index folder made for the consoles
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in ours} == {"0o700"}
    written = [p for p in root.rglob("*") if p.is_file()]
    assert files.html in written and (files.html.parent / "owner.json") in written
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in written if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert not loose
    record = json.loads((files.html.parent / "owner.json").read_text(encoding="utf-8"))
    assert record["user"] == "kim" and record["case"] == CASE.number
    assert sorted(record["files"]) == sorted(p.name for p in files.paths())


def test_purge_cleans_every_console_folder_of_the_index(tmp_path: Path):
    base = tmp_path / "cache"
    consoles = [ThumbnailCache(base / "digest" / f"port-{p}") for p in (7860, 7861)]
    old = consoles[0].thumbnail("vid-a:1:0", b"old person")
    kept = consoles[1].thumbnail("vid-b:2:0", b"new person")
    assert old is not None and kept is not None
    # Gradio's copy of the purged person's picture, in the other console's upload/cache folder
    copy = consoles[1].root / "gradio" / "0123abcd" / old.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(old.read_bytes())
    report = consoles[0].root / "exports" / ("t" * 32) / "case-X-20260314-100000.html"
    report.parent.mkdir(parents=True)
    report.write_text("old report", encoding="utf-8")
    (report.parent / "owner.json").write_text("{}", encoding="utf-8")
    now = time.time()
    for p in (report, report.parent / "owner.json"):
        os.utime(p, (now - 3600, now - 3600))
    assert purge_cache(base / "digest", {"vid-a:1:0"}, now - 60, dry_run=True) == 4 and old.exists()
    assert purge_cache(base / "digest", {"vid-a:1:0"}, now - 60) == 4
    assert not old.exists() and not copy.exists() and not report.parent.exists() and kept.exists()


def test_a_console_folder_is_private_and_never_a_shared_one(tmp_path: Path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    made = private_dir(loose / "a" / "b")
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (loose, loose / "a", made)] == ["0o755", "0o700", "0o700"]
    assert oct(stat.S_IMODE(private_dir(loose).stat().st_mode)) == "0o700"  # its own, too open: closed
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(ConfigError, match="shared folder"):
        private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # left as it was

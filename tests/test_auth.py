"""Console accounts: scrypt hashes, the users file, roles, login rate limiting, the users command, and the
refusal to serve an open console beyond loopback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.audit import AuditLog, verify_log
from core.auth import (
    AccountError,
    Authenticator,
    Identity,
    LoginGuard,
    Permission,
    Role,
    UserStore,
    hash_password,
    users_file_for,
    verify_password,
)
from core.config import ConfigError
from tests.conftest import make_config
from ui.access import ConsoleAccess, check_bind, check_bind_config, is_loopback

PASSWORD = "correct horse battery"


def records(log: AuditLog) -> list[dict]:
    return [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------------------- hashing


def test_scrypt_hashes_are_salted_and_checked_in_full():
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b and a.startswith("scrypt$16384$8$1$") and PASSWORD not in a
    assert verify_password(PASSWORD, a) and verify_password(PASSWORD, b)
    assert not verify_password(PASSWORD + " ", a) and not verify_password("", a)
    scheme, n, r, p, salt, digest = a.split("$")
    assert not verify_password(PASSWORD, "$".join([scheme, n, r, p, salt, digest[:-4] + "AAA="]))
    assert not verify_password(PASSWORD, "plain$" + PASSWORD)  # no other scheme, never plain text
    assert not verify_password(PASSWORD, "$".join([scheme, str(2**30), r, p, salt, digest]))  # no memory bomb
    assert not verify_password(PASSWORD, "garbage")


# ------------------------------------------------------------------------------------- users file


def test_users_file_holds_hashes_only_and_is_private(tmp_path: Path):
    store = UserStore(tmp_path / "users.json")
    assert not store and store.users() == {}
    store.add("kim", "admin", PASSWORD, created_by="test")
    store.add("lee.op", Role.OPERATOR, "another long one")
    text = store.path.read_text(encoding="utf-8")
    assert PASSWORD not in text and "another long one" not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    users = UserStore(store.path).users()  # a second reader (another process) sees the same
    assert {n: u.role for n, u in users.items()} == {"kim": Role.ADMIN, "lee.op": Role.OPERATOR}
    assert verify_password(PASSWORD, users["kim"].password_hash)


@pytest.mark.parametrize("call, words", [
    (lambda s: s.add("bad name", "operator", PASSWORD), "bad user name"),
    (lambda s: s.add("x" * 65, "operator", PASSWORD), "bad user name"),
    (lambda s: s.add("park", "superuser", PASSWORD), "bad role"),
    (lambda s: s.add("park", "operator", "short"), "at least 10"),
    (lambda s: s.add("KIM", "operator", PASSWORD), "already exists"),
    (lambda s: s.add("kim", "operator", PASSWORD), "already exists"),
    (lambda s: s.remove("nobody"), "no user"),
    (lambda s: s.remove("kim"), "last admin"),
    (lambda s: s.add("kim", "operator", PASSWORD, replace=True), "last admin"),
])
def test_users_file_refuses_bad_changes(tmp_path: Path, call, words):
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "admin", PASSWORD)
    store.add("lee", "operator", PASSWORD)
    with pytest.raises(AccountError, match=words):
        call(store)
    assert set(store.users()) == {"kim", "lee"}


def test_replace_and_remove(tmp_path: Path):
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "admin", PASSWORD)
    store.add("lee", "operator", PASSWORD)
    store.add("lee", "admin", "a brand new password", replace=True)
    assert store.get("lee").role == Role.ADMIN and verify_password("a brand new password",
                                                                   store.get("lee").password_hash)
    store.remove("kim")
    assert set(store.users()) == {"lee"}


def test_a_broken_users_file_is_an_error_not_an_open_console(tmp_path: Path):
    path = tmp_path / "users.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AccountError, match="cannot read"):
        bool(UserStore(path))


def test_roles_and_permissions():
    op, admin = Identity("a", Role.OPERATOR), Identity("b", Role.ADMIN)
    assert all(op.can(p) for p in (Permission.SEARCH, Permission.ROUTE, Permission.EXPORT))
    assert not op.can(Permission.REINDEX) and not op.can(Permission.MANAGE_USERS)
    assert all(admin.can(p) for p in Permission)


# ---------------------------------------------------------------------------------- rate limiting


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_login_guard_locks_after_failures_for_the_window():
    clock = Clock()
    guard = LoginGuard(max_failures=3, window_s=60, clock=clock)
    for _ in range(2):
        guard.failed("user:kim")
        clock.t += 1
    assert guard.blocked_for("user:kim") == 0
    guard.failed("user:kim")
    wait = guard.blocked_for("user:kim")
    assert 55 < wait <= 60 and guard.blocked_for("user:lee") == 0
    clock.t += wait + 0.1
    assert guard.blocked_for("user:kim") == 0
    guard.failed("user:kim")
    guard.succeeded("user:kim")
    assert guard.blocked_for("user:kim") == 0


def test_failed_logins_are_audited_and_rate_limited(tmp_path: Path):
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "operator", PASSWORD)
    log = AuditLog(tmp_path / "audit.jsonl")
    clock = Clock()
    auth = Authenticator(store, LoginGuard(max_failures=3, window_s=300, clock=clock), log)
    who = auth.authenticate("kim", PASSWORD, client="10.0.0.7")
    assert who == Identity("kim", Role.OPERATOR, True, "10.0.0.7")
    assert auth.authenticate("nobody", PASSWORD, client="10.0.0.8") is None
    for _ in range(3):
        assert auth.authenticate("kim", "wrong password", client="10.0.0.9") is None
    # locked: the right password does not help until the window has passed
    assert auth.authenticate("kim", PASSWORD, client="10.0.0.7") is None
    clock.t += 301
    assert auth.authenticate("kim", PASSWORD, client="10.0.0.7") is not None
    recs = records(log)
    assert [r["event"] for r in recs] == ["login", "login_failed", "login_failed", "login_failed", "login_failed",
                                          "login_refused", "login"]
    assert recs[0]["role"] == "operator" and recs[0]["client"] == "10.0.0.7"
    assert recs[1]["user"] == "nobody" and recs[1]["details"]["reason"] == "unknown user"
    assert recs[2]["details"]["reason"] == "wrong password"
    assert PASSWORD not in log.path.read_text(encoding="utf-8")
    assert "wrong password\"" not in log.path.read_text(encoding="utf-8").replace('"reason":"wrong password"', "")
    assert verify_log(log.path).ok


def test_one_client_guessing_many_names_is_locked_out(tmp_path: Path):
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "operator", PASSWORD)
    auth = Authenticator(store, LoginGuard(max_failures=4, window_s=300, max_client_failures=4), None)
    for i in range(4):
        assert auth.authenticate(f"guess{i}", "whatever123", client="192.0.2.1") is None
    assert auth.authenticate("kim", PASSWORD, client="192.0.2.1") is None  # this address is locked out
    assert auth.authenticate("kim", PASSWORD, client="192.0.2.2") is not None


# ----------------------------------------------------------------------------- open console / bind


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
                                        ("localhost", True), ("0.0.0.0", False), ("", False), ("::", False),
                                        ("10.1.2.3", False), ("console.example.org", False)])
def test_loopback_addresses(host, loop):
    assert is_loopback(host) is loop


def test_no_users_means_loopback_only(tmp_path: Path):
    cfg = make_config(tmp_path / "index")
    access = ConsoleAccess.for_config(cfg, AuditLog(tmp_path / "audit.jsonl"))
    assert access.open_mode and access.users_file == tmp_path / "users.json"
    check_bind("127.0.0.1", access)
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without login"):
        check_bind("0.0.0.0", access)
    assert access.identify(None, "127.0.0.1") == Identity("local", Role.ADMIN, False, "127.0.0.1")
    UserStore(users_file_for(cfg)).add("kim", "admin", PASSWORD)
    assert check_bind_config("0.0.0.0", cfg) == (False, tmp_path / "users.json")


def test_login_mode_knows_each_user_and_notices_removals(tmp_path: Path):
    from ui.access import AccessDenied

    cfg = make_config(tmp_path / "index")
    store = UserStore(users_file_for(cfg))
    store.add("kim", "admin", PASSWORD)
    store.add("lee", "operator", PASSWORD)
    access = ConsoleAccess.for_config(cfg, AuditLog(tmp_path / "audit.jsonl"))
    assert not access.open_mode
    assert access.identify("lee", "10.0.0.1").role == Role.OPERATOR
    with pytest.raises(AccessDenied, match="not signed in"):
        access.identify(None)
    store.remove("lee")
    with pytest.raises(AccessDenied, match="no longer exists"):
        access.identify("lee")


def test_gradio_auth_callable_checks_off_the_event_loop(tmp_path: Path):
    import asyncio

    cfg = make_config(tmp_path / "index")
    UserStore(users_file_for(cfg)).add("kim", "operator", PASSWORD)
    access = ConsoleAccess.for_config(cfg, AuditLog(tmp_path / "audit.jsonl"))
    assert asyncio.run(access.gradio_auth("kim", PASSWORD)) is True
    assert asyncio.run(access.gradio_auth("kim", "nope nope nope")) is False


# ------------------------------------------------------------------------------------------- CLI


def test_users_command_adds_lists_and_removes(tmp_path: Path, capsys, monkeypatch):
    import io

    from footage_search.cli import main

    index = ["--set", f"storage.index_uri={tmp_path / 'index'}"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "kim", "--role", "admin", "--password-stdin", *index]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("operator password\n"))
    assert main(["users", "add", "lee", "--password-stdin", *index]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "park", "--password-stdin", *index]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["users", "list", *index]) == 0
    out = capsys.readouterr().out
    assert "kim" in out and "admin" in out and "lee" in out and "operator" in out
    assert main(["users", "remove", "lee", *index]) == 0
    assert set(UserStore(tmp_path / "users.json").users()) == {"kim"}
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "add", "park", *index]) == 2  # no terminal to ask on
    assert "--password-stdin" in capsys.readouterr().err
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    recs = records(log)
    assert [(r["event"], r["details"]["name"]) for r in recs] == [("user_add", "kim"), ("user_add", "lee"),
                                                                  ("user_remove", "lee")]
    assert recs[0]["user"].startswith("cli:") and verify_log(log.path).ok


def test_ui_on_all_interfaces_without_users_exits_2(tmp_path: Path, capsys):
    from footage_search.cli import main

    rc = main(["ui", "--host", "0.0.0.0", "--index", str(tmp_path / "index"), "--port", "7997"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without login" in err and "users add" in err and "Traceback" not in err

"""The audit log: hash chain, sealed head, HMAC, concurrent appends, and ``footage-search audit verify``."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from core.audit import GENESIS, AuditLog, AuditTamperedError, canonical, sha256_hex, verify_log
from core.auth import Identity, Role

KIM = Identity("kim", Role.OPERATOR, True, "10.0.0.5")
KEY = b"k" * 32


def fill(log: AuditLog, n: int = 5) -> list[bytes]:
    for i in range(n):
        log.write("search", KIM, case="2026-SEO-0142", purpose="missing child near the station",
                  details={"query": f"purple coat {i}", "results": i})
    return log.path.read_bytes().splitlines()


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_records_chain_and_carry_who_when_case_and_what(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    lines = fill(log, 3)
    recs = [json.loads(line) for line in lines]
    assert [r["seq"] for r in recs] == [1, 2, 3]
    assert recs[0]["prev"] == GENESIS and recs[1]["prev"] == sha256_hex(lines[0])
    r = recs[2]
    assert (r["user"], r["role"], r["client"], r["case"], r["event"]) == ("kim", "operator", "10.0.0.5",
                                                                         "2026-SEO-0142", "search")
    assert r["purpose"] == "missing child near the station" and r["details"]["query"] == "purple coat 2"
    assert r["ts"].endswith("Z") and all(canonical(json.loads(line)) == line for line in lines)
    res = verify_log(log.path)
    assert res.ok and res.records == 3 and not res.warnings, res.summary()


@pytest.mark.parametrize("damage, bad_line, words", [
    (lambda ls: [ls[0], ls[1].replace(b"purple coat 1", b"yellow coat 1"), *ls[2:]], 3, "line 2 was edited"),
    (lambda ls: [ls[0], ls[2], ls[3], ls[4]], 2, "chain broken"),  # a line removed
    (lambda ls: [ls[0], ls[2], ls[1], ls[3], ls[4]], 2, "chain broken"),  # two lines swapped
    (lambda ls: ls[:3], 4, "truncated"),  # the tail cut off: only the head file knows
    (lambda ls: [*ls[:4], ls[4].replace(b"purple coat 4", b"nobody")], 5, "differs from the one the head"),
    (lambda ls: [*ls[:4], ls[4][:40]], 5, "not a JSON record"),
    (lambda ls: [ls[0], json.dumps(json.loads(ls[1]), indent=1).encode().replace(b"\n", b""), *ls[2:]], 2,
     "rewritten"),
])
def test_any_edit_is_found_at_the_first_bad_line(tmp_path: Path, damage, bad_line, words):
    log = AuditLog(tmp_path / "audit.jsonl")
    lines = fill(log, 5)
    rewrite(log.path, damage(lines))
    res = verify_log(log.path)
    assert not res.ok and res.bad_line == bad_line and words in res.problem, res.summary()
    assert f"at line {bad_line}" in res.summary()


def test_recomputing_the_chain_needs_the_hmac_key(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl", key=KEY)
    lines = fill(log, 4)
    assert verify_log(log.path, KEY).ok and verify_log(log.path, KEY).mac_checked
    assert not verify_log(log.path, b"x" * 32).ok  # another key
    # a forger rewrites record 2 and re-chains everything after it (and the head) without the key
    forged: list[bytes] = [lines[0]]
    prev = sha256_hex(lines[0])
    for line in lines[1:]:
        rec = json.loads(line)
        rec["details"]["query"] = "nothing to see"
        rec["prev"] = prev
        new = canonical(rec)
        forged.append(new)
        prev = sha256_hex(new)
    rewrite(log.path, forged)
    (tmp_path / "audit.jsonl.head").write_text(json.dumps({"seq": 4, "sha256": prev}), encoding="utf-8")
    unkeyed = verify_log(log.path)  # the chain alone now holds: only the key tells
    assert unkeyed.ok and any("HMACs but no key" in w for w in unkeyed.warnings)
    res = verify_log(log.path, KEY)
    assert not res.ok and res.bad_line == 2 and "HMAC" in res.problem


class Crash(Exception):
    """The process dying at one point of an append."""


def _crash_before_line(log, fh, data):
    raise Crash


def _crash_mid_line(log, fh, data):
    fh.write(data[: len(data) // 2])  # a power cut mid-write: half a line, no newline
    fh.flush()
    raise Crash


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("where", ["before the line", "mid line", "before the final seal"])
def test_a_crash_at_any_point_of_an_append_is_not_taken_for_tampering(tmp_path: Path, monkeypatch, key, where):
    log = AuditLog(tmp_path / "audit.jsonl", key=key)
    fill(log, 3)
    with monkeypatch.context() as m:
        if where == "before the line":
            m.setattr(AuditLog, "_write_line", _crash_before_line)
        elif where == "mid line":
            m.setattr(AuditLog, "_write_line", _crash_mid_line)
        else:
            real_seal, calls = AuditLog._seal, []

            def seal_then_die(self, seal):
                calls.append(seal)
                if len(calls) == 2:  # the first seals ahead (pending), the second would seal the record
                    raise Crash
                real_seal(self, seal)

            m.setattr(AuditLog, "_seal", seal_then_die)
        with pytest.raises(Crash):
            log.write("export", KIM, case="C-1")
    written = where == "before the final seal"
    res = verify_log(log.path, key)
    assert res.ok and res.records == 3 + written, res.summary()
    assert any("cut short by a crash" in w for w in res.warnings) == (where == "mid line")
    after = AuditLog(log.path, key=key)  # a restarted console goes on auditing
    rec = after.write("search", KIM)
    assert rec["seq"] == 4 + written
    res = verify_log(log.path, key)
    assert res.ok and res.records == 4 + written and not res.warnings, res.summary()
    lines = log.path.read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 5 + written))
    head = json.loads(log.head_path.read_bytes())
    assert (head["records"], head["seq"], head["sha256"], head["size"]) == (
        4 + written, 4 + written, sha256_hex(lines[-1]), log.path.stat().st_size)
    assert "pending" not in head and ("mac" in head) == (key is not None)


def test_bytes_appended_behind_the_heads_back_are_refused(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 2)
    with open(log.path, "ab") as fh:
        fh.write(b'{"case":"C-9","cli')  # not announced in the head: not a crash of ours
    with pytest.raises(AuditTamperedError, match="18 bytes follow record 2"):
        AuditLog(log.path).write("search", KIM)
    res = verify_log(log.path)
    assert not res.ok and res.bad_line == 3


def _append_from_process(path: str, n: int) -> None:
    log = AuditLog(Path(path))
    for i in range(n):
        log.write("search", Identity("proc", Role.OPERATOR), details={"i": i})


def test_concurrent_threads_and_processes_keep_one_chain(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_from_process, args=(str(log.path), 30)) for _ in range(2)]
    for p in procs:
        p.start()
    threads = [threading.Thread(target=lambda: [log.write("search", KIM, details={"t": 1}) for _ in range(40)])
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    res = verify_log(log.path)
    assert res.ok and res.records == 6 * 40 + 2 * 30, res.summary()


def test_audit_verify_command(tmp_path: Path, capsys):
    from footage_search.cli import main

    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    lines = fill(log, 4)
    index = ["--set", f"storage.index_uri={tmp_path / 'index'}"]
    assert main(["audit", "verify", *index]) == 0
    assert "audit log OK" in capsys.readouterr().out
    rewrite(log.path, [lines[0], lines[2], lines[3]])
    assert main(["audit", "verify", "--log", str(log.path)]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at line 2" in err
    assert main(["audit", "verify", "--log", str(tmp_path / "none.jsonl")]) == 1


def test_keyed_verify_from_config(tmp_path: Path, capsys):
    from footage_search.cli import main

    keyfile = tmp_path / "audit.key"
    keyfile.write_bytes(KEY + b"\n")
    log = AuditLog(tmp_path / "a.jsonl", key=KEY)
    fill(log, 2)
    args = ["audit", "verify", "--log", str(log.path), "--set", f"audit.hmac_key_file={keyfile}"]
    assert main(args) == 0 and "HMACs intact" in capsys.readouterr().out
    assert main(["audit", "verify", "--log", str(log.path), "--set", "audit.hmac_key=another key of 32 bytes!!"]) == 1


# ------------------------------------------------------------------------------- the attacks


def cut(log: AuditLog, keep: int) -> list[bytes]:
    lines = log.path.read_bytes().splitlines()
    rewrite(log.path, lines[:keep])
    return lines


def key_args(tmp_path: Path, key: bytes | None) -> list[str]:
    if key is None:
        return []
    keyfile = tmp_path / "audit.key"
    keyfile.write_bytes(key + b"\n")
    return ["--set", f"audit.hmac_key_file={keyfile}"]


@pytest.mark.parametrize("key", [None, KEY])
def test_cut_and_append_is_refused_and_verify_fails(tmp_path: Path, capsys, key):
    from core.auth import Authenticator, LoginGuard, UserStore
    from footage_search.cli import main

    log = AuditLog(tmp_path / "audit.jsonl", key=key)
    fill(log, 5)
    cut(log, 3)
    shortened = log.path.read_bytes()
    with pytest.raises(AuditTamperedError) as exc:
        AuditLog(log.path, key=key).write("search", KIM)  # the console's next search
    assert "truncated" in str(exc.value) and "audit acknowledge" in str(exc.value)
    # a console login is audited through the same log: refused too, so nobody works unaudited
    store = UserStore(tmp_path / "users.json")
    store.add("kim", "operator", "a long enough password")
    with pytest.raises(AuditTamperedError):
        Authenticator(store, LoginGuard(), log).authenticate("kim", "a long enough password", "10.0.0.5")
    assert log.path.read_bytes() == shortened  # nothing was appended, the head was not re-sealed
    assert main(["audit", "verify", "--log", str(log.path), *key_args(tmp_path, key)]) == 1
    assert "BROKEN at line 4" in capsys.readouterr().err


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("keep", [3, 5, 0])
def test_a_deleted_head_fails_verify_and_stops_appends(tmp_path: Path, capsys, key, keep):
    from footage_search.cli import main

    log = AuditLog(tmp_path / "audit.jsonl", key=key)
    fill(log, 5)
    cut(log, keep)
    log.head_path.unlink()
    assert main(["audit", "verify", "--log", str(log.path), *key_args(tmp_path, key)]) == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err and "audit.jsonl.head is missing" in err
    with pytest.raises(AuditTamperedError, match="is missing"):
        AuditLog(log.path, key=key).write("search", KIM)
    assert not log.head_path.exists()


def test_a_forged_or_stale_head_is_refused(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl", key=KEY)
    fill(log, 3)
    good = log.head_path.read_bytes()
    head = json.loads(good)
    head["seq"], head["records"] = 2, 2  # claims less than was sealed, without the key
    log.head_path.write_bytes(canonical(head))
    with pytest.raises(AuditTamperedError, match="HMAC does not match"):
        log.write("search", KIM)
    assert "HMAC" in verify_log(log.path, KEY).problem
    log.head_path.write_bytes(good)
    fill(log, 1)
    log.head_path.write_bytes(good)  # an older head, put back: one record behind is no longer excused
    with pytest.raises(AuditTamperedError, match="follow record 3"):
        log.write("search", KIM)
    assert not verify_log(log.path, KEY).ok


def test_acknowledge_records_the_gap_and_numbers_never_repeat(tmp_path: Path, capsys):
    from footage_search.cli import main

    log = AuditLog(tmp_path / "audit.jsonl", key=KEY)
    fill(log, 5)
    cut(log, 3)
    args = ["--log", str(log.path), *key_args(tmp_path, KEY)]
    assert main(["audit", "acknowledge", "--reason", "tail cut by a disk repair", *args]) == 0
    assert "tamper record 6 written" in capsys.readouterr().out
    rec = json.loads(log.path.read_bytes().splitlines()[-1])
    assert rec["event"] == "tamper" and rec["seq"] == 6 and rec["user"].startswith("cli:")
    d = rec["details"]
    assert d["reason"] == "tail cut by a disk repair" and "truncated" in d["found"][0]
    sealed = d["expected"][str(log.head_path)]
    assert (sealed["records"], sealed["seq"]) == (5, 5)
    assert (d["actual"]["records"], d["actual"]["last_seq"]) == (3, 3)
    assert main(["audit", "verify", *args]) == 0
    out = capsys.readouterr().out
    assert "audit log OK" in out and "1 acknowledged tamper record" in out
    assert "records 4-5 missing" in out and "tail cut by a disk repair" in out
    assert log.write("search", KIM)["seq"] == 7  # the console goes on after the acknowledged gap
    seqs = [json.loads(line)["seq"] for line in log.path.read_bytes().splitlines()]
    assert seqs == [1, 2, 3, 6, 7] and len(set(seqs)) == len(seqs)
    res = verify_log(log.path, KEY)
    assert res.ok and res.records == 5, res.summary()
    assert main(["audit", "acknowledge", "--reason", "nothing happened at all", *args]) == 2
    assert "nothing to acknowledge" in capsys.readouterr().err
    # a forged tamper record (no key) to hide a gap fails the keyed check like any other edit
    lines = log.path.read_bytes().splitlines()
    forged = json.loads(lines[3])
    forged["details"]["reason"] = "routine maintenance"
    rewrite(log.path, [*lines[:3], canonical(forged), lines[4]])
    assert not verify_log(log.path, KEY).ok


def test_file_modes_are_0600(tmp_path: Path):
    old = os.umask(0o022)
    try:
        log = AuditLog(tmp_path / "audit" / "audit.jsonl", key=KEY, mirror=tmp_path / "elsewhere" / "audit.head")
        fill(log, 2)
    finally:
        os.umask(old)
    for path in (log.path, log.head_path, log.mirror):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_mirror_head_catches_a_cut_with_the_folders_head_replaced(tmp_path: Path, capsys):
    from footage_search.cli import main

    mirror = tmp_path / "elsewhere" / "audit.head"
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", key=KEY, mirror=mirror)
    fill(log, 4)
    assert mirror.read_bytes() == log.head_path.read_bytes()
    config = ["--set", f"audit.log_path={log.path}", "--set", f"audit.head_mirror={mirror}", *key_args(tmp_path, KEY)]
    assert main(["audit", "verify", *config]) == 0
    assert "mirror head" in capsys.readouterr().out
    # cut the tail and delete the folder's head: the mirror still says 4
    stale = log.head_path.read_bytes()
    cut(log, 2)
    log.head_path.unlink()
    with pytest.raises(AuditTamperedError) as exc:
        AuditLog(log.path, key=KEY, mirror=mirror).write("search", KIM)
    assert "mirror head" in str(exc.value) and "truncated" in str(exc.value)
    assert main(["audit", "verify", *config]) == 1
    assert "BROKEN" in capsys.readouterr().err
    # acknowledged: numbering goes on after the mirror's 4, and both heads are sealed again
    assert main(["audit", "acknowledge", "--reason", "tail and head removed by someone", *config]) == 0
    assert json.loads(log.path.read_bytes().splitlines()[-1])["seq"] == 5
    assert mirror.read_bytes() == log.head_path.read_bytes() != stale
    assert main(["audit", "verify", *config]) == 0
    # deleting only the mirror is refused as well
    mirror.unlink()
    with pytest.raises(AuditTamperedError, match=r"mirror head .* is missing"):
        AuditLog(log.path, key=KEY, mirror=mirror).write("search", KIM)


def test_a_head_of_the_first_format_is_accepted_when_it_matches_and_upgraded(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    lines = fill(log, 3)
    log.head_path.write_bytes(canonical({"seq": 3, "sha256": sha256_hex(lines[-1])}))  # as written before
    assert verify_log(log.path).ok
    assert log.write("search", KIM)["seq"] == 4
    head = json.loads(log.head_path.read_bytes())
    assert head["v"] == 2 and head["records"] == 4 and verify_log(log.path).ok

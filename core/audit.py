"""The audit log: append-only, hash-chained JSON lines, whose end is sealed in a head file.

Every record is one line of canonical JSON (sorted keys, no spaces)::

    {"case":"2026-SEO-0142","client":"10.1.2.3","details":{...},"event":"search","prev":"<sha256>",
     "purpose":"missing child ...","role":"operator","seq":42,"ts":"2026-03-14T00:12:03.123456Z","user":"kim"}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first record), so editing,
deleting or reordering a line breaks the chain at the next line. With an HMAC key configured, each
record also carries ``mac`` (HMAC-SHA256 of the record without it): without the key nobody can rewrite
the chain consistently.

A chain cannot show that its last lines were cut off, so ``<log>.head`` (and ``audit.head_mirror``, a
second copy kept elsewhere) seals the log's end: the number of records, the file's size, the last
record's ``seq`` and line hash (MAC'd when keyed). ``verify`` and every append check each head against
the file; an append to a log that does not match its heads (a head missing or unreadable or with a bad
MAC, a cut or edited tail, lines appended by something else) raises :class:`AuditTamperedError` and
writes nothing, until an admin runs ``footage-search audit acknowledge --reason ...``: that appends a
``tamper`` record (who, why, each head's seal against the file's actual end) numbered after the highest
``seq`` any head ever sealed, so numbers never repeat, and seals the heads again.

The crash window (seal-ahead): an append first seals the heads with the record it is about to write as
``pending`` (its seq, line hash and the file's size after it), then appends and fsyncs the line, then
seals again without ``pending``. A crash at any point leaves a state that each head explains exactly:
the file ends at the sealed end (the line never started), or at the pending end with the pending line
(written, not yet re-sealed), or between the two with no newline (a torn line: the next append cuts
those bytes off, as that record was never finished nor reported done). Anything else is tampering.
``acknowledge`` appends its record before sealing instead, so a crash there is refused again rather
than letting numbering resume below the acknowledged gap.

Appends are serialised by a thread lock and a file lock (the console's threads, the ``purge`` and
``users`` commands), and each record is fsynced before the call returns, so an action the console
reports done is on disk in the log. The log and its heads are created 0600.

Photos are never written here, only their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from filelock import FileLock

from core.atomic_file import write_atomic
from core.config import Config, ConfigError, expand
from core.errors import FootageSearchError, UserError
from core.state_paths import beside_index

if TYPE_CHECKING:
    from core.auth import Identity

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"
HEAD_FORMAT = 2  # heads of the first format held only seq and sha256; they are read, never written
MAX_TEXT = 2000  # long free text (a pasted witness statement) is cut, so one record stays one small line
ACK_COMMAND = 'footage-search audit acknowledge --reason "..."'

log = logging.getLogger(__name__)


class AuditTamperedError(FootageSearchError):
    """The log does not match its sealed head(s): nothing more is appended until an admin acknowledges it."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"audit log {path} refused: {'; '.join(problems)}. Nothing is written to it (and no "
                         f"audited action runs) until an admin checks it with `footage-search audit verify` and "
                         f"records what was found with `{ACK_COMMAND}`")


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, dict):
        return {str(k): _clip(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clip(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)


def audit_log_path(cfg: Config) -> Path:
    return beside_index(cfg, cfg.audit.log_path, "audit/audit.jsonl", "audit.log_path")


def head_mirror_path(cfg: Config) -> Path | None:
    return expand(cfg.audit.head_mirror) if cfg.audit.head_mirror else None


def audit_key(cfg: Config) -> bytes | None:
    if cfg.audit.hmac_key:
        return cfg.audit.hmac_key.encode("utf-8")
    if cfg.audit.hmac_key_file:
        path = expand(cfg.audit.hmac_key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"audit.hmac_key_file: cannot read {path}: {exc.strerror or exc}") from None
        if len(key) < 16:
            raise ConfigError(f"audit.hmac_key_file {path}: the key must have at least 16 bytes")
        return key
    return None


# ------------------------------------------------------------------------------------------ heads


@dataclass(frozen=True)
class Pending:
    """The record an append is about to write: its number, line hash, and the file's size after it."""

    seq: int
    sha256: str
    size: int


@dataclass(frozen=True)
class Seal:
    """What a head file says: the log ends after ``records`` lines and ``size`` bytes, with record ``seq``."""

    seq: int
    sha256: str  # of the last line (GENESIS: no line yet)
    records: int | None = None  # None (and size None): a head of the first format
    size: int | None = None
    pending: Pending | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": HEAD_FORMAT, "seq": self.seq, "sha256": self.sha256, "records": self.records,
                               "size": self.size}
        if self.pending is not None:
            out["pending"] = {"seq": self.pending.seq, "sha256": self.pending.sha256, "size": self.pending.size}
        return out


class _BadHead(Exception):
    pass


def _read_seal(path: Path, key: bytes | None, name: str) -> Seal | None:
    """The head at ``path``; None when there is none; :class:`_BadHead` when it cannot be trusted."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        body = {k: v for k, v in raw.items() if k != "mac"}
        if raw.get("v") == HEAD_FORMAT:
            p = raw.get("pending")
            seal = Seal(int(raw["seq"]), str(raw["sha256"]), int(raw["records"]), int(raw["size"]),
                        Pending(int(p["seq"]), str(p["sha256"]), int(p["size"])) if p else None)
        else:
            seal = Seal(int(raw["seq"]), str(raw["sha256"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise _BadHead(f"{name} is unreadable") from None
    if key is not None and not hmac.compare_digest(str(raw.get("mac", "")), _mac(key, canonical(body))):
        raise _BadHead(f"{name}: HMAC does not match (forged, or written with another key)")
    return seal


# ---------------------------------------------------------------------------- reading the file's end


def _line_start(fh: IO[bytes], pos: int) -> int:
    """Offset just after the last newline before byte ``pos`` (0 if there is none)."""
    while pos > 0:
        lo = max(0, pos - 8192)
        fh.seek(lo)
        i = fh.read(pos - lo).rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return 0


def _line_ending_at(fh: IO[bytes], end: int) -> bytes | None:
    """The line whose newline is byte ``end - 1`` (without it); None when byte ``end - 1`` is no newline."""
    if end <= 0:
        return None
    fh.seek(end - 1)
    if fh.read(1) != b"\n":
        return None
    start = _line_start(fh, end - 1)
    fh.seek(start)
    return fh.read(end - 1 - start)


def _hash_at(fh: IO[bytes], end: int) -> str | None:
    if end == 0:
        return GENESIS
    line = _line_ending_at(fh, end)
    return None if line is None else sha256_hex(line)


def _seq(line: bytes | None) -> int | None:
    try:
        return int(json.loads(line)["seq"]) if line is not None else None
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class _Verdict:
    """One head judged against the file."""

    problem: str = ""
    at: int | None = None  # byte offset where the problem shows (verify names its line)
    cut_to: int | None = None  # a torn pending line: the sealed size to cut the file back to
    state: Seal | None = None  # the log's end by this head, a written pending record folded in
    seen: int = 0  # the highest seq this head ever announced


def _judge(name: str, seal: Seal, fh: IO[bytes], size: int) -> _Verdict:
    seen = max(seal.seq, seal.pending.seq if seal.pending else 0)
    complete = size if size == 0 or _line_ending_at(fh, size) is not None else _line_start(fh, size)
    last = _line_ending_at(fh, complete)
    last_seq = _seq(last) or 0
    truncated = _Verdict(f"truncated: {name} seals record {seal.seq}"
                         + (f" ({seal.records} records, {seal.size} bytes)" if seal.size is not None else "")
                         + f" but the file ends at record {last_seq} ({size} bytes): its tail was cut off",
                         at=size, seen=seen)
    edited = _Verdict(f"the last record differs from the one {name} sealed (record {seal.seq}): edited or replaced",
                      at=_line_start(fh, max(complete - 1, 0)), seen=seen)
    if seal.size is None:  # first format: the file must end with the sealed line
        if last_seq < seal.seq:
            return truncated
        if complete == size and last_seq == seal.seq and _hash_at(fh, size) == seal.sha256:
            return _Verdict(state=replace(seal, size=size), seen=seen)
        if last_seq == seal.seq and complete == size:
            return edited
        return _Verdict(f"the file goes on past record {seal.seq}, the last one {name} sealed: lines were "
                        "appended or rewritten by something other than footage-search", at=size, seen=seen)
    if size < seal.size:
        return truncated if last_seq < seal.seq else edited
    if _hash_at(fh, seal.size) != seal.sha256:
        edited.at = _line_start(fh, max(seal.size - 1, 0))
        return edited
    ok = replace(seal, pending=None)
    if size == seal.size:
        return _Verdict(state=ok, seen=seen)
    p = seal.pending
    if p is not None and size == p.size and _hash_at(fh, size) == p.sha256:
        assert seal.records is not None
        return _Verdict(state=Seal(p.seq, p.sha256, seal.records + 1, p.size), seen=seen)
    if p is not None and size < p.size and complete <= seal.size:
        return _Verdict(cut_to=seal.size, state=ok, seen=seen)  # a torn pending line: a crash mid-append
    return _Verdict(f"{size - seal.size} bytes follow record {seal.seq}, the last one {name} sealed: appended "
                    "or rewritten by something other than footage-search", at=seal.size, seen=seen)


def _head_name(heads: list[Path], path: Path) -> str:
    return f"the head file {path.name}" if path == heads[0] else f"the mirror head {path}"


def _inspect(heads: list[Path], key: bytes | None, fh: IO[bytes] | None, size: int) -> list[_Verdict]:
    """Each head judged against the log (``fh`` None: there is no log file yet)."""
    out = []
    for path in heads:
        name = _head_name(heads, path)
        try:
            seal = _read_seal(path, key, name)
        except _BadHead as exc:
            out.append(_Verdict(str(exc)))
            continue
        if seal is None:
            out.append(_Verdict() if fh is None else _Verdict(
                f"{name} is missing, so a cut-off tail cannot be ruled out"))
        else:
            out.append(_judge(name, seal, fh if fh is not None else io.BytesIO(), size))
    return out


# ------------------------------------------------------------------------------------------ writing


@dataclass
class AuditLog:
    path: Path
    key: bytes | None = field(default=None, repr=False)
    mirror: Path | None = None  # a second head file, outside the log's folder
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.mirror = Path(self.mirror) if self.mirror is not None else None

    @classmethod
    def for_config(cls, cfg: Config) -> AuditLog:
        return cls(audit_log_path(cfg), audit_key(cfg), head_mirror_path(cfg))

    @property
    def head_path(self) -> Path:
        return self.path.with_name(self.path.name + HEAD_SUFFIX)

    @property
    def heads(self) -> list[Path]:
        return [self.head_path, *([self.mirror] if self.mirror is not None else [])]

    def write(self, event: str, actor: Identity | None = None, *, user: str | None = None, role: str | None = None,
              client: str | None = None, case: str = "", purpose: str = "",
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record (fsynced, sealed) and return it; :class:`AuditTamperedError` if the log was tampered."""
        record = _record(event, actor, user, role, client, case, purpose, details)
        with self._locked() as fh:
            size = fh.seek(0, os.SEEK_END) if fh is not None else 0
            verdicts = _inspect(self.heads, self.key, fh, size)
            problems = [v.problem for v in verdicts if v.problem]
            if problems:
                raise AuditTamperedError(self.path, problems)
            state = next((v.state for v in verdicts if v.state is not None), Seal(0, GENESIS, 0, 0))
            cut_to = next((v.cut_to for v in verdicts if v.cut_to is not None), None)
            if fh is not None and cut_to is not None:
                log.warning("audit log %s: removing %d bytes of record %d, cut short by a crash mid-append",
                            self.path, size - cut_to, state.seq + 1)
                fh.truncate(cut_to)
                os.fsync(fh.fileno())
            if state.records is None:  # a head of the first format: count once, then seal in the new one
                assert fh is not None
                fh.seek(0)
                state = replace(state, records=fh.read().count(b"\n"))
            return self._append(fh, state, record, announce=True)

    def acknowledge(self, actor: Identity, reason: str) -> dict[str, Any]:
        """Record why the log no longer matches its heads as a ``tamper`` record, then seal the heads again."""
        reason = " ".join(reason.split())
        if len(reason) < 10:
            raise UserError("--reason: say in a sentence what happened to the log (at least 10 characters)")
        with self._locked() as fh:
            data = b""
            if fh is not None:
                fh.seek(0)
                data = fh.read()
            verdicts = _inspect(self.heads, self.key, fh, len(data))
            found = [v.problem for v in verdicts if v.problem]
            if not found:
                raise UserError(f"nothing to acknowledge: {self.path} matches its head file(s)")
            if fh is not None and data and not data.endswith(b"\n"):
                fh.write(b"\n")  # a torn line stays, as evidence; the record starts on a line of its own
                data += b"\n"
            lines = data.split(b"\n")[:-1]
            actual = {"records": len(lines), "last_seq": _seq(lines[-1]) if lines else 0,
                      "sha256": sha256_hex(lines[-1]) if lines else GENESIS, "size": len(data)}
            expected: dict[str, Any] = {}
            for path in self.heads:
                try:
                    seal = _read_seal(path, self.key, _head_name(self.heads, path))
                    expected[str(path)] = seal.to_json() if seal is not None else "missing"
                except _BadHead as exc:
                    expected[str(path)] = str(exc)
            # numbering goes on after the highest number ever sealed, not after the shortened file's end
            top = max([0, *(v.seen for v in verdicts), *(s for s in map(_seq, lines) if s is not None)])
            state = Seal(top, actual["sha256"], len(lines), len(data))
            record = _record("tamper", actor, None, None, None, "", "",
                             {"reason": reason, "found": found, "expected": expected, "actual": actual})
            return self._append(fh, state, record, announce=False)

    @contextmanager
    def _locked(self) -> Iterator[IO[bytes] | None]:
        """Both locks held, and the log open for reading and appending (None: no log file yet)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock, FileLock(str(self.path) + ".lock", timeout=60):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                yield None
                return
            with os.fdopen(fd, "a+b") as fh:
                yield fh

    def _append(self, fh: IO[bytes] | None, state: Seal, record: dict[str, Any], *, announce: bool) -> dict[str, Any]:
        assert state.records is not None and state.size is not None
        record["seq"] = state.seq + 1
        record["ts"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        record["prev"] = state.sha256
        if self.key is not None:
            record["mac"] = _mac(self.key, canonical(record))
        line = canonical(record)
        done = Seal(record["seq"], sha256_hex(line), state.records + 1, state.size + len(line) + 1)
        if announce:
            self._seal(replace(state, pending=Pending(done.seq, done.sha256, done.size)))
        if fh is None:  # the first record: the heads exist before the file does
            fh = os.fdopen(os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600), "a+b")
            with fh:
                self._write_line(fh, line + b"\n")
        else:
            self._write_line(fh, line + b"\n")
        self._seal(done)
        return record

    def _write_line(self, fh: IO[bytes], data: bytes) -> None:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())

    def _seal(self, seal: Seal) -> None:
        head = seal.to_json()
        if self.key is not None:
            head["mac"] = _mac(self.key, canonical(head))
        for path in self.heads:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(path, canonical(head) + b"\n", prefix=".audit-head-", mode=0o600)


def _record(event: str, actor: Identity | None, user: str | None, role: str | None, client: str | None,
            case: str, purpose: str, details: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "event": event,
        "user": user if user is not None else (actor.name if actor else ""),
        "role": role if role is not None else (actor.role.value if actor else ""),
        "client": client if client is not None else (actor.client if actor else ""),
        "case": case, "purpose": purpose, "details": _clip(details or {}),
    }


# ----------------------------------------------------------------------------------------- verify


@dataclass
class VerifyResult:
    path: Path
    records: int = 0
    bad_line: int | None = None  # 1-based line number of the first problem
    problem: str = ""
    warnings: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # the tamper records, as lines for people
    mac_checked: bool = False
    mirror_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.bad_line is None and not self.problem

    def summary(self) -> str:
        if self.ok:
            how = ["chain", "head", *(["mirror head"] if self.mirror_checked else []),
                   *(["HMACs"] if self.mac_checked else [])]
            acks = f"; {len(self.acknowledged)} acknowledged tamper record(s)" if self.acknowledged else ""
            return (f"audit log OK: {self.path}: {self.records} records, {', '.join(how[:-1])} and {how[-1]} "
                    f"intact{acks}")
        where = f" at line {self.bad_line}" if self.bad_line is not None else ""
        return f"audit log BROKEN{where}: {self.path}: {self.problem}"


def verify_log(path: str | Path, key: bytes | None = None, mirror: str | Path | None = None) -> VerifyResult:
    """Check every record's chain link, number and MAC, then each head file against the file's end."""
    path = Path(path)
    res = VerifyResult(path=path, mac_checked=key is not None, mirror_checked=mirror is not None)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        res.problem = "no audit log at this path"
        return res
    heads = [path.with_name(path.name + HEAD_SUFFIX), *([Path(mirror)] if mirror is not None else [])]
    verdicts = _inspect(heads, key, io.BytesIO(data), len(data))
    cut_to = next((v.cut_to for v in verdicts if v.cut_to is not None), None)
    if cut_to is not None:
        res.warnings.append(f"the last {len(data) - cut_to} bytes are a record cut short by a crash mid-append "
                            "(announced in the head, never finished): the next append removes them")
        data = data[:cut_to]
    if not _check_chain(res, data, key):
        return res
    for v in verdicts:
        if v.problem:
            res.problem = v.problem
            res.bad_line = data.count(b"\n", 0, v.at) + 1 if v.at is not None else None
            return res
        if v.state is not None and v.state.records is not None and v.state.records != res.records:
            res.problem = f"the head says the log holds {v.state.records} records, the file holds {res.records}"
            return res
    return res


def _check_chain(res: VerifyResult, data: bytes, key: bytes | None) -> bool:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        res.bad_line, res.problem = len(lines), "the last line is incomplete (cut off while being written?)"
        return False
    prev, seq = GENESIS, 0
    unkeyed_macs = False
    for i, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not an object")
        except ValueError:
            res.bad_line, res.problem = i, "not a JSON record"
            return False
        if canonical(rec) != line:
            res.bad_line, res.problem = i, "record was rewritten (not in the canonical form it was written in)"
            return False
        if rec.get("prev") != prev:
            res.bad_line = i
            res.problem = ("chain broken: this record does not follow the line before it "
                           + (f"(line {i - 1} was edited, or lines were removed or reordered here, or this line "
                              "was edited)" if i > 1 else "(lines before it were removed, or this line was edited)"))
            return False
        # an acknowledged tamper record numbers on after the highest number ever sealed: the gap is its point
        tamper = rec.get("event") == "tamper" and isinstance(rec.get("seq"), int) and rec["seq"] > seq
        if rec.get("seq") != seq + 1 and not tamper:
            res.bad_line, res.problem = i, f"record number {rec.get('seq')!r} where {seq + 1} was expected"
            return False
        if key is not None:
            body = {k: v for k, v in rec.items() if k != "mac"}
            if not hmac.compare_digest(str(rec.get("mac", "")), _mac(key, canonical(body))):
                res.bad_line, res.problem = i, "HMAC does not match (edited, or written with another key)"
                return False
        elif "mac" in rec:
            unkeyed_macs = True
        if tamper:
            res.acknowledged.append(_describe_tamper(i, seq, rec))
        prev, seq = sha256_hex(line), rec["seq"]
        res.records += 1
    if unkeyed_macs:
        res.warnings.append("records carry HMACs but no key was given: only the chain was checked")
    return True


def _describe_tamper(line: int, before: int, rec: dict[str, Any]) -> str:
    d = rec.get("details") or {}
    gap = f"records {before + 1}-{rec['seq'] - 1} missing" if rec["seq"] > before + 1 else "no records missing"
    return (f"line {line}, record {rec['seq']}, {rec.get('ts', '?')}, {rec.get('user', '?')}: {gap}; found: "
            f"{'; '.join(map(str, d.get('found', [])))}; reason: {d.get('reason', '')}")

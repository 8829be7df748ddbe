"""The audit log: append-only, hash-chained JSON lines, with a sealed head to catch a cut-off tail.

Every record is one line of canonical JSON (sorted keys, no spaces)::

    {"case":"2026-SEO-0142","client":"10.1.2.3","details":{...},"event":"search","prev":"<sha256>",
     "purpose":"missing child ...","role":"operator","seq":42,"ts":"2026-03-14T00:12:03.123456Z","user":"kim"}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first record), so editing,
deleting or reordering a line breaks the chain at the next line. With an HMAC key configured, each
record also carries ``mac`` (HMAC-SHA256 of the record without it): without the key nobody can rewrite
the chain consistently. A chain alone cannot show that its last lines were cut off, so after every
append ``<log>.head`` is rewritten with the last record's number and hash (MAC'd too, when keyed):
``verify`` then also catches an edited last line and a truncated tail.

Appends are serialised by a thread lock and a file lock (the console's threads, the ``purge`` and
``users`` commands), and each record is fsynced before the call returns, so an action the console
reports done is on disk in the log.

Photos are never written here, only their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from core.atomic_file import write_atomic
from core.config import Config, ConfigError, expand
from core.state_paths import beside_index

if TYPE_CHECKING:
    from core.auth import Identity

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"
MAX_TEXT = 2000  # long free text (a pasted witness statement) is cut, so one record stays one small line


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


@dataclass
class AuditLog:
    path: Path
    key: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # (file size, seq, sha256) of the last record this process wrote: saves re-reading the tail
    # when nobody else appended since
    _tail: tuple[int, int, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @classmethod
    def for_config(cls, cfg: Config) -> AuditLog:
        return cls(audit_log_path(cfg), audit_key(cfg))

    @property
    def head_path(self) -> Path:
        return self.path.with_name(self.path.name + HEAD_SUFFIX)

    def write(self, event: str, actor: Identity | None = None, *, user: str | None = None, role: str | None = None,
              client: str | None = None, case: str = "", purpose: str = "",
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record (fsynced) and return it. ``user``/``role``/``client`` override the actor's."""
        record: dict[str, Any] = {
            "event": event,
            "user": user if user is not None else (actor.name if actor else ""),
            "role": role if role is not None else (actor.role.value if actor else ""),
            "client": client if client is not None else (actor.client if actor else ""),
            "case": case, "purpose": purpose, "details": _clip(details or {}),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, FileLock(str(self.path) + ".lock", timeout=60):
            with open(self.path, "a+b") as fh:
                size = fh.seek(0, os.SEEK_END)
                if self._tail is not None and self._tail[0] == size:
                    seq, prev = self._tail[1], self._tail[2]
                else:
                    seq, prev, torn = _last_record(fh, size)
                    if torn:
                        # A crash cut the last line short: keep it (verify reports it) and start a new line.
                        fh.write(b"\n")
                record["seq"] = seq + 1
                record["ts"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                record["prev"] = prev
                if self.key is not None:
                    record["mac"] = _mac(self.key, canonical(record))
                line = canonical(record)
                fh.write(line + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
                new_size = fh.tell()
            digest = sha256_hex(line)
            self._write_head(record["seq"], digest)
            self._tail = (new_size, record["seq"], digest)
        return record

    def _write_head(self, seq: int, digest: str) -> None:
        head: dict[str, Any] = {"seq": seq, "sha256": digest}
        if self.key is not None:
            head["mac"] = _mac(self.key, canonical(head))
        write_atomic(self.head_path, canonical(head) + b"\n", prefix=".audit-head-")


def _last_record(fh, size: int) -> tuple[int, str, bool]:
    """(seq, sha256 of the last line, torn) of the log; (0, GENESIS, False) for an empty file.

    A damaged tail (a line cut short by a crash, or not a record at all) does not stop the console from
    auditing: the next record chains onto the damaged line's bytes and numbers on from the last readable
    record, and ``verify`` names the damaged line.
    """
    if size == 0:
        return 0, GENESIS, False
    pos, data, block = size, b"", 4096
    while True:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
        if b"\n" in data.removesuffix(b"\n") or pos == 0:
            break
        block *= 2
    torn = not data.endswith(b"\n")
    last = data.removesuffix(b"\n").rsplit(b"\n", 1)[-1]
    seq = _seq(last)
    if seq is None:
        fh.seek(0)
        seq = max((s for s in map(_seq, fh.read().split(b"\n")) if s is not None), default=0)
    return seq, sha256_hex(last), torn


def _seq(line: bytes) -> int | None:
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------------------- verify


@dataclass
class VerifyResult:
    path: Path
    records: int = 0
    bad_line: int | None = None  # 1-based line number of the first problem
    problem: str = ""
    warnings: list[str] = field(default_factory=list)
    mac_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.bad_line is None and not self.problem

    def summary(self) -> str:
        if self.ok:
            how = "chain, head and HMACs intact" if self.mac_checked else "chain and head intact"
            return f"audit log OK: {self.path}: {self.records} records, {how}"
        where = f" at line {self.bad_line}" if self.bad_line is not None else ""
        return f"audit log BROKEN{where}: {self.path}: {self.problem}"


def verify_log(path: str | Path, key: bytes | None = None) -> VerifyResult:
    """Check every record's chain link, number and MAC, then the head file against the last record."""
    path = Path(path)
    res = VerifyResult(path=path, mac_checked=key is not None)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        res.problem = "no audit log at this path"
        return res
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        res.bad_line, res.problem = len(lines), "the last line is incomplete (cut off while being written?)"
        return res
    prev, seq = GENESIS, 0
    recent: list[tuple[int, str]] = []  # (seq, sha256) of the last two records, for the head check
    unkeyed_macs = False
    for i, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not an object")
        except ValueError:
            res.bad_line, res.problem = i, "not a JSON record"
            return res
        if canonical(rec) != line:
            res.bad_line, res.problem = i, "record was rewritten (not in the canonical form it was written in)"
            return res
        if rec.get("prev") != prev:
            res.bad_line = i
            res.problem = ("chain broken: this record does not follow the line before it "
                           + (f"(line {i - 1} was edited, or lines were removed or reordered here, or this line "
                              "was edited)" if i > 1 else "(lines before it were removed, or this line was edited)"))
            return res
        if rec.get("seq") != seq + 1:
            res.bad_line, res.problem = i, f"record number {rec.get('seq')!r} where {seq + 1} was expected"
            return res
        if key is not None:
            body = {k: v for k, v in rec.items() if k != "mac"}
            if not hmac.compare_digest(str(rec.get("mac", "")), _mac(key, canonical(body))):
                res.bad_line, res.problem = i, "HMAC does not match (edited, or written with another key)"
                return res
        elif "mac" in rec:
            unkeyed_macs = True
        prev, seq = sha256_hex(line), rec["seq"]
        recent = [*recent[-1:], (seq, prev)]
        res.records += 1
    if unkeyed_macs:
        res.warnings.append("records carry HMACs but no key was given: only the chain was checked")
    _check_head(res, path, key, recent, len(lines))
    return res


def _check_head(res: VerifyResult, path: Path, key: bytes | None, recent: list[tuple[int, str]],
                n_lines: int) -> None:
    seq, digest = recent[-1] if recent else (0, GENESIS)
    head_path = path.with_name(path.name + HEAD_SUFFIX)
    try:
        head = json.loads(head_path.read_text(encoding="utf-8"))
        head_seq, head_hash = int(head["seq"]), str(head["sha256"])
    except FileNotFoundError:
        res.warnings.append(f"no head file {head_path.name}: a cut-off tail cannot be detected")
        return
    except (ValueError, KeyError, TypeError):
        res.problem = f"head file {head_path.name} is unreadable"
        return
    if key is not None:
        body = {k: v for k, v in head.items() if k != "mac"}
        if not hmac.compare_digest(str(head.get("mac", "")), _mac(key, canonical(body))):
            res.problem = f"head file {head_path.name}: HMAC does not match"
            return
    if head_seq > seq:
        res.bad_line = n_lines + 1 if n_lines else 1
        res.problem = (f"truncated: the head file says the log holds {head_seq} records, the file ends after "
                       f"{seq} (the last {head_seq - seq} were cut off)")
    elif head_seq == seq and head_hash != digest:
        res.bad_line = n_lines
        res.problem = "the last record differs from the one the head file sealed (edited or replaced)"
    elif head_seq == seq - 1 and len(recent) == 2 and recent[0][1] == head_hash:
        # a crash between writing a record and sealing it leaves the head exactly one behind
        res.warnings.append("the head file is one record behind the log (a crash between writing the last "
                            "record and sealing it?)")
    elif head_seq < seq:
        res.bad_line = n_lines
        res.problem = (f"the head file seals record {head_seq} but the log goes on to {seq}: records were "
                       "appended or rewritten by something other than footage-search")

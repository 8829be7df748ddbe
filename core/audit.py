"""The audit log: append-only, hash-chained JSON lines, whose end is sealed in a head file.

Every record is one line of canonical JSON (sorted keys, no spaces)::

    {"case":"2026-SEO-0142","client":"10.1.2.3","details":{...},"event":"search","prev":"<sha256>",
     "purpose":"missing child ...","role":"operator","seq":42,"ts":"2026-03-14T00:12:03.123456Z","user":"kim"}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first record), so editing,
deleting or reordering a line breaks the chain at the next line. With an HMAC key configured, each
record also carries ``mac`` (HMAC-SHA256 of the record without it): without the key nobody can rewrite
the chain consistently.

A chain cannot show that its last lines were cut off, so ``<log>.head`` (and ``audit.head_mirror``, a
second copy kept elsewhere) seals the log's end (:mod:`core.audit_head`: the format, and how a head is
judged against the file). Every append checks each head against the file; an append to a log that
does not match its heads (a head missing or unreadable or with a bad MAC, a cut or edited tail, lines
appended by something else) raises :class:`AuditTamperedError` and writes nothing, until an admin runs
``footage-search audit acknowledge --reason ...``: that appends a ``tamper`` record (who, why, each
head's seal against the file's actual end) numbered after the highest ``seq`` any head ever sealed, so
numbers never repeat, and seals the heads again. ``footage-search audit verify`` checks the whole log
(:mod:`core.audit_verify`); ``verify_log`` and ``VerifyResult`` are importable from here too.

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
from core.audit_head import (
    GENESIS,
    HEAD_SUFFIX,
    BadHead,
    Pending,
    Seal,
    canonical,
    head_name,
    head_paths,
    judge_heads,
    line_seq,
    mac,
    read_seal,
    sha256_hex,
)
from core.audit_verify import VerifyResult, verify_log
from core.config import Config, ConfigError, expand
from core.errors import FootageSearchError, UserError
from core.state_paths import beside_index

if TYPE_CHECKING:
    from core.auth import Identity

# what other modules import from here, wherever it is defined
__all__ = ["GENESIS", "HEAD_SUFFIX", "AuditLog", "AuditTamperedError", "VerifyResult", "audit_key",
           "audit_log_path", "canonical", "head_mirror_path", "sha256_hex", "verify_log"]

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
        return head_paths(self.path, self.mirror)

    def write(self, event: str, actor: Identity | None = None, *, user: str | None = None, role: str | None = None,
              client: str | None = None, case: str = "", purpose: str = "",
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record (fsynced, sealed) and return it; :class:`AuditTamperedError` if the log was tampered."""
        record = _record(event, actor, user, role, client, case, purpose, details)
        with self._locked() as fh:
            size = fh.seek(0, os.SEEK_END) if fh is not None else 0
            verdicts = judge_heads(self.heads, self.key, fh, size)
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
            verdicts = judge_heads(self.heads, self.key, fh, len(data))
            found = [v.problem for v in verdicts if v.problem]
            if not found:
                raise UserError(f"nothing to acknowledge: {self.path} matches its head file(s)")
            if fh is not None and data and not data.endswith(b"\n"):
                fh.write(b"\n")  # a torn line stays, as evidence; the record starts on a line of its own
                data += b"\n"
            lines = data.split(b"\n")[:-1]
            actual = {"records": len(lines), "last_seq": line_seq(lines[-1]) if lines else 0,
                      "sha256": sha256_hex(lines[-1]) if lines else GENESIS, "size": len(data)}
            expected: dict[str, Any] = {}
            for path in self.heads:
                try:
                    seal = read_seal(path, self.key, head_name(self.heads, path))
                    expected[str(path)] = seal.to_json() if seal is not None else "missing"
                except BadHead as exc:
                    expected[str(path)] = str(exc)
            # numbering goes on after the highest number ever sealed, not after the shortened file's end
            top = max([0, *(v.seen for v in verdicts), *(s for s in map(line_seq, lines) if s is not None)])
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
            record["mac"] = mac(self.key, canonical(record))
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
            head["mac"] = mac(self.key, canonical(head))
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

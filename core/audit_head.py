"""The audit log's sealed head: its format, and how a head is judged against the log file's end.

A hash chain cannot show that its last lines were cut off, so ``<log>.head`` (and ``audit.head_mirror``,
a second copy kept elsewhere) seals the log's end: the number of records, the file's size, the last
record's ``seq`` and line hash, and, while an append is under way, the ``pending`` record it is about
to write (see :mod:`core.audit` for that protocol). With an HMAC key the head carries ``mac`` too.

:func:`judge_heads` is shared by the writer (:class:`core.audit.AuditLog`, which refuses to append to a
log that does not match) and :func:`core.audit_verify.verify_log` (which reports the same as errors).
It reads only the file's end, never the whole log, so an append stays cheap however long the log is.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"
HEAD_FORMAT = 2  # heads of the first format held only seq and sha256; they are read, never written


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def head_paths(log: Path, mirror: Path | None) -> list[Path]:
    """The log's own head first (messages name it by file name), then the mirror if there is one."""
    return [log.with_name(log.name + HEAD_SUFFIX), *([mirror] if mirror is not None else [])]


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


class BadHead(Exception):
    """A head file that exists but cannot be trusted (its message is the problem, naming the head)."""


def read_seal(path: Path, key: bytes | None, name: str) -> Seal | None:
    """The head at ``path``; None when there is none; :class:`BadHead` when it cannot be trusted."""
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
        raise BadHead(f"{name} is unreadable") from None
    if key is not None and not hmac.compare_digest(str(raw.get("mac", "")), mac(key, canonical(body))):
        raise BadHead(f"{name}: HMAC does not match (forged, or written with another key)")
    return seal


def head_name(heads: list[Path], path: Path) -> str:
    return f"the head file {path.name}" if path == heads[0] else f"the mirror head {path}"


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


def line_seq(line: bytes | None) -> int | None:
    """The ``seq`` of a record line; None when there is no line or it holds no readable number."""
    try:
        return int(json.loads(line)["seq"]) if line is not None else None
    except (ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------------------------------------ judging the heads


@dataclass
class Verdict:
    """One head judged against the file."""

    problem: str = ""
    at: int | None = None  # byte offset where the problem shows (verify names its line)
    cut_to: int | None = None  # a torn pending line: the sealed size to cut the file back to
    state: Seal | None = None  # the log's end by this head, a written pending record folded in
    seen: int = 0  # the highest seq this head ever announced


def _judge(name: str, seal: Seal, fh: IO[bytes], size: int) -> Verdict:
    seen = max(seal.seq, seal.pending.seq if seal.pending else 0)
    complete = size if size == 0 or _line_ending_at(fh, size) is not None else _line_start(fh, size)
    last = _line_ending_at(fh, complete)
    last_seq = line_seq(last) or 0
    truncated = Verdict(f"truncated: {name} seals record {seal.seq}"
                        + (f" ({seal.records} records, {seal.size} bytes)" if seal.size is not None else "")
                        + f" but the file ends at record {last_seq} ({size} bytes): its tail was cut off",
                        at=size, seen=seen)
    edited = Verdict(f"the last record differs from the one {name} sealed (record {seal.seq}): edited or replaced",
                     at=_line_start(fh, max(complete - 1, 0)), seen=seen)
    if seal.size is None:  # first format: the file must end with the sealed line
        if last_seq < seal.seq:
            return truncated
        if complete == size and last_seq == seal.seq and _hash_at(fh, size) == seal.sha256:
            return Verdict(state=replace(seal, size=size), seen=seen)
        if last_seq == seal.seq and complete == size:
            return edited
        return Verdict(f"the file goes on past record {seal.seq}, the last one {name} sealed: lines were "
                       "appended or rewritten by something other than footage-search", at=size, seen=seen)
    if size < seal.size:
        return truncated if last_seq < seal.seq else edited
    if _hash_at(fh, seal.size) != seal.sha256:
        edited.at = _line_start(fh, max(seal.size - 1, 0))
        return edited
    ok = replace(seal, pending=None)
    if size == seal.size:
        return Verdict(state=ok, seen=seen)
    p = seal.pending
    if p is not None and size == p.size and _hash_at(fh, size) == p.sha256:
        assert seal.records is not None
        return Verdict(state=Seal(p.seq, p.sha256, seal.records + 1, p.size), seen=seen)
    if p is not None and size < p.size and complete <= seal.size:
        return Verdict(cut_to=seal.size, state=ok, seen=seen)  # a torn pending line: a crash mid-append
    return Verdict(f"{size - seal.size} bytes follow record {seal.seq}, the last one {name} sealed: appended "
                   "or rewritten by something other than footage-search", at=seal.size, seen=seen)


def judge_heads(heads: list[Path], key: bytes | None, fh: IO[bytes] | None, size: int) -> list[Verdict]:
    """Each head judged against the log (``fh`` None: there is no log file yet)."""
    out = []
    for path in heads:
        name = head_name(heads, path)
        try:
            seal = read_seal(path, key, name)
        except BadHead as exc:
            out.append(Verdict(str(exc)))
            continue
        if seal is None:
            out.append(Verdict() if fh is None else Verdict(
                f"{name} is missing, so a cut-off tail cannot be ruled out"))
        else:
            out.append(_judge(name, seal, fh if fh is not None else io.BytesIO(), size))
    return out

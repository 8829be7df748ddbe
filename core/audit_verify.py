"""``footage-search audit verify``: check a whole audit log, record by record, then its head(s).

Every record's chain link (``prev``), number (``seq``) and, with a key, MAC are checked from the first
line; then each head is judged against the file's end exactly as an append would judge it
(:func:`core.audit_head.judge_heads`), so whatever would stop appends fails verify too. An acknowledged
``tamper`` record may skip numbers (it numbers on after the highest ``seq`` ever sealed); verify lists
each one with its gap, for people. Reads the file only: it never takes the log's lock nor repairs it.
"""

from __future__ import annotations

import hmac
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audit_head import GENESIS, canonical, head_paths, judge_heads, mac, sha256_hex


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
    heads = head_paths(path, Path(mirror) if mirror is not None else None)
    verdicts = judge_heads(heads, key, io.BytesIO(data), len(data))
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
            if not hmac.compare_digest(str(rec.get("mac", "")), mac(key, canonical(body))):
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

"""A case's persistent state: the report, where the cone was anchored, the queue, coverage, marks, findings.

One JSON file per case, ``<cases folder>/<case number>/case.json`` (the cases folder sits beside the index
folder, like the users file and the audit log, so ``index --rebuild`` keeps it). Written whole and
atomically with mode 0600 after every change, so a stopped or crashed case resumes exactly where the
last save left it, and the file is the audit of what was analysed and why the cone moved.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core import intervals as iv
from core.atomic_file import write_atomic
from core.config import Config
from core.errors import FootageSearchError
from core.state_paths import beside_index

from .planner import Anchor, PlanParams, WorkItem

if TYPE_CHECKING:
    from search.result import Sighting

FORMAT_VERSION = 1
CASE_FILE = "case.json"
CASE_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
STATUSES = ("running", "stopped", "done")
Status = Literal["running", "stopped", "done"]
MAX_BEST = 50  # findings kept besides pinned ones: enough for a route, small enough to read


class CaseError(FootageSearchError):
    """A case that cannot be created, read or changed as asked (the message says which and why)."""


def check_case_number(number: str) -> str:
    if not CASE_NUMBER_RE.match(number or ""):
        raise CaseError(f"case number {number!r}: use 1-64 letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    return number


def cases_root(cfg: Config, configured: str = "") -> Path:
    """The folder that holds one sub-folder per case: ``configured`` or ``cases/`` beside the index folder."""
    return beside_index(cfg, configured, "cases", "a local cases folder (--cases-dir)")


def case_dir(root: Path, number: str) -> Path:
    return root / check_case_number(number)


@dataclass(frozen=True)
class Report:
    """What the case started from, as the operator gave it."""

    camera_id: str
    at: float  # epoch seconds
    text: str = ""
    photo_sha256: str = ""  # the photo itself stays wherever the operator keeps it
    direction: str = ""
    hours: float = 4.0


@dataclass(frozen=True)
class AnchorRecord:
    """One centre of the cone: the report, or a sighting that moved it (and why)."""

    anchor: Anchor
    reason: str  # "report" | "confident sighting" | "pinned sighting"
    sighting_id: str = ""
    score: float | None = None
    set_at: float = 0.0  # wall-clock epoch when the case moved here


@dataclass(frozen=True)
class Finding:
    """A sighting the case's query found, compact enough to keep: the index has the rest."""

    sighting_id: str
    camera_id: str
    district: str
    t_start: float
    t_end: float
    t_best: float
    score: float | None
    bearing_deg: float | None = None
    member_ids: tuple[str, ...] = ()
    weak: bool = False
    found_at: float = 0.0

    @classmethod
    def from_sighting(cls, s: Sighting, found_at: float = 0.0) -> Finding:
        return cls(s.sighting_id, s.camera_id, s.district, s.t_start, s.t_end, s.t_best, s.score, s.bearing_deg,
                   tuple(s.member_ids), s.weak, found_at)


@dataclass
class CaseState:
    number: str
    report: Report
    params: PlanParams
    anchors: list[AnchorRecord]
    queue: list[WorkItem] = field(default_factory=list)
    no_footage: list[WorkItem] = field(default_factory=list)
    coverage: dict[str, list[iv.Interval]] = field(default_factory=dict)
    pinned: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    status: Status = "running"
    created_at: float = 0.0
    updated_at: float = 0.0
    # Where the case runs and what it has done so far (case/runner.py): kept so status/resume need only the number.
    archive: str = ""
    registry: str = ""
    purpose: str = ""
    windows_done: int = 0
    decoded_s: float = 0.0

    @property
    def anchor(self) -> Anchor:
        return self.anchors[-1].anchor

    # ----------------------------------------------------------------------------------- changes

    def mark_covered(self, camera_id: str, t0: float, t1: float) -> None:
        """Record a span as analysed and take every queued span it covers off the queue."""
        merged = iv.merge([*self.coverage.get(camera_id, []), (t0, t1)])
        self.coverage[camera_id] = merged
        self.queue = [w for w in self.queue if w.camera_id != camera_id or not iv.covers(merged, (w.t0, w.t1))]

    def covered_s(self) -> float:
        return sum(iv.total(spans) for spans in self.coverage.values())

    def pin(self, sighting_id: str) -> None:
        """The operator confirms this is the person; a pin undoes an earlier rejection."""
        self.rejected = [s for s in self.rejected if s != sighting_id]
        if sighting_id not in self.pinned:
            self.pinned.append(sighting_id)

    def reject(self, sighting_id: str) -> None:
        """The operator says this is not the person; it will never move the cone."""
        self.pinned = [s for s in self.pinned if s != sighting_id]
        if sighting_id not in self.rejected:
            self.rejected.append(sighting_id)

    def add_findings(self, found: Iterable[Finding]) -> None:
        """Keep the best ``MAX_BEST`` findings by score (one per sighting id), and every pinned one."""
        by_id = {f.sighting_id: f for f in self.findings}
        for f in found:
            old = by_id.get(f.sighting_id)
            if old is None or (f.score or 0.0) > (old.score or 0.0):
                by_id[f.sighting_id] = f
        ranked = sorted(by_id.values(), key=lambda f: (-(f.score or 0.0), f.t_best, f.sighting_id))
        keep = ranked[:MAX_BEST] + [f for f in ranked[MAX_BEST:] if f.sighting_id in self.pinned]
        self.findings = keep

    def move_to(self, record: AnchorRecord, queue: list[WorkItem], no_footage: list[WorkItem]) -> None:
        """Re-centre: a new anchor (never earlier than the current one) and the queue planned from it."""
        if record.anchor.t < self.anchor.t:
            raise CaseError(f"case {self.number}: a new anchor must not be earlier than the current one")
        self.anchors.append(record)
        self.queue, self.no_footage = list(queue), list(no_footage)

    def set_status(self, status: str) -> None:
        if status not in STATUSES:
            raise CaseError(f"case status {status!r}: one of {', '.join(STATUSES)}")
        self.status = status  # type: ignore[assignment]

    # ----------------------------------------------------------------------------------- JSON

    def to_json(self) -> dict:
        out = asdict(self)
        out["format_version"] = FORMAT_VERSION
        out["coverage"] = {cid: [list(s) for s in spans] for cid, spans in sorted(self.coverage.items())}
        return out

    @classmethod
    def from_json(cls, data: dict, source: str = "<memory>") -> CaseState:
        if data.get("format_version") != FORMAT_VERSION:
            raise CaseError(f"{source}: case file format {data.get('format_version')!r}, "
                            f"this version reads {FORMAT_VERSION}")
        try:
            state = cls(
                number=check_case_number(data["number"]), report=Report(**data["report"]),
                params=PlanParams(**data["params"]),
                anchors=[AnchorRecord(**{**a, "anchor": Anchor(**a["anchor"])}) for a in data["anchors"]],
                queue=[WorkItem(**w) for w in data["queue"]], no_footage=[WorkItem(**w) for w in data["no_footage"]],
                coverage={cid: [(float(a), float(b)) for a, b in spans] for cid, spans in data["coverage"].items()},
                pinned=list(data["pinned"]), rejected=list(data["rejected"]),
                findings=[Finding(**{**f, "member_ids": tuple(f["member_ids"])}) for f in data["findings"]],
                created_at=float(data["created_at"]), updated_at=float(data["updated_at"]),
                archive=str(data.get("archive", "")), registry=str(data.get("registry", "")),
                purpose=str(data.get("purpose", "")), windows_done=int(data.get("windows_done", 0)),
                decoded_s=float(data.get("decoded_s", 0.0)),
            )
            state.set_status(data["status"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FootageSearchError):
                raise
            raise CaseError(f"{source}: not a readable case file ({type(exc).__name__}: {exc})") from None
        if not state.anchors:
            raise CaseError(f"{source}: the case has no anchor")
        return state


def new_case(number: str, report: Report, params: PlanParams, anchor: Anchor, *, now: float | None = None
             ) -> CaseState:
    now = time.time() if now is None else now
    return CaseState(number=check_case_number(number), report=report, params=params,
                     anchors=[AnchorRecord(anchor, "report", set_at=now)], created_at=now, updated_at=now)


def save(state: CaseState, folder: Path, *, now: float | None = None) -> Path:
    """Write ``folder/case.json`` atomically, owner-only (case files name places and times of a person)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    state.updated_at = time.time() if now is None else now
    path = folder / CASE_FILE
    data = json.dumps(state.to_json(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    write_atomic(path, data.encode("utf-8"), mode=0o600)
    return path


def load(folder: Path) -> CaseState:
    path = folder / CASE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaseError(f"no case in {folder} ({CASE_FILE} not found)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(f"{path}: cannot read the case ({exc})") from None
    if not isinstance(data, dict):
        raise CaseError(f"{path}: not a case file")
    return CaseState.from_json(data, source=str(path))

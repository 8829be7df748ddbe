"""Running a case: analyse the planned windows nearest first, search each as it is covered, follow the person.

:class:`CaseRunner` drives one case. Each :meth:`CaseRunner.step` takes the front of the queue (one window
per worker), indexes it with :func:`indexer.windows.index_windows` (which never analyses a span twice),
marks it covered, runs the case's query restricted to that camera and window, keeps the hits as findings
and lets :func:`case.follow.decide` say whether to re-centre the cone on a confident or pinned sighting;
a re-centre re-plans the queue from the new anchor (covered spans stay out of it). The case file is saved
after every step, so a run killed at any point resumes from the last save: the index already holds any
window committed after it, so the redo costs a search, not an analysis, and findings keep one entry per
sighting id. Every start, window, re-centre and stop is written to the audit log with the case number
and purpose.

The console can run a runner in a background thread and poll :meth:`CaseRunner.snapshot` (no I/O);
:meth:`CaseRunner.stop` or a ``STOP`` file in the case folder (``footage-search case stop``) ends
:meth:`CaseRunner.run` between two steps.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core import intervals as iv
from core.audit import AuditLog
from core.auth import Identity, cli_identity
from core.config import Config
from core.registry import CameraRegistry, load_registry
from indexer.archive import discover
from indexer.decode import DecodeError, probe
from indexer.windows import index_windows
from search.errors import SearchInputError
from search.filters import make_filters
from search.route import MAX_HORIZON_S, Route, RouteRequest, build_route

from . import follow, marks
from .planner import Anchor, PlanParams, WorkItem, plan
from .state import AnchorRecord, CaseError, CaseState, Finding, Report, case_dir, cases_root, load, new_case, save

if TYPE_CHECKING:
    from search.engine import CompiledQuery, SearchEngine

STOP_FILE = "STOP"
PHOTO_FILE = "photo"
HITS_PER_WINDOW = 10


@dataclass(frozen=True)
class Snapshot:
    """A case's progress, cheap to take (no I/O): what the CLI and the console show."""

    number: str
    status: str
    hours_analysed: float
    hours_decoded: float
    windows_done: int
    windows_queued: int
    hours_queued: float
    anchor_camera: str | None
    anchor_t: float
    anchor_reason: str
    recentres: int
    best: list[Finding]
    route_cameras: list[str]
    last_window: str = ""


@dataclass
class StepReport:
    windows: list[tuple[str, float, float]]
    analysed_s: float
    decoded_s: float
    hits: list[Finding]
    decision: follow.Decision
    wall_s: float
    failed: list[str] = field(default_factory=list)


def footage_spans(archive: Path, registry: CameraRegistry, tz: str) -> dict[str, list[iv.Interval]]:
    """Camera -> epoch spans its files record (probed; no decoding), so the plan lists only recorded windows."""
    videos, _ = discover(archive, registry, tz)
    spans: dict[str, list[iv.Interval]] = {}
    for v in videos:
        try:
            d = probe(v.path).duration_s
        except (DecodeError, OSError):
            continue  # index_windows reports the file as failed when a window reaches it
        spans.setdefault(v.camera_id, []).append((v.start_time, v.start_time + d))
    return {c: iv.merge(s) for c, s in spans.items()}


class CaseRunner:
    def __init__(self, cfg: Config, registry: CameraRegistry, archive: Path, state: CaseState, folder: Path, *,
                 audit: AuditLog | None = None, actor: Identity | None = None, workers: int | None = None,
                 confident: float | None = None, engine: SearchEngine | None = None,
                 footage: dict[str, list[iv.Interval]] | None = None, use_clip: bool = True,
                 parent_indexes: bool = True):
        self.use_clip, self.parent_indexes = use_clip, parent_indexes
        self.cfg, self.registry, self.archive, self.state, self.folder = cfg, registry, Path(archive), state, folder
        self.audit = audit if audit is not None else AuditLog.for_config(cfg)
        self.actor = actor or cli_identity()
        self.workers = workers if workers is not None else cfg.index.workers
        # One window per worker per step keeps every worker busy while the queue still follows the cone.
        self.batch = max(1, self.workers if self.workers > 0 else 1)
        self.confident = confident if confident is not None else max(0.5, cfg.search.min_score)
        self.footage = footage if footage is not None else footage_spans(self.archive, registry, cfg.index.timezone)
        self._engine = engine
        self._query: CompiledQuery | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._route: Route | None = None
        self._last = ""
        photo = folder / PHOTO_FILE
        self.photo = photo.read_bytes() if photo.exists() else None

    # --------------------------------------------------------------------------------- opening

    @classmethod
    def open(cls, cfg: Config, registry_path: Path, archive: Path, number: str, report: Report, purpose: str,
             params: PlanParams | None = None, *, photo: bytes | None = None, cases_dir: str = "",
             **kwargs) -> CaseRunner:
        """Start case ``number`` from ``report``, or resume it if it exists with the same report."""
        folder = case_dir(cases_root(cfg, cases_dir), number)
        if photo is not None:
            report = Report(**{**report.__dict__, "photo_sha256": hashlib.sha256(photo).hexdigest()})
        if not (report.text.strip() or photo is not None):
            raise CaseError("a case needs a description (--text) or a photo (--photo) of the person")
        if (folder / "case.json").exists():
            runner = cls.resume(cfg, number, purpose, cases_dir=cases_dir, **kwargs)
            if runner.state.report != report:
                raise CaseError(f"case {number} already exists with another report; use `case resume {number}` "
                                "to continue it or give a new case number")
            return runner
        registry = load_registry(registry_path)
        params = params or PlanParams(horizon_s=report.hours * 3600.0)
        anchor = Anchor.at_camera(registry, report.camera_id, report.at, report.direction or None)
        state = new_case(number, report, params, anchor)
        state.archive, state.registry = str(Path(archive).resolve()), str(Path(registry_path).resolve())
        state.purpose = purpose
        if photo is not None:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            (folder / PHOTO_FILE).write_bytes(photo)
            (folder / PHOTO_FILE).chmod(0o600)
        runner = cls(cfg, registry, Path(archive), state, folder, **kwargs)
        first = plan(registry, anchor, params, footage=runner.footage, covered=state.coverage)
        state.queue, state.no_footage = first.queue, first.no_footage
        save(state, folder)
        runner._audit("case_start", camera=report.camera_id, at=report.at, text=report.text,
                      photo_sha256=report.photo_sha256, direction=report.direction, hours=report.hours,
                      windows_queued=len(state.queue), hours_queued=round(first.queued_s / 3600, 3))
        return runner

    @classmethod
    def resume(cls, cfg: Config, number: str, purpose: str = "", *, cases_dir: str = "", **kwargs) -> CaseRunner:
        folder = case_dir(cases_root(cfg, cases_dir), number)
        state = load(folder)
        (folder / STOP_FILE).unlink(missing_ok=True)  # a stop asked while nothing ran must not end this run
        if not state.archive or not state.registry:
            raise CaseError(f"case {number}: the case file does not name its archive and registry")
        registry = load_registry(Path(state.registry))
        if purpose:
            state.purpose = purpose
        runner = cls(cfg, registry, Path(state.archive), state, folder, **kwargs)
        if state.status != "done":
            state.set_status("running")
        runner._audit("case_resume", windows_done=state.windows_done, windows_queued=len(state.queue),
                      hours_analysed=round(state.covered_s() / 3600, 3))
        return runner

    # --------------------------------------------------------------------------------- running

    @property
    def engine(self) -> SearchEngine:
        if self._engine is None:
            from search.engine import SearchEngine  # the index exists once the first window is in

            self._engine = SearchEngine(self.cfg, self.registry)
        return self._engine

    def _compiled(self) -> CompiledQuery:
        if self._query is None:
            q = self.engine.compile(self.state.report.text, photo=self.photo, use_clip=self.use_clip)
            if q.scoring.browse:
                raise CaseError("the description gives nothing to recognise the person by (clothing colours, "
                                "objects, hair) and there is no photo")
            self._query = q
        return self._query

    def step(self) -> StepReport | None:
        """Analyse the next windows of the queue, search them, maybe re-centre; None once the queue is empty."""
        st = self.state
        if not st.queue:
            if st.status != "done":
                st.set_status("done")
                save(st, self.folder)
                self._audit("case_done", windows_done=st.windows_done, hours_analysed=round(st.covered_s() / 3600, 3))
            return None
        t0 = time.perf_counter()
        items = st.queue[: self.batch]
        spans = [(w.camera_id, w.t0, w.t1) for w in items]
        run = index_windows(self.cfg, self.registry, self.archive, spans, workers=self.workers,
                           parent_indexes=self.parent_indexes)
        query = self._compiled()
        if st.pinned and query.scoring.uses_appearance:  # pinned sightings: more views of her (query expansion)
            self.engine.expand(query, list(st.pinned))
        hits: list[Finding] = []
        now = time.time()
        for w in items:
            f = make_filters(self.registry, cameras=[w.camera_id], time_from=w.t0, time_to=w.t1,
                             exclude_ids=st.rejected)
            found = self.engine.find(query, f, limit=HITS_PER_WINDOW, include_weak=False)
            hits += [Finding.from_sighting(s, now) for s in found.sightings if s.t_start < w.t1]
        with self._lock:
            for w in items:
                st.mark_covered(w.camera_id, w.t0, w.t1)
            st.add_findings(hits)
            decision = follow.decide(st.findings, st.anchor, self.registry, pinned=st.pinned, rejected=st.rejected,
                                     threshold=self.confident, speed_mps=st.params.speed_mps)
            if decision.recentre:
                self._recentre(decision)
            analysed = sum(r.analysed_s for r in run.windows)
            decoded = sum(r.decoded_s for r in run.windows)
            st.windows_done += len(items)
            st.decoded_s += decoded
            self._last = ", ".join(f"{c} {_hm(a, self.cfg)}-{_hm(b, self.cfg)}" for c, a, b in spans)
            save(st, self.folder)
        failed = [f for r in run.windows for f in r.failed]
        for (cam, a, b), r in zip(spans, run.windows, strict=True):
            self._audit("case_window", camera=cam, t0=a, t1=b, analysed_s=round(r.analysed_s, 1),
                        decoded_s=round(r.decoded_s, 1), covered_before_s=round(r.covered_before_s, 1),
                        sightings_added=r.sightings_added, failed=r.failed,
                        hits=[h.sighting_id for h in hits if h.camera_id == cam and a <= h.t_end and h.t_start < b])
        return StepReport(spans, analysed, decoded, hits, decision, time.perf_counter() - t0, failed)

    def _recentre(self, d: follow.Decision) -> None:
        st = self.state
        assert d.anchor is not None
        st.move_to(AnchorRecord(d.anchor, d.reason, d.sighting_id, d.score, time.time()), [], [])
        p = plan(self.registry, d.anchor, st.params, footage=self.footage, covered=st.coverage)
        st.queue, st.no_footage = p.queue, p.no_footage
        self._route = None
        self._audit("case_recentre", sighting_id=d.sighting_id, score=d.score, reason=d.reason,
                    camera=d.anchor.camera_id, t=d.anchor.t, windows_queued=len(st.queue))

    def run(self, *, until: Callable[[CaseRunner], bool] | None = None,
            on_progress: Callable[[Snapshot], None] | None = None, max_steps: int | None = None) -> Snapshot:
        """Step until the queue is empty, ``until(self)`` holds, a stop is asked for, or ``max_steps`` steps.
        Marks left by ``case pin|reject`` from other processes are taken in before each window."""
        with marks.hold_running(self.folder):
            return self._run(until, on_progress, max_steps)

    def _run(self, until: Callable[[CaseRunner], bool] | None, on_progress: Callable[[Snapshot], None] | None,
             max_steps: int | None) -> Snapshot:
        steps = 0
        while True:
            for m in marks.take(self.folder):
                self.mark(m.sighting_id, pinned=m.pinned)
            if self.stop_requested():
                self._stopped("stop asked")
                break
            if max_steps is not None and steps >= max_steps:
                break
            if self.step() is None:
                break
            steps += 1
            done = until is not None and until(self)
            if on_progress is not None:
                on_progress(self.snapshot())
            if done:
                break
        snap = self.snapshot()
        if on_progress is not None:
            on_progress(snap)
        return snap

    def mark(self, sighting_id: str, *, pinned: bool) -> None:
        """The operator pins (this is her) or rejects (it is not) a sighting (thread-safe). A rejected one is
        left out of the case's searches and never moves the cone; a pin re-centres the cone on it at once
        when it lies ahead (the queue is re-planned, so a finished case has work again). A pinned sighting
        the case has not found itself (another search found it) is fetched from the index."""
        found = None
        with self._lock:
            known = any(f.sighting_id == sighting_id for f in self.state.findings)
        if pinned and not known:
            found = Finding.from_sighting(self.engine.get_sighting(sighting_id), time.time())
        with self._lock:
            st = self.state
            if pinned:
                st.pin(sighting_id)
                if found is not None:
                    st.add_findings([found])
                decision = follow.decide(st.findings, st.anchor, self.registry, pinned=st.pinned,
                                         rejected=st.rejected, threshold=self.confident,
                                         speed_mps=st.params.speed_mps)
                if decision.recentre and decision.reason == "pinned sighting":
                    self._recentre(decision)
                    if st.queue and st.status == "done":
                        st.set_status("stopped")  # there is work again: the case can run once more
            else:
                st.reject(sighting_id)
                st.findings = [f for f in st.findings if f.sighting_id != sighting_id]
            self._route = None
            save(st, self.folder)

    def queue_first(self, camera_id: str, t0: float, t1: float) -> float:
        """Put the recorded, not yet analysed part of ``camera_id`` in [t0, t1) at the front of the queue
        (thread-safe; the running step finishes first). Returns the seconds queued: 0 when nothing is left."""
        self.registry.get(camera_id)
        with self._lock:
            st = self.state
            todo = [p for s in iv.intersect((t0, t1), self.footage.get(camera_id, []))
                    for p in iv.subtract(s, st.coverage.get(camera_id, []))]
            if not todo:
                return 0.0
            front = [WorkItem(camera_id, a, b, priority=t0, distance_m=0.0) for a, b in todo]
            rest = [w for w in st.queue
                    if w.camera_id != camera_id or not any(a <= w.t0 and w.t1 <= b for a, b in todo)]
            st.queue = front + rest
            if st.status == "done":
                st.set_status("stopped")  # there is work again: the case can run once more
            save(st, self.folder)
        return sum(b - a for a, b in todo)

    def stop(self) -> None:
        """Ask :meth:`run` to stop after the window in progress (thread-safe)."""
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set() or (self.folder / STOP_FILE).exists()

    def _stopped(self, reason: str) -> None:
        (self.folder / STOP_FILE).unlink(missing_ok=True)
        self._stop.clear()
        with self._lock:
            if self.state.status == "running":
                self.state.set_status("stopped")
            save(self.state, self.folder)
        self._audit("case_stop", reason=reason, windows_done=self.state.windows_done,
                    hours_analysed=round(self.state.covered_s() / 3600, 3))

    # --------------------------------------------------------------------------------- reading

    def route(self) -> Route | None:
        """The route through the case's findings (build_route over what the case analysed); None before any."""
        st = self.state
        if st.windows_done == 0 and not st.coverage:
            return None
        rep = st.report
        # The sightings the case followed are confident and each reachable from the one before: they hold
        # the route, as the operator's pins do. If the path search cannot keep them all, the pins alone.
        followed = [a.sighting_id for a in st.anchors if a.sighting_id and a.sighting_id not in st.rejected]
        for pins in (list(dict.fromkeys([*st.pinned, *followed])), list(st.pinned)):
            try:
                self._route = build_route(self.engine, RouteRequest(
                    start_camera=rep.camera_id, start_time=rep.at, text=rep.text, photo=self.photo,
                    pinned=pins, rejected=list(st.rejected),
                    forward_s=min(st.params.horizon_s, MAX_HORIZON_S), use_clip=self.use_clip))
                break
            except SearchInputError:
                if pins == list(st.pinned):
                    raise
        return self._route

    def snapshot(self) -> Snapshot:
        st = self.state
        with self._lock:
            a = st.anchors[-1]
            return Snapshot(
                number=st.number, status=st.status, hours_analysed=st.covered_s() / 3600,
                hours_decoded=st.decoded_s / 3600, windows_done=st.windows_done, windows_queued=len(st.queue),
                hours_queued=sum(w.duration_s for w in st.queue) / 3600, anchor_camera=a.anchor.camera_id,
                anchor_t=a.anchor.t, anchor_reason=a.reason, recentres=len(st.anchors) - 1,
                best=sorted(st.findings, key=lambda f: -(f.score or 0.0))[:5],
                route_cameras=self._route.cameras if self._route is not None else [], last_window=self._last)

    def _audit(self, event: str, **details: object) -> None:
        self.audit.write(event, self.actor, case=self.state.number, purpose=self.state.purpose, details=details)


def request_stop(cfg: Config, number: str, cases_dir: str = "") -> Path:
    """Ask the process running case ``number`` to stop after its current window (``case stop``)."""
    folder = case_dir(cases_root(cfg, cases_dir), number)
    if not (folder / "case.json").exists():
        raise CaseError(f"no case {number} in {folder.parent}")
    (folder / STOP_FILE).touch(mode=0o600)
    return folder


def _hm(t: float, cfg: Config) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t, ZoneInfo(cfg.index.timezone)).strftime("%H:%M:%S")

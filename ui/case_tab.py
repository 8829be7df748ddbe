"""The "Case from a report" tab, Gradio-free: start a case, watch it, stop it, pin and reject what it finds,
and "analyse now" a suggested camera window nobody has indexed yet.

A case is ``case.runner.CaseRunner`` in a background thread: it analyses the footage a person on foot could
be in, nearest first, searches each window as it is covered and follows confident or pinned sightings. The
page polls :func:`poll_case` (a timer, every few seconds) for a :class:`CaseView` built from
``CaseRunner.snapshot`` plus the best findings' thumbnails and the route through them. One case runs at a
time per console (:class:`CaseDesk`): analysing footage takes the index's one writer lock, so a second
would only queue behind the first. Every act checks the role and the case number and purpose like a
search; the runner audits its own steps (start, every window, re-centre, stop) with the operator who
started it, and the console adds who asked to stop, pinned, rejected or asked for a window first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import intervals as iv
from core.auth import Permission
from core.errors import FootageSearchError
from ui import formatting as fmt
from ui.console import ANY_DIRECTION, Console, ConsoleError, Session, status_box
from ui.policy import audit, authorize, readable_error, require_case
from ui.route_tab import route_view

if TYPE_CHECKING:
    from case.runner import CaseRunner
    from search.result import Sighting
    from search.route import Route

WINDOW_S = 300.0  # five-minute windows: the first results come quickly and the bar moves often
MAX_HOURS = 168.0  # as `footage-search case start --hours`
SHOWN = 12  # best sightings in the gallery
ROUTE_EVERY_S = 6.0  # while a case runs, the route (one search) is rebuilt at most this often
NO_ARCHIVE = ("Case mode analyses footage as it goes, so it needs the archive: start the console with "
              "<code>--archive ARCHIVE</code> (the folder of camera sub-folders).")


@dataclass
class CaseView:
    status_html: str
    progress_html: str
    gallery: list[tuple[str, str]]  # (thumbnail file, caption), best first
    gallery_ids: list[str]  # sighting ids in gallery order
    route_html: str
    analyse_choices: list[tuple[str, str]]  # the route's no-footage suggestions: (label, index in suggestions)
    running: bool


@dataclass
class CaseJob:
    """The case this console runs (or ran last), its thread, and what the page last saw of it."""

    runner: CaseRunner
    thread: threading.Thread
    started_by: str
    error: str = ""
    route: Route | None = None
    route_key: tuple = ()
    route_built: float = 0.0
    route_note: str = ""
    sightings: dict[str, Sighting] = field(default_factory=dict)
    archive_s: float = 0.0  # seconds of footage the archive holds (the "share of the archive")

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


class CaseDesk:
    """One per console: the case running on it (at most one) and one-off "analyse now" runs."""

    def __init__(self, console: Console):
        self.console = console
        self.job: CaseJob | None = None
        self._lock = threading.Lock()
        self._analysing = False  # a one-off window run holds the index's writer lock

    @property
    def running(self) -> CaseJob | None:
        job = self.job
        return job if job is not None and job.running else None


# ------------------------------------------------------------------------------------------ start / stop

def start_case(desk: CaseDesk, session: Session, camera: str | None, at: str | None, text: str | None,
               direction: str | None, hours: float | str | None, use_photo: bool = False) -> CaseView:
    """Open the case named in the case bar from this report (or continue it) and run it in the background."""
    from case.planner import PlanParams
    from case.runner import CaseRunner
    from case.state import CaseError, Report, check_case_number
    from indexer.archive import parse_timestamp

    console = desk.console
    who = authorize(console, session, Permission.SEARCH, "run cases")
    case = require_case(session)
    if console.archive is None:
        raise ConsoleError(NO_ARCHIVE)
    try:
        number = check_case_number(case.number)
    except CaseError:
        raise ConsoleError(f"Case number {case.number[:60]!r}: a case is kept in a folder named after it, so use "
                           "letters, digits, '.', '_' or '-' only (no spaces), e.g. 2026-SEO-0142.") from None
    if not camera or camera not in console.registry:
        raise ConsoleError("Choose the camera the person was last seen at.")
    try:
        t = parse_timestamp((at or "").strip(), console.tz)
    except ValueError:
        raise ConsoleError(f"Last seen at {(at or '')[:40]!r}: give a local date and time like "
                           "2026-03-14 09:21:30.") from None
    try:
        h = float(hours) if hours not in (None, "") else 4.0
    except (TypeError, ValueError):
        h = -1.0
    if not 0 < h <= MAX_HOURS:
        raise ConsoleError(f"Hours to follow must be more than 0 and at most {MAX_HOURS:.0f}.")
    text = (text or "").strip()
    photo = session.photo if use_photo else None
    if use_photo and photo is None:
        raise ConsoleError("There is no reference photo: upload one in the Search tab, or untick 'Use the photo'.")
    if not text and photo is None:
        raise ConsoleError("Describe the person (clothing colours, objects, hair) or use the reference photo.")
    report = Report(camera, t, text, direction="" if direction in (None, "", ANY_DIRECTION) else direction,
                    hours=h)
    params = PlanParams(horizon_s=h * 3600, window_s=WINDOW_S, min_window_s=60.0)
    with desk._lock:
        if desk._analysing:
            raise ConsoleError("A suggested camera window is being analysed: start the case when it is done.")
        if (job := desk.running) is not None:
            raise ConsoleError(f"Case {escape(job.runner.state.number)} is running on this console (started by "
                               f"{escape(job.started_by)}): one case at a time. Stop it first.")
        try:
            runner = CaseRunner.open(console.cfg, _registry_path(console), console.archive, number, report,
                                     case.purpose, params, photo=photo, audit=console.audit, actor=who,
                                     engine=_engine(console), use_clip=_use_clip(console),
                                     parent_indexes=False)
        except CaseError as exc:
            raise ConsoleError(str(exc).replace("use `case resume", "use `footage-search case resume")) from None
        thread = threading.Thread(target=lambda: _run(desk, job), name=f"case-{number}", daemon=True)
        job = CaseJob(runner, thread, who.name, archive_s=sum(iv.total(s) for s in runner.footage.values()))
        desk.job = job
        thread.start()
    return case_view(desk, session)


def _run(desk: CaseDesk, job: CaseJob) -> None:
    try:
        job.runner.run()
    except Exception as exc:  # the thread must say why it ended; the page shows it
        job.error = readable_error(exc)
        job.runner.audit.write("case_error", job.runner.actor, case=job.runner.state.number,
                               purpose=job.runner.state.purpose, details={"error": job.error[:300]})


def _registry_path(console: Console) -> Path:
    source = Path(console.registry.source)
    return source if source.is_file() else console.archive / "cameras.csv"  # type: ignore[operator]


def _engine(console: Console):
    """The console's search engine when the index exists (models shared), else the runner opens its own."""
    try:
        return console.engine()
    except FootageSearchError:
        return None


def _use_clip(console: Console) -> bool:
    # A random-initialised CLIP (the tests' tiny model) has no meaning: following on it would be noise.
    return console.cfg.models.clip_pretrained != "random-init"


def stop_case(desk: CaseDesk, session: Session) -> CaseView:
    """Ask the running case to stop after the window in progress."""
    authorize(desk.console, session, Permission.SEARCH, "stop cases")
    require_case(session)
    job = desk.running
    if job is None:
        raise ConsoleError("No case is running on this console.")
    job.runner.stop()
    _audit(desk, session, job, "case_stop_asked", windows_done=job.runner.state.windows_done)
    return case_view(desk, session, note="Stopping after the window in progress…")


def _audit(desk: CaseDesk, session: Session, job: CaseJob, event: str, **details: Any) -> None:
    """An operator's act on the running case: logged with that case's number and purpose (and the case the
    operator's bar names, when it is another)."""
    st = job.runner.state
    if session.case is not None and session.case.number != st.number:
        details["operator_case"] = session.case.number
    audit_log = desk.console.audit
    assert audit_log is not None
    audit_log.write(event, session.user, case=st.number, purpose=st.purpose, details=details)


# ------------------------------------------------------------------------------------------ marks

def mark_finding(desk: CaseDesk, session: Session, sighting_id: str | None, *, pinned: bool) -> CaseView:
    """Pin (this is her: the case re-centres on it) or reject (it is not: never followed, left out of its
    searches) one of the case's sightings; the Search and Route tabs' marks follow."""
    authorize(desk.console, session, Permission.SEARCH, "pin sightings" if pinned else "reject sightings")
    require_case(session)
    job = desk.job
    if job is None:
        raise ConsoleError("Start a case first.")
    if not sighting_id or sighting_id not in {f.sighting_id for f in job.runner.state.findings}:
        raise ConsoleError("Click one of the case's sightings first, then Pin or Reject it.")
    job.runner.mark(sighting_id, pinned=pinned)
    keep, drop = (session.pinned, session.rejected) if pinned else (session.rejected, session.pinned)
    if sighting_id in drop:
        drop.remove(sighting_id)
    if sighting_id not in keep:
        keep.append(sighting_id)
    if sighting_id in job.sightings:
        session.known[sighting_id] = job.sightings[sighting_id]
    _audit(desk, session, job, "case_pin" if pinned else "case_reject", sighting_id=sighting_id)
    what = "Pinned: the case follows from it at its next window." if pinned else \
        "Rejected: the case will not follow it and leaves it out of its searches."
    return case_view(desk, session, note=what)


# ------------------------------------------------------------------------------------------ analyse now

def analyse_suggestion(desk: CaseDesk, session: Session, route: Route | None, choice: str | None) -> str:
    """"Analyse now" on a suggested camera whose window has no indexed footage: at the front of the running
    case's queue, or (no case running) indexed here and now. Returns the status message (HTML)."""
    from indexer.windows import index_windows

    console = desk.console
    authorize(console, session, Permission.SEARCH, "analyse footage")
    require_case(session)
    if route is None or choice in (None, ""):
        raise ConsoleError("Build a route, then choose a suggested camera with no indexed footage.")
    try:
        c = route.suggestions[int(choice)]  # type: ignore[arg-type]
    except (ValueError, IndexError):
        raise ConsoleError("That suggestion is out of date: build the route again.") from None
    if c.has_footage:
        raise ConsoleError(f"{escape(c.camera_id)}'s footage in that window is indexed already: use Search there.")
    if console.archive is None:
        raise ConsoleError(NO_ARCHIVE)
    window = f"{c.camera_id} {fmt.clock(c.earliest, console.tz)}–{fmt.clock(c.latest, console.tz)}"
    with desk._lock:
        job = desk.running
        if job is not None:
            queued = job.runner.queue_first(c.camera_id, c.earliest, c.latest)
            _audit(desk, session, job, "case_analyse_now", camera=c.camera_id, t0=c.earliest, t1=c.latest,
                   queued_s=round(queued, 1))
            if not queued:
                return status_box(f"{escape(window)}: nothing left to analyse there (no recorded footage, or "
                                  f"case {escape(job.runner.state.number)} has analysed it).", "warn")
            return status_box(f"{escape(window)} is next in case {escape(job.runner.state.number)}'s queue "
                              f"({fmt.duration(queued)} of footage), after the window in progress.", "ok")
        if desk._analysing:
            raise ConsoleError("Another window is being analysed: try again when it is done.")
        desk._analysing = True
    try:
        details = {"camera": c.camera_id, "t0": c.earliest, "t1": c.latest}
        try:
            run = index_windows(console.cfg, console.registry, console.archive,
                                [(c.camera_id, c.earliest, c.latest)], parent_indexes=False)
        except Exception as exc:
            audit(console, session, "analyse_now", **details, error=str(exc)[:300])
            raise
        w = run.windows[0]
        audit(console, session, "analyse_now", **details, analysed_s=round(w.analysed_s, 1),
              sightings_added=w.sightings_added, failed=w.failed)
    finally:
        desk._analysing = False
    if w.analysed_s <= 0 and not w.covered_before_s:
        return status_box(f"{escape(window)}: the archive has no footage of that camera in that window.", "warn")
    failed = f" Could not read: {escape('; '.join(w.failed))}." if w.failed else ""
    return status_box(f"{escape(window)}: analysed {fmt.duration(w.analysed_s)} of footage, {w.sightings_added} "
                      f"sighting(s) added. Build the route again or press Search there to look.{failed}",
                      "warn" if w.failed else "ok")


# ------------------------------------------------------------------------------------------ the view

def poll_case(desk: CaseDesk, session: Session) -> CaseView:
    authorize(desk.console, session, Permission.SEARCH, "follow cases")
    return case_view(desk, session)


def case_view(desk: CaseDesk, session: Session, note: str = "") -> CaseView:
    console = desk.console
    job = desk.job
    if job is None:
        msg = "Fill in the report and press <b>Start case</b>." if console.archive is not None else NO_ARCHIVE
        return CaseView(status_box(msg, "info" if console.archive is not None else "warn"), "", [], [], "", [], False)
    runner, running = job.runner, job.running
    snap = runner.snapshot()
    _refresh_route(job, running)
    ids, gallery = _gallery(console, job)
    kind, parts = "info", []
    if job.error:
        kind, parts = "error", [f"The case stopped: {escape(job.error)}"]
    elif running:
        parts.append(f"Case <b>{escape(snap.number)}</b> is running (started by {escape(job.started_by)}).")
    else:
        kind = "ok"
        parts.append(f"Case <b>{escape(snap.number)}</b> is {escape(snap.status)}"
                     + (": every window within reach is analysed." if snap.status == "done" else "."))
    if note:
        parts.append(escape(note))
    if job.route_note:
        parts.append(f"<i>Route:</i> {escape(job.route_note)}")
    route_html, choices = "", []
    if job.route is not None:
        rv = route_view(console, Session(route=job.route))
        route_html = rv.status_html + rv.map_html + rv.suggestions_html + rv.stops_html
        choices = [(label, idx) for label, idx in rv.suggestion_choices
                   if not job.route.suggestions[int(idx)].has_footage]
    return CaseView(status_box("<br>".join(parts), kind), _progress_html(console, job, snap), gallery, ids,
                    route_html, choices, running)


def _progress_html(console: Console, job: CaseJob, snap) -> str:
    analysed, queued = snap.hours_analysed, snap.hours_queued
    share = analysed / (analysed + queued) if analysed + queued > 0 else 1.0
    of_archive = analysed * 3600 / job.archive_s if job.archive_s > 0 else 0.0
    centre = (f"{escape(snap.anchor_camera or '-')} {escape(fmt.clock(snap.anchor_t, console.tz))} "
              f"({escape(snap.anchor_reason)}, moved {snap.recentres} time(s))")
    return (f'<div id="fs-case-progress" data-windows-done="{snap.windows_done}" '
            f'data-windows-queued="{snap.windows_queued}" data-status="{escape(snap.status)}">'
            f'<progress max="1" value="{share:.4f}" style="width:100%"></progress>'
            f"<p class='fs-note'><b>{analysed:.2f} h</b> of footage analysed ({share:.0%} of this case's cone, "
            f"{of_archive:.1%} of the archive) · windows: <b>{snap.windows_done}</b> done, "
            f"<b>{snap.windows_queued}</b> queued ({queued:.2f} h) · centred on {centre}"
            + (f" · last: {escape(snap.last_window)}" if snap.last_window else "") + "</p></div>")


def _gallery(console: Console, job: CaseJob) -> tuple[list[str], list[tuple[str, str]]]:
    st = job.runner.state
    best = sorted((f for f in st.findings if f.sighting_id not in st.rejected),
                  key=lambda f: (f.sighting_id not in st.pinned, -(f.score or 0.0)))[:SHOWN]
    ids, items = [], []
    for f in best:
        s = job.sightings.get(f.sighting_id)
        if s is None:
            try:
                s = job.sightings[f.sighting_id] = job.runner.engine.get_sighting(f.sighting_id)
            except FootageSearchError:
                continue  # re-indexed meanwhile: the next poll finds its new id among the findings
        path = console.thumbs.thumbnail(s.sighting_id, s.thumbnail)
        if path is None:
            continue
        mark = "PINNED · " if f.sighting_id in st.pinned else ""
        score = "" if f.score is None else f" · {f.score:.2f}"
        ids.append(f.sighting_id)
        items.append((str(path), f"{mark}{f.camera_id} · {f.district}\n{fmt.clock(f.t_best, console.tz)}{score}"))
    return ids, items


def _refresh_route(job: CaseJob, running: bool) -> None:
    """The route through the case's findings, rebuilt when they changed (at most every few seconds while the
    case runs: a route is a search)."""
    st = job.runner.state
    key = (st.windows_done, len(st.anchors), tuple(st.pinned), tuple(st.rejected))
    if key == job.route_key or (running and time.monotonic() - job.route_built < ROUTE_EVERY_S):
        return
    try:
        job.route, job.route_note = job.runner.route(), ""
    except FootageSearchError as exc:
        job.route_note = str(exc)
    job.route_key, job.route_built = key, time.monotonic()

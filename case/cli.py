"""``footage-search case``: start, resume, watch, stop a case and read its route.

    footage-search case start --camera JN-06 --at 2026-03-14T09:04:40 --text "purple coat, blue jeans" \\
        --archive ARCHIVE --case 2026-SEO-0142 --purpose "missing person reported 09:10 near Jongno"
    footage-search case status 2026-SEO-0142        # or: case stop / case route --json / case resume
    footage-search case pin 2026-SEO-0142 SIGHTING_ID   # or: case reject (this is / is not the person)

Every command needs the case number; start and resume need a purpose too (the console's rules: at least
10 characters, one line). Everything is audited with both. ``case start`` shows live progress on a
terminal (footage hours analysed, windows queued and done, best sightings, the route) and one plain line
per step otherwise (logs, pipes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.config import Config
from core.errors import UserError

PURPOSE_MIN, PURPOSE_MAX = 10, 300  # as the console (ui/policy.py) asks
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="case mode: follow a missing person from a last-seen report, nearest footage first",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cs = p.add_subparsers(dest="case_command", required=True, metavar="ACTION")

    s = cs.add_parser("start", help="start a case (or continue it, if it exists with the same report)")
    s.add_argument("--camera", required=True, metavar="ID", help="camera the person was last seen at")
    s.add_argument("--at", required=True, metavar="ISO", help="when (index.timezone unless the time has a zone)")
    s.add_argument("--text", default="", help="description of the person")
    s.add_argument("--photo", type=Path, help="a photo of the person")
    s.add_argument("--direction", default="", help="direction of travel: N, NE, ..., 'south' or degrees")
    s.add_argument("--hours", type=float, default=4.0, help="how long after the last sighting to look (default 4)")
    s.add_argument("--window-min", type=float, default=10.0, help="minutes of footage per window (default 10)")
    s.add_argument("--archive", type=Path, required=True, help="archive folder: ARCHIVE/<camera_id>/<video files>")
    s.add_argument("--registry", type=Path, help="camera registry CSV (default ARCHIVE/cameras.csv)")
    _common(s, purpose_required=True)
    s.set_defaults(handler=run_start)

    r = cs.add_parser("resume", help="continue a stopped or interrupted case")
    _common(r, purpose_required=False)
    r.set_defaults(handler=run_resume)
    for name, helptext, handler in (("status", "progress, findings and where the cone is centred", run_status),
                                    ("stop", "ask the running case to stop after its current window", run_stop),
                                    ("route", "the route through the case's findings", run_route)):
        c = cs.add_parser(name, help=helptext)
        _common(c, purpose_required=False)
        c.set_defaults(handler=handler)
    for name, helptext, pinned in (("pin", "this is the person: the case follows from the sighting", True),
                                   ("reject", "this is not the person: the case never follows it", False)):
        m = cs.add_parser(name, help=helptext)
        _common(m, purpose_required=False)
        m.add_argument("sighting_ids", nargs="+", metavar="SIGHTING_ID", help="sighting id(s), as search prints them")
        m.set_defaults(handler=run_mark, pinned=pinned)


def _common(p: argparse.ArgumentParser, *, purpose_required: bool) -> None:
    if not purpose_required:
        p.add_argument("number", nargs="?", metavar="NUMBER", help="the case number (or --case)")
    p.add_argument("--case", dest="case_number", metavar="NUMBER", help="case number, e.g. 2026-SEO-0142")
    p.add_argument("--purpose", default="",
                   help="why this case is run (logged with every action)")
    p.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    p.add_argument("--cases-dir", default="", help="cases folder (default: cases/ beside the index folder)")
    p.add_argument("--workers", type=int, help="worker processes (default: index.workers)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-clip", action="store_true", help="structured matching only (colours, objects, hair)")


def _cfg(args: argparse.Namespace, cfg: Config) -> Config:
    over: dict[str, object] = {}
    if args.index_uri:
        over["storage.index_uri"] = args.index_uri
    if args.workers is not None:
        over["index.workers"] = args.workers
    return cfg.with_overrides(over, origin="command line", base_dir=Path.cwd()) if over else cfg


def _number(args: argparse.Namespace) -> str:
    from case.state import check_case_number

    number = getattr(args, "number", None) or args.case_number
    if not number:
        raise UserError("give the case number (--case NUMBER): every case action is logged with its case")
    if getattr(args, "number", None) and args.case_number and args.number != args.case_number:
        raise UserError(f"two case numbers given: {args.number} and {args.case_number}")
    return check_case_number(" ".join(number.split()))


def _purpose(text: str, required: bool) -> str:
    purpose = " ".join((text or "").split())
    if not purpose and not required:
        return ""
    if len(purpose) < PURPOSE_MIN:
        raise UserError(f"--purpose: say why this case is run (at least {PURPOSE_MIN} characters, e.g. 'missing "
                        "child reported 09:10 near Seoul Station'); it is logged with every action")
    if len(purpose) > PURPOSE_MAX or _CONTROL.search(text or ""):
        raise UserError(f"--purpose must be one line of at most {PURPOSE_MAX} characters")
    return purpose


# ------------------------------------------------------------------------------------------ commands

def run_start(args: argparse.Namespace, cfg: Config) -> int:
    from case.planner import PlanParams
    from case.runner import CaseRunner
    from case.state import Report
    from indexer.archive import parse_timestamp

    cfg = _cfg(args, cfg)
    number, purpose = _number(args), _purpose(args.purpose, required=True)
    if not args.archive.is_dir():
        raise UserError(f"archive folder not found: {args.archive}")
    tz = ZoneInfo(cfg.index.timezone)
    try:
        at = parse_timestamp(args.at, tz)
    except ValueError as exc:
        raise UserError(f"--at must be an ISO 8601 time: {exc}") from None
    if not 0 < args.hours <= 168 or not 1 <= args.window_min <= 120:
        raise UserError("--hours must be in (0, 168] and --window-min in [1, 120]")
    photo = args.photo.read_bytes() if args.photo is not None else None
    report = Report(args.camera, at, args.text.strip(), direction=args.direction.strip(), hours=args.hours)
    params = PlanParams(horizon_s=args.hours * 3600, window_s=args.window_min * 60,
                        min_window_s=min(60.0, args.window_min * 60))
    runner = CaseRunner.open(cfg, args.registry or args.archive / "cameras.csv", args.archive, number, report, purpose,
                             params, photo=photo, cases_dir=args.cases_dir, workers=args.workers,
                             use_clip=not args.no_clip)
    return _drive(runner, args.json)


def run_resume(args: argparse.Namespace, cfg: Config) -> int:
    from case.runner import CaseRunner

    cfg = _cfg(args, cfg)
    runner = CaseRunner.resume(cfg, _number(args), _purpose(args.purpose, required=False),
                               cases_dir=args.cases_dir, workers=args.workers, use_clip=not args.no_clip)
    return _drive(runner, args.json)


def run_status(args: argparse.Namespace, cfg: Config) -> int:
    from case.state import case_dir, cases_root, load

    cfg = _cfg(args, cfg)
    number = _number(args)
    state = load(case_dir(cases_root(cfg, args.cases_dir), number))
    _audit(cfg, state, "case_status", args.purpose)
    tz = ZoneInfo(cfg.index.timezone)
    out = {"number": state.number, "status": state.status, "hours_analysed": round(state.covered_s() / 3600, 3),
           "hours_decoded": round(state.decoded_s / 3600, 3), "windows_done": state.windows_done,
           "windows_queued": len(state.queue),
           "anchors": [{"camera_id": a.anchor.camera_id, "time": _iso(a.anchor.t, tz), "reason": a.reason,
                        "sighting_id": a.sighting_id, "score": a.score} for a in state.anchors],
           "best": [{"sighting_id": f.sighting_id, "camera_id": f.camera_id, "time": _iso(f.t_best, tz),
                     "score": f.score} for f in sorted(state.findings, key=lambda f: -(f.score or 0))[:10]],
           "pinned": state.pinned, "rejected": state.rejected}
    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return 0
    print(f"case {state.number}: {state.status}; {out['hours_analysed']:.2f} h of footage analysed in "
          f"{state.windows_done} windows, {len(state.queue)} windows queued")
    print("centred on: " + " -> ".join(f"{a['camera_id']} {a['time'][11:19]} ({a['reason']})" for a in out["anchors"]))
    for b in out["best"]:
        print(f"  {b['score'] or 0:.3f}  {b['camera_id']:<10} {b['time'][11:19]}  {b['sighting_id']}")
    return 0


def run_stop(args: argparse.Namespace, cfg: Config) -> int:
    from case.runner import request_stop
    from case.state import load

    cfg = _cfg(args, cfg)
    folder = request_stop(cfg, _number(args), args.cases_dir)
    _audit(cfg, load(folder), "case_stop_asked", args.purpose)
    print(f"case {folder.name}: asked to stop after its current window")
    return 0


def run_route(args: argparse.Namespace, cfg: Config) -> int:
    from search.cli import route_lines

    cfg = _cfg(args, cfg)
    runner = _reader(cfg, args)
    route = runner.route()
    runner._audit("case_route", stops=len(route.stops) if route else 0)
    tz = ZoneInfo(cfg.index.timezone)
    if args.json:
        print(json.dumps({"case": runner.state.number, "status": runner.state.status,
                          "route": route.to_dict(tz) if route is not None else None}, indent=1, ensure_ascii=False))
    elif route is None:
        print(f"case {runner.state.number}: nothing analysed yet")
    else:
        print("\n".join(route_lines(route, tz)))
    return 0


def run_mark(args: argparse.Namespace, cfg: Config) -> int:
    """Pin or reject sightings. A case running in another process takes the marks in before its next
    window; otherwise they are applied to the case file now (a pin ahead of the cone re-centres it)."""
    from case import marks

    cfg = _cfg(args, cfg)
    runner = _reader(cfg, args, footage=args.pinned)
    ids = list(dict.fromkeys(args.sighting_ids))
    for sid in ids:
        runner.engine.get_sighting(sid)  # an unknown id is refused before anything is marked
    what = "pinned" if args.pinned else "rejected"
    with marks.not_running(runner.folder) as free:
        for sid in ids:
            if free:
                runner.mark(sid, pinned=args.pinned)
            else:
                marks.post(runner.folder, marks.Mark(sid, args.pinned))
            runner._audit("case_pin" if args.pinned else "case_reject", sighting_id=sid, applied=free)
    st = runner.state
    if not free:
        print(f"case {st.number}: {len(ids)} sighting(s) {what}; the running case takes them in before its next "
              "window")
    else:
        a = st.anchors[-1]
        print(f"case {st.number}: {len(ids)} sighting(s) {what}; centred on {a.anchor.camera_id} "
              f"{_iso(a.anchor.t, ZoneInfo(cfg.index.timezone))[11:19]} ({a.reason}), {len(st.queue)} windows "
              f"queued{'; `case resume` analyses them' if st.queue and st.status != 'running' else ''}")
    return 0


def _reader(cfg: Config, args: argparse.Namespace, *, footage: bool = False):
    """A runner that analyses nothing (no resume record); ``footage``: it may re-plan (reads the archive)."""
    from case.runner import CaseRunner
    from case.state import case_dir, cases_root, load
    from core.registry import load_registry

    folder = case_dir(cases_root(cfg, args.cases_dir), _number(args))
    state = load(folder)
    if args.purpose:
        state.purpose = _purpose(args.purpose, required=True)
    return CaseRunner(cfg, load_registry(Path(state.registry)), Path(state.archive), state, folder,
                      footage=None if footage else {}, use_clip=not args.no_clip)


def _audit(cfg: Config, state, event: str, purpose: str) -> None:
    from core.audit import AuditLog
    from core.auth import cli_identity

    AuditLog.for_config(cfg).write(event, cli_identity(), case=state.number,
                                   purpose=_purpose(purpose, required=False) or state.purpose)


def _iso(t: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, tz).isoformat()


# ------------------------------------------------------------------------------------------ progress

def _drive(runner, as_json: bool) -> int:
    tz = ZoneInfo(runner.cfg.index.timezone)
    if as_json or not sys.stdout.isatty():
        def line(snap) -> None:
            if as_json:
                print(json.dumps(_snap_dict(snap, tz), ensure_ascii=False), flush=True)
            else:
                print(_snap_line(snap, tz), flush=True)
        try:
            snap = runner.run(on_progress=line, until=_route_after_recentre)
        except KeyboardInterrupt:
            runner._stopped("interrupted")
            return 130
        return 0 if snap.status in ("done", "stopped") else 1
    from rich.live import Live

    with Live(_snap_table(runner.snapshot(), tz), refresh_per_second=2) as live:
        try:
            snap = runner.run(on_progress=lambda s: live.update(_snap_table(s, tz)), until=_route_after_recentre)
        except KeyboardInterrupt:
            runner._stopped("interrupted")
            return 130
    print(_snap_line(snap, tz))
    return 0


def _route_after_recentre(runner) -> bool:
    # The route costs a search: rebuild it only when the cone moved (the console polls snapshots).
    if runner.state.anchors[-1].set_at and runner._route is None and len(runner.state.anchors) > 1:
        runner.route()
    return False


def _snap_dict(s, tz: ZoneInfo) -> dict:
    return {"number": s.number, "status": s.status, "hours_analysed": round(s.hours_analysed, 3),
            "hours_decoded": round(s.hours_decoded, 3), "windows_done": s.windows_done,
            "windows_queued": s.windows_queued, "anchor": s.anchor_camera, "anchor_time": _iso(s.anchor_t, tz),
            "recentres": s.recentres, "route": s.route_cameras, "last_window": s.last_window,
            "best": [{"sighting_id": f.sighting_id, "camera_id": f.camera_id, "time": _iso(f.t_best, tz),
                      "score": f.score} for f in s.best]}


def _snap_line(s, tz: ZoneInfo) -> str:
    best = ", ".join(f"{f.camera_id} {_iso(f.t_best, tz)[11:19]} {f.score or 0:.2f}" for f in s.best[:3])
    return (f"case {s.number} [{s.status}] {s.hours_analysed:.2f} h analysed, windows {s.windows_done} done / "
            f"{s.windows_queued} queued; centred on {s.anchor_camera} {_iso(s.anchor_t, tz)[11:19]}"
            f"{'; route ' + ' -> '.join(s.route_cameras) if s.route_cameras else ''}"
            f"{'; best ' + best if best else ''}")


def _snap_table(s, tz: ZoneInfo):
    from rich.table import Table

    t = Table(title=f"case {s.number} - {s.status}", show_header=False)
    t.add_row("footage analysed", f"{s.hours_analysed:.2f} h (decoded {s.hours_decoded:.2f} h)")
    t.add_row("windows", f"{s.windows_done} done, {s.windows_queued} queued ({s.hours_queued:.2f} h)")
    t.add_row("last window", s.last_window or "-")
    t.add_row("centred on", f"{s.anchor_camera} {_iso(s.anchor_t, tz)[11:19]} ({s.anchor_reason}, "
                            f"{s.recentres} moves)")
    t.add_row("route", " -> ".join(s.route_cameras) or "-")
    for i, f in enumerate(s.best):
        t.add_row("best" if i == 0 else "", f"{f.score or 0:.3f}  {f.camera_id}  {_iso(f.t_best, tz)[11:19]}  "
                                            f"{f.sighting_id}")
    return t

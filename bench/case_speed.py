"""Case mode vs "index everything, then route": how soon is the missing person's route known?

    .venv/bin/python -m bench.case_city                       # the large city, once (bench/data/case_city)
    .venv/bin/python -m bench.case_speed [--a-cameras N] [--window-min 5] [--workers 2]

One run, one machine, the same report for both (case_truth.json: last-seen camera and time, the
description, the direction of travel), the same models and settings:

(a) batch: index the archive with ``run_index``, then ``build_route`` from the report. The first correct
    sighting is known when indexing ends plus one search; the complete route when indexing ends plus
    the route. With ``--a-cameras N`` only N camera folders are indexed (the route's cameras, the
    hard negatives' cameras, then the nearest others): the wall time of the whole archive is then
    extrapolated from the measured seconds per footage hour, and the JSON says so (``a.extrapolated``).
(b) case mode: ``CaseRunner`` from the report, stepping until the route built from what it analysed
    holds every stop of the ground truth (or the queue is empty, or ``--case-max-s``).

Correctness against ground truth: a route stop is correct when its camera is the truth stop's and its
time overlaps the truth stop's time in view (+-5 s); reported: stops found/missing/wrong, order and
districts crossed. Footage shares are of the archive's camera-hours. CLIP: the tiny test model
(random weights: the real weights cannot be fetched here) indexes, and queries use structured
matching only (colours, objects, hair), for both (a) and (b).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402
from core.config import Config, load_config  # noqa: E402
from core.registry import CameraRegistry, haversine_m, load_registry  # noqa: E402

CITY = REPO / "bench" / "data" / "case_city"
RESULTS = REPO / "bench" / "results"
SLACK_S = 5.0


def bench_config(index: Path, workers: int) -> Config:
    models = os.environ.get("FOOTAGE_SEARCH_MODELS_MODELS_DIR", str(Path.home() / ".cache/footage-search/models"))
    return load_config(None, {
        "storage.index_uri": str(index), "models.models_dir": models, "models.allow_download": False,
        "models.clip_model": "fs-tiny-test", "models.clip_pretrained": "random-init",
        "models.clip_config_path": str(REPO / "tests" / "data" / "fs-tiny-test.json"), "index.workers": workers,
    }, environ={})


# ------------------------------------------------------------------------------------------ truth

def _matches(stop_cam: str, t0: float, t1: float, leg: dict) -> bool:
    return (stop_cam == leg["camera_id"] and t0 <= leg["t_exit_epoch"] + SLACK_S
            and t1 >= leg["t_enter_epoch"] - SLACK_S)


def judge_route(route, truth: dict) -> dict:
    """Route stops (after the last-seen start) against the truth stops after the report.

    A stop is a camera: consecutive route sightings at one camera (a track the tracker broke, or a
    passer-by the path took in on the way) are one stop, correct when one of them is the person there.
    Sightings that are not the person are counted too (``wrong_sightings``)."""
    legs = truth["route"][1:]
    sightings = [s for s in route.stops if not s.is_start] if route is not None else []
    stops: list[dict] = []
    wrong_sightings = 0
    for s in sightings:
        hit = next((i for i, leg in enumerate(legs) if _matches(s.camera_id, s.t_start, s.t_end, leg)), None)
        wrong_sightings += hit is None
        if stops and stops[-1]["camera_id"] == s.camera_id:
            stops[-1]["legs"] |= {hit} - {None}
        else:
            stops.append({"camera_id": s.camera_id, "legs": {hit} - {None}})
    order = [min(st["legs"]) for st in stops if st["legs"]]
    wrong = [st["camera_id"] for st in stops if not st["legs"]]
    districts = route.districts if route is not None else []
    return {"stops": [st["camera_id"] for st in stops], "truth_stops": [leg["camera_id"] for leg in legs],
            "correct": len(set(order)), "missing": [leg["camera_id"] for i, leg in enumerate(legs) if i not in order],
            "wrong": wrong, "route_sightings": len(sightings), "wrong_sightings": wrong_sightings,
            "order_correct": order == sorted(order), "districts": districts,
            "truth_districts": truth["districts_on_route"],
            "districts_correct": districts == truth["districts_on_route"],
            "complete": len(set(order)) == len(legs) and not wrong and order == sorted(order)}


def first_correct(findings, truth: dict) -> str | None:
    for f in findings:
        if any(_matches(f.camera_id, f.t_start, f.t_end, leg) for leg in truth["route"][1:]):
            return f.sighting_id
    return None


# ------------------------------------------------------------------------------------------ (b)

def run_case(city: Path, truth: dict, work: Path, args) -> dict:
    from case.planner import PlanParams
    from case.runner import CaseRunner
    from case.state import Report

    cfg = bench_config(work / "case" / "index", args.workers)
    rep = truth["report"]
    report = Report(rep["camera_id"], rep["at_epoch"], rep["text"], direction=str(rep["direction_deg"]),
                    hours=args.hours)
    params = PlanParams(horizon_s=args.hours * 3600, window_s=args.window_min * 60,
                        min_window_s=min(60.0, args.window_min * 60))
    t0 = time.perf_counter()
    runner = CaseRunner.open(cfg, city / "cameras.csv", city / "archive", "BENCH-1", report,
                             "benchmark of case mode (bench/case_speed.py)", params, workers=args.workers,
                             use_clip=False)
    out: dict = {"first_correct_s": None, "complete_s": None, "steps": []}
    seen_correct: set[str] = set()

    def until(r: CaseRunner) -> bool:
        el = time.perf_counter() - t0
        snap = r.snapshot()
        correct = {f.sighting_id for f in r.state.findings
                   if any(_matches(f.camera_id, f.t_start, f.t_end, leg) for leg in truth["route"][1:])}
        step = {"t_s": round(el, 1), "hours_analysed": round(snap.hours_analysed, 3),
                "hours_decoded": round(snap.hours_decoded, 3), "windows_done": snap.windows_done,
                "windows_queued": snap.windows_queued, "anchor": snap.anchor_camera, "correct_findings": len(correct)}
        if correct and out["first_correct_s"] is None:
            out.update(first_correct_s=round(el, 1), first_correct_hours=snap.hours_analysed,
                       first_correct_sighting=first_correct(r.state.findings, truth))
        done = False
        if correct - seen_correct:
            seen_correct.update(correct)
            verdict = judge_route(r.route(), truth)
            step["route"] = verdict["stops"]
            if verdict["complete"]:
                el = time.perf_counter() - t0
                out.update(complete_s=round(el, 1), complete_hours_analysed=snap.hours_analysed,
                           complete_hours_decoded=snap.hours_decoded, route=verdict)
                done = True
        out["steps"].append(step)
        print(f"  (b) {el:7.1f} s  {snap.hours_analysed:5.2f} h analysed  windows {snap.windows_done} done "
              f"{snap.windows_queued} queued  centred on {snap.anchor_camera}  correct findings {len(correct)}"
              f"{'  route ' + ' -> '.join(step['route']) if 'route' in step else ''}", flush=True)
        return done or el > args.case_max_s

    runner.run(until=until)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    snap = runner.snapshot()
    out.update(hours_analysed=snap.hours_analysed, hours_decoded=snap.hours_decoded, windows_done=snap.windows_done,
               recentres=[{"camera": a.anchor.camera_id, "t": a.anchor.t, "reason": a.reason}
                          for a in runner.state.anchors])
    if out["complete_s"] is None:
        out["route"] = judge_route(runner.route(), truth)
    return out


# ------------------------------------------------------------------------------------------ (a)

def subset_cameras(registry: CameraRegistry, truth: dict, n: int) -> list[str]:
    """The route's cameras, the hard negatives' cameras, then the others nearest the report's camera."""
    first = [leg["camera_id"] for leg in truth["route"]]
    first += [a["camera_id"] for apps in truth["negatives"].values() for a in apps]
    pick = list(dict.fromkeys(first))
    home = registry.get(truth["report"]["camera_id"])
    rest = sorted((c for c in registry if c.camera_id not in pick),
                  key=lambda c: haversine_m(home.lat, home.lon, c.lat, c.lon))
    return (pick + [c.camera_id for c in rest])[:max(n, len(pick))]


def run_batch(city: Path, truth: dict, work: Path, args) -> dict:
    from indexer.batch import BatchOptions, run_index
    from search.engine import SearchEngine
    from search.request import SearchRequest

    registry = load_registry(city / "cameras.csv")
    archive = city / "archive"
    cams = sorted(c.camera_id for c in registry)
    if args.a_cameras and args.a_cameras < len(cams):
        cams = subset_cameras(registry, truth, args.a_cameras)
        archive = work / "subset-archive"
        archive.mkdir(parents=True)
        for c in cams:
            os.symlink(city / "archive" / c, archive / c)
        shutil.copy(city / "cameras.csv", archive / "cameras.csv")
    cfg = bench_config(work / "batch" / "index", args.workers)
    t0 = time.perf_counter()
    summary = run_index(archive, cfg, registry, BatchOptions(progress=False, workers=args.workers))
    index_s = time.perf_counter() - t0
    engine = SearchEngine(cfg, registry)
    rep = truth["report"]
    t1 = time.perf_counter()
    found = engine.search(SearchRequest(text=rep["text"], time_from=rep["at_epoch"],
                                        time_to=rep["at_epoch"] + args.hours * 3600, use_clip=False, limit=20))
    search_s = time.perf_counter() - t1
    hours = summary.footage_s / 3600
    archive_h = truth["archive"]["camera_hours"]
    per_h = index_s / hours if hours else float("nan")
    index_all_s = per_h * archive_h
    ranked_correct = [i for i, s in enumerate(found.sightings)
                      if any(_matches(s.camera_id, s.t_start, s.t_end, leg) for leg in truth["route"][1:])]
    return {"cameras": cams, "extrapolated": hours < archive_h - 0.01, "hours_indexed": round(hours, 3),
            "index_wall_s": round(index_s, 1), "wall_s_per_footage_hour": round(per_h, 1),
            "index_whole_archive_s": round(index_all_s, 1), "search_s": round(search_s, 2),
            "first_correct_s": round(index_all_s + search_s, 1) if ranked_correct else None,
            "first_correct_rank": ranked_correct[0] + 1 if ranked_correct else None,
            "hours_decoded": round(archive_h, 3),
            "sightings": summary.sightings, "failed": [f.__dict__ for f in summary.failed],
            } | route_of_a(engine, truth, args.hours, index_all_s)


def route_of_a(engine, truth: dict, hours: float, index_all_s: float) -> dict:
    """(a)'s route from the report, judged; its times count from the start of indexing the whole archive.
    The complete correct route is known when the route is ready only if it is complete; else never."""
    from search.route import RouteRequest, build_route

    rep = truth["report"]
    t0 = time.perf_counter()
    route = build_route(engine, RouteRequest(start_camera=rep["camera_id"], start_time=rep["at_epoch"],
                                             text=rep["text"], forward_s=hours * 3600, use_clip=False))
    route_s = time.perf_counter() - t0
    verdict = judge_route(route, truth)
    ready_s = index_all_s + route_s
    return {"route_s": round(route_s, 2), "route_ready_s": round(ready_s, 1), "route": verdict,
            "complete_s": round(ready_s, 1) if verdict["complete"] else None}


def compare(result: dict) -> None:
    """The speed-ups of (b) over (a) and whether their routes have the same stops, into ``result``."""
    a, b = result["a_batch"], result["b_case"]
    if b.get("complete_s") and a.get("complete_s"):
        result["speedup_complete"] = round(a["complete_s"] / b["complete_s"], 1)
    if b.get("complete_s"):  # (b)'s complete route vs (a)'s route, complete or not
        result["speedup_route_ready"] = round(a["route_ready_s"] / b["complete_s"], 1)
    if b.get("first_correct_s") and a.get("first_correct_s"):
        result["speedup_first"] = round(a["first_correct_s"] / b["first_correct_s"], 1)
    result["same_stops"] = a["route"]["stops"] == b["route"]["stops"]


# ------------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.case_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--city", type=Path, default=CITY)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--window-min", type=float, default=5.0, help="case mode's window length, minutes")
    ap.add_argument("--hours", type=float, default=4.0, help="horizon after the report, for both")
    ap.add_argument("--a-cameras", type=int, default=0, help="(a) on this many cameras only, extrapolated (0: all)")
    ap.add_argument("--case-max-s", type=float, default=3600.0, help="stop case mode after this many seconds")
    ap.add_argument("--skip-a", action="store_true", help="case mode only (the JSON says (a) was not run)")
    ap.add_argument("--out", type=Path, default=RESULTS / "case_speed.json")
    ap.add_argument("--keep-index", type=Path, default=None,
                    help="move (a)'s index here after the run, to look into its route (git-ignored bench/data/...)")
    ap.add_argument("--reroute", type=Path, default=None, metavar="INDEX",
                    help="rebuild (a)'s route on a kept (a) index with today's route code and update --out "
                         "(its indexing time stays the measured one)")
    args = ap.parse_args(argv)
    truth = json.loads((args.city / "case_truth.json").read_text(encoding="utf-8"))
    if args.reroute is not None:
        return reroute(args, truth)
    archive_h = truth["archive"]["camera_hours"]
    result: dict = {"machine": machine_info(), "city": truth["archive"], "report": truth["report"],
                    "truth_route": [leg["camera_id"] for leg in truth["route"]],
                    "settings": {"workers": args.workers, "window_min": args.window_min, "hours": args.hours,
                                 "clip": "fs-tiny-test random-init for indexing; queries structured only"}}
    (args.city.parent).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.city.parent, prefix="case_speed-") as tmp:
        work = Path(tmp)
        print(f"(b) case mode on {args.city} ({archive_h} camera-hours)", flush=True)
        b = run_case(args.city, truth, work, args)
        b["share_analysed_at_complete"] = (round(b["complete_hours_analysed"] / archive_h, 4)
                                           if b.get("complete_s") is not None else None)
        b["share_decoded_at_complete"] = (round(b["complete_hours_decoded"] / archive_h, 4)
                                          if b.get("complete_s") is not None else None)
        result["b_case"] = b
        _write(args.out, result)
        shutil.rmtree(work / "case", ignore_errors=True)
        if not args.skip_a:
            print(f"(a) batch index of {args.a_cameras or 'all'} cameras, then route", flush=True)
            a = run_batch(args.city, truth, work, args)
            a["share_decoded"] = 1.0
            result["a_batch"] = a
            compare(result)
            if args.keep_index is not None:
                shutil.move(str(work / "batch" / "index"), str(args.keep_index))
    _write(args.out, result)
    _print(result)
    return 0


def reroute(args, truth: dict) -> int:
    """(a)'s route again from its kept index: what a route-code change does to the run's (a), unmeasured
    parts untouched. The JSON records the old route and says what was redone."""
    from search.engine import SearchEngine

    result = json.loads(args.out.read_text(encoding="utf-8"))
    a = result["a_batch"]
    engine = SearchEngine(bench_config(args.reroute, args.workers), load_registry(args.city / "cameras.csv"))
    a["route_before_reroute"] = a.get("route_before_reroute", a["route"])
    a.update(route_of_a(engine, truth, args.hours, a["index_whole_archive_s"]), rerouted=True)
    compare(result)
    _write(args.out, result)
    _print(result)
    return 0


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _print(r: dict) -> None:
    rows = []
    for name, key in (("(a) index all, then route", "a_batch"), ("(b) case mode", "b_case")):
        x = r.get(key)
        if not x:
            continue
        share = x.get("share_decoded_at_complete") if key == "b_case" else x.get("share_decoded")
        rows.append((name, x.get("first_correct_s"), x.get("complete_s"), share, x["route"]["correct"],
                     len(x["route"]["truth_stops"]), x["route"]["order_correct"], x["route"]["districts_correct"]))
    print(f"\n{'':28} {'first correct s':>15} {'complete route s':>16} {'decoded share':>13} {'stops':>7} "
          f"{'order':>6} {'districts':>9}")
    for name, f, c, share, ok, n, order, dist in rows:
        print(f"{name:28} {_f(f):>15} {_f(c):>16} {_f(share, 3):>13} {f'{ok}/{n}':>7} {order!s:>6} {dist!s:>9}")
    if r.get("a_batch", {}).get("extrapolated"):
        print(f"(a) measured on {len(r['a_batch']['cameras'])} cameras ({r['a_batch']['hours_indexed']} h), "
              "whole-archive time extrapolated by the measured seconds per footage hour")
    for k in ("speedup_first", "speedup_complete", "speedup_route_ready", "same_stops"):
        if k in r:
            print(f"{k}: {r[k]}")


def _f(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())

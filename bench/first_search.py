"""The console's first search after it starts, on the demo city (target: under 1 s).

    .venv/bin/python bench/first_search.py                  # reuses data/demo-index when present
    .venv/bin/python bench/first_search.py --keep           # keep the index it builds under bench/data/

Each scenario runs in a fresh Python process (models, torch and LanceDB start cold, as in a console
just started), calling the console's own search handler (``ui.search_tab.run_search``: audit,
thumbnails and all) with the default configuration (the multilingual CLIP model, whose weights may be
missing: then its failed load is part of what is measured):

* ``lazy``: no warm start (the console before): the first search opens the index and loads the models;
* ``warm``: the console's background load (``Console.models``) has finished, then the operator searches;
* ``early``: the operator searches the moment the console starts, while the load is still running.

A second search follows in each, for comparison. Results: a table on stdout and
``bench/results/first_search.json`` (with machine info). A benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine_info  # noqa: E402

DEMO_INDEX = ROOT / "data" / "demo-index"
DATA = ROOT / "bench" / "data" / "first-search"
RESULTS = ROOT / "bench" / "results" / "first_search.json"
QUERIES = ("woman, purple coat, blue jeans, walking south", "red jacket, black trousers")
SCENARIOS = ("lazy", "warm", "early")


def build_city(root: Path) -> tuple[Path, Path, Path]:
    """The demo city generated and indexed under ``root``: (index, registry, archive)."""
    from core.config import load_config
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from sample_footage import generate_city

    city = generate_city(root / "city")
    index = root / "index"
    cfg = load_config(None, {"storage.index_uri": str(index), "storage.registry_path": str(city.registry)})
    summary = run_index(city.archive, cfg, load_registry(city.registry), BatchOptions(progress=False))
    print("\n".join(summary.lines()), file=sys.stderr)
    return index, Path(city.registry), Path(city.archive)


def run_scenario(scenario: str, index: str, registry: str, cache: str) -> dict:
    """One console, started cold in this process; the first and second search timed."""
    t_start = time.perf_counter()
    from core.auth import Identity, Role
    from core.config import load_config
    from core.registry import load_registry
    from ui.console import CaseContext, Console, Session
    from ui.search_tab import run_search

    cfg = load_config(None, {"storage.index_uri": index, "storage.registry_path": registry})
    console = Console(cfg=cfg, registry=load_registry(registry), cache_dir=Path(cache))
    out: dict = {"scenario": scenario}
    if scenario != "lazy":
        console.models.start()
    if scenario == "warm":
        console.models.wait()
        out["load_s"] = round(console.models.finished - console.models.started, 3)
        out["models"] = [m.line() for m in console.models.report]
    session = Session(user=Identity("bench", Role.OPERATOR, True, "127.0.0.1"),
                      case=CaseContext("BENCH-1", "benchmark of the first search"))
    for n, query in enumerate(QUERIES, start=1):
        t0 = time.perf_counter()
        view = run_search(console, session, query, "any", None, None, [], [])
        out[f"search{n}_s"] = round(time.perf_counter() - t0, 3)
        out[f"search{n}_results"] = len(view.gallery)
    out["since_start_s"] = round(time.perf_counter() - t_start, 3)
    console.models.wait()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the city and index built under bench/data/ "
                    "(the next run reuses them; without --keep they are deleted after)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each scenario (fresh process each)")
    ap.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)  # one child run
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--registry", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.index, args.registry, args.cache)))
        return 0

    if (DEMO_INDEX / "sightings.lance").exists() and (DEMO_INDEX.parent / "demo-city" / "cameras.csv").exists():
        index, registry = DEMO_INDEX, DEMO_INDEX.parent / "demo-city" / "cameras.csv"
    elif (DATA / "index" / "sightings.lance").exists():  # kept by an earlier --keep run
        index, registry = DATA / "index", DATA / "city" / "cameras.csv"
    else:
        t0 = time.perf_counter()
        index, registry, _ = build_city(DATA)
        print(f"built the demo city and its index in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    runs = []
    try:
        for k in range(args.repeat):
            for scenario in SCENARIOS:
                cache = DATA / "cache" / f"{scenario}-{k}"
                shutil.rmtree(cache, ignore_errors=True)  # no thumbnail made by an earlier run
                proc = subprocess.run([sys.executable, __file__, "--scenario", scenario, "--index", str(index),
                                       "--registry", str(registry), "--cache", str(cache)],
                                      capture_output=True, text=True, env=os.environ, check=False)
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        if not args.keep and index.is_relative_to(DATA):
            shutil.rmtree(DATA, ignore_errors=True)
        shutil.rmtree(DATA / "cache", ignore_errors=True)

    print(f"{'scenario':<8} {'load (s)':>9} {'1st search (s)':>15} {'2nd search (s)':>15} {'results':>8}")
    for r in runs:
        print(f"{r['scenario']:<8} {r.get('load_s', '-')!s:>9} {r['search1_s']:>15.3f} {r['search2_s']:>15.3f} "
              f"{r['search1_results']:>8}")
    warm = [r["search1_s"] for r in runs if r["scenario"] == "warm"]
    summary = {"target_first_search_s": 1.0, "warm_first_search_max_s": max(warm), "meets_target": max(warm) < 1.0}
    print(f"warm first search: max {max(warm):.3f} s (target < 1 s: {'met' if summary['meets_target'] else 'NOT met'})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "first_search", "index": str(index.relative_to(ROOT)),
                                   "queries": QUERIES, "runs": runs, "summary": summary,
                                   "machine": machine_info(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                    time.gmtime())},
                                  indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

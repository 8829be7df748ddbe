"""Console under load: concurrent searches through its HTTP API, idle and while a reindex runs.

    .venv/bin/python bench/load_console.py                            # 8 clients, 20 s idle, 60 s under reindex
    .venv/bin/python bench/load_console.py --clients 4 --idle 5 --load 10 --out /tmp/load.json   # quick look

What runs, all on 127.0.0.1:

* the operator console (``ui.app.launch``) in login mode on a working copy of the indexed demo city, with
  its audit log (every search is fsynced to it before its results are returned);
* ``--clients`` client threads, each signed in as an operator over HTTP (``POST /login``), sending
  searches back to back through the console's JSON endpoint (``POST /gradio_api/call/search`` then the
  result stream) with a mix of descriptions (English and Korean), directions, districts, cameras and
  time windows;
* first ``--idle`` seconds with nothing else running, then ``--load`` seconds while
  ``footage-search index`` re-indexes the archive in a loop in another process (each run alternates
  ``index.max_segment_s`` so every video is redone: per video a delete, an append and a commit), with
  ``--reindex-workers`` worker processes.

Reported per phase: requests, errors, p50/p95/p99/max latency (client-side wall time of one search,
queueing included) and throughput; the target is zero errors and p95 under reindex within 3x of idle.
The audit log is verified at the end. Results: a table on stdout and ``bench/results/load_console.json``
(with machine info). A benchmark, not a test (tests/test_ui_load.py runs it for a few seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402
from bench.real_models import models_dir  # noqa: E402

DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"
TINY_CLIP_CONFIG = REPO / "tests" / "data" / "fs-tiny-test.json"
USER = "bench-operator"
CASE = ("BENCH-LOAD-1", "load benchmark of the operator console (synthetic demo city)")

QUERIES: list[dict[str, Any]] = [
    {"text": "purple coat, blue jeans"},
    {"text": "보라색 코트, 청바지"},
    {"text": "woman in a purple coat walking south", "direction": "S"},
    {"text": "black jacket, black trousers", "districts": ["Jung-gu"]},
    {"text": "grey top, blue jeans", "time_from": "2026-03-14 09:20", "time_to": "2026-03-14 09:35"},
    {"text": "red jacket walking north", "districts": ["Yongsan-gu", "Mapo-gu"]},
    {"text": "white shirt, dark trousers", "cameras": ["JG-01", "YS-02"]},
    {"text": "검은색 재킷, 북쪽으로"},
    {"text": "blue coat", "direction": "E", "time_from": "2026-03-14 09:25"},
    {"text": "purple jacket, grey trousers", "districts": ["Jongno-gu"]},
]


# ------------------------------------------------------------------------------------------ client


class ConsoleClient:
    """One signed-in operator talking to the console's HTTP API (what a script or another system would do)."""

    def __init__(self, url: str, user: str, password: str, timeout_s: float = 120.0):
        self.http = httpx.Client(base_url=url, timeout=timeout_s)
        r = self.http.post("/login", data={"username": user, "password": password})
        if r.status_code != 200:
            raise RuntimeError(f"login failed: HTTP {r.status_code} {r.text[:200]}")

    def search(self, text: str, direction: str = "", time_from: str = "", time_to: str = "",
               districts: list[str] | None = None, cameras: list[str] | None = None, limit: int = 24) -> dict:
        data = [CASE[0], CASE[1], text, direction, time_from, time_to, districts or [], cameras or [], limit]
        r = self.http.post("/gradio_api/call/search", json={"data": data})
        r.raise_for_status()
        event = r.json()["event_id"]
        body = self.http.get(f"/gradio_api/call/search/{event}").text
        kind, _, payload = body.partition("\ndata:")
        if not kind.strip().endswith("complete"):
            raise RuntimeError(f"search failed: {body.strip()[:300]}")
        result = json.loads(payload.strip().split("\n", 1)[0])[0]
        if "sightings" not in result:
            raise RuntimeError(f"unexpected answer: {str(result)[:200]}")
        return result

    def close(self) -> None:
        self.http.close()


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies) * 1000
        pct = (lambda q: round(float(np.percentile(lat, q)), 1)) if len(lat) else (lambda q: None)
        return {"phase": self.name, "requests": len(self.latencies) + len(self.errors), "ok": len(self.latencies),
                "errors": len(self.errors), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
                "max_ms": round(float(lat.max()), 1) if len(lat) else None,
                "mean_ms": round(float(lat.mean()), 1) if len(lat) else None,
                "throughput_rps": round(len(self.latencies) / self.seconds, 2) if self.seconds else None,
                "seconds": round(self.seconds, 1), "first_errors": self.errors[:5]}


def _drive(clients: list[ConsoleClient], seconds: float, phase: Phase, seed: int) -> None:
    """Every client sends searches back to back for ``seconds``."""
    stop_at = time.monotonic() + seconds

    def loop(client: ConsoleClient, rng: random.Random) -> None:
        while time.monotonic() < stop_at:
            q = rng.choice(QUERIES)
            t0 = time.perf_counter()
            try:
                client.search(**q)
            except Exception as exc:  # every failure counts, whatever it is
                with phase.lock:
                    phase.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            with phase.lock:
                phase.latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(c, random.Random(seed + i)), daemon=True)
               for i, c in enumerate(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.monotonic() - t0


# --------------------------------------------------------------------------------------- reindexing


@dataclass
class ReindexLoop:
    """``footage-search index ARCHIVE`` in a loop in another process, every run redoing every video."""

    archive: Path
    registry: Path
    config_file: Path
    workers: int
    nice: int = 0
    runs: list[dict] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _proc: subprocess.Popen | None = None
    _thread: threading.Thread | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def _command(self, k: int) -> list[str]:
        segment = 30.0 if k % 2 else 29.0  # another index fingerprint each run: every video is redone
        return [sys.executable, "-m", "footage_search.cli", "index", str(self.archive), "--registry",
                str(self.registry), "--config", str(self.config_file), "--no-progress", "--json", "--workers",
                str(self.workers),
                "--set", f"index.max_segment_s={segment}"]

    def _run(self) -> None:
        k = 0
        while not self._stop.is_set():
            t0 = time.monotonic()
            self._proc = subprocess.Popen(self._command(k), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None)
            self.started.set()
            out, err = self._proc.communicate()
            run = {"seconds": round(time.monotonic() - t0, 1), "rc": self._proc.returncode,
                   "finished": self._proc.returncode == 0}
            if run["finished"]:
                try:
                    summary = json.loads(out)
                    run["indexed"] = summary.get("indexed")
                    run["sightings_written"] = summary.get("sightings_written")
                except json.JSONDecodeError:
                    pass
            elif not self._stop.is_set():
                run["error"] = err.strip()[-300:]
            self.runs.append(run)
            k += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.started.wait(30)

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()  # the working copy is thrown away: a half-done run does not matter
        if self._thread is not None:
            self._thread.join(60)


# --------------------------------------------------------------------------------------------- setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_values(index: Path, registry: Path, work: Path, workers: int) -> dict[str, Any]:
    """The demo-city settings (real detector when present, the tiny test CLIP) plus this run's state files."""
    values: dict[str, Any] = {
        "storage.index_uri": str(index), "storage.registry_path": str(registry),
        "models.allow_download": False, "index.workers": workers,
        "auth.users_file": str(work / "users.json"), "audit.log_path": str(work / "audit" / "audit.jsonl"),
        "ui.cache_dir": str(work / "console-cache"),
    }
    if models_dir() is not None:
        values["models.models_dir"] = str(models_dir())
    if TINY_CLIP_CONFIG.exists():
        values.update({"models.clip_model": "fs-tiny-test", "models.clip_pretrained": "random-init",
                       "models.clip_config_path": str(TINY_CLIP_CONFIG)})
    return values


def write_toml(values: dict[str, Any], path: Path) -> None:
    sections: dict[str, dict[str, Any]] = {}
    for dotted, v in values.items():
        section, key = dotted.split(".", 1)
        sections.setdefault(section, {})[key] = v
    lines = []
    for section, body in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]  # JSON scalars are valid TOML here
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def demo_city_index(rebuild: bool = False) -> tuple[Path, Path, Path]:
    """(index, registry, archive) of the demo city under bench/data/, indexed with the current code."""
    from core.config import load_config
    from core.index_db import IndexDB
    from core.registry import load_registry
    from core.schema import META_SCHEMA_VERSION, SCHEMA_VERSION
    from indexer.batch import BatchOptions, run_index
    from sample_footage import generate_city

    city = generate_city(DATA / "sample-city")
    index = DATA / "load-console-index"
    fresh = index.exists() and not rebuild
    if fresh:
        try:
            fresh = IndexDB.open(load_config(None, {"storage.index_uri": str(index)}, environ={}).storage).meta().get(
                META_SCHEMA_VERSION) == SCHEMA_VERSION
        except Exception:
            fresh = False
    if not fresh:
        shutil.rmtree(index, ignore_errors=True)
        print("  indexing the demo city (once) ...", file=sys.stderr)
        values = config_values(index, city.registry, DATA, workers=os.cpu_count() or 1)
        cfg = load_config(None, {k: v for k, v in values.items() if k.split(".")[0] in ("storage", "models", "index")},
                          environ={})
        run_index(city.archive, cfg, load_registry(city.registry), BatchOptions(progress=False))
    return index, city.registry, city.archive


# ----------------------------------------------------------------------------------------------- run


def run_load(index: Path, registry: Path, archive: Path, *, clients: int = 8, idle_s: float = 20.0,
             load_s: float = 60.0, reindex_workers: int | None = None, reindex_nice: int = 0,
             work_dir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure idle, then under reindex, on a working copy of ``index``; returns the results."""
    from core.audit import verify_log
    from core.auth import UserStore
    from core.config import load_config
    from core.registry import load_registry
    from ui.app import launch

    reindex_workers = reindex_workers or max(1, (os.cpu_count() or 2) // 2)
    own_tmp = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="fs-load-")) if work_dir is None else work_dir
    try:
        copy = work / "index"
        shutil.copytree(index, copy)
        values = config_values(copy, registry, work, reindex_workers)
        write_toml(values, work / "footage-search.toml")
        cfg = load_config(None, values, environ={})
        password = secrets.token_urlsafe(18)
        UserStore(work / "users.json").add(USER, "operator", password, created_by="bench")
        running = launch(cfg, load_registry(registry), host="127.0.0.1", port=_free_port(), block=False, quiet=True,
                         archive=archive)
        try:
            pool = [ConsoleClient(running.url, USER, password) for _ in range(clients)]
            t0 = time.perf_counter()
            for q in QUERIES:  # warm: models loaded, every query shape seen once
                pool[0].search(**q)
            log(f"  warm-up {time.perf_counter() - t0:.1f} s; idle phase {idle_s:g} s with {clients} clients ...")
            idle = Phase("idle")
            _drive(pool, idle_s, idle, seed=1)
            log(f"  under reindex {load_s:g} s ({reindex_workers} indexer workers, nice {reindex_nice}) ...")
            loop = ReindexLoop(archive, registry, work / "footage-search.toml", reindex_workers, reindex_nice)
            loop.start()
            time.sleep(min(3.0, load_s / 5))  # let the indexer get going (decoding, models) before measuring
            busy = Phase("under reindex")
            _drive(pool, load_s, busy, seed=2)
            loop.stop()
            for c in pool:
                c.close()
        finally:
            running.close()
        audit = verify_log(work / "audit" / "audit.jsonl", None)
        searches = sum(1 for line in (work / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
                       if json.loads(line)["event"] == "search")
        i, b = idle.summary(), busy.summary()
        ratio = round(b["p95_ms"] / i["p95_ms"], 2) if i["p95_ms"] and b["p95_ms"] else None
        return {
            "machine": machine_info(),
            "setup": {"clients": clients, "idle_s": idle_s, "load_s": load_s, "reindex_workers": reindex_workers,
                      "reindex_nice": reindex_nice, "index_rows": _rows(copy), "queries": len(QUERIES),
                      "api": "POST /gradio_api/call/search + GET result stream, signed in as an operator",
                      "api_concurrency": 4},
            "phases": [i, b],
            "reindex": {"runs": loop.runs, "runs_finished": sum(1 for r in loop.runs if r["finished"]),
                        "videos_reindexed": sum(r.get("indexed") or 0 for r in loop.runs)},
            "p95_ratio_under_reindex": ratio,
            "target": {"zero_errors": i["errors"] == 0 and b["errors"] == 0,
                       "p95_within_3x_idle": ratio is not None and ratio <= 3.0},
            "audit": {"ok": audit.ok, "records": audit.records, "search_records": searches,
                      "requests": i["requests"] + b["requests"] + len(QUERIES)},
        }
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def _rows(index: Path) -> int:
    import lancedb

    return lancedb.connect(str(index)).open_table("sightings").count_rows()


def print_table(res: dict[str, Any]) -> None:
    head = f"{'phase':<16}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>8}"
    print(head)
    print("-" * len(head))
    for p in res["phases"]:
        print(f"{p['phase']:<16}{p['requests']:>9}{p['errors']:>8}{p['p50_ms'] or 0:>9.1f}{p['p95_ms'] or 0:>9.1f}"
              f"{p['p99_ms'] or 0:>9.1f}{p['max_ms'] or 0:>9.1f}{p['throughput_rps'] or 0:>8.2f}")
    r = res["reindex"]
    print(f"reindex during the load phase: {len(r['runs'])} run(s) started, {r['runs_finished']} finished, "
          f"{r['videos_reindexed']} videos re-indexed")
    print(f"p95 under reindex / idle: {res['p95_ratio_under_reindex']}x (target <= 3x); "
          f"errors: {'none' if res['target']['zero_errors'] else 'SOME'}; audit log "
          f"{'verified' if res['audit']['ok'] else 'BROKEN'} ({res['audit']['search_records']} search records for "
          f"{res['audit']['requests']} requests)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    ap.add_argument("--idle", type=float, default=20.0, help="seconds measured with nothing else running (20)")
    ap.add_argument("--load", type=float, default=60.0, help="seconds measured while reindexing (60)")
    ap.add_argument("--reindex-workers", type=int, help="indexer worker processes (default half the cores)")
    ap.add_argument("--reindex-nice", type=int, default=0, help="run the indexer at this niceness (default 0)")
    ap.add_argument("--index", type=Path, help="an indexed demo city (default: bench/data/load-console-index)")
    ap.add_argument("--registry", type=Path, help="its cameras.csv (with --index)")
    ap.add_argument("--archive", type=Path, help="its archive (with --index)")
    ap.add_argument("--rebuild-index", action="store_true", help="index the demo city again first")
    ap.add_argument("--out", type=Path, default=RESULTS / "load_console.json")
    args = ap.parse_args(argv)
    if args.index is not None and (args.registry is None or args.archive is None):
        ap.error("--index needs --registry and --archive")
    if args.index is None:
        index, registry, archive = demo_city_index(args.rebuild_index)
    else:
        index, registry, archive = args.index, args.registry, args.archive
    res = run_load(index, registry, archive, clients=args.clients, idle_s=args.idle, load_s=args.load,
                   reindex_workers=args.reindex_workers, reindex_nice=args.reindex_nice,
                   log=lambda m: print(m, file=sys.stderr))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(res)
    print(f"written {args.out}")
    return 0 if res["target"]["zero_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())

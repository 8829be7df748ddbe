"""Partitioning: does an area- and day-bounded search stay fast when the table holds a whole city?

    .venv/bin/python -m bench.partitioning                  # 2M rows, 25 districts x 30 days
    .venv/bin/python -m bench.partitioning --rows 500000    # quicker

Three layouts of the same synthetic sightings (``bench.search_latency.synth_batch``: realistic columns
of ``core.schema.sightings_schema``, 32-d vectors and 600-byte thumbnails to keep the disk
small), appended a day at a time in the order the indexer appends them (video by video in time order:
one video's rows together, all districts interleaved hour by hour), then compacted as
``SightingStore.optimize`` does:

* ``one table, no scalar index``: what a fresh index has before ``build_indexes``;
* ``one table + scalar indexes``: BITMAP on district/day/camera_id/has_vector, BTREE on t_start/video_id,
  exactly what ``indexer/store.py`` builds (the layout the indexer and search use);
* ``table per district``: 25 tables, each with the same indexes (district is then implied), a search
  queries the tables of its districts and merges.

Each is asked what search asks (``search/index_reader.py``): a filtered scan of the columns structured
search reads, and a prefiltered 50-nearest vector search, for one district x one day, three districts x
three days, and the whole city for one day. Latency is warm (the data fits in the page cache), one query
at a time; rows and bytes touched come from LanceDB's ``analyze_plan`` (summed over the reads).

Every layout is built and measured at each ``--rows`` size: what matters is whether a bounded search
slows down as the city's table grows. Results: a table on stdout and ``bench/results/partitioning.json``
(with machine info). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

os.environ.setdefault("LANCE_LOG", "error")  # one deprecation warning per vector query otherwise

from bench.machine import machine_info
from bench.search_latency import DAYS, START, pct, synth_batch
from core.index_db import sql_in
from core.schema import SIGHTINGS

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"

BUILD_VERSION = 2  # bump when the generated data changes
N_DISTRICTS = 25
CAMERAS_PER_DISTRICT = 40
SCAN_COLUMNS = ["sighting_id", "camera_id", "t_start", "t_end", "upper_colour", "lower_colour", "bearing_deg",
                "speed_mps"]
HIT_COLUMNS = ["sighting_id", "camera_id", "t_start"]
# The indexer's scalar indexes (indexer/store.py, SightingStore.build_indexes).
INDEXES = (("camera_id", "BITMAP"), ("district", "BITMAP"), ("day", "BITMAP"), ("t_start", "BTREE"),
           ("video_id", "BTREE"), ("has_vector", "BITMAP"))


def districts() -> list[str]:
    return [f"District-{d:02d}" for d in range(N_DISTRICTS)]


def day_name(d: int) -> str:
    return (START + timedelta(days=d)).strftime("%Y-%m-%d")


def _one_day(batch: pa.Table, d: int) -> pa.Table:
    """Move a synthetic batch (rows spread over 30 days) onto day ``d``, keeping each row's time of day."""
    t0 = batch.column("t_start").to_numpy()
    shift = (d - (t0 - START.timestamp()) // 86400) * 86400
    for name in ("t_start", "t_end", "t_best"):
        batch = batch.set_column(batch.schema.get_field_index(name), name,
                                 pa.array(batch.column(name).to_numpy() + shift))
    batch = batch.set_column(batch.schema.get_field_index("day"), "day", pa.array([day_name(d)] * batch.num_rows))
    # Append order: hour by hour, and within the hour camera by camera (one video's rows together).
    hour = pa.array(np.floor(batch.column("t_start").to_numpy() / 3600))
    return batch.append_column("_hour", hour).sort_by([("_hour", "ascending"), ("camera_id", "ascending")]) \
        .drop_columns(["_hour"])


def build(root: Path, rows: int, dim: int) -> dict:
    """Write the city once into both layouts (skipped when already there)."""
    import lancedb

    stamp = root / "stamp.json"
    wanted = {"requested_rows": rows, "dim": dim, "version": BUILD_VERSION}
    if stamp.exists() and all(json.loads(stamp.read_text()).get(k) == v for k, v in wanted.items()):
        return json.loads(stamp.read_text())
    shutil.rmtree(root, ignore_errors=True)
    one = lancedb.connect(str(root / "one-table"))
    split = lancedb.connect(str(root / "per-district"))
    names = districts()
    cam_ids = np.array([f"D{d:02d}-C{k:03d}" for d in range(N_DISTRICTS) for k in range(CAMERAS_PER_DISTRICT)])
    cam_district = {c: names[int(c[1:3])] for c in cam_ids}
    rng = np.random.default_rng(25)
    weight = rng.permutation(1.0 / np.arange(1, len(cam_ids) + 1) ** 0.5)  # some cameras far busier
    weight /= weight.sum()
    t = time.perf_counter()
    table = None
    per: dict[str, object] = {}
    per_day = rows // DAYS
    for d in range(DAYS):
        batch = _one_day(synth_batch(rng, d * per_day, per_day, dim, cam_ids, cam_district, weight), d)
        table = one.create_table(SIGHTINGS, data=batch) if table is None else table
        if d:
            table.add(batch)
        for name in names:
            part = batch.filter(pc.equal(batch.column("district"), name))
            if name not in per:
                per[name] = split.create_table(_district_table(name), data=part)
            else:
                per[name].add(part)
        print(f"\r  day {d + 1}/{DAYS}: {(d + 1) * per_day:,} rows", end="", file=sys.stderr)
    print(file=sys.stderr)
    for tbl in (table, *per.values()):
        tbl.optimize(cleanup_older_than=timedelta(0))
        for column, kind in INDEXES:
            if not (tbl in per.values() and column == "district"):
                tbl.create_scalar_index(column, index_type=kind, name=f"{column}_idx")
    info = {**wanted, "rows": per_day * DAYS, "districts": N_DISTRICTS, "days": DAYS,
            "cameras": len(cam_ids), "build_s": round(time.perf_counter() - t, 1),
            "disk_mb": {"one table": round(_du(root / "one-table") / 1e6, 1),
                        "per district": round(_du(root / "per-district") / 1e6, 1)},
            "fragments_one_table": len(table.to_lance().get_fragments()) if _has_lance() else None}
    stamp.write_text(json.dumps(info))
    return info


def _district_table(name: str) -> str:
    return f"{SIGHTINGS}_{name.lower().replace('-', '_')}"


def _has_lance() -> bool:
    try:
        import lance  # noqa: F401
    except ImportError:
        return False
    return True


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass
class Scenario:
    name: str
    districts: list[str]
    days: list[str]

    def where(self, with_district: bool = True) -> str:
        day = sql_in("day", self.days)
        if not with_district or len(self.districts) == N_DISTRICTS:
            return day
        return f"{sql_in('district', self.districts)} AND {day}"


def scenarios(rng: np.random.Generator, repeats: int) -> dict[str, list[Scenario]]:
    names = districts()
    out: dict[str, list[Scenario]] = {"1 district x 1 day": [], "3 districts x 3 days": [], "whole city x 1 day": []}
    for _ in range(repeats):
        d = int(rng.integers(0, DAYS - 3))
        out["1 district x 1 day"].append(Scenario("1x1", [names[rng.integers(N_DISTRICTS)]], [day_name(d)]))
        picks = sorted(rng.choice(N_DISTRICTS, 3, replace=False))
        out["3 districts x 3 days"].append(Scenario("3x3", [names[i] for i in picks],
                                                    [day_name(d + i) for i in range(3)]))
        out["whole city x 1 day"].append(Scenario("city", names, [day_name(d)]))
    return out


_METRIC = re.compile(r"(rows_scanned|bytes_read)=([\d.]+)\s*([KMG]?)")
_SCALE = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}


def touched(plan: str) -> tuple[float, float]:
    """(rows scanned, bytes read) summed over the plan's LanceRead nodes."""
    rows = bytes_ = 0.0
    for line in plan.splitlines():
        if "LanceRead" not in line:
            continue
        for key, num, unit in _METRIC.findall(line):
            value = float(num) * _SCALE[unit]
            if key == "rows_scanned":
                rows += value
            else:
                bytes_ += value
    return rows, bytes_


class Layout:
    """One way of storing the city; answers a scenario with a scan or a vector search."""

    def __init__(self, name: str, tables: dict[str, object], split: bool):
        self.name, self.tables, self.split = name, tables, split

    def _targets(self, sc: Scenario) -> list[tuple[object, str]]:
        if not self.split:
            return [(self.tables[""], sc.where())]
        return [(self.tables[d], sc.where(with_district=False)) for d in sc.districts]

    def queries(self, sc: Scenario, mode: str, vector: np.ndarray) -> list[object]:
        out = []
        for table, where in self._targets(sc):
            if mode == "scan":
                out.append(table.search().where(where).select(SCAN_COLUMNS).limit(None))
            else:
                out.append(table.search(vector, vector_column_name="vector").distance_type("cosine")
                           .where(f"({where}) AND has_vector = true", prefilter=True).select(HIT_COLUMNS).limit(50))
        return out

    def run(self, sc: Scenario, mode: str, vector: np.ndarray) -> int:
        parts = [q.to_arrow() for q in self.queries(sc, mode, vector)]
        result = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        if mode == "vector" and len(parts) > 1:  # merge the per-table top-50s
            result = result.sort_by("_distance").slice(0, 50)
        return result.num_rows

    def touched(self, sc: Scenario, mode: str, vector: np.ndarray) -> tuple[float, float]:
        rows = bytes_ = 0.0
        for q in self.queries(sc, mode, vector):
            r, b = touched(q.analyze_plan())
            rows, bytes_ = rows + r, bytes_ + b
        return rows, bytes_


def measure(layout: Layout, cases: dict[str, list[Scenario]], dim: int) -> list[dict]:
    rng = np.random.default_rng(7)
    out = []
    for label, scs in cases.items():
        for mode in ("scan", "vector"):
            lat, results, rows, bytes_ = [], [], [], []
            layout.run(scs[0], mode, _unit(rng, dim))  # warm the index caches
            for i, sc in enumerate(scs):
                v = _unit(rng, dim)
                t = time.perf_counter()
                results.append(layout.run(sc, mode, v))
                lat.append(1000 * (time.perf_counter() - t))
                if i < 3:
                    r, b = layout.touched(sc, mode, v)
                    rows.append(r)
                    bytes_.append(b)
            row = {"layout": layout.name, "scenario": label, "mode": mode, "queries": len(scs),
                   "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1),
                   "rows_scanned": int(statistics.median(rows)), "mb_read": round(statistics.median(bytes_) / 1e6, 2),
                   "results_median": int(statistics.median(results))}
            out.append(row)
            print(f"  {layout.name:<28} {label:<22} {mode:<6} p50 {row['p50_ms']:>7.1f} ms  "
                  f"p95 {row['p95_ms']:>7.1f} ms  rows {row['rows_scanned']:>9,}  {row['mb_read']:>8.2f} MB",
                  file=sys.stderr)
    return out


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def print_table(rows: list[dict]) -> None:
    head = (f"{'rows':>9} {'layout':<28} {'scenario':<22} {'mode':<6} {'p50 ms':>8} {'p95 ms':>8} {'rows read':>10} "
            f"{'MB read':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['rows']:>9,} {r['layout']:<28} {r['scenario']:<22} {r['mode']:<6} {r['p50_ms']:>8.1f} "
              f"{r['p95_ms']:>8.1f} {r['rows_scanned']:>10,} {r['mb_read']:>8.2f}")


def measure_all(root: Path, args: argparse.Namespace) -> list[dict]:
    import lancedb

    cases = scenarios(np.random.default_rng(3), args.repeats)
    one = lancedb.connect(str(root / "one-table")).open_table(SIGHTINGS)
    split = lancedb.connect(str(root / "per-district"))
    per = {d: split.open_table(_district_table(d)) for d in districts()}
    results = measure(Layout("one table + scalar indexes", {"": one}, split=False), cases, args.dim)
    results += measure(Layout("table per district", per, split=True), cases, args.dim)
    # The same table without its scalar indexes (dropped, measured, rebuilt).
    for column, _ in INDEXES:
        one.drop_index(f"{column}_idx")
    try:
        results += measure(Layout("one table, no scalar index", {"": one}, split=False), cases, args.dim)
    finally:
        for column, kind in INDEXES:
            one.create_scalar_index(column, index_type=kind, name=f"{column}_idx")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[500_000, 2_000_000, 5_000_000])
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS / "partitioning.json")
    args = ap.parse_args(argv)

    results: list[dict] = []
    datasets = []
    for rows in args.rows:
        root = DATA / f"partitioning-{rows}"
        info = build(root, rows, args.dim)
        datasets.append(info)
        results += [{"rows": info["rows"], **r} for r in measure_all(root, args)]
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine_info(), "datasets": datasets, "results": results},
                                   indent=2) + "\n")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

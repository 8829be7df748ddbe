"""Search speed at city scale: synthetic sightings tables of 1M and 10M rows.

The tables are written the way the indexer writes them (video by video: a day's footage, camera by
camera, in time order) with realistic metadata (400 cameras in 8 districts, 30 days, more people by
day, street-palette clothing colours) and CLIP-like vectors: real person embeddings cluster by
appearance, so vectors are drawn around 2,000 "looks" rather than uniformly on the sphere (uniform
random vectors are the worst case for an ANN index and unlike any real index). Thumbnails are small
placeholders: they are only read for a result page.

Measured, one query at a time, warm, on the engine the console uses (``SearchEngine``):

* text query with time + district filters (structured colour terms; and with a CLIP text vector);
* photo-style query (stored CLIP vector + colour layout: "more like this") with a day filter and
  city-wide, and city-wide once more with the appearance scan of every row it had before vector-led
  search (the same-run baseline for that change);
* each with and without the ANN index (IVF_PQ); recall@10 of the indexed vector search against exact
  search; index build time; disk size; peak RSS.

    .venv/bin/python -m bench.search_speed --rows 1000000
    .venv/bin/python -m bench.search_speed --rows 10000000   # ~35 GB in bench/data: delete it afterwards
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa

from bench.machine import machine_info

# the same synthetic city as the latency benchmark: 8 Seoul districts x 50 cameras, 30 days from 1 March
from bench.search_latency import (
    CAMERAS_PER_DISTRICT,
    DATA,
    DAYS,
    DISTRICTS,
    RESULTS,
    START,
    _du,
    _fixed,
    part_colours_like_indexer,
)
from core.config import load_config
from core.registry import Camera, CameraRegistry, write_registry
from core.schema import (
    META,
    SIGHTINGS,
    VIDEOS,
    VIDEOS_SCHEMA,
    meta_table,
    sightings_schema,
)
from core.vision.colours import LAYOUT_DIM, N_COLOURS
from indexer.store import SightingStore
from search.engine import ANN_EXACT_MAX, EVIDENCE_SCAN_MAX

LOOKS = 2000
# Compaction rewrites the whole table before it drops the old files: at 10M x 768-d (~37 GB) that needs
# twice the table's size free, which filled this machine's disk once. The 200k-row fragments the build
# writes are already large enough to scan well, so big tables are left as written.
COMPACT_MAX_ROWS = 2_000_000
# Street palette (weights over the 11 colour names): mostly dark and neutral clothes.
PALETTE = np.array([30, 12, 8, 16, 3, 1, 2, 2, 4, 10, 2], dtype=float)


def registry() -> CameraRegistry:
    rng = np.random.default_rng(7)
    cams = {}
    for d, district in enumerate(DISTRICTS):
        lat0, lon0 = 37.50 + 0.02 * (d % 4), 126.92 + 0.04 * (d // 4)
        for i in range(CAMERAS_PER_DISTRICT):
            cid = f"D{d}-C{i:03d}"
            cams[cid] = Camera(cid, district, cid, lat0 + rng.uniform(0, 0.015), lon0 + rng.uniform(0, 0.03),
                               float(rng.uniform(0, 359)), 30.0)
    return CameraRegistry(cams, source="bench")


class Generator:
    def __init__(self, rows: int, dim: int, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.rows, self.dim = rows, dim
        self.reg = registry()
        self.cams = np.array(sorted(self.reg.cameras))
        w = 1.0 / np.arange(1, len(self.cams) + 1) ** 0.5
        self.cam_weight = self.rng.permutation(w / w.sum())
        centres = self.rng.standard_normal((LOOKS, dim)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        hour_p = 0.25 + np.exp(-0.5 * ((np.arange(24) - 14) / 4.5) ** 2)
        self.hour_p = hour_p / hour_p.sum()
        self.thumb = b"\xff\xd8" + bytes(600) + b"\xff\xd9"

    def vectors(self, looks: np.ndarray) -> np.ndarray:
        v = self.centres[looks] + 0.55 * self.rng.standard_normal((len(looks), self.dim)).astype(np.float32) \
            / math.sqrt(self.dim)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def day(self, d: int, n: int) -> pa.Table:
        rng = self.rng
        cams = self.cams[rng.choice(len(self.cams), size=n, p=self.cam_weight)]
        hour = rng.choice(24, size=n, p=self.hour_p)
        t0 = START.timestamp() + d * 86400 + hour * 3600 + rng.uniform(0, 3600, n)
        order = np.lexsort((t0, cams, hour))  # indexed video by video: each camera-hour file together
        cams, hour, t0 = cams[order], hour[order], t0[order]
        dur = rng.uniform(2, 30, n)
        video = np.char.add(np.char.add(cams.astype(str), "-"), (t0 // 3600).astype(np.int64).astype(str))
        looks = rng.integers(0, LOOKS, n)
        upper = rng.dirichlet(np.ones(N_COLOURS) * 0.3, n) * 0.6 + 0.4 * rng.dirichlet(PALETTE, n)
        lower = rng.dirichlet(np.ones(N_COLOURS) * 0.3, n) * 0.6 + 0.4 * rng.dirichlet(PALETTE, n)
        layout = np.sqrt(rng.dirichlet(np.full(N_COLOURS, 0.8), size=(n, LAYOUT_DIM // N_COLOURS))).reshape(n, -1)
        layout /= np.linalg.norm(layout, axis=1, keepdims=True)
        moving = rng.random(n) < 0.8
        box = np.tile(np.array([100, 50, 150, 200], dtype=np.float32), (n, 1))
        ids = np.char.add(np.char.add(video, ":"), np.arange(n).astype(str))
        day_str = (START + timedelta(days=d)).strftime("%Y-%m-%d")
        district = np.array([self.reg.cameras[c].district for c in cams])
        cols = {
            "sighting_id": pa.array(np.char.add(ids, ":0")), "video_id": pa.array(video),
            "camera_id": pa.array(cams), "district": pa.array(district), "day": pa.array(np.full(n, day_str)),
            "t_start": pa.array(t0), "t_end": pa.array(t0 + dur), "t_best": pa.array(t0 + dur / 2),
            "video_path": pa.array(np.char.add(np.char.add("/archive/", video), ".mp4")),
            "offset_start_s": pa.array(t0 % 3600), "offset_end_s": pa.array(t0 % 3600 + dur),
            "offset_best_s": pa.array(t0 % 3600 + dur / 2), "box": _fixed(box, 4),
            "frame_width": pa.array(np.full(n, 1280, np.int32)), "frame_height": pa.array(np.full(n, 720, np.int32)),
            "track_id": pa.array(np.arange(n, dtype=np.int32)), "segment": pa.array(np.zeros(n, np.int32)),
            "track_offsets": pa.array([[0.0, float(x)] for x in dur], type=pa.list_(pa.float64())),
            "track_boxes": pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                                    _fixed(np.repeat(box, 2, axis=0), 4)),
            "n_detections": pa.array(np.maximum(2, dur).astype(np.int32)),
            "det_score": pa.array(rng.uniform(0.4, 0.95, n).astype(np.float32)),
            "bearing_deg": pa.array(rng.uniform(0, 360, n).astype(np.float32), mask=~moving),
            "speed_mps": pa.array(np.where(moving, rng.uniform(0.6, 1.8, n), 0.0).astype(np.float32)),
            "upper_colour": _fixed(upper, N_COLOURS), "lower_colour": _fixed(lower, N_COLOURS),
            "colour_layout": _fixed(layout, LAYOUT_DIM), "vector": _fixed(self.vectors(looks), self.dim),
            "has_vector": pa.array(np.ones(n, dtype=bool)), "clip_model": pa.array(np.full(n, "bench")),
            "detector": pa.array(np.full(n, "synthetic")), "thumbnail": pa.array([self.thumb] * n, type=pa.binary()),
            "indexed_at": pa.array(np.zeros(n)),
            # four crops of part colours, as the indexer writes them: descriptions read them too
            "part_colours": part_colours_like_indexer(rng, upper.astype(np.float32), lower.astype(np.float32)),
        }
        schema = sightings_schema(self.dim)
        return pa.table({f.name: cols[f.name] if f.name in cols else _default(f, n) for f in schema}, schema=schema)


def _default(field: pa.Field, n: int) -> pa.Array:
    """Columns this benchmark does not model (later attributes): nulls, or the type's empty value."""
    if field.nullable:
        return pa.nulls(n, type=field.type)
    t = field.type
    if pa.types.is_fixed_size_list(t):
        return _fixed(np.zeros((n, t.list_size), np.float32), t.list_size)
    if pa.types.is_list(t):
        return pa.array([[] for _ in range(n)], type=t)
    if pa.types.is_boolean(t):
        return pa.array(np.zeros(n, dtype=bool))
    if pa.types.is_string(t):
        return pa.array([""] * n, type=t)
    return pa.array(np.zeros(n), type=t)


def build(rows: int, dim: int) -> tuple[Path, dict]:
    path = DATA / f"speed-{rows}-{dim}d"
    stamp = path / "bench_stamp.json"
    if stamp.exists():
        return path, json.loads(stamp.read_text())
    gen = Generator(rows, dim)
    path.mkdir(parents=True, exist_ok=True)
    write_registry(gen.reg, path / "cameras.csv")
    db = lancedb.connect(str(path))
    for name in db.table_names():
        db.drop_table(name)
    table = db.create_table(SIGHTINGS, schema=sightings_schema(dim))
    per_day = rows // DAYS
    t = time.perf_counter()
    for d in range(DAYS):
        n = per_day if d < DAYS - 1 else rows - per_day * (DAYS - 1)
        for lo in range(0, n, 200_000):  # bounded memory at 10M
            table.add(gen.day(d, min(200_000, n - lo)))
        print(f"\r  {min(rows, per_day * (d + 1)):,}/{rows:,} rows", end="", flush=True)
    print()
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    if rows <= COMPACT_MAX_ROWS:
        table.optimize(cleanup_older_than=timedelta(seconds=0))
    compact_s = time.perf_counter() - t
    db.create_table(META, data=meta_table(dim, "bench"), mode="overwrite")
    db.create_table(VIDEOS, schema=VIDEOS_SCHEMA, mode="overwrite")
    store = SightingStore(_index_db(path), dim)
    t = time.perf_counter()
    store.build_indexes(vector=False)
    scalar_s = time.perf_counter() - t
    t = time.perf_counter()
    store.build_indexes()
    ann_s = time.perf_counter() - t
    info = {"rows": rows, "dim": dim, "write_s": write_s, "compact_s": compact_s, "scalar_index_s": scalar_s,
            "ann_index_s": ann_s, "disk_gb": _du(path) / 1e9,
            "ann_index": [ix.index_type for ix in db.open_table(SIGHTINGS).list_indices() if ix.name == "vector_idx"]}
    stamp.write_text(json.dumps(info))
    return path, info


def _index_db(path: Path):
    from core.index_db import IndexDB

    return IndexDB(uri=str(path), storage_options={})


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--build-only", action="store_true", help="write the table and its indexes, time nothing")
    ap.add_argument("--recall-only", action="store_true",
                    help="on an existing table: measure only the ANN recall and update its results file")
    ap.add_argument("--only", metavar="TEXT",
                    help="time only the scenarios whose name contains TEXT and update their rows in the results file")
    ap.add_argument("--ann", choices=("both", "on", "off"), default="both",
                    help="time with the ANN index, without it (exact), or both")
    args = ap.parse_args()

    from search.engine import SearchEngine
    from search.request import SearchRequest
    from search.search_models import SearchModels

    path, build_info = build(args.rows, args.dim)
    if args.build_only:
        print(json.dumps(build_info, indent=2))
        return
    print(f"table: {args.rows:,} rows x {args.dim}d, {build_info['disk_gb']:.1f} GB on disk; "
          f"ANN build {build_info['ann_index_s']:.0f} s")
    cfg = load_config(None, {"storage.index_uri": str(path), "models.allow_download": False}, environ={})
    reg = registry()
    # CLIP on, so a "more like this" query carries the sighting's stored vector as a photo query carries its
    # embedding (no model is loaded for that); the text scenarios pass use_clip=False or bring their vector.
    engine = SearchEngine(cfg, reg, SearchModels(cfg, clip_enabled=True))
    rng = np.random.default_rng(99)
    gen = Generator(args.rows, args.dim)  # the table's own looks (its centres come from seed 1) ...
    gen.rng = np.random.default_rng(5)  # ... with fresh noise: queries are new sightings of known looks

    out = RESULTS / f"search_speed_{args.rows // 1_000_000}M.json"
    if args.recall_only:
        recall = _ann_recall(engine, gen, rng, args.queries)
        print(json.dumps(recall, indent=2))
        previous = json.loads(out.read_text()) if out.exists() else {"machine": machine_info(), "table": build_info}
        previous["recall_at_10"] = recall
        out.write_text(json.dumps(previous, indent=2))
        return

    def window(hours: int) -> tuple[datetime, datetime]:
        day = START + timedelta(days=int(rng.integers(0, DAYS)))
        start = day.replace(hour=int(rng.integers(8, 24 - hours))) if hours < 24 else day
        return start, start + timedelta(hours=hours)

    def ids_like() -> str:  # a random existing sighting for "more like this" (a photo-style query)
        d = int(rng.integers(0, DAYS))
        day = (START + timedelta(days=d)).strftime("%Y-%m-%d")
        row = engine.reader.read(f"day = '{day}'", ["sighting_id"], limit=50).column("sighting_id")
        return str(row[int(rng.integers(0, len(row)))])

    scenarios = {
        "text, 1 h, 1 district": lambda: engine.search(SearchRequest(
            text="red jacket, black trousers", time_from=(w := window(1))[0], time_to=w[1],
            districts=[DISTRICTS[int(rng.integers(0, 8))]], use_clip=False)),
        "text+CLIP vector, 1 day, 2 districts": lambda: _with_vector(engine, gen, rng, window(24),
                                                                     list(rng.choice(DISTRICTS, 2, replace=False))),
        "photo-style, 1 day, all districts": lambda: engine.search(SearchRequest(
            like=ids_like(), time_from=(w := window(24))[0], time_to=w[1])),
        "photo-style, 30 days, city-wide": lambda: engine.search(SearchRequest(like=ids_like())),
        # the same query as before vector-led search (SearchEngine._vector_led): appearance scored on every row
        "photo-style, 30 days, city-wide, full appearance scan": lambda: _full_scan(engine, SearchRequest(
            like=ids_like())),
    }
    rows = []
    for ann in {"both": (True, False), "on": (True,), "off": (False,)}[args.ann]:
        engine.ann_exact_max = ANN_EXACT_MAX if ann else 10**12
        for name, run in scenarios.items():
            if ("full appearance scan" in name and not ann) or (args.only and args.only not in name):
                continue
            run()  # warm
            times, filtered, stages = [], [], []
            n = args.queries if "30 days" not in name else max(5, args.queries // 4)
            for _ in range(n):
                t = time.perf_counter()
                res = run()
                times.append(1000 * (time.perf_counter() - t))
                filtered.append(res.filtered_rows)
                stages.append(res.timings_ms)
            rows.append({"scenario": name, "ann_index": ann, "queries": n, "p50_ms": statistics.median(times),
                         "p95_ms": pct(times, 0.95), "filtered_rows_median": statistics.median(filtered),
                         "stage_p50_ms": {k: statistics.median(st.get(k, 0.0) for st in stages)
                                          for k in stages[0] if k != "total"}})
            print(f"{name:40} ANN {'on ' if ann else 'off'} p50 {rows[-1]['p50_ms']:7.1f} ms  "
                  f"p95 {rows[-1]['p95_ms']:7.1f} ms  ({rows[-1]['filtered_rows_median']:,.0f} rows pass filters)")

    if args.only or args.ann != "both":  # a partial rerun: replace those rows, keep the rest of the last full run
        previous = json.loads(out.read_text())
        new = {(r["scenario"], r["ann_index"]) for r in rows}
        previous["latency"] = [r for r in previous["latency"] if (r["scenario"], r["ann_index"]) not in new] + rows
        out.write_text(json.dumps(previous, indent=2))
        return
    recall = _ann_recall(engine, gen, rng, args.queries)
    print(f"recall@10 of the ANN index against exact search: city-wide {recall['no_filter']:.3f}, "
          f"one day {recall['one_day']:.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_info(), "table": build_info, "latency": rows, "recall_at_10": recall,
                               "peak_rss_mb": peak_mb}, indent=2))
    print(f"peak RSS {peak_mb:.0f} MB; wrote {out}")


def _full_scan(engine, request):
    engine.evidence_scan_max = 10**12
    try:
        return engine.search(request)
    finally:
        engine.evidence_scan_max = EVIDENCE_SCAN_MAX


def _with_vector(engine, gen: Generator, rng, w, districts):
    from search.request import SearchRequest

    filters = engine.filters_for(SearchRequest(text="x", time_from=w[0], time_to=w[1], districts=districts))
    q = engine.compile("red jacket", use_clip=False)
    q.scoring.vectors.append(gen.vectors(rng.integers(0, LOOKS, 1))[0])
    return engine.find(q, filters)


# Same look <=> cosine distance well under 1: vectors of one look sit ~0.23 from a query of that look,
# vectors of other looks ~1.0.
SAME_LOOK_DISTANCE = 0.5


def _ann_recall(engine, gen: Generator, rng, n: int) -> dict[str, float]:
    """recall@10 against exact search, and the share of the top 10 that are the query's own look.

    Within one look (~500 vectors per million rows) the exact order is decided by small differences that
    product quantisation cannot see: the index finds them only by re-ranking enough candidates with their
    full vectors (``search.index_reader.ANN_REFINE_ROWS``). What a search needs most is the right *look*
    (the same person's sightings), which ``same_look_at_10`` measures.
    """
    out = {}
    day = (START + timedelta(days=3)).strftime("%Y-%m-%d")
    for label, where in (("no_filter", None), ("one_day", f"day = '{day}'")):
        hits, same_ann, same_exact = [], [], []
        for _ in range(n):
            v = gen.vectors(rng.integers(0, LOOKS, 1))[0]
            exact = engine.reader.nearest(v, where, 10, ["sighting_id"], exact=True)
            approx = engine.reader.nearest(v, where, 10, ["sighting_id"], exact=False)
            e_ids, a_ids = exact.column("sighting_id").to_pylist(), approx.column("sighting_id").to_pylist()
            hits.append(len(set(e_ids) & set(a_ids)) / max(1, len(e_ids)))
            for table, acc in ((approx, same_ann), (exact, same_exact)):
                d = np.asarray(table.column("_distance").to_pylist(), dtype=float)
                acc.append(float(np.mean(d < SAME_LOOK_DISTANCE)) if len(d) else 0.0)
        out[label] = float(np.mean(hits))
        out[f"{label}_same_look_at_10_ann"] = float(np.mean(same_ann))
        out[f"{label}_same_look_at_10_exact"] = float(np.mean(same_exact))
    return out


if __name__ == "__main__":
    main()

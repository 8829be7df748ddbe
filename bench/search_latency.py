"""Search latency: text queries over the demo city's index and over a synthetic 1M-sighting table.

    .venv/bin/python bench/search_latency.py                 # everything (first run builds bench/data/...)
    .venv/bin/python bench/search_latency.py --rows 200000 --dims 32 --no-sample --no-clip-cost   # quick

What is measured (wall time of ``SearchEngine.search`` / ``find``, warm, one query at a time):

* ``structured``: colour / direction words only (no CLIP), with the filters of each scenario;
* ``clip``: the same plus a CLIP query vector (a random unit vector of the table's dimension, so that
  1M-row tables of both 32-d and 768-d vectors can be timed without weights; text encoding is timed
  separately in ``--clip-cost``).

The synthetic table has realistic metadata: 400 cameras in 8 districts, 30 days with more people by day,
clothing colours drawn from a street palette, 2-30 s sightings. It is written under ``bench/data/`` (git
ignored) in batches, with the scalar indexes the indexer builds (and, with ``--ann``, an IVF_PQ index).

``--clip-cost`` also times the image and text encoders of ViT-B-32 and ViT-B-32-SigLIP2-256 with random
weights (same architecture, same FLOPs as the real weights) on this CPU, for the README's model choice.

Results: a table on stdout and ``bench/results/search_latency.json`` (with machine info). Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.real_models import models_dir  # noqa: E402
from core.config import load_config  # noqa: E402
from core.registry import Camera, CameraRegistry, write_registry  # noqa: E402
from core.schema import (  # noqa: E402
    META,
    SIGHTINGS,
    VIDEOS,
    VIDEOS_SCHEMA,
    meta_table,
    sightings_schema,
    unmeasured_attributes,
)
from core.vision.colours import COLOUR_NAMES, LAYOUT_DIM, N_COLOURS  # noqa: E402

DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"
TINY_CLIP_CONFIG = REPO / "tests" / "data" / "fs-tiny-test.json"
TZ = ZoneInfo("Asia/Seoul")
START = datetime(2026, 3, 1, tzinfo=TZ)
DAYS = 30
DISTRICTS = ["Jongno-gu", "Jung-gu", "Yongsan-gu", "Mapo-gu", "Seodaemun-gu", "Seongdong-gu", "Gangnam-gu",
             "Songpa-gu"]
CAMERAS_PER_DISTRICT = 50
BATCH = 50_000
# main clothing colour of a row and how often it occurs on a street
PALETTE = {"black": 0.34, "grey": 0.15, "blue": 0.14, "white": 0.08, "brown": 0.08, "red": 0.05, "green": 0.04,
           "purple": 0.02, "pink": 0.03, "yellow": 0.02, "orange": 0.05}
QUERIES = ["red jacket", "black coat, blue jeans", "빨간 재킷, 검은 바지", "grey hoodie heading north",
           "white top, black skirt", "purple coat, blue jeans", "elderly woman, purple coat, dark handbag",
           "파란 점퍼, 회색 바지, 동쪽으로", "green jacket", "navy coat, beige trousers", "yellow raincoat",
           "검은색 코트, 청바지", "brown jacket, black trousers, heading south", "pink top", "orange vest"]


# ------------------------------------------------------------------------------------------ synthetic


def synth_registry() -> CameraRegistry:
    rng = np.random.default_rng(1)
    cams = {}
    for d, district in enumerate(DISTRICTS):
        lat0, lon0 = 37.50 + 0.02 * (d % 4), 126.92 + 0.05 * (d // 4)
        for k in range(CAMERAS_PER_DISTRICT):
            cid = f"D{d}-C{k:03d}"
            cams[cid] = Camera(cid, district, f"{district} camera {k}", float(lat0 + rng.uniform(0, 0.015)),
                               float(lon0 + rng.uniform(0, 0.03)), float(rng.uniform(0, 359)))
    return CameraRegistry(cams, source="<bench>")


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    names = list(PALETTE)
    p = np.array([PALETTE[k] for k in names])
    main = rng.choice(len(names), size=n, p=p / p.sum())
    d = rng.dirichlet(np.full(N_COLOURS, 0.8), size=n).astype(np.float32) * 0.6
    idx = np.array([COLOUR_NAMES.index(names[m]) for m in main])
    d[np.arange(n), idx] += rng.uniform(0.15, 0.45, n).astype(np.float32)
    return d / d.sum(axis=1, keepdims=True)


def part_colours_like_indexer(rng: np.random.Generator, upper: np.ndarray, lower: np.ndarray,
                              crops: int = 4) -> pa.ListArray:
    """Part colours of ``crops`` crops per row, as the indexer writes them: a random head, the row's upper and
    lower body as torso and legs, each crop jittered by +-20 % and renormalised."""
    head = rng.dirichlet(np.full(N_COLOURS, 0.8), size=len(upper)).astype(np.float32)
    parts = np.stack([np.stack([head, upper, lower], axis=1)] * crops, axis=1)  # (n, crops, 3, 11)
    parts = parts * rng.uniform(0.8, 1.2, parts.shape).astype(np.float32)
    parts /= parts.sum(axis=-1, keepdims=True)
    flat = parts.reshape(-1).astype(np.float32)
    return pa.ListArray.from_arrays(pa.array(np.arange(0, len(upper) + 1, dtype=np.int32) * crops * 3 * N_COLOURS),
                                    pa.array(flat, type=pa.float32()))


def _fixed(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1).astype(np.float32), type=pa.float32()), width)


def synth_batch(rng: np.random.Generator, start_row: int, n: int, dim: int, cam_ids: np.ndarray,
                cam_district: dict[str, str], cam_weight: np.ndarray) -> pa.Table:
    cams = cam_ids[rng.choice(len(cam_ids), size=n, p=cam_weight)]
    day = rng.integers(0, DAYS, n)
    # more people by day: hour drawn from a daytime-heavy distribution
    hour_p = 0.25 + np.exp(-0.5 * ((np.arange(24) - 14) / 4.5) ** 2)
    hour = rng.choice(24, size=n, p=hour_p / hour_p.sum())
    t0 = START.timestamp() + day * 86400 + hour * 3600 + rng.uniform(0, 3600, n)
    dur = rng.uniform(2, 30, n)
    local_day = [(START + timedelta(days=int(x))).strftime("%Y-%m-%d") for x in day]
    video = np.array([f"{c}-{int(t // 3600)}" for c, t in zip(cams, t0, strict=True)])
    rows = np.arange(start_row, start_row + n)
    upper, lower = _colours(rng, n), _colours(rng, n)
    layout = np.sqrt(rng.dirichlet(np.full(N_COLOURS, 0.8), size=(n, LAYOUT_DIM // N_COLOURS))).reshape(n, LAYOUT_DIM)
    layout /= np.linalg.norm(layout, axis=1, keepdims=True)
    vec = rng.standard_normal((n, dim), dtype=np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    moving = rng.random(n) < 0.8
    box = np.tile(np.array([100, 50, 150, 200], dtype=np.float32), (n, 1))
    offsets = pa.array([[0.0, float(x)] for x in dur], type=pa.list_(pa.float64()))
    boxes = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                     _fixed(np.repeat(box, 2, axis=0), 4))
    thumb = b"\xff\xd8" + bytes(600) + b"\xff\xd9"  # columnar: thumbnails are only read for a result page
    cols = {
        "sighting_id": pa.array([f"{v}:{r}:0" for v, r in zip(video, rows, strict=True)]),
        "video_id": pa.array(video),
        "camera_id": pa.array(cams),
        "district": pa.array([cam_district[c] for c in cams]),
        "day": pa.array(local_day),
        "t_start": pa.array(t0),
        "t_end": pa.array(t0 + dur),
        "t_best": pa.array(t0 + dur / 2),
        "video_path": pa.array([f"/archive/{c}/{v}.mp4" for c, v in zip(cams, video, strict=True)]),
        "offset_start_s": pa.array(t0 % 3600),
        "offset_end_s": pa.array(t0 % 3600 + dur),
        "offset_best_s": pa.array(t0 % 3600 + dur / 2),
        "box": _fixed(box, 4),
        "frame_width": pa.array(np.full(n, 1280, dtype=np.int32)),
        "frame_height": pa.array(np.full(n, 720, dtype=np.int32)),
        "track_id": pa.array(rows.astype(np.int32)),
        "segment": pa.array(np.zeros(n, dtype=np.int32)),
        "track_offsets": offsets,
        "track_boxes": boxes,
        "n_detections": pa.array((dur * 2).astype(np.int32)),
        "det_score": pa.array(rng.uniform(0.4, 0.95, n).astype(np.float32)),
        "bearing_deg": pa.array(np.where(moving, rng.uniform(0, 360, n), np.nan).astype(np.float32),
                                mask=~moving),
        "speed_mps": pa.array(np.where(moving, rng.uniform(0.6, 1.8, n), 0.0).astype(np.float32)),
        "upper_colour": _fixed(upper, N_COLOURS),
        "lower_colour": _fixed(lower, N_COLOURS),
        "colour_layout": _fixed(layout, LAYOUT_DIM),
        "vector": _fixed(vec, dim),
        "has_vector": pa.array(np.ones(n, dtype=bool)),
        "clip_model": pa.array(np.full(n, f"bench-random-{dim}")),
        "detector": pa.array(np.full(n, "synthetic")),
        "thumbnail": pa.array([thumb] * n, type=pa.binary()),
        "indexed_at": pa.array(np.zeros(n)),
        **unmeasured_attributes(dim, n),
        # Four crops of head / torso / legs colours, as the indexer writes them (descriptions read them too).
        "part_colours": part_colours_like_indexer(rng, upper, lower),
    }
    schema = sightings_schema(dim)
    return pa.table({f.name: cols[f.name] for f in schema}, schema=schema)


def build_synthetic(rows: int, dim: int, *, ann: bool, rebuild: bool) -> Path:
    import lancedb

    path = DATA / f"synth-{dim}d-{rows}"
    stamp = path / "bench_stamp.json"
    if stamp.exists() and not rebuild and json.loads(stamp.read_text()).get("ann", False) >= ann:
        return path
    registry = synth_registry()
    path.mkdir(parents=True, exist_ok=True)
    write_registry(registry, path / "cameras.csv")
    db = lancedb.connect(str(path))
    cam_ids = np.array(sorted(registry.cameras))
    weight = 1.0 / np.arange(1, len(cam_ids) + 1) ** 0.5  # some cameras far busier than others
    rng = np.random.default_rng(dim)
    weight = rng.permutation(weight / weight.sum())
    cam_district = {c.camera_id: c.district for c in registry}
    t = time.perf_counter()
    if not stamp.exists() or rebuild:
        for name in db.table_names():
            db.drop_table(name)
        table = db.create_table(SIGHTINGS, schema=sightings_schema(dim))
        for lo in range(0, rows, BATCH):
            table.add(synth_batch(rng, lo, min(BATCH, rows - lo), dim, cam_ids, cam_district, weight))
            print(f"\r  synthetic {dim}-d: {min(rows, lo + BATCH):,}/{rows:,} rows", end="", file=sys.stderr)
        print(file=sys.stderr)
        table.optimize(cleanup_older_than=timedelta(seconds=0))  # drop the pre-compaction files
        for column, kind in (("camera_id", "BITMAP"), ("district", "BITMAP"), ("day", "BITMAP"),
                             ("t_start", "BTREE"), ("video_id", "BTREE"), ("has_vector", "BITMAP")):
            table.create_scalar_index(column, index_type=kind, name=f"{column}_idx")
        db.create_table(META, data=meta_table(dim, f"bench-random-{dim}"), mode="overwrite")
        db.create_table(VIDEOS, schema=VIDEOS_SCHEMA, mode="overwrite")
    if ann:
        table = db.open_table(SIGHTINGS)
        if "vector_idx" not in {ix.name for ix in table.list_indices()}:
            print(f"  IVF_PQ index on {rows:,} x {dim} ...", file=sys.stderr)
            table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ",
                               num_partitions=min(256, max(16, int(math.sqrt(rows)))),
                               num_sub_vectors=max(1, dim // 16), name="vector_idx")
    stamp.write_text(json.dumps({"rows": rows, "dim": dim, "ann": ann, "build_s": time.perf_counter() - t}))
    return path


# ------------------------------------------------------------------------------------------- timing


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def time_queries(engine, scenarios: list[dict], modes: list[str], repeats: int, dim: int | None,
                 label: str) -> list[dict]:
    from search.request import SearchRequest

    rng = np.random.default_rng(0)
    out = []
    for sc in scenarios:
        for mode in modes:
            n_rep = sc.get("repeats", repeats)
            lat, filtered, found = [], [], []
            for i in range(n_rep):
                text = QUERIES[i % len(QUERIES)]
                req = SearchRequest(text=text, use_clip=mode != "structured", limit=50, **sc["filters"])
                t = time.perf_counter()
                if mode == "clip-vector":
                    filters = engine.filters_for(req)
                    q = engine.compile(text, use_clip=False)
                    v = rng.standard_normal(dim).astype(np.float32)
                    q.scoring.vectors.append(v / np.linalg.norm(v))
                    if q.parsed is not None and q.parsed.direction:
                        from core.compass import COMPASS_DEG

                        filters = replace(filters, direction_deg=COMPASS_DEG[q.parsed.direction])
                    r = engine.find(q, filters, limit=50)
                else:
                    r = engine.search(req)
                lat.append(1000 * (time.perf_counter() - t))
                filtered.append(r.filtered_rows)
                found.append(r.total)
            out.append({"dataset": label, "scenario": sc["name"], "mode": mode, "queries": n_rep,
                        "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1),
                        "mean_ms": round(statistics.fmean(lat), 1),
                        "filtered_rows_median": int(statistics.median(filtered)),
                        "results_median": int(statistics.median(found))})
            print(f"  {label:<22} {sc['name']:<34} {mode:<12} p50 {out[-1]['p50_ms']:>8.1f} ms  "
                  f"p95 {out[-1]['p95_ms']:>8.1f} ms", file=sys.stderr)
    return out


def synthetic_scenarios(repeats_heavy: int) -> list[dict]:
    day = START + timedelta(days=12)
    return [
        {"name": "1 h, 1 district", "filters": {"time_from": day.replace(hour=14), "time_to": day.replace(hour=15),
                                                 "districts": ["Jung-gu"]}},
        {"name": "6 h, 2 districts", "filters": {"time_from": day.replace(hour=9), "time_to": day.replace(hour=15),
                                                  "districts": ["Jung-gu", "Yongsan-gu"]}},
        {"name": "1 day, all districts", "filters": {"time_from": day, "time_to": day + timedelta(days=1)}},
        {"name": "30 days, no filter", "filters": {}, "repeats": repeats_heavy},
    ]


def run_synthetic(rows: int, dim: int, repeats: int, ann: bool, rebuild: bool) -> tuple[list[dict], dict]:
    from core.registry import load_registry
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    t = time.perf_counter()
    path = build_synthetic(rows, dim, ann=ann, rebuild=rebuild)
    build_s = time.perf_counter() - t
    cfg = load_config(None, {"storage.index_uri": str(path), "models.allow_download": False}, environ={})
    engine = SearchEngine(cfg, load_registry(path / "cameras.csv"), SearchModels(cfg, clip_enabled=False))
    n = engine.reader.count(None)
    info = {"path": str(path.relative_to(REPO)), "rows": n, "dim": dim,
            "ann_index": engine.reader.has_index("vector_idx"), "build_or_open_s": round(build_s, 1),
            "disk_mb": round(_du(path) / 1e6, 1)}
    label = f"synthetic {n // 1000}k x {dim}d"
    engine.search(__import__("search.request", fromlist=["SearchRequest"]).SearchRequest(text="red jacket"))  # warm
    return time_queries(engine, synthetic_scenarios(max(3, repeats // 5)), ["structured", "clip-vector"], repeats,
                        dim, label), info


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_sample(index: Path | None, registry: Path | None, repeats: int) -> tuple[list[dict], dict]:
    from core.registry import load_registry
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    cfg = _sample_config(DATA / "sample-index" if index is None else index)
    if index is None:
        index, registry = _build_sample(cfg)
    cfg = _sample_config(index)
    engine = SearchEngine(cfg, load_registry(registry), SearchModels(cfg, clip_enabled=True))
    scenarios = [
        {"name": "whole morning, all districts", "filters": {}},
        {"name": "20 min, 1 district", "filters": {"time_from": "2026-03-14T09:20", "time_to": "2026-03-14T09:40",
                                                    "districts": ["Yongsan-gu"]}},
    ]
    engine.search(__import__("search.request", fromlist=["SearchRequest"]).SearchRequest(text="red jacket"))
    modes = ["structured", "clip-text"]
    info = {"path": str(index), "rows": engine.reader.count(None), "clip": cfg.models.clip_model}
    return time_queries(engine, scenarios, modes, repeats, None, "sample city"), info


def _sample_config(index: Path):
    over = {"storage.index_uri": str(index), "models.allow_download": False, "index.workers": 2}
    if models_dir() is not None:
        over["models.models_dir"] = str(models_dir())
    if TINY_CLIP_CONFIG.exists():
        over.update({"models.clip_model": "fs-tiny-test", "models.clip_pretrained": "random-init",
                     "models.clip_config_path": str(TINY_CLIP_CONFIG)})
    return load_config(None, over, environ={})


def _build_sample(cfg) -> tuple[Path, Path]:
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from sample_footage import generate_city

    city = generate_city(DATA / "sample-city")
    index = Path(cfg.storage.index_uri)
    if not (index / f"{SIGHTINGS}.lance").exists():
        print("  indexing the sample city ...", file=sys.stderr)
        run_index(city.archive, cfg, load_registry(city.registry), BatchOptions(progress=False))
    return index, city.registry


# ----------------------------------------------------------------------------------------- CLIP cost


def clip_cost(threads: int, repeats: int) -> list[dict]:
    """Encoder wall time of ViT-B-32 vs ViT-B-32-SigLIP2-256 with random weights (same FLOPs as trained).

    Both models are loaded first and timed in alternating rounds, so a busy machine slows both alike and
    the ratio stays meaningful even when the absolute times do not."""
    import open_clip
    import torch

    torch.set_num_threads(threads)
    names = ("ViT-B-32", "ViT-B-32-SigLIP2-256")
    models, inputs, info = {}, {}, {}
    for name in names:
        models[name] = open_clip.create_model(name, pretrained=None).eval()
        cfg = open_clip.get_model_config(name)
        size = cfg["vision_cfg"].get("image_size", 224)
        ctx, vocab = cfg["text_cfg"]["context_length"], cfg["text_cfg"]["vocab_size"]
        gen = torch.Generator().manual_seed(0)
        inputs[name] = {("image", b): torch.randn(b, 3, size, size, generator=gen) for b in (1, 16)}
        inputs[name].update({("text", b): torch.randint(1, vocab, (b, ctx), generator=gen) for b in (1, 16)})
        info[name] = {"model": name, "image_size": size, "text_context": ctx,
                      "params_m": round(sum(p.numel() for p in models[name].parameters()) / 1e6, 1)}
    times: dict[tuple[str, str, int], list[float]] = {}
    with torch.inference_mode():
        for rnd in range(repeats + 2):  # two warm-up rounds
            for name in names:
                m = models[name]
                for (what, b), x in inputs[name].items():
                    fn = m.encode_image if what == "image" else m.encode_text
                    t = time.perf_counter()
                    fn(x)
                    if rnd >= 2:
                        times.setdefault((name, what, b), []).append(1000 * (time.perf_counter() - t))
    out = []
    for name in names:
        res = dict(info[name])
        for (n2, what, b), v in sorted(times.items()):
            if n2 == name:
                res[f"{what}_b{b}_ms"] = round(statistics.median(v), 1)
        out.append(res)
        print(f"  {name:<22} " + ", ".join(f"{k} {v}" for k, v in res.items() if k.endswith("_ms")), file=sys.stderr)
    a, b = out
    out.append({"model": "ratio SigLIP2 / ViT-B-32", **{k: round(b[k] / a[k], 2) for k in a if k.endswith("_ms")}})
    return out


# ------------------------------------------------------------------------------------------- report


def machine() -> dict:
    import lancedb

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem = 0
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/meminfo").read_text().splitlines()
        mem = int(next(x for x in lines if x.startswith("MemTotal")).split()[1])
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1e6, 1), "python": platform.python_version(),
            "platform": platform.platform(), "lancedb": lancedb.__version__, "pyarrow": pa.__version__,
            "numpy": np.__version__, "git_commit": commit, "date": datetime.now(TZ).isoformat(timespec="seconds")}


def print_table(rows: list[dict]) -> None:
    print(f"{'dataset':<24} {'scenario':<30} {'mode':<12} {'p50 ms':>8} {'p95 ms':>8} {'rows filtered':>14} "
          f"{'results':>8}")
    for r in rows:
        print(f"{r['dataset']:<24} {r['scenario']:<30} {r['mode']:<12} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['filtered_rows_median']:>14,} {r['results_median']:>8}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic table size (default 1,000,000)")
    ap.add_argument("--dims", default="32,768", help="vector dimensions of the synthetic tables (default 32,768)")
    ap.add_argument("--repeats", type=int, default=30, help="queries per scenario and mode (default 30)")
    ap.add_argument("--ann", action="store_true", help="also build an IVF_PQ index on the synthetic tables")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the synthetic tables")
    ap.add_argument("--no-sample", action="store_true", help="skip the demo city")
    ap.add_argument("--sample-index", type=Path, help="an existing demo-city index (default: build bench/data/...)")
    ap.add_argument("--sample-registry", type=Path, help="its cameras.csv")
    ap.add_argument("--no-clip-cost", action="store_true", help="skip the CLIP encoder timing")
    ap.add_argument("--clip-repeats", type=int, default=10, help="timed rounds per encoder (default 10)")
    ap.add_argument("--out", type=Path, default=RESULTS / "search_latency.json")
    args = ap.parse_args(argv)
    if args.sample_index is not None and args.sample_registry is None:
        ap.error("--sample-index needs --sample-registry")

    results: list[dict] = []
    datasets: dict[str, dict] = {}
    if not args.no_sample:
        rows, info = run_sample(args.sample_index, args.sample_registry, args.repeats)
        results += rows
        datasets["sample city"] = info
    for dim in (int(d) for d in args.dims.split(",") if d.strip()):
        rows, info = run_synthetic(args.rows, dim, args.repeats, args.ann, args.rebuild)
        results += rows
        datasets[f"synthetic {dim}d"] = info
    cost = [] if args.no_clip_cost else clip_cost(threads=os.cpu_count() or 1, repeats=args.clip_repeats)
    report = {"machine": machine(), "datasets": datasets, "latency": results, "clip_encoder_cost": cost,
              "notes": "wall time per query, warm, sequential; clip-vector uses a random unit query vector "
                       "(no text encoding); clip-text embeds the query with the configured (tiny test) CLIP"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(results)
    for c in cost:
        print(c)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

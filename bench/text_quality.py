"""Description search on real footage and the generated cities: how the colour words read a sighting.

Queries and ground truth:

* **real clips** (``/work/shared/footage``): the 14 text queries of ``footage-search eval`` on
  ``tests/data/search_real_labels.json`` (the two labelled colour queries and each person's own
  description, converted by ``tests/test_eval_cmd.py``); split by place: ``oxford`` (Oxford Town
  Centre, clips A+B) and ``pets+intel`` (PETS 2009, the two Intel clips);
* **demo city** (``sample_footage``) and, when built (``--large``), **the large city with look-alikes**
  (``bench/case_city.py``, indexed in windows around the target's and the look-alikes' appearances):
  the witness's full description in English and Korean, and "purple coat, blue jeans"; relevant = all
  the target's appearances (drawn boxes). The look-alikes wear her colours.

Each query is scored as ``footage-search eval`` scores it (:mod:`search.evaluation`; CLIP off, gate on):
R@1/5/10, mAP, and how many plausible sightings it lists (``plausible``) and what share of them are the
person (``precision``). Variants: how far a colour term may rest on the sighting's crops alone
(:data:`search.evidence.CROP_VIEW_WEIGHT`): ``0`` (the track average only, as before), the default, and 1.

    .venv/bin/python -m bench.text_quality [--large] [--out bench/results/text_quality.json]

Indexes are shared with ``bench/photo_quality.py`` (``bench/data/photo_quality/``, git-ignored, built once
with the current pipeline and default settings): delete the folder after an indexer change.
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench import photo_quality as pq
from bench.real_models import require_real_models
from search import vocabulary as V

RESULTS = pq.RESULTS
VARIANTS = {"track average only (before)": 0.0, "+ crops (default)": None, "+ crops at full weight": 1.0}
# How far "blue jeans" also accepts a black reading (search.vocabulary.DENIM); 0 = blue only, as before.
DENIM_VARIANTS = (0.0, 0.3, 0.5, 0.7)


def real_queries(engine, archive: Path) -> list[tuple[str, object]]:
    from search.evaluation import parse_labels
    from tests.test_eval_cmd import real_clip_labels

    labels = real_clip_labels(json.loads(pq.LABELS.read_text(encoding="utf-8")), pq.FOOTAGE / "reference_photos")
    labels["queries"] = [q for q in labels["queries"] if "text" in q]
    queries = parse_labels(labels, archive, engine.tz, set(engine.registry.cameras))
    return [(pq._split(q.intervals[0].camera), q) for q in queries]


def city_queries(engine, city: Path, split: str) -> list[tuple[str, object]]:
    from search.evaluation import Interval, LabelledQuery
    from search.request import SearchRequest

    gt = json.loads((city / "ground_truth.json").read_text(encoding="utf-8"))
    indexed = engine.reader.footage_spans()
    intervals = []
    for a in gt["appearances"]:
        if a["person_id"] != "target" or not pq._has_footage(indexed, a):
            continue
        start = a["t_start_epoch"] - a["t_start_offset_s"]
        boxes = tuple((start + t, x1, y1, x2, y2) for t, x1, y1, x2, y2 in a["boxes"])
        intervals.append(Interval(a["camera_id"], a["t_start_epoch"] - 1, a["t_end_epoch"] + 1, boxes))
    texts = {"witness (en)": gt["target"]["description_en"], "witness (ko)": gt["target"]["description_ko"],
             "colours": "purple coat, blue jeans"}
    return [(split, LabelledQuery(f"{split}: {name}", "text", SearchRequest(text=text), tuple(intervals), text=text))
            for name, text in texts.items()]


@contextmanager
def denim_reading(dark: float):
    """Blue jeans scored with ``dark`` as their black weight (:data:`search.vocabulary.DENIM`)."""
    saved = dict(V.DENIM)
    V.DENIM["black"] = dark
    try:
        yield
    finally:
        V.DENIM.clear()
        V.DENIM.update(saved)


def run(engines: dict, queries: list[tuple[str, object, str]], weight: float) -> dict:
    from search import evidence as ev
    from search.evaluation import evaluate_query, summarise

    saved = ev.CROP_VIEW_WEIGHT
    ev.CROP_VIEW_WEIGHT = weight
    try:
        scores = [(split, evaluate_query(engines[source], q, use_clip=False)) for split, q, source in queries]
    finally:
        ev.CROP_VIEW_WEIGHT = saved
    out: dict[str, dict] = {}
    for split in dict.fromkeys(s for s, _ in scores):
        group = [s for sp, s in scores if sp == split]
        out[split] = {**summarise(group)["text"],
                      "plausible": round(float(np.mean([s.results for s in group])), 2),
                      "precision": round(float(np.mean([len(s.hit_ranks) / s.results if s.results else 0.0
                                                        for s in group])), 3)}
    out["per_query"] = {s.query.id: {"hit_ranks": s.hit_ranks, "intervals": len(s.query.intervals),
                                     "plausible": s.results, "AP": round(s.ap, 3)} for _, s in scores}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="also the large city (bench/data/case_city) in windows")
    ap.add_argument("--out", type=Path, default=RESULTS / "text_quality.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("FOOTAGE_SEARCH_MODELS_MODELS_DIR", str(pq.MODELS))
    require_real_models(pq._config(pq.DATA / "model-check"))
    from search import evidence as ev

    archive, index = pq.build_real()
    engines = {"real": pq.engine_for(index, archive / "cameras.csv")}
    queries = [(split, q, "real") for split, q in real_queries(engines["real"], archive)]
    city, demo_index = pq.build_demo()
    engines["demo"] = pq.engine_for(demo_index, city / "cameras.csv")
    queries += [(split, q, "demo") for split, q in city_queries(engines["demo"], city, "demo city")]
    if args.large:
        built = pq.build_large()
        if built is None:
            print("large city not generated (python -m bench.case_city): left out")
        else:
            engines["large"] = pq.engine_for(built[1], built[0] / "cameras.csv")
            queries += [(split, q, "large") for split, q in city_queries(engines["large"], built[0], "large city")]
    report = {"what": __doc__.splitlines()[0], "default_crop_view_weight": ev.CROP_VIEW_WEIGHT,
              "default_denim_dark": V.DENIM_DARK, "variants": {}}
    for name, weight in VARIANTS.items():
        report["variants"][name] = run(engines, queries, ev.CROP_VIEW_WEIGHT if weight is None else weight)
    for dark in DENIM_VARIANTS:
        with denim_reading(dark):
            report["variants"][f"denim reading black {dark}"] = run(engines, queries, ev.CROP_VIEW_WEIGHT)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    splits = [s for s in report["variants"][next(iter(VARIANTS))] if s != "per_query"]
    head = ("variant", "split", "queries", "R@1", "R@5", "R@10", "mAP", "plaus.", "prec.")
    print("{:32} {:12} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6}".format(*head))
    for name, res in report["variants"].items():
        for split in splits:
            r = res[split]
            print(f"{name:32} {split:12} {r['queries']:7d} {r['R@1']:6.3f} {r['R@5']:6.3f} {r['R@10']:6.3f} "
                  f"{r['mAP']:6.3f} {r['plausible']:7.1f} {r['precision']:6.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What reading the crops costs a description search: the same text queries with and without it, one table.

Descriptions read each row's part colours (``part_colours``, up to four crops) beside its averaged colours
(:func:`search.evidence.colour_terms`). This times five colour queries over the synthetic table of
``bench/search_latency.py`` (built there if missing, now with four crops per row) in its four filter
scenarios, alternating "crops read" (today) and "averages only" (the scorer's crop reading switched off), so a
busy machine loads both alike.

    .venv/bin/python -m bench.description_crop_latency [--rows 1000000] [--rounds 8]

Writes ``bench/results/description_crop_latency.json``. Delete ``bench/data/synth-*`` afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench import search_latency as sl
from bench.machine import machine_info

TEXTS = ("red jacket", "purple coat, blue jeans", "black coat, grey trousers", "yellow top",
         "white shirt, black trousers")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args(argv)
    from core.registry import load_registry
    from search import scoring
    from search.engine import SearchEngine
    from search.request import SearchRequest
    from search.search_models import SearchModels
    from tests.conftest import make_config

    path = sl.build_synthetic(args.rows, 32, ann=False, rebuild=False)
    cfg = make_config(path)
    engine = SearchEngine(cfg, load_registry(path / "cameras.csv"), SearchModels(cfg, clip_enabled=False))
    with_crops = scoring.ScoringQuery.uses_parts
    averages_only = property(lambda self: any(r.parts is not None for r in self.references))
    rows = []
    try:
        for sc in sl.synthetic_scenarios(3):
            times: dict[str, list[float]] = {"crops read": [], "averages only": []}
            filtered = 0
            for _ in range(args.rounds):
                for mode, prop in (("averages only", averages_only), ("crops read", with_crops)):
                    scoring.ScoringQuery.uses_parts = prop
                    for text in TEXTS:
                        t0 = time.perf_counter()
                        r = engine.search(SearchRequest(text=text, **sc["filters"]))
                        times[mode].append((time.perf_counter() - t0) * 1000)
                        filtered = r.filtered_rows
            row = {"scenario": sc["name"], "filtered_rows": filtered}
            for mode, v in times.items():
                row[mode] = {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(sl.pct(v, 0.95), 1)}
            row["p50_ratio"] = round(row["crops read"]["p50_ms"] / row["averages only"]["p50_ms"], 2)
            rows.append(row)
            print(f"{sc['name']:22} {filtered:>9,} rows  averages only p50 {row['averages only']['p50_ms']:7.1f} ms"
                  f"  crops read p50 {row['crops read']['p50_ms']:7.1f} ms  x{row['p50_ratio']:.2f}")
    finally:
        scoring.ScoringQuery.uses_parts = with_crops
    out = sl.RESULTS / "description_crop_latency.json"
    out.write_text(json.dumps({"machine": machine_info(), "rows": args.rows, "queries": TEXTS, "rounds": args.rounds,
                               "latency": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``footage-search eval LABELS.json``: recall@1/5/10 and mAP of the real search on labelled queries.

The labels format is in :mod:`search.evaluation` and the README ("Evaluate on your own footage").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    from search.cli import _common

    e = sub.add_parser(
        "eval", help="measure search on your own labelled footage (recall@k, mAP)",
        description="Run each labelled query through the search on the configured index, match the results "
                    "to where the person really is, and print recall@1/5/10 and mAP per query kind "
                    "(text / photo).",
    )
    e.add_argument("labels", type=Path, help="labels file (JSON; format in the README)")
    e.add_argument("--out", type=Path, help="also write the figures, per query and in all, to this JSON file")
    e.add_argument("--depth", type=int, default=100, help="results read per query (default 100)")
    e.add_argument("--include-weak", action="store_true", help="also rank results below the no-result threshold")
    _common(e)
    e.set_defaults(handler=run_eval_command)


def run_eval_command(args: argparse.Namespace, cfg: Config) -> int:
    from rich.console import Console
    from rich.table import Table

    from search.cli import _engine
    from search.errors import SearchInputError
    from search.evaluation import KS, LabelsError, evaluate_query, load_labels, summarise

    if not 1 <= args.depth <= 1000:
        raise LabelsError(f"--depth {args.depth}: expected 1 to 1000")
    engine, cfg = _engine(args, cfg)
    queries = load_labels(args.labels, engine.tz, set(engine.registry.cameras))
    scores = []
    for q in queries:
        try:
            scores.append(evaluate_query(engine, q, depth=args.depth, use_clip=not args.no_clip,
                                         include_weak=args.include_weak))
        except SearchInputError as exc:
            raise LabelsError(f"labels file {args.labels}: query {q.id!r}: {exc}") from None
    summary = summarise(scores)
    report = {"labels": str(args.labels), "index": cfg.storage.index_uri, "clip": not args.no_clip,
              "depth": args.depth, "summary": summary, "queries": [s.to_dict() for s in scores]}
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    console = Console()
    per = Table(title="queries")
    for col in ("id", "kind", "query", "intervals", "hit ranks", *(f"R@{k}" for k in KS), "AP"):
        per.add_column(col, justify="right" if col not in ("id", "kind", "query") else "left")
    for s in scores:
        what = s.query.text or s.query.photo
        per.add_row(s.query.id, s.query.kind, what[:48], str(len(s.query.intervals)),
                    ",".join(map(str, s.hit_ranks[:8])) or "-", *(f"{s.recall[k]:.2f}" for k in KS), f"{s.ap:.3f}")
    console.print(per)
    total = Table(title="by query kind")
    for col in ("kind", "queries", *(f"R@{k}" for k in KS), "mAP"):
        total.add_column(col, justify="left" if col == "kind" else "right")
    for kind, m in summary.items():
        total.add_row(kind, str(m["queries"]), *(f"{m[f'R@{k}']:.3f}" for k in KS), f"{m['mAP']:.3f}")
    console.print(total)
    if args.out:
        console.print(f"written: {args.out}")
    return 0

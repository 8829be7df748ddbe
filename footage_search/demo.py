"""``footage-search demo``: generate the sample city, index it, open the console on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import Config

DEFAULT_OUT = Path("sample_footage/generated")
DEFAULT_INDEX = Path("data/demo-index")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="generate the sample city, index it and open the console",
        description="Generate the demo city's footage (deterministic), index it incrementally, and start the "
                    "operator console on it at http://127.0.0.1:7860 (or --port).",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where the city is generated ({DEFAULT_OUT})")
    p.add_argument("--index", dest="index_uri", default=str(DEFAULT_INDEX), help=f"index location ({DEFAULT_INDEX})")
    p.add_argument("--port", type=int, help="console port (default ui.port)")
    p.add_argument("--no-ui", action="store_true", help="stop after indexing")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace, cfg: Config) -> int:
    from core.index_db import ModelMismatchError
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from sample_footage import generate_city

    city = generate_city(args.out)
    print(f"sample city: {city.root} (ground truth: {city.ground_truth})")
    over: dict[str, object] = {"storage.index_uri": args.index_uri, "storage.registry_path": str(city.registry)}
    if args.port:
        over["ui.port"] = args.port
    cfg = cfg.with_overrides(over, origin="demo", base_dir=Path.cwd())
    registry = load_registry(city.registry)
    progress = sys.stderr.isatty()
    try:
        summary = run_index(city.archive, cfg, registry, BatchOptions(progress=progress))
    except ModelMismatchError as exc:
        # The demo index is made from generated footage only: rebuilding it loses nothing.
        print(f"the demo index was made by another version or model ({exc}); rebuilding it", flush=True)
        summary = run_index(city.archive, cfg, registry, BatchOptions(progress=progress, rebuild=True))
    print("\n".join(summary.lines()))
    if args.no_ui:
        return 0
    from ui.app import launch

    launch(cfg, registry, archive=city.archive)
    return 0

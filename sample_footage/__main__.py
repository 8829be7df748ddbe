"""``python -m sample_footage [OUT_DIR] [--force]``: generate the demo city and say what was made."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import DEFAULT_OUT, generate_city


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_footage", description=__doc__)
    ap.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT,
                    help=f"output folder (default: {DEFAULT_OUT})")
    ap.add_argument("--force", action="store_true", help="regenerate even if the folder is up to date")
    ap.add_argument("--workers", type=int, default=None, help="render processes (default: min(2, CPUs))")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    paths = generate_city(args.out_dir, force=args.force, workers=args.workers)
    elapsed = time.perf_counter() - t0

    gt = json.loads(paths.ground_truth.read_text(encoding="utf-8"))
    videos = sorted(paths.archive.rglob("*.mp4"))
    total = sum(v.stat().st_size for v in videos)
    print(f"demo city in {paths.root} ({elapsed:.1f} s)")
    print(f"  registry:     {paths.registry}")
    print(f"  ground truth: {paths.ground_truth}")
    print(f"  archive:      {len(videos)} clips, {total / 1e6:.2f} MB")
    for v in videos:
        print(f"    {v.relative_to(paths.root)}  {v.stat().st_size / 1e3:.0f} kB")
    t = gt["target"]
    print(f"  target: {t['upper_colour']} upper / {t['lower_colour']} lower - {t['description_en']}")
    print("  route:  " + " -> ".join(f"{r['camera_id']} ({r['district']}, {r['t_enter'][11:19]})"
                                      for r in gt["route"]))
    people = {a["person_id"] for a in gt["appearances"]}
    print(f"  {len(gt['appearances'])} person appearances, {len(people)} people")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the large city for the case-mode benchmark (bench/case_speed.py) with the demo city's generator.

    python -m bench.case_city [--out bench/data/case_city] [--cameras 42] [--districts 6] [--minutes 36]
                              [--fps 1] [--workers 2] [--plan-only]

Default size: 42 cameras in 6 districts recording 36 minutes each (25.1 camera-hours after two 4-minute
outages), passers-by in view throughout, a target whose route crosses 4 districts, three look-alikes in her
colours and a double (see sample_footage/large_city.py). Frames are written at 1 fps, every one a keyframe:
the indexer samples 1 fps from keyframes, so it sees what a 10 fps recording with a keyframe every second
(the demo city) would give it, while rendering is 10x cheaper and the files are no larger (measured on a
demo camera: 10 fps 1.05 MB/min, 2 fps 1.41 MB/min, 1 fps 0.94 MB/min).

Output (git-ignored): OUT/archive, cameras.csv, ground_truth.json (the demo city's format) and
case_truth.json (the report to start a case from, the route with districts, where each hard negative is,
outages, archive size and how long generation took). A complete city is not regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine_info  # noqa: E402
from sample_footage import STAMP_NAME, generate_city  # noqa: E402
from sample_footage.large_city import LargeCitySpec, build_large_city  # noqa: E402

DEFAULT_OUT = REPO / "bench" / "data" / "case_city"


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def case_truth(root: Path, spec: LargeCitySpec, city_notes: dict, generation: dict) -> dict:
    """What the benchmark needs beside ground_truth.json: the report, the route by district, the negatives."""
    gt = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    route = gt["route"]
    first = route[0]
    negatives = {}
    for a in gt["appearances"]:
        if a["role"] in ("lookalike", "double"):
            negatives.setdefault(a["person_id"], []).append(
                {"camera_id": a["camera_id"], "t_start": a["t_start"], "t_end": a["t_end"], "video": a["video"]})
    videos = sorted((root / "archive").rglob("*.mp4"))
    seconds = sum(c["duration_s"] for c in gt["clips"])
    return {
        "spec": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(spec).items()},
        "report": {"camera_id": first["camera_id"], "at": first["t_exit"], "at_epoch": first["t_exit_epoch"],
                   "text": gt["target"]["description_en"], "text_ko": gt["target"]["description_ko"],
                   "direction_deg": first["bearing_deg"]},
        "route": [{k: r[k] for k in ("camera_id", "district", "video", "t_enter", "t_enter_epoch", "t_exit",
                                     "t_exit_epoch", "bearing_deg")} for r in route],
        "districts_on_route": city_notes["districts_on_route"],
        "negatives": negatives,
        "outages": city_notes["outages"],
        "archive": {"cameras": len({c["camera_id"] for c in gt["clips"]}),
                    "districts": len({r["district"] for r in _registry_rows(root)}),
                    "files": len(videos), "camera_hours": round(seconds / 3600, 2),
                    "bytes": sum(v.stat().st_size for v in videos),
                    "people": len({a["person_id"] for a in gt["appearances"]}),
                    "appearances": len(gt["appearances"])},
        "generation": generation,
    }


def _registry_rows(root: Path) -> list[dict]:
    import csv

    with open(root / "cameras.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> int:
    d = LargeCitySpec()
    ap = argparse.ArgumentParser(prog="python -m bench.case_city", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--cameras", type=int, default=d.cameras)
    ap.add_argument("--districts", type=int, default=d.districts)
    ap.add_argument("--minutes", type=int, default=d.minutes, help="recording length of every camera")
    ap.add_argument("--file-minutes", type=int, default=d.file_minutes)
    ap.add_argument("--fps", type=int, default=d.fps)
    ap.add_argument("--stops", type=int, default=d.stops, help="route cameras")
    ap.add_argument("--outfits", type=int, default=d.outfits, help="passers-by outfits per camera")
    ap.add_argument("--workers", type=int, default=None, help="render processes (default: min(2, CPUs))")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--plan-only", action="store_true", help="build the scenario and print it; render nothing")
    args = ap.parse_args(argv)
    try:
        spec = LargeCitySpec(cameras=args.cameras, districts=args.districts, minutes=args.minutes,
                             file_minutes=args.file_minutes, fps=args.fps, stops=args.stops, outfits=args.outfits)
    except ValueError as exc:
        ap.error(str(exc))

    wall0, cpu0 = time.perf_counter(), _cpu_s()
    if args.plan_only:
        city = build_large_city(spec)
        print(f"{len(city.registry)} cameras, {len(city.registry.districts)} districts, "
              f"{sum(c.duration_s for c in city.clips) / 3600:.1f} camera-hours in {len(city.clips)} files, "
              f"{len(city.walks)} walks; planned in {time.perf_counter() - wall0:.0f} s")
        print("route: " + " -> ".join(f"{leg.camera_id} ({city.registry.get(leg.camera_id).district})"
                                      for leg in city.route))
        print(f"hard negatives: {city.notes['negatives']}; outages: {city.notes['outages']}")
        return 0

    notes: dict = {}

    def build():
        city = build_large_city(spec)
        notes.update(city.notes)
        return city

    truth_path = args.out.resolve() / "case_truth.json"
    stamp = args.out.resolve() / STAMP_NAME
    before = stamp.stat().st_mtime_ns if stamp.exists() else None
    paths = generate_city(args.out, force=args.force, workers=args.workers, build=build)
    generation = {"wall_s": round(time.perf_counter() - wall0, 1), "cpu_s": round(_cpu_s() - cpu0, 1),
                  "workers": args.workers or min(2, os.cpu_count() or 1), "machine": machine_info(),
                  "load_avg_at_end": os.getloadavg()}
    if before is not None and stamp.stat().st_mtime_ns == before and truth_path.exists():
        # The city was already complete: keep the timing of the run that made it.
        generation = json.loads(truth_path.read_text(encoding="utf-8")).get("generation", generation)
    truth = case_truth(paths.root, spec, notes, generation)
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    a = truth["archive"]
    print(f"case city in {paths.root}: {a['cameras']} cameras, {a['districts']} districts, "
          f"{a['camera_hours']} camera-hours in {a['files']} files, {a['bytes'] / 1e9:.2f} GB")
    print(f"  route: {' -> '.join(r['camera_id'] for r in truth['route'])} across "
          f"{len(truth['districts_on_route'])} districts ({', '.join(truth['districts_on_route'])})")
    print(f"  report: last seen at {truth['report']['camera_id']} {truth['report']['at']}")
    print(f"  generated in {generation['wall_s']} s wall, {generation['cpu_s']} s CPU "
          f"({generation['workers']} workers; load {generation['load_avg_at_end'][0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

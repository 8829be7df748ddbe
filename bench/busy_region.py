"""How small a region the busy rate's in-between frames can detect on (``index.busy_region_detect``).

On an in-between frame the detector looks only around the new people the frame is there for
(:func:`indexer.sampling.busy_region`), at the whole frame's scale. Too tight a region leaves the network
too little context and it misses small people. For every person the whole-frame detector finds on frames
of the shared real clips (one a second, their first 12 s), this detects again on a region around that person
with each floor on the region's size, and counts how often the person is found again (IoU >= 0.7 with the
whole-frame box) and what one call costs.

    .venv/bin/python -m bench.busy_region
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import supervision as sv

from bench.machine import machine_info
from core.config import load_config
from core.loading import load_detector
from core.video_frames import read_frames_at
from indexer.sampling import busy_region

REPO = Path(__file__).resolve().parents[1]
FOOTAGE = REPO.parent / "shared" / "footage"
RESULTS = REPO / "bench" / "results"
CLIPS = ("oxford_towncentre_clipA.mp4", "oxford_towncentre_clipB.mp4", "pets2009_s2l1_view001.mp4",
         "intel_person_bicycle_car.mp4", "intel_one_by_one_person.mp4")
FLOORS = (0, 128, 192, 256, 320)  # network pixels; 0: a person's height around them only
FOUND_IOU = 0.7


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="busy_region.json", help="file name under bench/results/")
    args = ap.parse_args()
    cfg = load_config(None, {"models.models_dir": str(REPO.parent / "shared" / "models"),
                             "models.allow_download": False}, environ={})
    det = load_detector(cfg, allow_fallback=False)
    stats = {f: {"people": 0, "found": 0, "s": 0.0, "iou": []} for f in FLOORS}
    whole_s, frames = 0.0, 0
    for clip in CLIPS:
        path = FOOTAGE / clip
        if not path.exists():
            raise SystemExit(f"{path}: missing (the shared real clips are needed)")
        for img in read_frames_at(path, [float(t) for t in range(0, 12, 1)]):
            if img is None:
                continue
            t0 = time.perf_counter()
            people = det.detect_all(img).persons
            whole_s, frames = whole_s + time.perf_counter() - t0, frames + 1
            wh = (img.shape[1], img.shape[0])
            for box in people.xyxy:
                for floor in FLOORS:
                    region = busy_region([box], wh, det.long_side / max(wh), floor) or (0, 0, *wh)
                    t0 = time.perf_counter()
                    again = det.detect_region(img, region).persons
                    s = stats[floor]
                    s["s"] += time.perf_counter() - t0
                    iou = float(sv.box_iou_batch(box[None], again.xyxy).max()) if len(again) else 0.0
                    s["people"] += 1
                    s["found"] += iou >= FOUND_IOU
                    s["iou"].append(iou)
    rows = [{"region_floor_net_px": f, "people": s["people"], "found_again": s["found"],
             "share": s["found"] / max(1, s["people"]), "ms_per_call": 1e3 * s["s"] / max(1, s["people"]),
             "median_iou": float(np.median(s["iou"])) if s["iou"] else 0.0} for f, s in stats.items()]
    whole_ms = 1e3 * whole_s / max(1, frames)
    print(f"whole frame: {whole_ms:.1f} ms per call over {frames} frames")
    print(f"{'floor (net px)':>14} {'people':>6} {'found again':>11} {'share':>6} {'ms/call':>7} {'median IoU':>10}")
    for r in rows:
        print(f"{r['region_floor_net_px']:>14} {r['people']:>6} {r['found_again']:>11} {r['share']:>6.3f} "
              f"{r['ms_per_call']:>7.1f} {r['median_iou']:>10.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps({"machine": machine_info(), "whole_frame_ms": whole_ms,
                                                "found_iou": FOUND_IOU, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()

"""Build the benchmark archives (nothing here is committed; everything lands in bench/data/).

* ``real``: the shared real clips re-encoded as recorders store them (H.264, keyframe every 1 s, no
  B-frames), looped into 5-minute files, at least 1 hour in total across 4 cameras of the demo
  city's registry.
* ``city``: the generated sample city (already recorder-like: 1 s GOP, no B-frames).

    .venv/bin/python -m bench.make_archive real --hours 1
"""

from __future__ import annotations

import argparse
import math
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from bench.cctv_like import reencode_cctv
from core.registry import load_registry, write_registry

REPO = Path(__file__).resolve().parents[1]

SHARED = REPO.parent / "shared" / "footage"
DATA = REPO / "bench" / "data"
CHUNK_S = 300.0
# camera of the demo registry -> source clip (width to keep 720p as the largest)
ASSIGNMENT = {
    "JG-01": ("oxford_towncentre_clipA.mp4", 1280),
    "JG-02": ("pets2009_s2l1_view001.mp4", None),
    "YS-01": ("intel_one_by_one_person.mp4", None),
    "YS-02": ("intel_person_bicycle_car.mp4", None),
}
START = datetime.fromisoformat("2026-03-14T09:00:00+09:00")


def build_real(hours: float, out: Path = DATA / "real-archive") -> Path:
    chunks_per_camera = math.ceil(hours * 3600 / CHUNK_S / len(ASSIGNMENT))
    registry = load_registry(REPO / "sample_footage" / "cameras.csv")
    out.mkdir(parents=True, exist_ok=True)
    write_registry([registry.get(c) for c in ASSIGNMENT], out / "cameras.csv")
    for cam, (clip, width) in ASSIGNMENT.items():
        src = SHARED / clip
        if not src.exists():
            raise SystemExit(f"shared footage absent: {src}")
        first = out / cam / f"{cam}_{START.strftime('%Y%m%dT%H%M%S%z')}.mp4"
        if not first.exists():
            reencode_cctv(src, first, min_duration_s=CHUNK_S, width=width)
        for i in range(1, chunks_per_camera):  # later chunks: same pixels, later start times
            t = START + timedelta(seconds=CHUNK_S * i)
            dst = out / cam / f"{cam}_{t.strftime('%Y%m%dT%H%M%S%z')}.mp4"
            if not dst.exists():
                shutil.copy(first, dst)
    return out


def build_city(out: Path = DATA / "city") -> Path:
    from sample_footage import generate_city

    return generate_city(out).archive


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=["real", "city"])
    ap.add_argument("--hours", type=float, default=1.0)
    args = ap.parse_args()
    print(build_real(args.hours) if args.which == "real" else build_city())


if __name__ == "__main__":
    main()

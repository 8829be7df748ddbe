"""Decoder choice: decord vs PyAV (all frames) vs PyAV keyframes-only, on CCTV-like H.264.

Builds recorder-like files (1 s GOP, no B-frames) from ../shared/footage under bench/data/, then
decodes each at 1 and 2 sampled frames per second with every decoder, single-threaded where the
decoder allows, and reports CPU seconds per hour of footage and x-realtime per core. The indexer's
``decoder = auto`` default follows from this table.

    .venv/bin/python -m bench.decode_speed
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from bench.cctv_like import reencode_cctv
from bench.machine import machine_info
from indexer.decode import DecordDecoder, PyAVDecoder, PyAVKeyframeDecoder, probe

REPO = Path(__file__).resolve().parents[1]

SHARED = REPO.parent / "shared" / "footage"
DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"

SOURCES = {
    "720p_street_gop1s.mp4": ("oxford_towncentre_clipA.mp4", 60.0, 1280),
    "576p_campus_gop1s.mp4": ("pets2009_s2l1_view001.mp4", 0.0, None),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (src, min_dur, width) in SOURCES.items():
        out = DATA / name
        if not (SHARED / src).exists():
            print(f"skip {name}: {SHARED / src} absent")
            continue
        if not out.exists():
            reencode_cctv(SHARED / src, out, min_duration_s=min_dur, width=width)
        files.append(out)
    if not files:
        print("no shared footage: nothing to measure")
        return
    decoders = [PyAVKeyframeDecoder(), PyAVDecoder(threads=1), DecordDecoder()]
    rows = []
    for f in files:
        info = probe(f)
        for fps in (1.0, 2.0):
            for dec in decoders:
                t0, c0 = time.perf_counter(), _cpu()
                n = sum(1 for _ in dec.frames(f, fps))
                wall, cpu = time.perf_counter() - t0, _cpu() - c0
                rows.append({
                    "file": f.name, "resolution": f"{info.width}x{info.height}", "keyframe_gap_s": info.keyframe_gap_s,
                    "duration_s": info.duration_s, "sample_fps": fps, "decoder": dec.name, "frames": n,
                    "wall_s": wall, "cpu_s": cpu, "cpu_s_per_footage_h": cpu / info.duration_s * 3600,
                    "x_realtime_per_core": info.duration_s / cpu,
                })
    # ratios against decord (the design's named decoder) in the same run
    for r in rows:
        base = next(b for b in rows if b["file"] == r["file"] and b["sample_fps"] == r["sample_fps"]
                    and b["decoder"] == "decord")
        r["speedup_vs_decord"] = base["cpu_s"] / r["cpu_s"]
    print(f"{'file':24} {'fps':>4} {'decoder':15} {'frames':>6} {'cpu s':>7} {'x-rt/core':>10} {'vs decord':>9}")
    for r in rows:
        print(f"{r['file']:24} {r['sample_fps']:>4.0f} {r['decoder']:15} {r['frames']:>6} {r['cpu_s']:>7.2f} "
              f"{r['x_realtime_per_core']:>10.0f} {r['speedup_vs_decord']:>8.1f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "decode_speed.json"
    out.write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

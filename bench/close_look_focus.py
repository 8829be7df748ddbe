"""What the close look for bags costs on the busy rate's in-between frames (``index.busy_close_looks_all``).

Runs the pipeline in this process (one thread, like one indexer worker, CLIP deferred) over the first file of
each camera of ``bench/data/real-archive``, once with the close look offered to everyone due on every frame
(as before the setting) and once with the in-between frames offering it only to the new people they are for
(the default). Counts are exact: close-look crops run through the network, split by base and in-between
frames, and the sightings written; the attributes stage's CPU seconds are timed alongside, in the same
process, alternating the two settings so a drifting machine loads both alike.

    .venv/bin/python -m bench.make_archive real --hours 1
    .venv/bin/python -m bench.close_look_focus [--rounds 2] [--out bench/results/close_look_focus.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import indexer.pipeline as pipeline
from bench.index_speed import registry_path
from bench.machine import machine_info
from bench.real_models import SHARED_MODELS, models_dir
from core.config import load_config
from core.loading import load_colours, load_detector
from core.registry import load_registry
from indexer.archive import VideoFile, discover
from indexer.attributes import CloseLook

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "bench" / "data" / "real-archive"
SETTINGS = {"everyone due, every frame (before)": "true", "in-between frames: new people only (default)": "false"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=ARCHIVE)
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs of each setting")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "close_look_focus.json")
    args = ap.parse_args()
    registry = load_registry(registry_path(args.archive))
    base = {"models.clip_pretrained": "random-init", "models.allow_download": False, "models.device": "cpu",
            "models.models_dir": str(models_dir() or SHARED_MODELS)}
    cfg0 = load_config(None, base, environ={})
    videos, _ = discover(args.archive, registry, cfg0.index.timezone)
    first: dict[str, VideoFile] = {}
    for v in videos:
        first.setdefault(v.camera_id, v)
    models = pipeline.Models(detector=load_detector(cfg0, threads=1), colours=load_colours(cfg0), embedder=None,
                             clip_dim=32, defer_embedding=True)

    crops: Counter[str] = Counter()
    extra_frame = {"now": False}
    look = CloseLook.look

    def counting_look(self, t, frame, boxes, track_ids, *rest):
        out = look(self, t, frame, boxes, track_ids, *rest)
        crops["in-between" if extra_frame["now"] else "base"] += sum(o is not None for o in out)
        return out

    observe = pipeline._VideoState.observe

    def flagging_observe(self, t, frame, timer, extra=False):
        extra_frame["now"] = extra
        return observe(self, t, frame, timer, extra)

    CloseLook.look = counting_look  # type: ignore[method-assign]
    pipeline._VideoState.observe = flagging_observe  # type: ignore[method-assign]
    report: dict = {"machine": machine_info(), "files": len(first), "settings": {}}
    try:
        for rnd in range(args.rounds):
            for label, flag in SETTINGS.items():
                cfg = load_config(None, {**base, "index.busy_close_looks_all": flag}, environ={})
                crops.clear()
                stages: Counter[str] = Counter()
                footage, rows, busy = 0.0, 0, 0
                for v in first.values():
                    r = pipeline.index_video(v, registry.get(v.camera_id), models, cfg)
                    assert r.ok, r.error
                    stages.update(r.seconds)
                    footage += r.info.duration_s
                    rows += r.sightings.num_rows
                    busy += r.n_busy
                hours = footage / 3600
                entry = report["settings"].setdefault(label, {"attributes_cpu_s_per_footage_h": [],
                                                              "cpu_s_per_footage_h": []})
                entry.update({"footage_min": round(footage / 60, 1), "close_look_crops": dict(crops),
                              "in_between_frames": busy, "sightings": rows})
                entry["attributes_cpu_s_per_footage_h"].append(round(stages["attributes"] / hours, 1))
                entry["cpu_s_per_footage_h"].append(round(sum(stages.values()) / hours, 1))
                print(f"round {rnd + 1} {label:48} crops {dict(crops)} attributes "
                      f"{stages['attributes'] / hours:.1f} s/h, all stages {sum(stages.values()) / hours:.1f} s/h")
    finally:
        CloseLook.look = look  # type: ignore[method-assign]
        pipeline._VideoState.observe = observe  # type: ignore[method-assign]
    print(f"\n{'setting':48} {'crops base':>10} {'in-between':>10} {'attr s/h':>9} {'all s/h':>8} {'sightings':>9}")
    for label, e in report["settings"].items():
        c = e["close_look_crops"]
        print(f"{label:48} {c.get('base', 0):>10} {c.get('in-between', 0):>10} "
              f"{min(e['attributes_cpu_s_per_footage_h']):>9.1f} {min(e['cpu_s_per_footage_h']):>8.1f} "
              f"{e['sightings']:>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

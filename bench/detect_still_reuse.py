"""``index.reuse_still_detections`` on one real camera file, on and off, back to back in one process.

Reports the process CPU seconds (``time.process_time``: other work shares the machine), frames whose
detections were reused, and what came out (sightings, tracked boxes): the lever may only skip work, so
the sightings should not change. Writes ``detect_reuse_still`` into ``bench/results/index_levers.json``.

    .venv/bin/python -m bench.make_archive real --hours 1
    .venv/bin/python -m bench.detect_still_reuse YS-01
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.levers_file import update_levers
from bench.machine import machine_info
from core.config import load_config
from core.loading import load_colours, load_detector
from core.registry import load_registry
from indexer import pipeline
from indexer.archive import discover

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "bench" / "data" / "real-archive"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cameras", nargs="+")
    args = ap.parse_args()
    registry = load_registry(ARCHIVE / "cameras.csv")
    videos, _ = discover(ARCHIVE, registry, "Asia/Seoul")
    reused: dict[str, int] = {}
    observe = pipeline._VideoState.observe

    def counting(self, t, frame, timer, extra=False):  # the count lives on the per-video state, which index_video drops
        observe(self, t, frame, timer, extra)
        reused["n"] = self.n_reused

    pipeline._VideoState.observe = counting
    out = {}
    for cam in args.cameras:
        video = next(v for v in videos if v.camera_id == cam)
        for flag in ("false", "true"):
            cfg = load_config(None, {"models.models_dir": str(REPO.parent / "shared" / "models"),
                                     "models.allow_download": False, "index.reuse_still_detections": flag},
                              environ={})
            models = pipeline.Models(load_detector(cfg, threads=1), load_colours(cfg), None, 768)
            reused["n"] = 0
            c0 = time.process_time()
            result = pipeline.index_video(video, registry.get(cam), models, cfg)
            rows = result.sightings.to_pylist()
            out[f"{cam} reuse={flag}"] = {
                "cpu_s": round(time.process_time() - c0, 1), "sampled": result.n_sampled, "gated": result.n_gated,
                "reused": reused["n"], "sightings": len(rows), "tracked_boxes": sum(r["n_detections"] for r in rows)}
            print(cam, flag, out[f"{cam} reuse={flag}"], flush=True)
    update_levers("detect_reuse_still", {"machine": machine_info(), "runs": out})


if __name__ == "__main__":
    main()

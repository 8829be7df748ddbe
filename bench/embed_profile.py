"""Where the embed, describe and attributes stages spend their time, on the real archive.

Runs the pipeline in this process (one thread, like one indexer worker) over the first file of each
camera of ``bench/data/real-archive`` (later files repeat the same pixels) under cProfile, and counts
what the embed stage is given: sightings, crops, and crops per sighting by segment length.

    .venv/bin/python -m bench.make_archive real --hours 1
    .venv/bin/python -m bench.embed_profile [--files-per-camera 1] [--top 30]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
from collections import Counter
from pathlib import Path

import numpy as np

from bench.index_speed import registry_path
from bench.real_models import SHARED_MODELS, models_dir
from core.config import load_config
from core.loading import plan_image_embedder
from core.registry import load_registry
from indexer.archive import discover
from indexer.pipeline import index_video
from indexer.run_plan import load_models

ARCHIVE = Path(__file__).resolve().parents[1] / "bench" / "data" / "real-archive"


class CountingEmbedder:
    """Wraps the worker's image embedder; remembers how many crops each call embedded."""

    def __init__(self, inner):
        self.inner, self.identity, self.dim = inner, inner.identity, inner.dim
        self.calls: list[int] = []

    def embed_images(self, crops, batch_size=32):
        self.calls.append(len(crops))
        return self.inner.embed_images(crops, batch_size=batch_size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=ARCHIVE)
    ap.add_argument("--files-per-camera", type=int, default=1)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--set", action="append", default=[], help="config override section.key=value")
    ap.add_argument("--dump", type=Path, help="also write the raw profile here (pstats format)")
    args = ap.parse_args()
    over = {"models.clip_pretrained": "random-init", "models.allow_download": False, "models.device": "cpu",
            "models.models_dir": str(models_dir() or SHARED_MODELS)}
    over.update(dict(s.split("=", 1) for s in args.set))
    cfg = load_config(None, over, environ={})
    registry = load_registry(registry_path(args.archive))
    videos, _ = discover(args.archive, registry, cfg.index.timezone)
    per_cam: Counter[str] = Counter()
    chosen = []
    for v in videos:
        if per_cam[v.camera_id] < args.files_per_camera:
            chosen.append(v)
            per_cam[v.camera_id] += 1
    models, err = load_models(cfg, plan_image_embedder(cfg), threads=1)
    assert models.embedder is not None, err
    counter = CountingEmbedder(models.embedder)
    models.embedder = counter
    stages: Counter[str] = Counter()
    footage = sightings = 0.0
    prof = cProfile.Profile()
    for v in chosen:
        prof.enable()
        r = index_video(v, registry.get(v.camera_id), models, cfg)
        prof.disable()
        assert r.ok, r.error
        stages.update(r.seconds)
        footage += r.info.duration_s
        sightings += r.sightings.num_rows
    crops = sum(counter.calls)
    hours = footage / 3600
    print(f"{len(chosen)} files, {footage / 60:.0f} footage min, {sightings:.0f} sightings, {crops} crops "
          f"({crops / max(sightings, 1):.2f} per sighting)")
    print("CPU s per footage hour: " + ", ".join(f"{k} {v / hours:.1f}" for k, v in stages.items()))
    print(f"embed ms per crop (stage time / crops): {1000 * stages['embed'] / max(crops, 1):.1f}")
    if args.dump:
        prof.dump_stats(args.dump)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    _ = np  # numpy is imported for the embedder's arrays


if __name__ == "__main__":
    main()

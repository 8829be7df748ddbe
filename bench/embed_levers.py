"""Embed and describe levers on the real archive, measured on one pipeline pass.

One pass of the indexer's pipeline (this process, one thread) over the first file of each camera of
``bench/data/real-archive`` (later files repeat the same pixels). Its image embedder records what it is
given instead of running CLIP, so the pass is cheap; the embed stage's cost under each lever is then
crops x the int8 tower's ms per crop, timed here on the same crops right after (so a load on the box hits
both alike). The colour namer runs the per-box path and the vectorised candidate
(``bench/colours_vectorised.py``, rejected) on every box and times each.

    .venv/bin/python -m bench.embed_levers [--files-per-camera 1] [--sample-crops 48]

Writes the ``embed_describe`` key of bench/results/index_levers.json.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.colours_vectorised import body_colours_vectorised
from bench.embed_profile import ARCHIVE
from bench.index_speed import registry_path
from bench.levers_file import update_levers
from bench.real_models import SHARED_MODELS, models_dir
from core.config import load_config
from core.loading import plan_image_embedder
from core.registry import load_registry
from core.vision.colours import ColourNamer
from indexer import pipeline
from indexer.archive import discover
from indexer.pipeline import index_video
from indexer.run_plan import load_models


class RecordingEmbedder:
    """Stands in for the image tower: keeps the crops (a sample) and their count per call, returns unit vectors."""

    def __init__(self, identity: str, dim: int, keep: int):
        self.identity, self.dim, self.keep = identity, dim, keep
        self.calls: list[int] = []
        self.sample: list[np.ndarray] = []

    def embed_images(self, crops: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(crops))
        self.sample.extend(crops[: max(0, self.keep - len(self.sample))])
        out = np.zeros((len(crops), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out


class TimedColours(ColourNamer):
    """The colour namer, timing its per-box path against the vectorised candidate on the same boxes."""

    def __init__(self, inner: ColourNamer):
        self.table, self.path = inner.table, inner.path
        self.old_s = self.new_s = 0.0
        self.boxes = 0

    def body_colours(self, frame, box, foreground=None):
        t0 = time.perf_counter()
        body_colours_vectorised(self, frame, box, foreground)
        t1 = time.perf_counter()
        out = super().body_colours(frame, box, foreground)
        self.new_s += t1 - t0
        self.old_s += time.perf_counter() - t1
        self.boxes += 1
        return out


def crops_under(rows: list[dict], cpt: int | None = None, one_below_s: float = 0.0, min_height: float = 0.0) -> int:
    """Crops the embed stage gets under a lever, from the crops each sighting got: at most ``cpt`` each,
    one for segments shorter than ``one_below_s``, none for sightings whose best box is lower than
    ``min_height`` px."""
    n = 0
    for r in rows:
        if r["height"] < min_height:
            continue
        k = r["crops"] if cpt is None else min(cpt, r["crops"])
        n += min(k, 1) if r["duration_s"] < one_below_s else k
    return n


class CropCounts:
    """Wraps the pipeline's ``pick_crops``: how many crops each sighting got, in the order of its rows."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self._pick = pipeline.pick_crops

    def __call__(self, cands, k):
        chosen = self._pick(cands, k)
        self.counts.append(len(chosen))
        return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=ARCHIVE)
    ap.add_argument("--files-per-camera", type=int, default=1)
    ap.add_argument("--sample-crops", type=int, default=48)
    args = ap.parse_args()
    cfg = load_config(None, {"models.clip_pretrained": "random-init", "models.allow_download": False,
                             "models.device": "cpu", "models.models_dir": str(models_dir() or SHARED_MODELS)},
                      environ={})
    registry = load_registry(registry_path(args.archive))
    videos, _ = discover(args.archive, registry, cfg.index.timezone)
    per_cam: Counter[str] = Counter()
    chosen = []
    for v in videos:
        per_cam[v.camera_id] += 1
        if per_cam[v.camera_id] <= args.files_per_camera:
            chosen.append(v)
    plan = plan_image_embedder(cfg)
    models, err = load_models(cfg, plan, threads=1)
    assert models.embedder is not None and models.colours is not None, err
    tower = models.embedder
    rec = RecordingEmbedder(tower.identity, tower.dim, args.sample_crops)
    colours = TimedColours(models.colours)
    models.embedder, models.colours = rec, colours
    counts = CropCounts()
    pipeline.pick_crops = counts  # type: ignore[assignment]
    rows: list[dict] = []
    stages: Counter[str] = Counter()
    footage = 0.0
    for v in chosen:
        r = index_video(v, registry.get(v.camera_id), models, cfg)
        assert r.ok, r.error
        footage += r.info.duration_s
        stages.update(r.seconds)
        t = r.sightings.select(["track_id", "t_start", "t_end", "box"]).to_pylist()
        got, counts.counts = counts.counts, []
        assert len(got) == len(t)
        rows += [{"crops": k, "track": (v.video_id, x["track_id"]), "duration_s": x["t_end"] - x["t_start"],
                  "height": x["box"][3] - x["box"][1]}
                 for k, x in zip(got, t, strict=True)]
    crops_now = sum(rec.calls)
    assert crops_now == crops_under(rows), (crops_now, crops_under(rows))
    # The tower's cost per crop, on real crops of this pass, one thread (a worker's budget).
    tower.embed_images(rec.sample[:8])
    t0 = time.perf_counter()
    tower.embed_images(rec.sample, batch_size=cfg.index.clip_batch_size)
    ms_per_crop = 1000 * (time.perf_counter() - t0) / len(rec.sample)
    hours = footage / 3600
    stages["describe"] -= colours.new_s  # the vectorised candidate ran only to be timed

    def lever(name: str, crops: int, quality: str) -> dict:
        embed_s = crops * ms_per_crop / 1000 / hours
        saved = (crops_now - crops) * ms_per_crop / 1000 / hours
        print(f"{name:58} {crops:>6} crops  embed {embed_s:6.1f} CPU s/h  saves {saved:6.1f}")
        return {"crops": crops, "embed_cpu_s_per_footage_h": round(embed_s, 1),
                "saves_cpu_s_per_footage_h": round(saved, 1), "quality_cost": quality}

    no_real = "not measurable here: random-init CLIP weights (no real weights can be had)"
    small = sum(1 for r in rows if r["height"] < 64)
    seen_big = {r["track"] for r in rows if r["height"] >= 64}
    orphan = sum(1 for r in rows if r["height"] < 64 and r["track"] not in seen_big)
    print(f"{len(chosen)} files, {footage / 60:.0f} footage min, {len(rows)} sightings, {crops_now} crops, "
          f"int8 tower {ms_per_crop:.1f} ms/crop; embed calls per video: {rec.calls}")
    levers = {
        "current (crops_per_track 2, 1 + n_detections // 8)": lever("current", crops_now, "-"),
        "1 crop for segments < 10 s": lever("1 crop for segments < 10 s", crops_under(rows, one_below_s=10.0),
                                            no_real),
        "1 crop for segments < 20 s": lever("1 crop for segments < 20 s", crops_under(rows, one_below_s=20.0),
                                            no_real),
        "crops_per_track 1": lever("crops_per_track 1", crops_under(rows, 1), no_real),
        "quality gate: no vector below 64 px": lever(
            "quality gate: no vector below 64 px", crops_under(rows, min_height=64),
            f"{small} of {len(rows)} sightings ({100 * small / max(len(rows), 1):.0f} %) lose CLIP evidence; "
            "search scores them on colours/attributes only (NaN clip part, search/scoring.py)"),
        "quality gate below 64 px, the track's best vector for the rest": lever(
            "gate below 64 px, track's best vector", crops_under(rows, min_height=64),
            f"{orphan} of {len(rows)} sightings lose CLIP evidence (no segment of their track passes); "
            f"{small - orphan} take another segment's vector of the same person"),
    }
    colour = {"boxes": colours.boxes, "per_box_s": round(colours.old_s, 2), "vectorised_s": round(colours.new_s, 2),
              "per_box_cpu_s_per_footage_h": round(colours.old_s / hours, 1),
              "vectorised_cpu_s_per_footage_h": round(colours.new_s / hours, 1),
              "speedup": round(colours.old_s / max(colours.new_s, 1e-9), 2),
              "quality_cost": "none (same names, figures within 1e-4); not kept: slower"}
    print(f"colours of {colours.boxes} boxes: per-box {colours.old_s:.1f} s, vectorised {colours.new_s:.1f} s "
          f"({colour['speedup']}x)")
    update_levers("embed_describe", {
        "archive": str(args.archive), "files": len(chosen), "footage_min": round(footage / 60, 1),
        "sightings": len(rows), "int8_ms_per_crop_1_thread": round(ms_per_crop, 1),
        "embed_calls_crops_per_video": rec.calls,
        "stage_cpu_s_per_footage_h_without_embed": {k: round(v / hours, 1) for k, v in stages.items()},
        "crop_levers": levers, "colour_naming": colour})


if __name__ == "__main__":
    main()

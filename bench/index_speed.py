"""Indexing speed: our pipeline end to end vs the naive "decord 1 fps + whole-frame CLIP" baseline.

Both run in the same invocation on the same archive with the same CLIP architecture (the default,
ViT-B-32-SigLIP2-256; no real weights can be fetched here, so random-initialised weights of the same
architecture stand in: the compute is identical, only the numbers inside differ) and the same number
of worker processes. Reports hours of footage per hour of wall time (x-realtime), the per-stage split
(summed over workers), and the peak resident memory of the whole process tree.

    .venv/bin/python -m bench.make_archive real --hours 1
    .venv/bin/python -m bench.index_speed bench/data/real-archive
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.machine import machine_info
from bench.real_models import models_dir, require_real_models
from core.config import Config, load_config
from core.registry import load_registry
from indexer.archive import discover
from indexer.batch import BatchOptions, run_index
from indexer.decode import probe

REPO = Path(__file__).resolve().parents[1]

RESULTS = REPO / "bench" / "results"


class PeakRSS:
    """Samples the RSS of this process and all its children; keeps the peak of the sum."""

    def __init__(self, interval_s: float = 0.25):
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    name: str
    footage_s: float
    wall_s: float
    peak_rss_mb: float
    stages: dict[str, float]
    extra: dict

    @property
    def x_realtime(self) -> float:
        return self.footage_s / self.wall_s


def bench_config(index_uri: Path, args: argparse.Namespace, extra: list[str] | None = None) -> Config:
    over: dict[str, object] = {
        "storage.index_uri": str(index_uri),
        "models.clip_model": args.clip_model,
        "models.clip_pretrained": args.clip_pretrained,
        "models.allow_download": False,
        "models.device": args.device,
    }
    found = models_dir()
    if found is not None:
        over["models.models_dir"] = str(found)
    for item in [*(args.set or []), *(extra or [])]:
        k, _, v = item.partition("=")
        over[k] = v
    return load_config(None, over, environ={})


@contextlib.contextmanager
def busy_load(n: int):
    """``n`` processes that spin on a core each while the block runs: another job on the same box. Yields
    their pids (their few MB are not the indexer's)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield frozenset(p.pid for p in procs)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _run_ours_here(archive: Path, args: argparse.Namespace, workdir: Path, extra: list[str] | None,
                   name: str) -> Run:
    cfg = bench_config(workdir / "index", args, extra)
    registry = load_registry(registry_path(archive))
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        s = run_index(archive, cfg, registry, BatchOptions(workers=args.workers, progress=False))
        wall = time.perf_counter() - t0
    return Run(name, s.footage_s, wall, rss.peak / 2**20, dict(s.stage_seconds),
               {"sightings": s.sightings, "files": s.indexed, "failed": len(s.failed), "detector": s.detector,
                "config": {"sample_fps": cfg.index.sample_fps, "decoder": cfg.index.decoder,
                           "crops_per_track": cfg.index.crops_per_track}})


def _ours_in_child(conn, archive: Path, args: argparse.Namespace, workdir: Path, extra: list[str] | None,
                   name: str) -> None:
    conn.send(_run_ours_here(archive, args, workdir, extra, name))
    conn.close()


def run_ours(archive: Path, args: argparse.Namespace, workdir: Path, extra: list[str] | None = None,
             name: str = "ours") -> Run:
    """One pipeline run in a fresh process, as ``footage-search index`` runs: its peak is its own. (Run in
    this process, a second pipeline's peak sat up to ~230 MB above the first's, on what the first left.)"""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_ours_in_child, args=(send, archive, args, workdir, extra, name))
    child.start()
    send.close()
    try:
        run = receive.recv()
    except EOFError:
        run = None
    child.join()
    if run is None:
        raise RuntimeError(f"the pipeline run {name!r} died (exit code {child.exitcode}); see the log above")
    return run


# --- naive baseline: decord at 1 fps, every frame embedded whole ---------------------------------

_BASE: dict = {}


def _base_init(clip_model: str, clip_pretrained: str, device: str) -> None:
    import torch

    from core.vision.clip_embedder import ClipEmbedder, ClipSpec

    torch.set_num_threads(1)
    _BASE["emb"] = ClipEmbedder(ClipSpec(clip_model, clip_pretrained), device=device, vision_only=True)


def _base_video(path: str) -> tuple[float, float, float, int]:
    import decord

    t0 = time.perf_counter()
    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    fps = vr.get_avg_fps()
    idx = list(range(0, len(vr), max(1, round(fps))))
    frames = [vr[i].asnumpy()[:, :, ::-1] for i in idx]
    t_dec = time.perf_counter() - t0
    t1 = time.perf_counter()
    _BASE["emb"].embed_images(frames, batch_size=16)
    return len(vr) / fps, t_dec, time.perf_counter() - t1, len(frames)


def run_baseline(archive: Path, args: argparse.Namespace) -> Run:
    videos, _ = discover(archive, load_registry(registry_path(archive)), "Asia/Seoul")
    paths = [str(v.path) for v in videos]
    ctx = multiprocessing.get_context("spawn")
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        with ctx.Pool(args.workers, initializer=_base_init,
                      initargs=(args.clip_model, args.clip_pretrained, args.device)) as pool:
            out = pool.map(_base_video, paths, chunksize=1)
        wall = time.perf_counter() - t0
    footage = sum(o[0] for o in out)
    return Run("naive: decord 1 fps + whole-frame CLIP", footage, wall, rss.peak / 2**20,
               {"decode": sum(o[1] for o in out), "embed": sum(o[2] for o in out)},
               {"frames_embedded": sum(o[3] for o in out)})


def registry_path(archive: Path) -> Path:
    """``cameras.csv`` in the archive, or beside it (the sample city keeps it one level up)."""
    inside = archive / "cameras.csv"
    beside = archive.parent / "cameras.csv"
    return beside if not inside.exists() and beside.exists() else inside


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--clip-model", default="ViT-B-32-SigLIP2-256")
    ap.add_argument("--clip-pretrained", default="random-init")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--set", action="append", help="extra config override section.key=value")
    ap.add_argument("--compare-set", action="append", metavar="KEY=VALUE",
                    help="also run ours with these overrides on top (e.g. the settings before a lever), back to back "
                         "in the same invocation, so a busy machine loads both alike")
    ap.add_argument("--loaded", type=int, default=0, metavar="N",
                    help="also run ours (after the quiet runs) while N other processes spin on the cores: wall time "
                         "and memory under contention")
    ap.add_argument("--out", default="index_speed.json", help="file name under bench/results/")
    ap.add_argument("--allow-fallback", action="store_true",
                    help="time the motion-blob detector / no colours when the real model files are missing")
    args = ap.parse_args(argv)
    if not args.allow_fallback:
        require_real_models(bench_config(REPO / "bench" / "data" / "model-check", args), "--allow-fallback")

    total = sum(probe(v.path).duration_s for v in discover(
        args.archive, load_registry(registry_path(args.archive)), "Asia/Seoul")[0])
    if total <= 0:
        raise SystemExit(f"{args.archive}: no indexable footage found (camera folders of videos expected)")
    print(f"archive {args.archive}: {total / 3600:.2f} h of footage, {args.workers} workers, CLIP {args.clip_model}")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(dir=REPO / "bench" / "data") as tmp:
        if args.compare_set:
            runs.append(run_ours(args.archive, args, Path(tmp), args.compare_set,
                                 name="ours with " + " ".join(args.compare_set)))
            shutil.rmtree(Path(tmp) / "index", ignore_errors=True)
        ours = run_ours(args.archive, args, Path(tmp))
        runs.append(ours)
        shutil.rmtree(Path(tmp) / "index", ignore_errors=True)
        if args.loaded:
            with busy_load(args.loaded):  # the spinners are this process's children, not the pipeline's
                runs.append(run_ours(args.archive, args, Path(tmp), name=f"ours, {args.loaded} busy processes beside"))
            shutil.rmtree(Path(tmp) / "index", ignore_errors=True)
    if not args.no_baseline:
        runs.append(run_baseline(args.archive, args))

    # The ratio column: against the naive run, or without it against ours at the default settings.
    base = runs[-1] if not args.no_baseline else (ours if len(runs) > 1 else None)
    against = "vs ours" if args.no_baseline else "vs naive"
    print(f"\n{'pipeline':42} {'footage h':>9} {'wall s':>8} {'x-realtime':>10} {against:>8} {'peak RSS MB':>11}")
    for r in runs:
        ratio = f"{r.x_realtime / base.x_realtime:.2f}x" if base else "-"
        print(f"{r.name:42} {r.footage_s / 3600:>9.2f} {r.wall_s:>8.1f} {r.x_realtime:>10.1f} {ratio:>8} "
              f"{r.peak_rss_mb:>11.0f}")
    for r in runs:
        tot = sum(r.stages.values()) or 1.0
        split = ", ".join(f"{k} {v:.0f}s ({100 * v / tot:.0f}%)" for k, v in r.stages.items())
        print(f"  {r.name}: {split}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.out
    out.write_text(json.dumps({
        "machine": machine_info(), "archive": str(args.archive), "footage_h": total / 3600,
        "workers": args.workers, "clip_model": f"{args.clip_model}/{args.clip_pretrained}", "device": args.device,
        "runs": [{**r.__dict__, "x_realtime": r.x_realtime} for r in runs],
        "speedup_vs_naive": None if args.no_baseline else ours.x_realtime / runs[-1].x_realtime,
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

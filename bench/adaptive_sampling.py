"""Adaptive sampling vs constant 1 fps and 2 fps: decode cost, indexing cost and retrieval, in one run.

1. **Decode** (one process, least of ``--repeats`` runs per decoder): keyframes at 1 fps; every frame
   decoded, 2 fps kept; the adaptive skipping decoder with the scene always busy (its worst case) and
   always quiet.
2. **Indexing** (``bench.index_speed.run_ours``, the same end-to-end run as ``bench/index_speed.py``):
   1 fps, 2 fps and adaptive back to back (``--repeats`` rounds, interleaved), so load from other jobs
   on the machine falls on all three; ratios to the 1 fps run of the same round.
3. **Retrieval**: the five shared real clips indexed at each setting and put through ``footage-search
   eval`` with ``tests/data/search_real_labels.json`` (converted as ``tests/test_eval_cmd.py`` does; no
   CLIP: the test model is random) - recall@k and mAP for text and photo queries.
4. **Attributes**: ``bench.attributes_eval``'s per-attribute figures at 1 fps with the frame pass only (as
   before), adaptive with the frame pass only, and adaptive with the close look for bags (the default).

    .venv/bin/python -m bench.make_archive real --hours 0.3   # or any archive
    .venv/bin/python -m bench.adaptive_sampling bench/data/real-archive
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.index_speed import registry_path, run_ours
from bench.machine import machine_info
from core.registry import load_registry
from indexer.archive import discover
from indexer.decode import PyAVDecoder, PyAVKeyframeDecoder, probe

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SETTINGS: dict[str, list[str]] = {
    "1 fps": ["index.sample_fps=1", "index.busy_fps=1"],
    "2 fps": ["index.sample_fps=2", "index.busy_fps=2"],
    "adaptive 1-2 fps": ["index.sample_fps=1", "index.busy_fps=2"],
}


def decode_costs(paths: list[Path], repeats: int) -> dict:
    """Seconds to decode every file with each decoder (least of ``repeats``), and frames delivered."""
    from indexer.sampling import AdaptiveSampler, SamplingPlan, SkippingDecoder

    plan = SamplingPlan(1.0, 2.0, 5.0)

    def adaptive(busy: bool):
        def run(p: Path):
            sampler = AdaptiveSampler(plan)
            sampler.busy = busy
            return SkippingDecoder(probe(p).keyframe_gap_s).frames(p, sampler)
        return run

    decoders = {
        "keyframes, 1 fps": lambda p: PyAVKeyframeDecoder().frames(p, 1.0),
        "every frame decoded, 2 fps kept (1 thread)": lambda p: PyAVDecoder(threads=1).frames(p, 2.0),
        "adaptive, scene always busy (2 fps)": adaptive(True),
        "adaptive, scene always quiet (1 fps)": adaptive(False),
    }
    out = {}
    for name, run in decoders.items():
        best, n = float("inf"), 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            n = sum(1 for p in paths for _ in run(p))
            best = min(best, time.perf_counter() - t0)
        out[name] = {"seconds": round(best, 2), "frames": n}
        print(f"decode {name:45} {best:7.1f} s {n:6d} frames", flush=True)
    base = out["keyframes, 1 fps"]["seconds"]
    for v in out.values():
        v["vs_keyframes"] = round(v["seconds"] / base, 2)
    return out


def indexing_costs(archive: Path, args: argparse.Namespace) -> dict:
    rounds = []
    for r in range(args.repeats):
        runs = {}
        for name, sets in SETTINGS.items():
            ns = argparse.Namespace(**{**vars(args), "set": [*sets, *(args.set or [])]})
            with tempfile.TemporaryDirectory(dir=REPO / "bench" / "data") as tmp:
                run = run_ours(archive, ns, Path(tmp))
                shutil.rmtree(Path(tmp) / "index", ignore_errors=True)
            runs[name] = {"wall_s": round(run.wall_s, 1), "x_realtime": round(run.x_realtime, 1),
                          "sightings": run.extra["sightings"],
                          "stages_s": {k: round(v, 1) for k, v in run.stages.items()}}
            print(f"round {r + 1} {name:18} wall {run.wall_s:7.1f} s  {run.x_realtime:6.1f}x realtime  "
                  f"{run.extra['sightings']} sightings", flush=True)
        base = runs["1 fps"]["wall_s"]
        for v in runs.values():
            v["cost_vs_1fps"] = round(v["wall_s"] / base, 3)
        rounds.append(runs)
    return {"rounds": rounds, "cost_vs_1fps_mean": {
        name: round(sum(r[name]["cost_vs_1fps"] for r in rounds) / len(rounds), 3) for name in SETTINGS}}


def retrieval(args: argparse.Namespace) -> dict:
    """Each setting's index of the real clips through ``footage-search eval``; per query kind figures."""
    from core.registry import load_registry
    from footage_search.cli import main as cli
    from indexer.batch import BatchOptions, run_index
    from tests.conftest import FOOTAGE, REAL_CLIPS, REAL_REGISTRY, make_config
    from tests.test_eval_cmd import real_clip_labels

    labels = json.loads((REPO / "tests" / "data" / "search_real_labels.json").read_text(encoding="utf-8"))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "archive"
        for name, (camera, stamp) in REAL_CLIPS.items():
            (archive / camera).mkdir(parents=True, exist_ok=True)
            os.symlink(FOOTAGE / name, archive / camera / f"{Path(name).stem}_{stamp}.mp4")
        (archive / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
        label_file = root / "labels.json"
        label_file.write_text(json.dumps(real_clip_labels(labels, FOOTAGE / "reference_photos")), encoding="utf-8")
        for name, sets in SETTINGS.items():
            over = {k.replace(".", "__"): v for k, _, v in (s.partition("=") for s in sets)}
            cfg = make_config(root / name.replace(" ", "_") / "index", **over)
            s = run_index(archive, cfg, load_registry(archive / "cameras.csv"), BatchOptions(progress=False))
            report = root / f"{name.replace(' ', '_')}.json"
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # its per-query table
                rc = cli(["eval", str(label_file), "--index", cfg.storage.index_uri, "--registry",
                          str(archive / "cameras.csv"), "--no-clip", "--out", str(report), "--set",
                          f"models.models_dir={cfg.models.models_dir}", "--set", "models.allow_download=false"])
            if rc != 0:
                raise SystemExit(f"eval failed for {name}")
            summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
            out[name] = {"sightings": s.sightings, "frames_sampled": s.frames_sampled, "summary": summary}
            print(f"eval {name:18} {json.dumps(summary)}", flush=True)
    return out


ATTRIBUTE_VARIANTS = ("1 fps, frame pass only", "adaptive, frame pass only", "adaptive + close look")


def attribute_variant(variant: str, out: Path) -> None:
    """``bench.attributes_eval`` (figures only) with adaptive sampling and/or the close look for bags off,
    to say what each adds; run as ``python -m bench.adaptive_sampling --attributes-variant N OUT``."""
    import bench.attributes_eval as attributes_eval
    import indexer.attributes
    import tests.conftest

    make_config = tests.conftest.make_config
    if variant == ATTRIBUTE_VARIANTS[0]:
        tests.conftest.make_config = lambda uri, **o: make_config(uri, **{"index__busy_fps": 1.0, **o})
    if variant != ATTRIBUTE_VARIANTS[2]:
        indexer.attributes.CLOSE_LOOK_BELOW_PX = 0.0
    import sys

    sys.argv = ["attributes_eval", "--no-cost", "--out", str(out)]
    attributes_eval.main()


def attribute_figures(args: argparse.Namespace) -> dict:
    """Per attribute: sightings found (true, false), labelled with it, precision, recall, per variant."""
    import subprocess
    import sys

    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(ATTRIBUTE_VARIANTS):
            path = Path(tmp) / f"{i}.json"
            subprocess.run([sys.executable, "-m", "bench.adaptive_sampling", "--attributes-variant", str(i), str(path)],
                           check=True, cwd=REPO, stdout=subprocess.DEVNULL)
            figures = json.loads(path.read_text(encoding="utf-8"))
            out[variant] = {name: {"found_true": f["found"]["true"], "found_false": f["found"]["false"],
                                   "labelled_with": f["labelled_sightings"]["with"], "precision": f["precision"],
                                   "recall": f["recall"]} for name, f in figures["attributes"].items()}
            print(f"attributes {variant}: " + ", ".join(f"{k} {v['recall']}" for k, v in out[variant].items()),
                  flush=True)
    return out


def main() -> None:
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "--attributes-variant":
        attribute_variant(ATTRIBUTE_VARIANTS[int(sys.argv[2])], Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--clip-model", default="ViT-B-32-SigLIP2-256")
    ap.add_argument("--clip-pretrained", default="random-init")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1, help="rounds of the three indexing runs (and decode repeats)")
    ap.add_argument("--set", action="append", help="extra config override section.key=value for every run")
    ap.add_argument("--skip", action="append", default=[], choices=["decode", "index", "eval", "attributes"])
    ap.add_argument("--out", default="adaptive_sampling.json", help="file name under bench/results/")
    args = ap.parse_args()

    videos = discover(args.archive, load_registry(registry_path(args.archive)), "Asia/Seoul")[0]
    paths = [v.path for v in videos]
    footage = sum(probe(p).duration_s for p in paths)
    print(f"archive {args.archive}: {footage / 3600:.2f} h in {len(paths)} files, {args.workers} workers", flush=True)
    report: dict = {"machine": machine_info(), "archive": str(args.archive), "footage_h": round(footage / 3600, 3),
                    "workers": args.workers, "settings": SETTINGS}
    if "decode" not in args.skip:
        report["decode"] = decode_costs(paths, args.repeats)
    if "index" not in args.skip:
        report["indexing"] = indexing_costs(args.archive, args)
    if "eval" not in args.skip:
        report["retrieval"] = retrieval(args)
    if "attributes" not in args.skip:
        report["attributes"] = attribute_figures(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.out
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""CLIP image tower on CPU: PyTorch (open_clip) vs ONNX Runtime fp32 / int8 vs OpenVINO.

The indexer's ``models.clip_runtime = auto`` picks the int8 ONNX tower on CPU, and ``openvino`` (int8
weights, bf16 arithmetic) is the faster choice on CPUs with bf16 units; this is the measurement behind
both. One thread each (an indexer worker's budget), batches of the indexer's ``clip_batch_size`` (8), the
same person-shaped crops, the default architecture (ViT-B-32-SigLIP2-256) with random-initialised weights:
no real weights can be fetched here, and the compute does not depend on the numbers inside. Also reports how close each
runtime's embeddings stay to fp32 (cosine), the figure that says quantising costs no retrieval quality,
and each runtime's resident memory (each runs in a fresh process of its own, its library already imported:
load, embed, trim the heap).

    .venv/bin/python -m bench.clip_runtime [--model ViT-B-32-SigLIP2-256] [--crops 64]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.machine import machine_info

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def person_like_crops(n: int, seed: int = 0) -> list[np.ndarray]:
    """Tall crops with smooth shading and noise, sized like CCTV person boxes (60-240 px high)."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        h = int(rng.integers(60, 240))
        w = max(16, int(h * rng.uniform(0.3, 0.5)))
        base = rng.integers(0, 255, size=3)
        ramp = np.linspace(0.6, 1.2, h)[:, None, None]
        img = np.clip(base[None, None, :] * ramp + rng.normal(0, 18, size=(h, w, 3)), 0, 255)
        crops.append(img.astype(np.uint8))
    return crops


def time_per_crop(embed: Callable[[list[np.ndarray]], np.ndarray], crops: list[np.ndarray],
                  repeats: int) -> tuple[float, np.ndarray]:
    out = embed(crops[:8])  # warm-up: allocations, kernel selection
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = embed(crops)
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best / len(crops), out


def _run_one(name: str, model: str, tmp: str, n_crops: int, batch: int, repeats: int) -> dict:
    """One runtime in this (fresh) process: ms per crop, the embeddings, and resident MB it added."""
    import psutil

    from core.vision.clip_embedder import RANDOM_INIT, ClipSpec
    from core.vision.clip_onnx import OnnxClipVision, ensure_vision_onnx

    proc = psutil.Process()
    spec = ClipSpec(model=model, pretrained=RANDOM_INIT)
    crops = person_like_crops(n_crops)
    # The runtime's library first: the memory figure is the loaded model's, not the import's.
    if name == "torch fp32":
        import torch

        torch.set_num_threads(1)
    elif name.startswith("openvino"):
        import openvino  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
    before = proc.memory_info().rss
    if name == "torch fp32":
        from core.vision.clip_embedder import ClipEmbedder

        tower = ClipEmbedder(spec, device="cpu", vision_only=True)
    elif name.startswith("openvino"):
        from core.vision.clip_openvino import OpenVinoClipVision

        tower = OpenVinoClipVision(ensure_vision_onnx(spec, Path(tmp), False, weights8="int8" in name), threads=1)
    else:
        tower = OnnxClipVision(ensure_vision_onnx(spec, Path(tmp), "int8" in name), threads=1)
    ms, emb = time_per_crop(lambda c: tower.embed_images(c, batch_size=batch), crops, repeats)
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return {"ms_per_crop": ms, "embeddings": emb, "resident_mb": (proc.memory_info().rss - before) / 2**20,
            "precision": getattr(tower, "precision", "")}


RUNTIMES = ("torch fp32", "onnx fp32", "onnx int8", "openvino fp32 weights", "openvino int8 weights")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ViT-B-32-SigLIP2-256")
    ap.add_argument("--crops", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "clip_runtime.json")
    args = ap.parse_args()

    rows: dict[str, dict] = {}
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:  # exports go here, never into a shared models folder
        from core.vision.clip_embedder import RANDOM_INIT, ClipSpec
        from core.vision.clip_onnx import ensure_vision_onnx

        spec = ClipSpec(model=args.model, pretrained=RANDOM_INIT)
        for variant in ({"int8": False}, {"int8": True}, {"int8": False, "weights8": True}):
            ensure_vision_onnx(spec, Path(tmp), **variant)  # here: the export needs a child process of its own
        for name in RUNTIMES:
            with ctx.Pool(1) as pool:  # a fresh process each: the memory figure is the runtime's alone
                rows[name] = pool.apply(_run_one, (name, args.model, tmp, args.crops, args.batch, args.repeats))
    ref = rows["torch fp32"].pop("embeddings")
    for r in list(rows.values())[1:]:
        cos = np.sum(r.pop("embeddings") * ref, axis=1)
        r["cosine_to_torch_min"], r["cosine_to_torch_mean"] = float(cos.min()), float(cos.mean())
    base = rows["torch fp32"]["ms_per_crop"]
    for r in rows.values():
        r["speedup_vs_torch"] = base / r["ms_per_crop"]

    print(f"CLIP image tower {args.model}, 1 thread, {args.crops} crops in batches of {args.batch}, "
          f"best of {args.repeats}")
    print(f"{'runtime':<28} {'ms/crop':>8} {'vs torch':>9} {'min cos':>8} {'MB':>6}")
    for name, r in rows.items():
        cos = r.get("cosine_to_torch_min")
        print(f"{name + (' ' + r['precision'] if r['precision'] else ''):<28} {r['ms_per_crop']:>8.1f} "
              f"{r['speedup_vs_torch']:>8.2f}x {'' if cos is None else f'{cos:.4f}':>8} {r['resident_mb']:>6.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine_info(), "model": args.model, "threads": 1,
                                    "crops": args.crops, "batch": args.batch, "runtimes": rows}, indent=2) + "\n",
                        encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

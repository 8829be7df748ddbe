"""CLIP image tower on CPU: PyTorch (open_clip) vs ONNX Runtime fp32 vs ONNX Runtime int8.

The indexer's ``models.clip_runtime = auto`` picks the int8 ONNX tower on CPU; this is the measurement
behind that default. One thread each (an indexer worker's budget), the same person-shaped crops, the
default architecture (ViT-B-32-SigLIP2-256) with random-initialised weights: no real weights can be
fetched here, and the compute does not depend on the numbers inside. Also reports how close the int8
embeddings stay to fp32 (cosine), the figure that says quantising costs no retrieval quality.

    .venv/bin/python -m bench.clip_runtime [--model ViT-B-32-SigLIP2-256] [--crops 64]
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ViT-B-32-SigLIP2-256")
    ap.add_argument("--crops", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "clip_runtime.json")
    args = ap.parse_args()

    import torch

    from core.vision.clip_embedder import RANDOM_INIT, ClipEmbedder, ClipSpec
    from core.vision.clip_onnx import OnnxClipVision, ensure_vision_onnx

    torch.set_num_threads(1)
    spec = ClipSpec(model=args.model, pretrained=RANDOM_INIT)
    crops = person_like_crops(args.crops)
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:  # exports go here, never into a shared models folder
        torch_model = ClipEmbedder(spec, device="cpu", vision_only=True)
        ms, ref = time_per_crop(lambda c: torch_model.embed_images(c, batch_size=32), crops, args.repeats)
        rows["torch fp32"] = {"ms_per_crop": ms}
        for name, int8 in (("onnx fp32", False), ("onnx int8", True)):
            path = ensure_vision_onnx(spec, Path(tmp), int8)
            onnx = OnnxClipVision(path, threads=1)
            ms, emb = time_per_crop(lambda c, o=onnx: o.embed_images(c, batch_size=32), crops, args.repeats)
            cos = np.sum(emb * ref, axis=1)
            rows[name] = {"ms_per_crop": ms, "cosine_to_torch_min": float(cos.min()),
                          "cosine_to_torch_mean": float(cos.mean())}
    base = rows["torch fp32"]["ms_per_crop"]
    for r in rows.values():
        r["speedup_vs_torch"] = base / r["ms_per_crop"]

    print(f"CLIP image tower {args.model}, 1 thread, {args.crops} crops, best of {args.repeats}")
    print(f"{'runtime':<12} {'ms/crop':>8} {'vs torch':>9} {'min cos':>8}")
    for name, r in rows.items():
        cos = r.get("cosine_to_torch_min")
        print(f"{name:<12} {r['ms_per_crop']:>8.1f} {r['speedup_vs_torch']:>8.2f}x "
              f"{'' if cos is None else f'{cos:.4f}':>8}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine_info(), "model": args.model, "threads": 1,
                                    "crops": args.crops, "runtimes": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

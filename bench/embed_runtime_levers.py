"""Runtime levers of the CLIP image tower on CPU, measured back to back in one process.

Each variant embeds the same person-shaped crops (``bench.clip_runtime.person_like_crops``) with the
default architecture (ViT-B-32-SigLIP2-256, random-initialised: the compute does not depend on the
numbers inside) and is compared with the indexer's current runtime (per-channel dynamic int8, one
thread, batches of 32). Rounds interleave the variants so a neighbour's load on the box hits all of
them alike; the figure kept is each variant's best round. Quality: cosine of each variant's
embeddings to the fp32 ONNX tower's.

    .venv/bin/python -m bench.embed_runtime_levers [--crops 48] [--rounds 3]

Writes its figures under the ``embed_runtime`` key of bench/results/index_levers.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.clip_runtime import person_like_crops
from bench.levers_file import update_levers


def _quantise(fp32: Path, out: Path, *, per_channel: bool, matmul_only: bool = False,
              preprocess: bool = False) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = fp32
    if preprocess:  # ORT's recommended pre-pass: shape inference + graph optimisation before quantising
        from onnxruntime.quantization.shape_inference import quant_pre_process

        src = out.with_suffix(".pre.onnx")
        quant_pre_process(str(fp32), str(src), skip_symbolic_shape=True)
    kw = {"op_types_to_quantize": ["MatMul"]} if matmul_only else {}
    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=per_channel, **kw)
    return out


def _memory_child(path: str, batch: int, arena: bool, crops: int, out: multiprocessing.Queue) -> None:
    """In a fresh process: RSS the tower's session adds, and after embedding at ``batch`` crops per call."""
    import onnxruntime as ort
    import psutil

    from core.vision.clip_onnx import OnnxClipVision

    def rss() -> float:
        return psutil.Process().memory_info().rss / 2**20

    before = rss()
    v = OnnxClipVision(Path(path), threads=1)
    if not arena:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads, opts.enable_cpu_mem_arena = 1, 1, False
        v._session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    loaded = rss()
    v.embed_images(person_like_crops(crops, seed=2), batch)
    out.put({"session_mb": round(loaded - before), "after_embedding_mb": round(rss() - before)})


def memory(path: Path, crops: int = 64) -> dict[str, dict]:
    """Resident memory of one worker's CLIP session by batch size and ORT's CPU arena, each in its own process."""
    ctx = multiprocessing.get_context("spawn")
    rows = {}
    for batch, arena in ((32, True), (16, True), (8, True), (32, False), (8, False)):
        q = ctx.Queue()
        p = ctx.Process(target=_memory_child, args=(str(path), batch, arena, crops, q))
        p.start()
        rows[f"batch {batch}, arena {'on' if arena else 'off'}"] = q.get()
        p.join()
        print(f"batch {batch:>2}, arena {'on ' if arena else 'off'}: {rows[list(rows)[-1]]}")
    return rows


def batch_ab(path: Path, rounds: int = 8, n: int = 32) -> dict:
    """Batch 8 vs 32 per ORT call, alternating which goes first: the median ratio of each pair's times."""
    from core.vision.clip_onnx import OnnxClipVision

    v, crops = OnnxClipVision(path, threads=1), person_like_crops(n, seed=5)
    v.embed_images(crops, 8), v.embed_images(crops, 32)
    times: dict[int, list[float]] = {8: [], 32: []}
    for i in range(rounds):
        for b in ((8, 32) if i % 2 == 0 else (32, 8)):
            t0 = time.perf_counter()
            v.embed_images(crops, b)
            times[b].append(time.perf_counter() - t0)
    ratios = [b32 / b8 for b8, b32 in zip(times[8], times[32], strict=True)]
    out = {f"batch {b} median ms/crop": round(1000 * statistics.median(t) / n, 1) for b, t in times.items()}
    out["median time ratio 32/8"] = round(statistics.median(ratios), 3)
    print(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ViT-B-32-SigLIP2-256")
    ap.add_argument("--crops", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="only memory and batch 8 vs 32 (key embed_runtime_memory)")
    args = ap.parse_args()

    import onnxruntime as ort

    from core.clip_weights import writable_dir
    from core.config import load_config
    from core.vision.clip_embedder import RANDOM_INIT, ClipSpec
    from core.vision.clip_onnx import OnnxClipVision, ensure_vision_onnx

    spec = ClipSpec(model=args.model, pretrained=RANDOM_INIT)
    crops = person_like_crops(args.crops, seed=1)
    cfg = load_config(None, {"models.clip_pretrained": RANDOM_INIT}, environ={})
    # The indexer's own export cache (random-init weights are the same in every process); variants go to a temp dir.
    int8 = ensure_vision_onnx(spec, writable_dir(cfg, "clip-onnx"), int8=True)
    fp32 = int8.parent / "vision.onnx"
    if args.memory:
        update_levers("embed_runtime_memory", {"model": f"{args.model}/{RANDOM_INIT}", "crops": 64,
                                               "rss_growth_per_worker": memory(int8),
                                               "speed_batch_8_vs_32": batch_ab(int8)})
        return
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        shutil.copy(fp32.with_suffix(".json"), tmp / "vision.json")  # the towers' preprocessing settings
        tensor = _quantise(fp32, tmp / "vision.pt.onnx", per_channel=False)
        matmul = _quantise(fp32, tmp / "vision.mm.onnx", per_channel=True, matmul_only=True)
        pre = _quantise(fp32, tmp / "vision.pre.int8.onnx", per_channel=True, preprocess=True)

        def session(path: Path, threads: int = 1, level: str = "all") -> OnnxClipVision:
            v = OnnxClipVision(path, threads=threads)
            if level != "all":  # rebuild the session at another graph-optimisation level
                opts = ort.SessionOptions()
                opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
                opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                                 "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
                v._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            return v

        ref_model = session(fp32)
        base = session(int8)
        # name -> (model, batch size, threads it uses)
        variants: dict[str, tuple[OnnxClipVision, int, int]] = {
            "int8 per-channel, 1 thread, batch 32 (current)": (base, 32, 1),
            "int8 per-channel, batch 8": (base, 8, 1),
            "int8 per-channel, batch 64": (base, 64, 1),
            "int8 per-tensor": (session(tensor), 32, 1),
            "int8 MatMul only": (session(matmul), 32, 1),
            "int8 after quant_pre_process": (session(pre), 32, 1),
            "int8 graph opt basic": (session(int8, level="basic"), 32, 1),
            "int8 graph opt extended": (session(int8, level="extended"), 32, 1),
            "int8 2 threads (per core-second)": (session(int8, threads=2), 32, 2),
            "fp32": (ref_model, 32, 1),
        }
        ref = ref_model.embed_images(crops)
        best = dict.fromkeys(variants, float("inf"))
        cos: dict[str, float] = {}
        for name, (model, batch, _) in variants.items():  # warm-up + quality
            cos[name] = float(np.min(np.sum(model.embed_images(crops, batch) * ref, axis=1)))
        t_pre = float("inf")
        for _ in range(args.rounds):
            for name, (model, batch, _) in variants.items():
                t0 = time.perf_counter()
                model.embed_images(crops, batch)
                best[name] = min(best[name], time.perf_counter() - t0)
            t0 = time.perf_counter()
            base.tower.pixels(crops)
            t_pre = min(t_pre, time.perf_counter() - t0)

    current = next(iter(variants))
    rows = {}
    print(f"{'variant':48} {'ms/crop':>8} {'core-ms':>8} {'vs now':>7} {'min cos':>8}")
    for name, (_, _, threads) in variants.items():
        ms = 1000 * best[name] / len(crops)
        core_ms = ms * threads
        gain = 1000 * best[current] / len(crops) / core_ms
        rows[name] = {"ms_per_crop": round(ms, 2), "core_ms_per_crop": round(core_ms, 2),
                      "speedup_per_core_vs_current": round(gain, 3), "min_cosine_to_fp32": round(cos[name], 5)}
        print(f"{name:48} {ms:>8.1f} {core_ms:>8.1f} {gain:>6.2f}x {cos[name]:>8.4f}")
    pre_ms = 1000 * t_pre / len(crops)
    print(f"preprocessing (pad, PIL bicubic resize, normalise): {pre_ms:.2f} ms/crop")
    update_levers("embed_runtime", {"model": f"{args.model}/{RANDOM_INIT}", "crops": args.crops,
                                    "rounds": args.rounds, "preprocess_ms_per_crop": round(pre_ms, 2),
                                    "variants": rows})


if __name__ == "__main__":
    main()

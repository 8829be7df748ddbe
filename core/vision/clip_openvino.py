"""The CLIP image tower under OpenVINO: int8 weights, bfloat16 arithmetic where the CPU has it.

Why: on a CPU with bfloat16 units (Intel AMX or AVX-512 BF16; AMD Zen 4 and later have the latter),
OpenVINO runs the tower in bf16, and ONNX Runtime has no such path on x86. Measured with
``python -m bench.clip_runtime`` on a 2-core Xeon with AMX, one thread, batches of 8,
ViT-B-32-SigLIP2-256:

- ONNX Runtime int8 (``onnx-int8``, the CPU default): 31.9 ms per crop, 134 MB of session;
- OpenVINO, fp32 weights in bf16: 19.4 ms, but 857 MB (it keeps the file's weights and its bf16 copy);
- OpenVINO, int8 weights in bf16 (this runtime): 21.1 ms, 333 MB; cosine to fp32 >= 0.9995, as int8's.

End to end it made indexing 1.06-1.08x faster for a higher peak (docs/PERFORMANCE.md), so it is a choice
(``models.clip_runtime = openvino``), not what ``auto`` picks. Without bf16 units OpenVINO computes in
fp32, slower than int8. The weights are quantised per output channel (symmetric int8, as
``quantize_dynamic``'s) while activations stay in floating point, which is why the vectors are as close
to fp32 as the int8 runtime's. OpenVINO unpacks them to bf16 when it compiles (storing them as int8
graph constants or as an OpenVINO IR made no difference to the memory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.vision.clip_onnx import cache_path_meta, clip_pixels


def openvino_has_bf16() -> bool:
    """Whether OpenVINO is installed and runs bfloat16 natively on this CPU."""
    try:
        import openvino as ov
    except ImportError:
        return False
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def quantise_weights_int8(src: Path, dst: Path) -> int:
    """Write ``src`` with each 2-d MatMul/Gemm weight stored as int8 behind a DequantizeLinear (per output
    channel, symmetric); returns how many weights were quantised. OpenVINO folds the pattern into its
    fully connected layers."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer if len(init.dims) == 2}
    dequantize = []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        trans_b = node.op_type == "Gemm" and any(a.name == "transB" and a.i == 1 for a in node.attribute)
        name = node.input[1]
        if name not in weights:
            continue
        w = numpy_helper.to_array(weights.pop(name)).astype(np.float32)
        axis = 0 if trans_b else 1  # the output channels: MatMul's B is (in, out), a transposed Gemm's (out, in)
        scale = np.abs(w).max(axis=1 - axis) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.round(w / np.expand_dims(scale, 1 - axis)), -127, 127).astype(np.int8)
        graph.initializer.remove(next(i for i in graph.initializer if i.name == name))
        graph.initializer.extend([numpy_helper.from_array(q, name + "_q"),
                                  numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                                  numpy_helper.from_array(np.zeros(scale.shape, np.int8), name + "_zero")])
        dequantize.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"],
                                           [name + "_dq"], axis=axis))
        node.input[1] = name + "_dq"
    nodes = dequantize + list(graph.node)  # a node's inputs must come first (ONNX nodes are in order)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(dst))
    return len(dequantize)


@dataclass
class OpenVinoClipVision:
    """Image embeddings from the int8-weight export (``vision.w8.onnx``), compiled for this CPU."""

    path: Path
    threads: int = 1

    def __post_init__(self) -> None:
        import openvino as ov

        self.meta = json.loads(cache_path_meta(self.path).read_text(encoding="utf-8"))
        self.dim = int(self.meta["dim"])
        self.identity = str(self.meta["identity"])
        self._size = int(self.meta["size"])
        self._mean = np.asarray(self.meta["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(self.meta["std"], dtype=np.float32).reshape(1, 3, 1, 1)
        self.precision = "bf16" if openvino_has_bf16() else "f32"
        # No pinning: the indexer runs several single-threaded processes that the OS should place.
        compiled = ov.Core().compile_model(str(self.path), "CPU", {
            "INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": self.precision, "ENABLE_CPU_PINNING": False})
        self._request = compiled.create_infer_request()
        self.provider = f"openvino-cpu-{self.precision}"

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        if not crops_bgr:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._request.infer({0: clip_pixels(crops_bgr[i: i + batch_size], self._size, self._mean,
                                                   self._std)})[0].copy()
               for i in range(0, len(crops_bgr), batch_size)]
        x = np.concatenate(out)
        return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)

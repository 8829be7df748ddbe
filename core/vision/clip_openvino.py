"""The CLIP image tower under OpenVINO: int8 weights, bfloat16 arithmetic where the CPU has it.

Why: on a CPU with bfloat16 units (Intel AMX or AVX-512 BF16; AMD Zen 4 and later have the latter),
OpenVINO runs the tower in bf16, and ONNX Runtime has no such path on x86. Measured with
``python -m bench.clip_runtime`` on a 2-core Xeon with AMX, one thread, batches of 8,
ViT-B-32-SigLIP2-256:

- ONNX Runtime int8 (``onnx-int8``, the CPU default): 32.4 ms per crop, 116 MB of session;
- OpenVINO, fp32 weights in bf16: 18.7 ms, but 815 MB (it keeps the file's weights and its bf16 copy);
- OpenVINO, int8 weights in bf16 (this runtime): 22.2 ms, 291 MB; cosine to fp32 >= 0.9995, as int8's.

End to end it made indexing 1.06-1.08x faster for a higher peak (docs/PERFORMANCE.md), so it is a choice
(``models.clip_runtime = openvino``), not what ``auto`` picks. Without bf16 units OpenVINO computes in
fp32, slower than int8. The weights are quantised per output channel (symmetric int8, as
``quantize_dynamic``'s) while activations stay in floating point, which is why the vectors are as close
to fp32 as the int8 runtime's. OpenVINO still builds bf16 weights beside the file's int8 constants
(~160 MB at compile, ~140 MB at the first inference): no weight form or setting tried changed that
(``bench/results/index_levers.json``, ``openvino_memory_2026_12_07b``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.vision.clip_onnx import ExportedTower


def openvino_has_bf16() -> bool:
    """Whether OpenVINO is installed and runs bfloat16 natively on this CPU."""
    try:
        import openvino as ov
    except ImportError:
        return False
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@dataclass
class OpenVinoClipVision:
    """Image embeddings from the int8-weight export (``vision.w8.onnx``), compiled for this CPU."""

    path: Path
    threads: int = 1

    def __post_init__(self) -> None:
        import openvino as ov

        self.tower = ExportedTower.of(self.path)
        self.dim, self.identity = self.tower.dim, self.tower.identity
        self.precision = "bf16" if openvino_has_bf16() else "f32"
        # No pinning: the indexer runs several single-threaded processes that the OS should place.
        compiled = ov.Core().compile_model(str(self.path), "CPU", {
            "INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": self.precision, "ENABLE_CPU_PINNING": False})
        self._request = compiled.create_infer_request()
        self.provider = f"openvino-cpu-{self.precision}"

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        # .copy(): the request reuses its output buffer on the next batch
        return self.tower.embed(crops_bgr, batch_size, lambda px: self._request.infer({0: px})[0].copy())

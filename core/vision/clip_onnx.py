"""The CLIP image tower as ONNX for the CPU indexer: exported once per model, optionally int8.

Why: the indexer embeds thousands of person crops per footage hour, and on CPU the image tower is
most of its cost. Measured on this project's 2-core machine (``python -m bench.clip_runtime``) for
ViT-B-32-SigLIP2-256, one thread: PyTorch ~135 ms/crop, ONNX Runtime fp32 ~118 ms, ONNX Runtime with
per-channel dynamic int8 weights ~49 ms, whose embeddings keep cosine >= 0.999 to fp32. Worker
processes also no longer import torch or hold the text tower, which most of SigLIP's memory is.

On a GPU (``models.device`` / ``index.device`` = cuda) the same export runs under ONNX Runtime's CUDA
execution provider with fp16 weights (``onnx-fp16``: inputs and outputs stay float32, so preprocessing
and the vectors written are the same as on CPU). ``tests/test_clip_device.py`` checks that the vectors of
the requested provider stay comparable to the CPU provider's.

The export runs in a short-lived child process (it needs the full PyTorch model and its weights);
the file is cached under ``<models_dir>/clip-onnx/`` keyed by the model identity, so later runs and
all workers just open it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import FootageSearchError
from core.vision.clip_embedder import ClipSpec, ClipUnavailableError, pad_to_square

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx", "onnx-int8", "onnx-fp16", "openvino")
EXPORT_OPSET = 17
GPU_MIN_BATCH = 256  # crops per ORT call on a GPU: a 5-minute busy video's crops in one or two calls


class OnnxDeviceError(FootageSearchError):
    """The requested device has no ONNX Runtime execution provider on this machine."""


def resolve_runtime(runtime: str, device: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown CLIP runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime
    # Not openvino, even on a CPU with bf16 units: its session holds ~200 MB more than onnx-int8's, for
    # 1.06-1.08x end to end on 2 cores (core/vision/clip_openvino.py).
    return "onnx-fp16" if device.startswith("cuda") else "onnx-int8"


def execution_providers(device: str) -> list:
    """ONNX Runtime providers for ``device`` (cpu, cuda, cuda:N); a GPU that ORT cannot use is an error,
    not a silent fall back to a CPU run 50x slower than the operator asked for."""
    import onnxruntime as ort

    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise OnnxDeviceError(f"device {device!r} asked for, but this onnxruntime has no CUDA provider "
                              "(install onnxruntime-gpu, or index with --device cpu)")
    device_id = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]


def cache_path(spec: ClipSpec, root: Path, int8: bool, fp16: bool = False, weights8: bool = False) -> Path:
    ident = spec.identity
    if spec.config_path:  # a custom architecture: its definition is part of what was exported
        ident += ":" + hashlib.sha256(Path(spec.config_path).expanduser().read_bytes()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ident)[:80]
    digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
    name = ("vision.int8.onnx" if int8 else "vision.fp16.onnx" if fp16 else "vision.w8.onnx" if weights8
            else "vision.onnx")
    return root / f"{slug}-{digest}" / name


def _export(spec: ClipSpec, fp32_path: str, cache_dir: str | None) -> None:
    """Child-process body: load the PyTorch model, export its image tower."""
    import torch

    from core.vision.clip_embedder import ClipEmbedder

    emb = ClipEmbedder(spec, device="cpu", cache_dir=cache_dir, vision_only=True)
    model = emb.torch_model
    cfg = dict(getattr(model.visual, "preprocess_cfg", {}))
    size = cfg.get("size", model.visual.image_size)
    size = size if isinstance(size, int) else int(size[0])

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(pixels)

    dummy = torch.zeros(2, 3, size, size)
    tmp = fp32_path + ".tmp"
    torch.onnx.export(ImageTower().eval(), dummy, tmp, input_names=["pixels"], output_names=["embedding"],
                      dynamic_axes={"pixels": {0: "n"}, "embedding": {0: "n"}}, opset_version=EXPORT_OPSET,
                      dynamo=False)
    os.replace(tmp, fp32_path)
    meta = {"identity": spec.identity, "dim": emb.dim, "size": size,
            "mean": list(cfg.get("mean", (0.5, 0.5, 0.5))), "std": list(cfg.get("std", (0.5, 0.5, 0.5)))}
    Path(fp32_path).with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")


def ensure_vision_onnx(spec: ClipSpec, root: Path, int8: bool, cache_dir: str | None = None,
                       fp16: bool = False, weights8: bool = False) -> Path:
    """The cached ONNX image tower for ``spec``, exporting (and quantising or halving) it first if needed;
    ``weights8``: int8 weights only, for OpenVINO (:mod:`core.vision.clip_openvino`)."""
    from filelock import FileLock

    target = cache_path(spec, root, int8, fp16, weights8)
    fp32 = cache_path(spec, root, False)
    if target.is_file() and fp32.with_suffix(".json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".export.lock")):
        if not fp32.is_file():
            ctx = multiprocessing.get_context("spawn")
            proc = ctx.Process(target=_export, args=(spec, str(fp32), cache_dir))
            proc.start()
            proc.join()
            if proc.exitcode != 0 or not fp32.is_file():
                raise ClipUnavailableError(f"could not export the CLIP image tower of {spec.identity} to ONNX "
                                           f"(exit code {proc.exitcode}); see the log above")
        if int8 and not target.is_file():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_suffix(".tmp.onnx")
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
            os.replace(tmp, target)
        if fp16 and not target.is_file():
            import onnx
            from onnxruntime.transformers.float16 import convert_float_to_float16

            # keep_io_types: float32 in and out, so preprocessing and the stored vectors do not change.
            half = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
            tmp = target.with_suffix(".tmp.onnx")
            onnx.save(half, str(tmp))
            os.replace(tmp, target)
        if weights8 and not target.is_file():
            tmp = target.with_suffix(".tmp.onnx")
            quantise_weights_int8(fp32, tmp)
            os.replace(tmp, target)
    return target


@dataclass
class OnnxClipVision:
    """Image embeddings from an exported tower; same preprocessing as open_clip on padded crops."""

    path: Path
    threads: int = 1
    device: str = "cpu"  # cpu | cuda | cuda:N (see execution_providers)

    def __post_init__(self) -> None:
        import onnxruntime as ort

        self.tower = ExportedTower.of(self.path)
        self.dim, self.identity = self.tower.dim, self.tower.identity
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if self.path.name.endswith(".fp16.onnx"):
            # ORT 1.32's CPU layout pass (level "all") crashes on the fp16 graph; "extended" keeps every
            # fusion the CUDA provider uses.
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        self._session = ort.InferenceSession(str(self.path), sess_options=opts,
                                             providers=execution_providers(self.device))
        self.provider = self._session.get_providers()[0]
        self._run_options = ort.RunOptions()
        if self.provider == "CPUExecutionProvider":
            self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        if self.provider != "CPUExecutionProvider":
            batch_size = max(batch_size, GPU_MIN_BATCH)  # a GPU idles on small batches; a video's crops fill one
        return self.tower.embed(crops_bgr, batch_size,
                                lambda px: self._session.run(None, {"pixels": px}, self._run_options)[0])


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


@dataclass(frozen=True)
class ExportedTower:
    """What an export was made from (``vision.json`` beside it): the model, its vector size and its
    preprocessing, shared by the runtimes that run the export."""

    identity: str
    dim: int
    size: int
    mean: np.ndarray  # (1, 3, 1, 1)
    std: np.ndarray

    @classmethod
    def of(cls, model_path: Path) -> ExportedTower:
        meta = json.loads(cache_path_meta(model_path).read_text(encoding="utf-8"))
        return cls(identity=str(meta["identity"]), dim=int(meta["dim"]), size=int(meta["size"]),
                   mean=np.asarray(meta["mean"], dtype=np.float32).reshape(1, 3, 1, 1),
                   std=np.asarray(meta["std"], dtype=np.float32).reshape(1, 3, 1, 1))

    def pixels(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """open_clip's preprocessing of padded crops: (N, 3, size, size) float32, normalised."""
        from PIL import Image

        # PIL's antialiased bicubic resize is what open_clip's torchvision Resize does on PIL images;
        # a padded square needs no crop, so "shortest" and "squash" resize modes agree.
        batch = np.stack([
            np.asarray(Image.fromarray(pad_to_square(c)[:, :, ::-1]).resize((self.size, self.size),
                                                                             Image.Resampling.BICUBIC))
            for c in crops_bgr
        ]).astype(np.float32) / 255.0
        return (batch.transpose(0, 3, 1, 2) - self.mean) / self.std

    def embed(self, crops_bgr: list[np.ndarray], batch_size: int,
              run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Unit-length vectors of ``crops_bgr``, ``run`` (pixels -> raw vectors) called once per batch."""
        if not crops_bgr:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = np.concatenate([run(self.pixels(crops_bgr[i: i + batch_size]))
                            for i in range(0, len(crops_bgr), batch_size)])
        return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def cache_path_meta(model_path: Path) -> Path:
    """The JSON written beside the fp32 export (shared by its int8 variant)."""
    return model_path.parent / "vision.json"

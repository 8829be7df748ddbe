"""Where an ONNX model runs: the onnxruntime execution provider for a configured device, and the session.

``models.device`` names the device for every model (``cpu``, ``cuda``, ``cuda:N`` or ``auto``). ``auto``
takes the GPU only when this onnxruntime build has the CUDA execution provider *and* the machine has an
NVIDIA device, else the CPU, silently. An explicit ``cuda`` never falls back: without the CUDA provider, or
when onnxruntime could not start it (it then quietly runs on the CPU), the run stops with one line saying
why, because an operator who asked for the GPU would otherwise wait for a CPU-speed index without knowing.

On CUDA the float model is converted to fp16 in memory (inputs and outputs stay float32, so callers do not
change); :class:`OnnxRuntime` says what actually runs, and the indexer records it with every video.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import FootageSearchError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


class DeviceUnavailableError(FootageSearchError, RuntimeError):
    """The configured device cannot run the models (no CUDA provider, no GPU, an unknown device name)."""


@dataclass(frozen=True)
class OnnxRuntime:
    """What a session really runs on: ``cpu`` or ``cuda:N``, and the weights' precision."""

    device: str
    precision: str  # fp32 | fp16 | int8

    @property
    def label(self) -> str:
        """Short form recorded in the index (``cpu-fp32``, ``cuda:0-fp16``)."""
        return f"{self.device}-{self.precision}"


def _has_nvidia_device() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*")) or shutil.which("nvidia-smi") is not None


def resolve_onnx_device(device: str) -> str:
    """``cpu`` or ``cuda:N`` for a configured device; raises :class:`DeviceUnavailableError` for a GPU that
    cannot be used when one was asked for by name."""
    import onnxruntime as ort

    name = (device or "cpu").strip().lower()
    has_cuda_ep = CUDA in ort.get_available_providers()
    if name == "auto":
        return "cuda:0" if has_cuda_ep and _has_nvidia_device() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2] or "0"
        if not index.isdigit():
            raise DeviceUnavailableError(f"models.device {device!r}: expected cpu, cuda, cuda:N or auto")
        if not has_cuda_ep:
            raise DeviceUnavailableError(
                f"models.device is {device!r} but this onnxruntime ({ort.__version__}) has no CUDA execution "
                "provider: install onnxruntime-gpu on a machine with an NVIDIA GPU, or set models.device = cpu")
        return f"cuda:{int(index)}"
    raise DeviceUnavailableError(f"models.device {device!r}: expected cpu, cuda, cuda:N or auto")


def session_options(threads: int):  # -> ort.SessionOptions
    """Options for one worker's session (measured in bench/detect_levers.py)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads > 1:
        # Spinning threads burn a core while waiting for work; with the decoder and other workers
        # sharing the machine that core is better spent on them.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def open_session(model: Path | bytes, device: str, threads: int = 1, fp16_on_gpu: bool = True):
    """An onnxruntime session of ``model`` (a file or a serialised model) on ``device`` (as
    :func:`resolve_onnx_device` resolves it), and what it runs."""
    import onnxruntime as ort

    where = resolve_onnx_device(device)
    opts = session_options(threads)
    source = model if isinstance(model, bytes) else str(model)
    if where == "cpu":
        session = ort.InferenceSession(source, sess_options=opts, providers=[CPU])
        return session, OnnxRuntime("cpu", "fp32")
    gpu = int(where.partition(":")[2])
    precision = "fp32"
    if fp16_on_gpu:
        source, precision = fp16_model(model), "fp16"
    session = ort.InferenceSession(model, sess_options=opts,
                                   providers=[(CUDA, {"device_id": gpu}), CPU])
    if CUDA not in session.get_providers():
        raise DeviceUnavailableError(
            f"models.device asks for {where} but onnxruntime could not start CUDA there (driver, CUDA or cuDNN "
            "libraries missing?): set models.device = cpu, or fix the GPU install")
    return session, OnnxRuntime(where, precision)


def fp16_model(model: Path | bytes) -> bytes:
    """The model with fp16 weights and arithmetic, float32 inputs and outputs (serialised)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    half = convert_float_to_float16(proto, keep_io_types=True)
    return half.SerializeToString()

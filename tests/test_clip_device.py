"""CPU and GPU indexes of the same settings must hold comparable vectors.

The indexer's GPU path runs the exported CLIP image tower in fp16 under ONNX Runtime's CUDA provider;
the CPU path runs it (int8 or fp32) under the CPU provider. Here the requested provider's vectors are
compared with the CPU provider's fp32 vectors of the same crops. The requested device is
``FOOTAGE_SEARCH_TEST_DEVICE`` (default ``cpu``: the same fp16 model and code path, on the CPU provider),
so on a GPU machine ``FOOTAGE_SEARCH_TEST_DEVICE=cuda pytest tests/test_clip_device.py`` checks the real
thing.
"""

import os

import numpy as np
import pytest

from core.loading import load_image_embedder, plan_image_embedder
from core.vision.clip_onnx import OnnxDeviceError, execution_providers, resolve_runtime
from tests.conftest import make_config

DEVICE = os.environ.get("FOOTAGE_SEARCH_TEST_DEVICE", "cpu")


def _crops(n: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    out = []
    for _ in range(n):  # person-shaped: a tall box with smooth shading, like a CCTV crop
        h = int(rng.integers(60, 220))
        w = max(16, int(h * rng.uniform(0.3, 0.5)))
        ramp = np.linspace(0.6, 1.2, h)[:, None, None]
        img = rng.integers(30, 220, size=3)[None, None, :] * ramp + rng.normal(0, 15, size=(h, w, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export for every test here (the fp32 tower is what each variant is made from)."""
    return tmp_path_factory.mktemp("clip-device")


def _embedder(cache, runtime: str, device: str):
    cfg = make_config(cache / "idx", models__cache_dir=str(cache / "cache"), models__clip_runtime=runtime,
                      models__device=device)
    plan = plan_image_embedder(cfg)
    assert plan.runtime == runtime and plan.device == device
    emb, err = load_image_embedder(cfg, plan)
    assert emb is not None, err
    return emb


@pytest.mark.slow  # exports a CLIP model
@pytest.mark.parametrize("runtime", ["onnx-fp16", "onnx-int8"])
def test_requested_provider_vectors_match_the_cpu_provider(cache, runtime):
    crops = _crops()
    cpu = _embedder(cache, "onnx", "cpu")
    assert cpu.provider == "CPUExecutionProvider"
    asked = _embedder(cache, runtime, DEVICE)
    assert asked.provider == ("CUDAExecutionProvider" if DEVICE.startswith("cuda") else "CPUExecutionProvider")
    assert asked.identity == cpu.identity  # the index calls them the same model: they must agree
    ref, got = cpu.embed_images(crops), asked.embed_images(crops, batch_size=5)  # odd batches: the padding path
    assert got.shape == ref.shape and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-3)
    cos = np.sum(ref * got, axis=1)
    assert cos.min() > (0.999 if runtime == "onnx-fp16" else 0.95), cos
    # ...and closer to its own crop's CPU vector than to any other crop's: retrieval sees the same order
    assert np.all(np.argmax(got @ ref.T, axis=1) == np.arange(len(crops)))


def test_auto_runtime_follows_the_device():
    assert resolve_runtime("auto", "cpu") == "onnx-int8"
    assert resolve_runtime("auto", "cuda:1") == "onnx-fp16"
    assert execution_providers("cpu") == ["CPUExecutionProvider"]


def test_a_gpu_this_onnxruntime_cannot_use_is_one_clear_error():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert execution_providers("cuda:1")[0] == ("CUDAExecutionProvider", {"device_id": 1})
        return
    with pytest.raises(OnnxDeviceError, match=r"no CUDA provider.*--device cpu"):
        execution_providers("cuda")

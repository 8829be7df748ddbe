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


@pytest.mark.slow  # exports a CLIP model
def test_openvino_vectors_match_the_fp32_tower(cache):
    """int8 weights with bf16 (or, without bf16 units, fp32) arithmetic: the vectors of the fp32 export,
    crop for crop, as the ONNX Runtime int8 tower's are."""
    crops = _crops()
    ref = _embedder(cache, "onnx", "cpu").embed_images(crops)
    ov_tower = _embedder(cache, "openvino", "cpu")
    assert ov_tower.provider in ("openvino-cpu-bf16", "openvino-cpu-f32")
    got = ov_tower.embed_images(crops, batch_size=5)
    assert got.shape == ref.shape and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-3)
    cos = np.sum(ref * got, axis=1)
    assert cos.min() > 0.95, cos
    assert np.all(np.argmax(got @ ref.T, axis=1) == np.arange(len(crops)))


def test_quantised_weights_are_int8_and_compute_what_the_fp32_graph_does(tmp_path):
    """The weight-only export: every 2-d MatMul/Gemm weight stored as int8 per output channel, and the
    graph (run here by ONNX Runtime) still computes the fp32 graph's outputs to within the rounding."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from core.vision.clip_onnx import quantise_weights_int8

    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal((8, 32)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    src, dst = tmp_path / "fp32.onnx", tmp_path / "w8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    assert quantise_weights_int8(src, dst) == 2
    stored = {i.name: i.data_type for i in onnx.load(str(dst)).graph.initializer}
    assert stored["w1_q"] == stored["w2_q"] == TensorProto.INT8 and "w1" not in stored and "w2" not in stored
    x = rng.standard_normal((4, 16)).astype(np.float32)
    ref, got = (ort.InferenceSession(str(p)).run(None, {"x": x})[0] for p in (src, dst))
    assert np.abs(got - ref).max() < 0.02 * np.abs(ref).max()
    assert not np.array_equal(got, ref)  # int8 weights: rounding shows


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

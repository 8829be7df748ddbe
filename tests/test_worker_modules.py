"""An indexer worker process holds its models and the pipeline, not torch, open_clip or lancedb.

Each worker is a spawned process; every module it imports is resident memory, times the workers. The
ONNX image tower means no worker needs torch (~700 MB), and workers never open the index, so they do
not need lancedb (~90 MB) either (``bench/results/index_levers.json``, ``embed_memory``).
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from core.loading import plan_image_embedder
from indexer import process_pool
from tests.conftest import make_config

HEAVY = ("torch", "open_clip", "torchvision", "lancedb", "transformers", "gradio", "ray")


# Evaluated in the worker: a function of this module would make the worker import this module (and conftest).
PROBE = ("([m for m in {heavy!r} if m in __import__('sys').modules], "
         "type(__import__('indexer.process_pool', fromlist=['_']).{state}.models.embedder).__name__)")


@pytest.mark.parametrize(("runtime", "parent_embeds", "embedder"), [
    ("onnx-int8", False, "OnnxClipVision"),
    ("openvino", False, "OpenVinoClipVision"),
    ("openvino", True, "NoneType"),  # the parent's worker holds the only CLIP session
])
def test_an_onnx_worker_imports_no_torch_and_no_lancedb(tmp_path, runtime, parent_embeds, embedder):
    cfg = make_config(tmp_path / "idx", models__cache_dir=str(tmp_path / "cache"), models__clip_runtime=runtime)
    plan = plan_image_embedder(cfg)  # exports the tiny tower in a child process of its own
    assert plan.runtime == runtime
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=process_pool._init_worker,
                             initargs=(cfg, plan, 1, parent_embeds)) as pool:
        heavy, loaded = pool.submit(eval, PROBE.format(heavy=HEAVY, state="_WorkerState")).result(timeout=300)
    assert loaded == embedder
    assert heavy == []

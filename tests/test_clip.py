"""CLIP plumbing with a tiny random-initialised open_clip model: shapes, runtimes, identities, errors.

No similarity here is asserted to mean anything semantic: the weights are random.
"""

import numpy as np
import pytest

from core.loading import ImageEmbedderPlan, load_image_embedder, plan_image_embedder
from core.vision.clip_embedder import RANDOM_INIT, ClipEmbedder, ClipSpec, ClipUnavailableError, pad_to_square
from tests.conftest import TINY_CLIP, TINY_CLIP_CONFIG, make_config

SPEC = ClipSpec(TINY_CLIP, RANDOM_INIT, config_path=str(TINY_CLIP_CONFIG))


def _crops(n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 255, (int(rng.integers(40, 200)), int(rng.integers(20, 90)), 3), dtype=np.uint8)
            for _ in range(n)]


@pytest.mark.slow  # builds/exports a CLIP model
def test_embeds_images_and_text_as_unit_vectors():
    emb = ClipEmbedder(SPEC)
    assert emb.dim == 32 and emb.identity == "fs-tiny-test/random-init"
    img = emb.embed_images(_crops())
    txt = emb.embed_texts(["a person in a red jacket", "빨간 재킷을 입은 사람"])
    assert img.shape == (5, 32) and txt.shape == (2, 32)
    assert np.allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    assert emb.embed_images([]).shape == (0, 32)


def test_random_init_is_the_same_model_in_every_process():
    a, b = ClipEmbedder(SPEC, vision_only=True), ClipEmbedder(SPEC, vision_only=True)
    crops = _crops(2)
    assert np.allclose(a.embed_images(crops), b.embed_images(crops), atol=1e-6)
    with pytest.raises(RuntimeError, match="vision-only"):
        a.embed_texts(["x"])


@pytest.mark.slow  # builds/exports a CLIP model
def test_onnx_towers_match_pytorch(tmp_path):
    cfg = make_config(tmp_path / "idx", models__cache_dir=str(tmp_path / "cache"), models__clip_runtime="onnx")
    torch_vecs = ClipEmbedder(SPEC, vision_only=True).embed_images(_crops())
    plan = plan_image_embedder(cfg)
    assert plan.runtime == "onnx" and plan.onnx_path.endswith("vision.onnx")
    onnx, err = load_image_embedder(cfg, plan)
    assert not err and onnx.identity == "fs-tiny-test/random-init"
    assert np.abs(onnx.embed_images(_crops()) - torch_vecs).max() < 1e-3
    int8_cfg = make_config(tmp_path / "idx", models__cache_dir=str(tmp_path / "cache"),
                           models__clip_runtime="onnx-int8")
    int8, _ = load_image_embedder(int8_cfg, plan_image_embedder(int8_cfg))
    cos = (int8.embed_images(_crops()) * torch_vecs).sum(axis=1)
    assert cos.min() > 0.95


def test_unavailable_weights_are_reported_not_raised(tmp_path):
    cfg = make_config(tmp_path / "idx", models__cache_dir=str(tmp_path / "cache"),
                      models__clip_checkpoint=str(tmp_path / "absent.pt"))
    plan = plan_image_embedder(cfg)
    assert plan.runtime == "none" and "absent.pt" in plan.error
    assert load_image_embedder(cfg, plan) == (None, plan.error)
    assert load_image_embedder(cfg, ImageEmbedderPlan("none", 32, error="offline"))[1] == "offline"
    with pytest.raises(ClipUnavailableError, match="unknown open_clip model"):
        ClipSpec("no-such-model", "x").embed_dim()


def test_pad_to_square_keeps_the_whole_person():
    tall = np.full((100, 40, 3), 200, np.uint8)
    sq = pad_to_square(tall)
    assert sq.shape == (100, 100, 3) and (sq[:, 30:70] == 200).all() and (sq[:, :30] == 127).all()

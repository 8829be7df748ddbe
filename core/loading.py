"""Loading the detector, colour table and CLIP model from a :class:`Config`, with loud fallbacks.

The indexer and search both call these, so both find the same files and report the same problems.
What a missing model costs and how an admin fixes it is worded in one place, :mod:`core.model_report`
(``footage-search status``, the console's notice, and the one warning line printed here).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.clip_weights import clip_cache, find_clip_weights, hub_reachable, writable_dir
from core.config import Config
from core.model_files import ModelFileError, resolve_colour_table, resolve_detector
from core.vision.clip_embedder import (
    RANDOM_INIT,
    ClipEmbedder,
    ClipSpec,
    ClipUnavailableError,
    resolve_device,
)
from core.vision.clip_onnx import OnnxClipVision, cache_path, ensure_vision_onnx, resolve_runtime
from core.vision.colours import ColourNamer
from core.vision.detector import Detector, MotionBlobDetector, YoloxDetector
from core.vision.detector_input import InputSizer, input_sizes

log = logging.getLogger(__name__)

def load_detector(cfg: Config, *, threads: int = 1, allow_fallback: bool = True) -> Detector:
    try:
        path = resolve_detector(cfg.models)
    except ModelFileError:
        raise
    if path is None:
        if not allow_fallback:
            raise ModelFileError("no person detector weights found (set models.detector_path)")
        return MotionBlobDetector()
    sizer = InputSizer(sizes=input_sizes(cfg.index.detector_input)) if cfg.index.detector_input_adapt else None
    return YoloxDetector(path, input_long_side=cfg.index.detector_input,
                         score_threshold=cfg.index.detector_threshold, threads=threads,
                         device=cfg.models.device, sizer=sizer)


def load_colours(cfg: Config) -> ColourNamer | None:
    path = resolve_colour_table(cfg.models)
    if path is None:
        from core.model_report import colour_table_status

        log.warning("%s", colour_table_status(cfg).line())
        return None
    return ColourNamer(path)


@dataclass
class ClipLoad:
    embedder: ClipEmbedder | None
    spec: ClipSpec
    dim: int
    error: str = ""


def load_clip(cfg: Config, *, vision_only: bool = False) -> ClipLoad:
    """The configured CLIP model, or ``embedder=None`` with the reason (never raises for missing weights)."""
    spec = ClipSpec.from_config(cfg.models)
    dim = spec.embed_dim()
    _offline_unless_reachable(spec, cfg)
    try:
        emb = ClipEmbedder(spec, device=cfg.models.device, cache_dir=clip_cache(cfg), vision_only=vision_only)
        return ClipLoad(emb, spec, dim)
    except ClipUnavailableError as exc:
        error = warn_clip_unavailable(cfg, exc)
        return ClipLoad(None, spec, dim, error=error)


class ImageEmbedder(Protocol):
    identity: str
    dim: int

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class ImageEmbedderPlan:
    """What the indexer's workers should load, decided once in the parent process."""

    runtime: str  # torch | onnx | onnx-int8 | onnx-fp16 | openvino | none
    dim: int
    onnx_path: str = ""
    error: str = ""
    device: str = "cpu"  # the resolved models.device the ONNX session runs on


def plan_image_embedder(cfg: Config) -> ImageEmbedderPlan:
    """Resolve the runtime and, for ONNX, make sure the exported tower exists (exporting it once)."""
    spec = ClipSpec.from_config(cfg.models)
    dim = spec.embed_dim()
    device = resolve_device(cfg.models.device)
    runtime = resolve_runtime(cfg.models.clip_runtime, device)
    if runtime == "torch":
        return ImageEmbedderPlan("torch", dim, device=device)
    offline = _offline_unless_reachable(spec, cfg)
    root = writable_dir(cfg, "clip-onnx")
    variant = {"int8": runtime == "onnx-int8", "fp16": runtime == "onnx-fp16", "weights8": runtime == "openvino"}
    try:
        if not cache_path(spec, root, **variant).is_file() and (offline or spec.checkpoint):
            # The export's child process would die with a page of hub errors: look for the weights first.
            find_clip_weights(spec, clip_cache(cfg))
        path = ensure_vision_onnx(spec, root, cache_dir=clip_cache(cfg), **variant)
    except ClipUnavailableError as exc:
        error = warn_clip_unavailable(cfg, exc)
        return ImageEmbedderPlan("none", dim, error=error, device=device)
    return ImageEmbedderPlan(runtime, dim, onnx_path=str(path), device=device)


def warn_clip_unavailable(cfg: Config, exc: ClipUnavailableError) -> str:
    """Log the one line an operator reads (the why, with its traceback, only at ``-v``); returns the
    short reason that summaries and search notes quote."""
    from core.model_report import clip_status_from_error

    status = clip_status_from_error(cfg, exc)
    log.warning("%s", status.line())
    log.info("why CLIP could not be loaded:", exc_info=exc)
    return status.reason


def load_image_embedder(cfg: Config, plan: ImageEmbedderPlan, threads: int = 1) -> tuple[ImageEmbedder | None, str]:
    """The image embedder a worker uses: ONNX tower, PyTorch vision-only model, or none (with why)."""
    if plan.runtime == "none":
        return None, plan.error
    if plan.runtime == "torch":
        clip = load_clip(cfg, vision_only=True)
        return clip.embedder, clip.error
    if plan.runtime == "openvino":
        from core.vision.clip_openvino import OpenVinoClipVision

        return OpenVinoClipVision(Path(plan.onnx_path), threads=threads), ""
    return OnnxClipVision(Path(plan.onnx_path), threads=threads, device=plan.device), ""


def _offline_unless_reachable(spec: ClipSpec, cfg: Config) -> bool:
    """Switch the hub to offline mode when it cannot be used; returns whether it did."""
    needs_hub = not spec.checkpoint and spec.pretrained not in ("", RANDOM_INIT)
    if needs_hub and (not cfg.models.allow_download or not hub_reachable()):
        _hub_offline()
        return True
    return False


def _hub_offline() -> None:
    """Only what is already in the local cache can load: fail fast instead of retrying for a minute."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # for a hub imported later
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True  # the already-imported hub reads this at call time
    except ImportError:
        pass

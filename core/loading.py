"""Loading the detector, colour table and CLIP model from a :class:`Config`, with loud fallbacks.

The indexer and search both call these, so both find the same files and report the same problems.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.config import Config
from core.model_files import ModelFileError, resolve_colour_table, resolve_detector
from core.vision.clip_embedder import ClipEmbedder, ClipSpec, ClipUnavailableError, resolve_device
from core.vision.clip_onnx import OnnxClipVision, ensure_vision_onnx, resolve_runtime
from core.vision.colours import ColourNamer
from core.vision.detector import Detector, MotionBlobDetector, YoloxDetector

log = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the model hub resolves at all; without this, an offline first run spends a minute in
    Hugging Face's retry loop before admitting there is no network."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        socket.getaddrinfo(HUB_HOST, 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(old)


def load_detector(cfg: Config, *, threads: int = 1, allow_fallback: bool = True) -> Detector:
    try:
        path = resolve_detector(cfg.models)
    except ModelFileError:
        raise
    if path is None:
        if not allow_fallback:
            raise ModelFileError("no person detector weights found (set models.detector_path)")
        return MotionBlobDetector()
    return YoloxDetector(path, input_long_side=cfg.index.detector_input,
                         score_threshold=cfg.index.detector_threshold, threads=threads)


def load_colours(cfg: Config) -> ColourNamer | None:
    path = resolve_colour_table(cfg.models)
    if path is None:
        log.warning("NO COLOUR-NAME TABLE: clothing colours will not be indexed "
                    "(set models.colour_table_path or allow the download)")
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
        emb = ClipEmbedder(spec, device=cfg.models.device, cache_dir=_clip_cache(cfg), vision_only=vision_only)
        return ClipLoad(emb, spec, dim)
    except ClipUnavailableError as exc:
        log.warning("CLIP unavailable: %s", exc)
        return ClipLoad(None, spec, dim, error=str(exc))


class ImageEmbedder(Protocol):
    identity: str
    dim: int

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class ImageEmbedderPlan:
    """What the indexer's workers should load, decided once in the parent process."""

    runtime: str  # torch | onnx | onnx-int8 | none
    dim: int
    onnx_path: str = ""
    error: str = ""


def plan_image_embedder(cfg: Config) -> ImageEmbedderPlan:
    """Resolve the runtime and, for ONNX, make sure the exported tower exists (exporting it once)."""
    spec = ClipSpec.from_config(cfg.models)
    dim = spec.embed_dim()
    runtime = resolve_runtime(cfg.models.clip_runtime, resolve_device(cfg.models.device))
    if runtime == "torch":
        return ImageEmbedderPlan("torch", dim)
    _offline_unless_reachable(spec, cfg)
    try:
        path = ensure_vision_onnx(spec, writable_dir(cfg, "clip-onnx"), int8=runtime == "onnx-int8",
                                  cache_dir=_clip_cache(cfg))
    except ClipUnavailableError as exc:
        log.warning("CLIP unavailable: %s", exc)
        return ImageEmbedderPlan("none", dim, error=str(exc))
    return ImageEmbedderPlan(runtime, dim, onnx_path=str(path))


def load_image_embedder(cfg: Config, plan: ImageEmbedderPlan, threads: int = 1) -> tuple[ImageEmbedder | None, str]:
    """The image embedder a worker uses: ONNX tower, PyTorch vision-only model, or none (with why)."""
    if plan.runtime == "none":
        return None, plan.error
    if plan.runtime == "torch":
        clip = load_clip(cfg, vision_only=True)
        return clip.embedder, clip.error
    return OnnxClipVision(Path(plan.onnx_path), threads=threads), ""


def writable_dir(cfg: Config, sub: str) -> Path:
    """``models.cache_dir/sub``, created if needed (``models_dir`` is never written to)."""
    target = Path(cfg.models.cache_dir).expanduser() / sub
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"models.cache_dir is not writable: {target} ({exc})") from exc
    return target


def _offline_unless_reachable(spec: ClipSpec, cfg: Config) -> None:
    needs_hub = not spec.checkpoint and spec.pretrained != "random-init"
    if needs_hub and (not cfg.models.allow_download or not hub_reachable()):
        _hub_offline()


def _hub_offline() -> None:
    """Only what is already in the local cache can load: fail fast instead of retrying for a minute."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # for a hub imported later
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True  # the already-imported hub reads this at call time
    except ImportError:
        pass


def _clip_cache(cfg: Config) -> str | None:
    try:
        return str(writable_dir(cfg, "open_clip"))
    except ModelFileError:
        return None  # open_clip falls back to the Hugging Face cache

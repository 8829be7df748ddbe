"""Loading the detector, colour table and CLIP model from a :class:`Config`, with loud fallbacks.

The indexer and search both call these, so both find the same files and report the same problems.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from footage_search.config import Config
from footage_search.model_files import ModelFileError, resolve_colour_table, resolve_detector
from footage_search.vision.clip_embedder import ClipEmbedder, ClipSpec, ClipUnavailableError
from footage_search.vision.colours import ColourNamer
from footage_search.vision.detector import Detector, MotionBlobDetector, YoloxDetector

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
    needs_hub = not spec.checkpoint and spec.pretrained != "random-init"
    if needs_hub and (not cfg.models.allow_download or not hub_reachable()):
        _hub_offline()
    try:
        emb = ClipEmbedder(spec, device=cfg.models.device, cache_dir=_clip_cache(cfg), vision_only=vision_only)
        return ClipLoad(emb, spec, dim)
    except ClipUnavailableError as exc:
        log.warning("CLIP unavailable: %s", exc)
        return ClipLoad(None, spec, dim, error=str(exc))


def _hub_offline() -> None:
    """Only what is already in the local cache can load: fail fast instead of retrying for a minute."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # for a hub imported later
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True  # the already-imported hub reads this at call time
    except ImportError:
        pass


def _clip_cache(cfg: Config) -> str | None:
    d = os.path.expanduser(cfg.models.models_dir)
    target = os.path.join(d, "open_clip")
    try:
        os.makedirs(target, exist_ok=True)
    except OSError:
        return None  # read-only models_dir: open_clip falls back to the Hugging Face cache
    return target

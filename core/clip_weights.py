"""Where CLIP weights and the model caches are, without loading any model.

Both :mod:`core.loading` (which loads models) and :mod:`core.model_report` (which words what is missing)
need these answers; keeping them here lets the report sit beside loading instead of importing it.
"""

from __future__ import annotations

import multiprocessing
import socket
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from core.config import Config
from core.model_files import ModelFileError
from core.vision.clip_embedder import RANDOM_INIT, ClipSpec, local_weights

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


def find_clip_weights(spec: ClipSpec, cache_dir: str | None) -> str:
    """:func:`~core.vision.clip_embedder.local_weights`, in a child process when this one has not
    imported open_clip: the import costs ~700 MB and seconds that e.g. the indexer's parent never needs."""
    if spec.checkpoint or spec.pretrained in ("", RANDOM_INIT) or "open_clip" in sys.modules:
        return local_weights(spec, cache_dir)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(local_weights, spec, cache_dir).result()


def writable_dir(cfg: Config, sub: str) -> Path:
    """``models.cache_dir/sub``, created if needed (``models_dir`` is never written to)."""
    target = Path(cfg.models.cache_dir).expanduser() / sub
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"models.cache_dir is not writable: {target} ({exc})") from exc
    return target


def clip_cache(cfg: Config) -> str | None:
    try:
        return str(writable_dir(cfg, "open_clip"))
    except ModelFileError:
        return None  # open_clip falls back to the Hugging Face cache

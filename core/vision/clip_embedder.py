"""CLIP image and text embeddings through open_clip.

The model is named exactly as open_clip names it (``models.clip_model`` + ``models.clip_pretrained``,
downloaded and cached by open_clip on first use), or loaded from a local checkpoint file
(``models.clip_checkpoint``) for air-gapped installs. ``clip_pretrained = "random-init"`` builds the
architecture with random weights: only the test-suite uses that, to exercise the plumbing; its
similarities mean nothing, and it says so in a warning.

Person crops are padded to a square before the model's own transform: CLIP transforms either centre
crop (cutting off the head and feet of a tall crop) or squash (distorting the body), and both hurt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import ModelConfig
from core.errors import FootageSearchError

log = logging.getLogger(__name__)

RANDOM_INIT = "random-init"


class ClipUnavailableError(FootageSearchError, RuntimeError):
    """The configured CLIP weights cannot be loaded (offline, missing file, unknown model...).

    Its message is one short clause naming what is missing; :mod:`core.loading` words it for the reader
    (what still works, which setting fixes it)."""


class ClipWeightsMissingError(ClipUnavailableError):
    """The weights are not on this machine (not in the cache, or the checkpoint file is absent)."""


@dataclass(frozen=True)
class ClipSpec:
    model: str
    pretrained: str = ""
    checkpoint: str = ""
    tokenizer: str = ""  # optional local Hugging Face tokenizer folder (air-gapped SigLIP2)
    config_path: str = ""  # optional open_clip model-config JSON registering ``model``

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> ClipSpec:
        return cls(model=cfg.clip_model, pretrained=cfg.clip_pretrained, checkpoint=cfg.clip_checkpoint,
                   config_path=cfg.clip_config_path)

    def register(self) -> None:
        """Make a custom architecture known to open_clip (in this process)."""
        if self.config_path:
            import open_clip

            path = Path(self.config_path).expanduser()
            if not path.is_file():
                raise ClipUnavailableError(f"CLIP model config not found: {path}")
            open_clip.add_model_config(path)

    @property
    def identity(self) -> str:
        """A stable name for the weights: two indexes with the same identity have comparable vectors."""
        if self.checkpoint:
            return f"{self.model}/file:{_file_digest(Path(self.checkpoint).expanduser())}"
        return f"{self.model}/{self.pretrained or RANDOM_INIT}"

    def embed_dim(self) -> int:
        """The vector size, read from the architecture's config file: importing open_clip (and torch)
        costs ~700 MB of memory, which the indexer's parent process does not otherwise need."""
        return int(self.model_config()["embed_dim"])

    def model_config(self) -> dict:
        if self.config_path:
            path = Path(self.config_path).expanduser()
            if not path.is_file():
                raise ClipUnavailableError(f"CLIP model config not found: {path}")
            if path.stem != self.model:
                raise ClipUnavailableError(f"CLIP model config {path} defines {path.stem!r}, not {self.model!r}")
            return json.loads(path.read_text(encoding="utf-8"))
        spec = importlib.util.find_spec("open_clip")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(folder) / "model_configs" / f"{self.model}.json"
            if candidate.is_file():
                return json.loads(candidate.read_text(encoding="utf-8"))
        raise ClipUnavailableError(f"unknown open_clip model {self.model!r}; see open_clip.list_models() for names")


def _file_digest(path: Path) -> str:
    """Short content digest of a checkpoint (head, tail and size: full hashing of GBs is slow)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read(1 << 20)
    except OSError as exc:
        raise ClipUnavailableError(f"CLIP checkpoint unreadable: {path} ({exc})") from exc
    return hashlib.sha256(head + tail + str(size).encode()).hexdigest()[:12]


def local_weights(spec: ClipSpec, cache_dir: str | None) -> str:
    """Where the weights of ``spec`` are on this machine (a file, or ``random-init``), without any network.

    Raises :class:`ClipUnavailableError` naming what is missing. Imports open_clip (and torch) for a
    hub model: run it where those are loaded anyway, or in a child process (:mod:`core.loading`).
    """
    if spec.checkpoint:
        path = Path(spec.checkpoint).expanduser()
        if not path.is_file():
            raise ClipWeightsMissingError(f"the CLIP checkpoint file {path} (models.clip_checkpoint) does not exist")
        return str(path)
    if not spec.pretrained or spec.pretrained == RANDOM_INIT:
        return RANDOM_INIT
    import open_clip.constants as oc_constants
    import open_clip.pretrained as oc_pretrained

    spec.register()
    cfg = oc_pretrained.get_pretrained_cfg(spec.model, spec.pretrained)
    if not cfg:
        raise ClipUnavailableError(f"open_clip has no weights {spec.pretrained!r} for {spec.model} "
                                   "(models.clip_model / models.clip_pretrained)")
    if cfg.get("file"):
        return str(cfg["file"])
    if cfg.get("hf_hub"):
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        # As open_clip reads it: "org/repo/file" names one file, "org/repo/" its default file names; either
        # way it prefers a safetensors twin when there is one.
        repo, filename = os.path.split(cfg["hf_hub"])
        if not filename:
            names = [oc_constants.HF_SAFE_WEIGHTS_NAME, oc_constants.HF_WEIGHTS_NAME]
        elif filename.endswith((".bin", ".pth")):
            names = [filename[:-4] + ".safetensors", filename]
        else:
            names = [filename]
        try:
            for name in names[:-1]:
                try:
                    return hf_hub_download(repo, name, cache_dir=cache_dir, local_files_only=True)
                except LocalEntryNotFoundError:
                    continue
            return hf_hub_download(repo, names[-1], cache_dir=cache_dir, local_files_only=True)
        except LocalEntryNotFoundError as exc:
            where = cache_dir or "the Hugging Face cache"
            raise ClipWeightsMissingError(
                f"the CLIP weights {spec.identity} (Hugging Face {repo}) are not in {where}") from exc
    url = cfg.get("url", "")
    target = Path(cache_dir or Path("~/.cache/clip").expanduser()) / os.path.basename(url)
    if not target.is_file():
        raise ClipWeightsMissingError(f"the CLIP weights {spec.identity} ({url}) are not in {target.parent}")
    return str(target)


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched to offline mode in this process (see core.loading)."""
    try:
        import huggingface_hub.constants as hub_constants
    except ImportError:
        return True
    return bool(hub_constants.HF_HUB_OFFLINE)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    # Asking torch costs its import (~700 MB resident); without an NVIDIA device node there is no answer
    # but "cpu" anyway.
    if not any(Path("/dev").glob("nvidia[0-9]*")) and not shutil.which("nvidia-smi"):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pad_to_square(image: np.ndarray, fill: int = 127) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(h, w)
    out = np.full((side, side, 3), fill, dtype=np.uint8)
    y, x = (side - h) // 2, (side - w) // 2
    out[y: y + h, x: x + w] = image
    return out


class ClipEmbedder:
    """Loads one open_clip model and embeds BGR crops and text into unit vectors."""

    def __init__(self, spec: ClipSpec, device: str = "auto", cache_dir: str | None = None,
                 vision_only: bool = False):
        import open_clip
        import torch

        spec.register()
        if hub_offline():
            # Offline, open_clip would log an error and raise a chain of hub errors: say what is missing.
            local_weights(spec, cache_dir)
        self.spec = spec
        self.device = resolve_device(device)
        self.dim = spec.embed_dim()
        pretrained: str | None = spec.checkpoint or spec.pretrained or None
        if pretrained == RANDOM_INIT:
            log.warning("CLIP %s has RANDOM weights (testing only): similarities are meaningless", spec.model)
            pretrained = None
            torch.manual_seed(0)  # the same random model in every process, so vectors are comparable
        if spec.checkpoint and not Path(spec.checkpoint).expanduser().is_file():
            raise ClipUnavailableError(f"CLIP checkpoint file not found: {spec.checkpoint}")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                spec.model, pretrained=str(Path(pretrained).expanduser()) if spec.checkpoint else pretrained,
                device=self.device, cache_dir=cache_dir,
            )
        except Exception as exc:  # open_clip raises many kinds (HTTP, RuntimeError, KeyError...)
            raise ClipUnavailableError(
                f"cannot load CLIP {spec.identity}: {type(exc).__name__}: {exc}"
            ) from exc
        model.eval()
        if vision_only:
            # The indexer never embeds text; SigLIP's text tower is most of the model's memory.
            for attr in ("text", "transformer", "token_embedding"):
                if hasattr(model, attr):
                    setattr(model, attr, None)
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = None if vision_only else self._load_tokenizer(open_clip)
        self._torch = torch

    def _load_tokenizer(self, open_clip):
        try:
            if self.spec.tokenizer:
                from open_clip.tokenizer import HFTokenizer

                return HFTokenizer(self.spec.tokenizer)
            return open_clip.get_tokenizer(self.spec.model)
        except Exception as exc:
            raise ClipUnavailableError(f"cannot load the tokenizer of {self.spec.model}: {exc}") from exc

    @property
    def identity(self) -> str:
        return self.spec.identity

    @property
    def torch_model(self):  # the open_clip module, for exporters
        return self._model

    def embed_images(self, crops_bgr: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        from PIL import Image

        if not crops_bgr:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        torch = self._torch
        for lo in range(0, len(crops_bgr), batch_size):
            batch = [
                self._preprocess(Image.fromarray(pad_to_square(c)[:, :, ::-1]))
                for c in crops_bgr[lo: lo + batch_size]
            ]
            with torch.inference_mode():
                feats = self._model.encode_image(torch.stack(batch).to(self.device))
            out.append(feats.float().cpu().numpy())
        return _normalise(np.concatenate(out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if self._tokenizer is None:
            raise RuntimeError("this embedder was loaded vision-only")
        torch = self._torch
        with torch.inference_mode():
            tokens = self._tokenizer(texts).to(self.device)
            feats = self._model.encode_text(tokens)
        return _normalise(feats.float().cpu().numpy())


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)

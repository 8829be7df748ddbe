"""Finding model files on disk, or fetching them once with a checksum check.

Lookup order for each file: the path set in config, then ``models.models_dir`` (read only), then
``models.cache_dir``; if still missing and ``models.allow_download`` is true, the file is downloaded
from a pinned URL into ``models.cache_dir`` and its SHA-256 is checked before use. Air-gapped
installs copy the files into ``models_dir`` (or point the config at them) and set
``allow_download = false``.

CLIP weights are not handled here: open_clip downloads and caches them itself by model name and
pretrained tag, or loads a local checkpoint file (see :mod:`core.vision.clip_embedder`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.config import ModelConfig
from core.errors import FootageSearchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteFile:
    folder: str
    name: str
    url: str
    sha256: str


# YOLOX-Nano exported by YOLOX's own export_onnx.py from the official 0.1.1rc0 checkpoint
# (Apache-2.0); pinned to a commit so the checksum can never drift.
YOLOX_NANO_FIXED = RemoteFile(
    folder="yolox_nano_coco",
    name="yolox_nano.onnx",
    url="https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/"
        "3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx",
    sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
)
YOLOX_NANO_DYNAMIC_NAME = "yolox_nano_dynamic.onnx"

# The colour-name table as the authors shipped it with the 2009 paper's code (MATLAB file).
W2C_MAT = RemoteFile(
    folder="colour_names_w2c",
    name="w2c.mat",
    url="https://github.com/hailsham/Animal-Recongniton/raw/"
        "cfbb0f7bab071ffb2650b930480108c65d419902/w2c.mat",
    sha256="97b1f0ecd0fbecd122de319eacf3b5e23293defb06c40aa37a0446fb11d9cf45",
)
W2C_NPY_NAME = "w2c.npy"


class ModelFileError(FootageSearchError, RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    """SHA-256 of a whole file, read in chunks (model files and videos are too big to hold)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def search_dirs(cfg: ModelConfig) -> list[Path]:
    """Where model files are looked for, in order."""
    dirs = [Path(cfg.models_dir).expanduser(), Path(cfg.cache_dir).expanduser()]
    return list(dict.fromkeys(dirs))


def _find(cfg: ModelConfig, folder: str, name: str) -> Path | None:
    for d in search_dirs(cfg):
        for candidate in (d / folder / name, d / name):
            if candidate.is_file():
                return candidate
    return None


def download(remote: RemoteFile, dest_dir: Path) -> Path:
    """Fetch ``remote`` into ``dest_dir/folder`` atomically, refusing a checksum mismatch."""
    target = dest_dir / remote.folder / remote.name
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", remote.url)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(remote.url, timeout=60) as resp:
                shutil.copyfileobj(resp, tmp)
        except OSError as exc:
            os.unlink(tmp.name)
            raise ModelFileError(f"could not download {remote.url}: {exc}") from exc
    digest = sha256_file(Path(tmp.name))
    if digest != remote.sha256:
        os.unlink(tmp.name)
        raise ModelFileError(f"checksum mismatch for {remote.url}: got {digest}, expected {remote.sha256}")
    os.replace(tmp.name, target)
    return target


def make_dynamic_yolox(fixed: Path, dest: Path) -> Path:
    """Re-declare the fixed 416x416 YOLOX export with symbolic H/W so any multiple of 32 runs.

    The graph itself has no fixed shape constants (Resize by scale, Reshape to [1,85,-1]); only the
    declared I/O shapes and cached intermediate shapes pin it to 416.
    """
    import onnx

    model = onnx.load(str(fixed))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "num_anchors"
    del model.graph.value_info[:]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, dest)
    return dest


def find_detector(cfg: ModelConfig) -> Path | None:
    """The YOLOX-Nano file on this machine (dynamic-shape preferred), without downloading or converting."""
    if cfg.detector_path:
        p = Path(cfg.detector_path).expanduser()
        if not p.is_file():
            raise ModelFileError(f"models.detector_path points to a missing file: {p}")
        return p
    return (_find(cfg, YOLOX_NANO_FIXED.folder, YOLOX_NANO_DYNAMIC_NAME)
            or _find(cfg, YOLOX_NANO_FIXED.folder, YOLOX_NANO_FIXED.name))


def find_colour_table(cfg: ModelConfig) -> Path | None:
    """``w2c.npy`` (or the authors' ``w2c.mat``) on this machine, without downloading or converting."""
    if cfg.colour_table_path:
        p = Path(cfg.colour_table_path).expanduser()
        if not p.is_file():
            raise ModelFileError(f"models.colour_table_path points to a missing file: {p}")
        return p
    return _find(cfg, W2C_MAT.folder, W2C_NPY_NAME) or _find(cfg, W2C_MAT.folder, W2C_MAT.name)


def resolve_detector(cfg: ModelConfig) -> Path | None:
    """Path to YOLOX-Nano weights (dynamic-shape file preferred), or None if none can be had."""
    found = find_detector(cfg)
    if found is not None and (cfg.detector_path or found.name == YOLOX_NANO_DYNAMIC_NAME):
        return found
    fixed = found
    if fixed is None and cfg.allow_download:
        try:
            fixed = download(YOLOX_NANO_FIXED, Path(cfg.cache_dir).expanduser())
        except ModelFileError as exc:
            log.warning("%s", exc)
    if fixed is None:
        return None
    try:
        dest = Path(cfg.cache_dir).expanduser() / YOLOX_NANO_FIXED.folder / YOLOX_NANO_DYNAMIC_NAME
        return make_dynamic_yolox(fixed, dest)
    except (ImportError, OSError, ValueError) as exc:  # the fixed 416 file still works, less well
        log.warning("could not make a dynamic-shape detector (%s); using the fixed 416x416 file", exc)
        return fixed


def resolve_colour_table(cfg: ModelConfig) -> Path | None:
    """Path to ``w2c.npy``, converting the authors' ``w2c.mat`` if that is what we have."""
    found = find_colour_table(cfg)
    if found is not None and (cfg.colour_table_path or found.name == W2C_NPY_NAME):
        return found
    mat = found
    if mat is None and cfg.allow_download:
        try:
            mat = download(W2C_MAT, Path(cfg.cache_dir).expanduser())
        except ModelFileError as exc:
            log.warning("%s", exc)
    if mat is None:
        return None
    import numpy as np
    import scipy.io

    table = scipy.io.loadmat(str(mat))["w2c"].astype(np.float32)
    out = Path(cfg.cache_dir).expanduser() / W2C_MAT.folder / W2C_NPY_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, table)
    return out

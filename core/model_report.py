"""Which models this install can use, worded for the operator: ``footage-search status``, the console's
notice, and the one warning line the loaders print.

Each model gets a :class:`ModelStatus`: loaded (its file is here and opens), missing (nothing to use
in its place), or fallback (a weaker substitute runs); for the last two, what still works and the
setting or command that fixes it. Nothing here downloads: a report describes this machine as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from core.clip_weights import clip_cache, find_clip_weights, hub_reachable
from core.config import Config
from core.model_files import (
    W2C_MAT,
    W2C_NPY_NAME,
    YOLOX_NANO_DYNAMIC_NAME,
    YOLOX_NANO_FIXED,
    ModelFileError,
    find_colour_table,
    find_detector,
)
from core.vision.clip_embedder import RANDOM_INIT, ClipSpec, ClipUnavailableError, ClipWeightsMissingError

LOADED, MISSING, FALLBACK = "loaded", "missing", "fallback"

DETECTOR, COLOUR_TABLE, CLIP = "person detector", "colour-name table", "CLIP"

CLIP_LOSS = ("searches still match colours, carried objects, hair, direction, time and place, but not "
             "appearance (no CLIP similarity for descriptions, photos or 'more like this'); new sightings "
             "are indexed without CLIP vectors")


@dataclass(frozen=True)
class ModelStatus:
    """One model's state on this machine, and what an admin does about it."""

    model: str  # DETECTOR | COLOUR_TABLE | CLIP
    state: str  # LOADED | MISSING | FALLBACK
    source: str  # the file, or the model's name
    reason: str = ""  # why it is not loaded (short; quoted in index summaries and search notes)
    effect: str = ""  # what still works without it
    fix: str = ""  # the config key or command that fixes it

    @property
    def ok(self) -> bool:
        return self.state == LOADED

    def line(self) -> str:
        """The one line an operator reads."""
        if self.ok:
            return f"{self.model}: loaded ({self.source})"
        return f"{self.model} {self.state}: {self.reason}. {_cap(self.effect)}. To fix: {self.fix}."

    def to_dict(self) -> dict:
        return {**asdict(self), "line": self.line()}


def model_report(cfg: Config) -> list[ModelStatus]:
    """Detector, colour table and CLIP, in that order (for ``status`` and the console's notice)."""
    return [detector_status(cfg), colour_table_status(cfg), clip_status(cfg)]


def unavailable_lines(cfg: Config) -> list[str]:
    """One line per model that is missing or on a fallback (nothing when all load)."""
    return [m.line() for m in model_report(cfg) if not m.ok]


def detector_status(cfg: Config) -> ModelStatus:
    m = cfg.models
    try:
        path = find_detector(m)
    except ModelFileError as exc:
        return ModelStatus(DETECTOR, MISSING, m.detector_path, reason=str(exc),
                           effect="`index` and photo searches stop with this error",
                           fix="point models.detector_path at the YOLOX-Nano ONNX file, or clear it")
    if path is None:
        return ModelStatus(
            DETECTOR, FALLBACK, "motion blobs", reason=f"no YOLOX-Nano file in {_dirs(cfg, YOLOX_NANO_FIXED.folder)}",
            effect="indexing finds people by movement only: no carried objects, and people standing still or "
                   "in groups are missed",
            fix=f"copy {YOLOX_NANO_DYNAMIC_NAME} (or {YOLOX_NANO_FIXED.name}) into "
                f"{Path(m.models_dir).expanduser() / YOLOX_NANO_FIXED.folder}/ or set models.detector_path"
                + _download_hint(cfg, "github.com") + "; then `footage-search index --rebuild` redoes footage indexed "
                "without it",
        )
    try:
        from core.vision.detector import YoloxDetector

        YoloxDetector(path, input_long_side=cfg.index.detector_input, score_threshold=cfg.index.detector_threshold)
    except Exception as exc:  # onnxruntime raises its own kinds for a damaged or foreign file
        return ModelStatus(DETECTOR, MISSING, str(path), reason=f"{path} does not open ({type(exc).__name__})",
                           effect="`index` and photo searches stop with an error",
                           fix="replace the file with the YOLOX-Nano ONNX export or set models.detector_path")
    return ModelStatus(DETECTOR, LOADED, str(path))


def colour_table_status(cfg: Config) -> ModelStatus:
    m = cfg.models
    effect = ("clothing colours are not indexed, so colour words match nothing in new sightings, and photo "
              "searches cannot read the person's colours")
    try:
        path = find_colour_table(m)
    except ModelFileError as exc:
        return ModelStatus(COLOUR_TABLE, MISSING, m.colour_table_path, reason=str(exc), effect=effect,
                           fix="point models.colour_table_path at w2c.npy, or clear it")
    if path is None:
        return ModelStatus(
            COLOUR_TABLE, MISSING, W2C_NPY_NAME, reason=f"no {W2C_NPY_NAME} in {_dirs(cfg, W2C_MAT.folder)}",
            effect=effect,
            fix=f"copy {W2C_NPY_NAME} (or {W2C_MAT.name}) into {Path(m.models_dir).expanduser() / W2C_MAT.folder}/ "
                "or set models.colour_table_path" + _download_hint(cfg, "github.com")
                + "; then `footage-search index --rebuild` redoes footage indexed without it",
        )
    if path.suffix == ".npy":
        try:
            from core.vision.colours import ColourNamer

            ColourNamer(path)
        except Exception as exc:  # numpy raises several kinds for a damaged file
            return ModelStatus(COLOUR_TABLE, MISSING, str(path), reason=f"{path} does not open ({exc})",
                               effect=effect, fix=f"replace {path} with the w2c.npy table")
    return ModelStatus(COLOUR_TABLE, LOADED, str(path))


def clip_status(cfg: Config) -> ModelStatus:
    """Whether CLIP's weights are on this machine (the model itself is not loaded: seconds and ~1 GB)."""
    spec = ClipSpec.from_config(cfg.models)
    try:
        spec.embed_dim()  # an unknown model name fails here, before any weights are looked for
        found = find_clip_weights(spec, clip_cache(cfg))
    except ClipUnavailableError as exc:
        return clip_status_from_error(cfg, exc)
    if found == RANDOM_INIT:
        return ModelStatus(CLIP, FALLBACK, _name(spec),
                           reason="random weights (models.clip_pretrained = random-init, for tests only): CLIP "
                                  "similarities mean nothing", effect=CLIP_LOSS.split(", but")[0],
                           fix="set models.clip_pretrained to a real tag or models.clip_checkpoint to a file")
    return ModelStatus(CLIP, LOADED, f"{_name(spec)}: {found}")


def clip_status_from_error(cfg: Config, exc: ClipUnavailableError) -> ModelStatus:
    """The status of a CLIP model that could not be found or loaded, with what to do about it."""
    m = cfg.models
    spec = ClipSpec.from_config(m)
    reason = str(exc)
    then = "; then `footage-search index --embeddings-only` adds the missing vectors"
    cache = clip_cache(cfg) or "the Hugging Face cache"
    if not isinstance(exc, ClipWeightsMissingError):
        fix = "check models.clip_model, models.clip_pretrained and models.clip_checkpoint (`-v` shows the details)"
    elif spec.checkpoint:
        fix = "point models.clip_checkpoint at the open_clip checkpoint file (or clear it to use the model hub)"
    elif not m.allow_download:
        reason += " and models.allow_download = false"
        fix = (f"copy the weights into {cache} (from a machine where `footage-search index` downloaded them) "
               "or set models.clip_checkpoint to a local file")
    elif not hub_reachable():
        reason += " and huggingface.co cannot be reached"
        fix = (f"run `footage-search index` once with network access, or copy the weights into {cache}, "
               "or set models.clip_checkpoint to a local file")
    else:
        return ModelStatus(CLIP, MISSING, _name(spec), reason=reason + " yet", effect=CLIP_LOSS,
                           fix="nothing: they are downloaded from huggingface.co the next time CLIP is used")
    return ModelStatus(CLIP, MISSING, _name(spec), reason=reason, effect=CLIP_LOSS, fix=fix + then)


def _name(spec: ClipSpec) -> str:
    """The model as configured (``spec.identity`` reads a checkpoint, which may be the missing thing)."""
    return f"{spec.model}/{spec.checkpoint or spec.pretrained or RANDOM_INIT}"


def _dirs(cfg: Config, folder: str) -> str:
    from core.model_files import search_dirs

    return " or ".join(str(d / folder) for d in search_dirs(cfg.models))


def _download_hint(cfg: Config, host: str) -> str:
    if cfg.models.allow_download:
        return f" (it is downloaded on first use when {host} can be reached)"
    return f" (or set models.allow_download = true where {host} can be reached)"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

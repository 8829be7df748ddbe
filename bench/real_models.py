"""The real model files a benchmark times or scores, found the way ``make`` finds them, and required.

Without the detector the indexer falls back to motion blobs, and without the colour-name table it names no
colours. It warns once and the run still finishes. The result describes another pipeline: on the 1 h real
archive it ran twice as fast with a third of the sightings. That is easy to miss in a table of figures. So a
benchmark that reports indexing speed or retrieval quality stops with one line, unless it was asked to time
the fallback on purpose.

The models folder is ``FOOTAGE_SEARCH_MODELS_MODELS_DIR`` when set (the Makefile exports it), else
``../shared/models`` beside the checkout. A worktree elsewhere (``/tmp/wt``) has no ``../shared``, so there the
variable is what finds the models.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config import Config
from core.model_report import colour_table_status, detector_status

MODELS_ENV = "FOOTAGE_SEARCH_MODELS_MODELS_DIR"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def models_dir(environ: dict[str, str] | None = None) -> Path | None:
    """The folder of real model files: the environment's, else ``../shared/models`` if it exists."""
    env = (os.environ if environ is None else environ).get(MODELS_ENV)
    if env:
        return Path(env)
    return SHARED_MODELS if SHARED_MODELS.exists() else None


def require_real_models(cfg: Config, fallback_flag: str | None = None) -> None:
    """SystemExit naming the first of the detector and the colour table that would not load under ``cfg``;
    ``fallback_flag``: the benchmark's option that times the fallback on purpose, named in the message."""
    for status in (detector_status(cfg), colour_table_status(cfg)):
        if not status.ok:
            on_purpose = f", or pass {fallback_flag} to time the fallback" if fallback_flag else ""
            raise SystemExit(f"benchmark stopped: the {status.model} is {status.state} ({status.reason}), so its "
                             f"figures would describe a fallback. Set {MODELS_ENV} to the real model files"
                             f"{on_purpose}.")

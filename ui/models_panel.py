"""The console's models: loaded once, in the background, when the console starts; and the one notice
that says which are unavailable, what still works and what an administrator does about it.

A missing model is a fact about this machine, not about one search: it is said once (the header's
short notice, the Index tab's full lines from :func:`core.model_report.model_report`), never under
every result. A failed CLIP load is remembered (``search.search_models.SearchModels`` keeps it), so
searches do not try again; an admin retries from the Index tab (:meth:`ModelWarmup.retry`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import TYPE_CHECKING

from core.config import Config
from core.model_report import CLIP, CLIP_LOSS, MISSING, ModelStatus, model_report

if TYPE_CHECKING:
    from search.engine import SearchEngine

log = logging.getLogger(__name__)

IDLE, LOADING, READY, FAILED = "idle", "loading", "ready", "failed"
# Search notes that restate a model problem the notice already shows (search.compile words them so)
_MODEL_NOTES = ("CLIP unavailable (",)


def operator_notes(warnings: Sequence[str]) -> list[str]:
    """A search's or route's notes without the ones about unavailable models (said once, in the notice)."""
    return [w for w in warnings if not w.startswith(_MODEL_NOTES)]


@dataclass
class ModelWarmup:
    """Opens the search engine and loads its models in a background thread, once per console."""

    cfg: Config
    engine: Callable[[], SearchEngine]
    state: str = IDLE
    report: list[ModelStatus] = field(default_factory=list)
    error: str = ""  # why the engine could not open (no index yet...): searches will say it themselves
    started: float = 0.0
    finished: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def loading(self) -> bool:
        return self.state == LOADING

    def start(self, *, reload: bool = False) -> bool:
        """Start loading in the background; False if a load is already running."""
        with self._lock:
            if self.state == LOADING:
                return False
            self.state, self.started, self.finished, self.error = LOADING, time.time(), 0.0, ""
            self._thread = threading.Thread(target=self._run, args=(reload,), name="fs-model-warmup", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running load (tests, the benchmark); True when none is running any more."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.state != LOADING

    def retry(self) -> bool:
        """Load the models again (an admin fixed the weights): a fresh set replaces the engine's when loaded."""
        return self.start(reload=True)

    def _run(self, reload: bool) -> None:
        report: list[ModelStatus] = []
        error, state = "", READY
        try:
            engine = self.engine()
            models = engine.models
            if reload:
                from search.search_models import SearchModels

                models = SearchModels(self.cfg, clip_enabled=models.clip_enabled)
            # what a description search needs first (an operator searching at once waits for these
            # only), then the photo search's detector, then the report that reads the files
            if models.clip_enabled:
                models.clip()  # never raises for missing weights: keeps the reason, and searches do not retry
            models.colours()
            models.detector()
            engine.models = models  # the whole set at once: a search never sees half a reload
            report = _with_load_result(model_report(self.cfg), models.clip_error() if models.clip_enabled else "")
        except Exception as exc:  # the index may not exist yet; the Index tab and searches say so
            log.warning("console models not loaded: %s", exc)
            error, state = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__, FAILED
            try:
                report = model_report(self.cfg)  # the files can still be reported without an index
            except Exception as report_exc:
                log.warning("model report failed: %s", report_exc)
        with self._lock:
            self.report, self.error, self.state, self.finished = report, error, state, time.time()

    def unavailable(self) -> list[ModelStatus]:
        return [m for m in self.report if not m.ok]

    def header_html(self) -> str:
        """The short notice above the tabs: loading, or what is unavailable (nothing when all is well)."""
        if self.state == LOADING:
            return ('<span class="fs-models fs-models-loading" role="status">Loading the search models in the '
                    f"background ({time.time() - self.started:.0f} s)… searches wait for them.</span>")
        bad = self.unavailable()
        if not bad:
            return ""
        names = ", ".join(m.model for m in bad)
        effects = "; ".join(m.effect for m in bad if m.effect)
        return (f'<span class="fs-models fs-models-warn" role="status"><b>Unavailable: {escape(names)}.</b> '
                f"{escape(_cap(effects))}. An administrator can fix it: see the <b>Index</b> tab.</span>")

    def index_html(self) -> str:
        """The Index tab's model section: every model's line, with what an admin does."""
        if self.state in (IDLE, LOADING):
            when = f" ({time.time() - self.started:.0f} s so far)" if self.state == LOADING else ""
            return f"<p class='fs-note'>Loading the search models{when}…</p>"
        items = []
        for m in self.report:
            line = m.line()
            if not m.ok:
                line += " After fixing it, press Retry loading models."
            items.append(f"<li class='{'fs-ok' if m.ok else 'fs-bad'}'>{escape(line)}</li>")
        took = f"loaded in {self.finished - self.started:.1f} s" if self.finished else ""
        failed = f"<p class='fs-note'>Not loaded: {escape(self.error)}</p>" if self.error else ""
        return (f"<h4 class='fs-h'>Models <span class='fs-note'>{escape(took)}</span></h4>"
                f"<ul class='fs-model-list'>{''.join(items)}</ul>{failed}")


def _with_load_result(report: list[ModelStatus], clip_error: str) -> list[ModelStatus]:
    """The report, with CLIP marked missing when its weights were found but did not load."""
    if not clip_error:
        return report
    out = []
    for m in report:
        if m.model == CLIP and m.ok:
            m = replace(m, state=MISSING, reason=clip_error, effect=CLIP_LOSS,
                        fix="check models.clip_model, models.clip_pretrained and models.clip_checkpoint")
        out.append(m)
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

"""The models search needs besides the index, loaded once and only when first needed.

Text queries need CLIP's text tower (only when CLIP is enabled); photo queries need the person
detector, the colour-name table and CLIP's image tower. Structured text queries need nothing at all,
so a console that is only ever asked "red jacket, heading north" never loads a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from core.config import Config
from core.loading import ClipLoad, load_clip, load_colours, load_detector
from core.vision.clip_embedder import ClipEmbedder
from core.vision.colours import ColourNamer


@dataclass
class SearchModels:
    """Lazily loaded detector, colour table and CLIP model for one :class:`SearchEngine`.

    ``clip_enabled=False`` turns CLIP off entirely (structured matching only): used when the configured
    weights are known to be meaningless, and by tests that measure structured matching.
    """

    cfg: Config
    clip_enabled: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _clip: ClipLoad | None = field(default=None, repr=False)
    _detector: object | None = field(default=None, repr=False)
    _colours: ColourNamer | None = field(default=None, repr=False)
    _colours_loaded: bool = field(default=False, repr=False)

    def clip(self) -> ClipEmbedder | None:
        if not self.clip_enabled:
            return None
        with self._lock:
            if self._clip is None:
                self._clip = load_clip(self.cfg)
            return self._clip.embedder

    def clip_error(self) -> str:
        if not self.clip_enabled:
            return "CLIP is switched off"
        return self._clip.error if self._clip is not None else ""

    def detector(self):
        with self._lock:
            if self._detector is None:
                self._detector = load_detector(self.cfg, threads=2)
            return self._detector

    def colours(self) -> ColourNamer | None:
        with self._lock:
            if not self._colours_loaded:
                self._colours = load_colours(self.cfg)
                self._colours_loaded = True
            return self._colours

"""Wall time per named stage: the indexer's per-video split and the search's ``timings_ms``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class StageTimer:
    """Seconds per named stage (a stage entered twice adds up); ``stages`` start at 0 so that a stage
    never entered still shows in a report."""

    def __init__(self, stages: Iterable[str] = ()) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)
        self._t0 = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    def total(self) -> None:
        """Record the time since the timer was made as the stage ``total``."""
        self.seconds["total"] = time.perf_counter() - self._t0

    @property
    def ms(self) -> dict[str, float]:
        return {name: 1000 * s for name, s in self.seconds.items()}

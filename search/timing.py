"""Per-stage wall times of one search or route, reported as ``timings_ms`` with the result."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Milliseconds per named stage (a stage entered twice adds up) and, after :meth:`total`, overall."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t0 = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + 1000 * (time.perf_counter() - t)

    def total(self) -> None:
        self.ms["total"] = 1000 * (time.perf_counter() - self._t0)

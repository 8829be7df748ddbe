"""Per-stage wall times of one search or route, reported as ``timings_ms`` with the result.

The timer is the indexer's too (:class:`core.timing.StageTimer`); search reports it in milliseconds."""

from __future__ import annotations

from core.timing import StageTimer

__all__ = ["StageTimer"]

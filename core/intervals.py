"""Half-open time intervals [t0, t1) in seconds: merging, subtracting, intersecting.

A case's coverage (epoch seconds) and the index's ``coverage`` table (file offsets) are lists of merged
intervals; windows of work are cut out of what is not covered and what has footage. Intervals are plain
``(t0, t1)`` tuples so they survive JSON unchanged. Here in ``core`` because the indexer and case mode
both use them.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same time; overlapping or touching ones become one.

    Empty or reversed intervals (t1 <= t0) cover nothing and are dropped.
    """
    out: list[Interval] = []
    for t0, t1 in sorted((float(a), float(b)) for a, b in intervals if b > a):
        if out and t0 <= out[-1][1]:  # touching counts: two adjacent 10-min windows are one covered span
            if t1 > out[-1][1]:
                out[-1] = (out[-1][0], t1)
        else:
            out.append((t0, t1))
    return out


def subtract(span: Interval, cut: Iterable[Interval]) -> list[Interval]:
    """The parts of ``span`` that no interval in ``cut`` covers, in time order."""
    t0, t1 = span
    out: list[Interval] = []
    cursor = t0
    for c0, c1 in merge(cut):
        if c1 <= cursor:
            continue
        if c0 >= t1:
            break
        if c0 > cursor:
            out.append((cursor, c0))
        cursor = max(cursor, c1)
        if cursor >= t1:
            break
    if cursor < t1:
        out.append((cursor, t1))
    return out


def intersect(span: Interval, keep: Iterable[Interval]) -> list[Interval]:
    """The parts of ``span`` that some interval in ``keep`` covers, in time order."""
    t0, t1 = span
    return [(max(t0, k0), min(t1, k1)) for k0, k1 in merge(keep) if min(t1, k1) > max(t0, k0)]


def total(intervals: Iterable[Interval]) -> float:
    """Seconds covered, counting overlaps once."""
    return sum(b - a for a, b in merge(intervals))


def covers(intervals: Iterable[Interval], span: Interval) -> bool:
    """True when ``span`` lies wholly inside the union of ``intervals``."""
    return not subtract(span, intervals) if span[1] > span[0] else True

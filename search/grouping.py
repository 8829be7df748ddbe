"""Merging index rows into sightings: consecutive segments of one track are one sighting.

The indexer cuts a long track into rows of at most ``index.max_segment_s``; a person who stands in
view for two minutes would otherwise fill a results page alone. Rows of the same ``video_id`` and
``track_id`` whose segments are adjacent (k, k+1) merge; the best-scoring row represents the group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RowGroup:
    rows: list[int]  # indexes into the scored candidate arrays, in segment order
    best: int  # index of the representative (highest score) row
    score: float
    evidence: float  # the group's best calibrated evidence (no-result gate), NaN when uncalibrated
    t_start: float
    t_end: float


def group_rows(video_id: np.ndarray, track_id: np.ndarray, segment: np.ndarray, t_start: np.ndarray,
               t_end: np.ndarray, score: np.ndarray, evidence: np.ndarray) -> list[RowGroup]:
    """Groups of adjacent segments; returned best first (score, then earliest). Vectorised: a day of a
    district is thousands of rows."""
    n = len(score)
    if n == 0:
        return []
    _, vcode = np.unique(np.asarray(video_id).astype(str), return_inverse=True)
    track = np.asarray(track_id, dtype=np.int64)
    seg = np.asarray(segment, dtype=np.int64)
    order = np.lexsort((seg, track, vcode))
    v, t, s = vcode[order], track[order], seg[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (v[1:] != v[:-1]) | (t[1:] != t[:-1]) | (s[1:] != s[:-1] + 1)
    bounds = np.flatnonzero(starts)
    run_of = np.cumsum(starts) - 1
    sc = np.asarray(score, dtype=np.float64)[order]
    # the best row of each run: sort by (run, -score) and take each run's first
    best_pos = np.lexsort((-sc, run_of))[bounds]
    ev = np.asarray(evidence, dtype=np.float64)[order]
    ev_max = np.fmax.reduceat(np.where(np.isfinite(ev), ev, -np.inf), bounds)
    t_lo = np.minimum.reduceat(np.asarray(t_start, dtype=np.float64)[order], bounds)
    t_hi = np.maximum.reduceat(np.asarray(t_end, dtype=np.float64)[order], bounds)
    ends = np.append(bounds[1:], n)
    groups = [
        RowGroup(rows=[int(x) for x in order[a:b]], best=int(order[bp]), score=float(sc[bp]),
                 evidence=float(e) if np.isfinite(e) else float("nan"), t_start=float(lo), t_end=float(hi))
        for a, b, bp, e, lo, hi in zip(bounds, ends, best_pos, ev_max, t_lo, t_hi, strict=True)
    ]
    groups.sort(key=lambda g: (-g.score, g.t_start, g.best))
    return groups

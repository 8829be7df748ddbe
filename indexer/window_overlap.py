"""One person, one sighting, across windows whose trackers disagreed.

A window keeps the tracks in view inside it (:mod:`indexer.windows`), and each window runs its own
tracker. Where a person is in view across an edge, the earlier window follows her past its end, and the
later window, which saw her in its warm-up, keeps her from its start: the same person, twice. So does a
later window whose tracker lost her and picked her up again inside the window.

Both windows sample the same frames at the base rate (:mod:`indexer.decode`) and the detector gives the
same boxes on the same frame, so such a twin shows itself: its boxes coincide with a stored sighting's at
the same file offsets. Of two tracks of different windows that share at least ``MIN_SHARED_POINTS``
such points, the one from the earlier window is kept (whichever window was committed first, so the
result does not depend on the order windows ran in); the other is dropped with all its segments.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import supervision as sv

from core.schema import SightingField, sighting_window

MIN_SHARED_POINTS = 2
SAME_BOX_IOU = 0.7
TWIN_COLUMNS = (SightingField.SIGHTING_ID, SightingField.TRACK_ID, SightingField.TRACK_OFFSETS,
                SightingField.TRACK_BOXES)


def _points(rows: list[dict]) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Offset (ms) -> [(row index, box)] of every stored track point."""
    out: dict[int, list] = defaultdict(list)
    for i, r in enumerate(rows):
        for t, box in zip(r[SightingField.TRACK_OFFSETS], r[SightingField.TRACK_BOXES], strict=True):
            out[round(t * 1000)].append((i, np.asarray(box, dtype=np.float32)))
    return out


def twins(new: pa.Table | None, t0: float, stored: pa.Table) -> tuple[set[int], list[str]]:
    """(track ids of ``new`` - the window starting at ``t0`` - to drop, sighting ids of ``stored`` rows
    from other windows to delete) so that each person tracked by two windows is kept once."""
    if new is None or new.num_rows == 0 or stored.num_rows == 0:
        return set(), []
    old = stored.select(list(TWIN_COLUMNS)).to_pylist()
    old = [r for r in old if sighting_window(r[SightingField.SIGHTING_ID]) != t0]
    if not old:
        return set(), []
    by_offset = _points(old)
    shared: dict[tuple[int, tuple[float, int]], int] = defaultdict(int)  # (new track, old track) -> points
    for r in new.select(list(TWIN_COLUMNS)).to_pylist():
        for t, box in zip(r[SightingField.TRACK_OFFSETS], r[SightingField.TRACK_BOXES], strict=True):
            there = by_offset.get(round(t * 1000))
            if not there:
                continue
            ious = sv.box_iou_batch(np.asarray([box], dtype=np.float32), np.stack([b for _, b in there]))[0]
            for (i, _), iou in zip(there, ious, strict=True):
                if iou >= SAME_BOX_IOU:
                    o = old[i]
                    shared[(r[SightingField.TRACK_ID], _track_key(o))] += 1
    drop: set[int] = set()
    delete: set[tuple[float, int]] = set()
    for (track, key), n in shared.items():
        if n < MIN_SHARED_POINTS:
            continue
        if key[0] < t0:
            drop.add(track)
        else:
            delete.add(key)
    return drop, sorted(r[SightingField.SIGHTING_ID] for r in old if _track_key(r) in delete)


def _track_key(row: dict) -> tuple[float, int]:
    """(window start, track id): one track of one window (a whole-file run's rows count as earliest)."""
    start = sighting_window(row[SightingField.SIGHTING_ID])
    return (-1.0 if start is None else start, row[SightingField.TRACK_ID])

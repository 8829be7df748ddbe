"""Tracking helpers that need no footage: a second track on someone already tracked (nested boxes)."""

from __future__ import annotations

import numpy as np

from indexer.tracking import Track, TrackPoint, nested_duplicates


def _track(track_id: int, boxes: dict[int, list[float]]) -> Track:
    return Track(track_id, [TrackPoint(t=f / 2, box=np.asarray(b, dtype=np.float32), score=0.9, frame_index=f)
                            for f, b in sorted(boxes.items())])


WOMAN = {f: [1150.0 - 5 * f, 170.0 + 5 * f, 1205.0 - 5 * f, 250.0 + 5 * f] for f in range(10)}  # her upper body
WITH_PUSHCHAIR = {f: [1150.0 - 5 * f, 170.0 + 5 * f, 1210.0 - 5 * f, 340.0 + 5 * f] for f in range(10)}


def test_a_short_track_nested_in_a_longer_one_is_a_duplicate():
    # Oxford clip A at 2 fps: the detector boxes the woman alone and the woman with her pushchair; the two
    # boxes swap between tracks, and the second track (3 frames) is her again
    long = _track(4, WITH_PUSHCHAIR)
    swapped = {5: WITH_PUSHCHAIR[5], 6: WOMAN[6], 7: WOMAN[7]}
    assert nested_duplicates([long, _track(20, swapped)]) == {20}
    # the longer track stays whichever box it holds; of two as long, the lower id stays
    assert nested_duplicates([_track(1, WOMAN), _track(2, WITH_PUSHCHAIR)]) == {2}


def test_people_side_by_side_or_nested_only_for_a_while_are_kept():
    long = _track(4, WITH_PUSHCHAIR)
    beside = {f: [b[0] + 40, b[1], b[2] + 40, b[3]] for f, b in WOMAN.items() if 2 <= f <= 5}  # overlaps, not nested
    assert nested_duplicates([long, _track(7, beside)]) == set()
    # in front of her for two frames, then walking off: someone else
    passer = {2: WOMAN[2], 3: WOMAN[3], 4: [800.0, 200.0, 850.0, 300.0], 5: [760.0, 210.0, 810.0, 310.0]}
    assert nested_duplicates([long, _track(8, passer)]) == set()
    # nested in two different tracks (one frame each): no single track holds it
    other = _track(9, {f: [b[0] - 600, b[1], b[2] - 600, b[3]] for f, b in WITH_PUSHCHAIR.items()})
    split = {3: WOMAN[3], 4: [b - 600 if i % 2 == 0 else b for i, b in enumerate(WOMAN[4])]}
    assert nested_duplicates([long, other, _track(10, split)]) == set()
    # frames the longer track misses: it cannot vouch for them
    gappy = _track(11, {f: b for f, b in WITH_PUSHCHAIR.items() if f != 6})
    assert nested_duplicates([gappy, _track(12, {5: WOMAN[5], 6: WOMAN[6]})]) == set()

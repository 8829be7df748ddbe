"""Tracking helpers that need no footage: a second track on someone already tracked (nested boxes), and
the similarity floor of each track by the time since it last matched."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from indexer.tracking import PersonTracker, Track, TrackPoint, elapsed_floor, giou_floor, nested_duplicates


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


def _frame(*boxes: list[float]) -> sv.Detections:
    return sv.Detections(xyxy=np.array(boxes, np.float32), confidence=np.full(len(boxes), 0.9, np.float32),
                         class_id=np.zeros(len(boxes), int))


def test_the_floor_follows_the_time_since_a_track_last_matched():
    assert elapsed_floor(1.0, slack=1.0) == giou_floor(1.0) == pytest.approx(-0.6)
    assert elapsed_floor(0.5, slack=1.0) == giou_floor(2.0) == pytest.approx(-0.3)
    assert elapsed_floor(0.5) == pytest.approx(-0.45)  # the default slack: a young track's prediction is rough
    assert elapsed_floor(3.0) == pytest.approx(-0.6)  # never looser than the loosest measured floor


@pytest.mark.parametrize("per_track", [True, False])
def test_half_a_second_on_a_track_cannot_jump_three_body_widths(per_track):
    """A standing person, then (adaptive sampling's extra frame, 0.5 s on) a box three body-widths away
    (GIoU -0.57 from the track): somebody else, unless a whole second passed. Without the per-track floor
    the tracker's one floor (-0.6, for 1 s) let the track take it and swap people."""
    standing, away = [100.0, 100.0, 150.0, 250.0], [280.0, 100.0, 330.0, 250.0]
    for later, joins in ((0.5, not per_track), (1.0, True)):
        tracker = PersonTracker(1.0, floor_slack=1.5 if per_track else None)
        for t in (0.0, 1.0, 2.0):
            tracker.update(t, int(t), _frame(standing))
        tracked = tracker.update(2.0 + later, 3, _frame(away))
        assert (list(tracked.tracker_id) == [tracker.tracks()[0].track_id]) == joins, (later, per_track)

"""bench/real_tracking.py tells a tracker's breaks from its identity switches on labelled points."""

from __future__ import annotations

import numpy as np

from bench.real_tracking import Point, holder, measure_tracks
from search.evaluation import Track


def _row(t0: float, t1: float, x: float, camera: str = "PETS") -> Track:
    times = np.arange(t0, t1 + 1e-9, 1.0)
    boxes = np.array([[x - 10, 0, x + 10, 100]] * len(times), dtype=np.float64)
    return Track(camera, t0, t1, times, boxes)


def _walk(person: str, ts: list[float], x: float, appearance: int = 0) -> list[Point]:
    return [Point(person, appearance, "PETS", t, x, 50.0) for t in ts]


def test_a_track_that_lives_on_without_her_is_a_switch_and_one_that_ends_is_a_break():
    tracks = {
        "v:1:0": _row(0, 10, 100),  # holds her at 0-4, lives on at x=100 while she is at x=300
        "v:2:0": _row(6, 12, 300),  # holds her from 8
        "v:3:0": _row(0, 4, 500),   # holds him at 0-4, then ends
        "v:4:0": _row(6, 12, 500),  # a new track on him: a break
        "v:5:0": _row(0, 12, 300),  # a bigger box around her from 0: she is held by the smallest box
    }
    tracks["v:5:0"].boxes[:, [0, 2]] = [250, 350]
    tracks["v:5:0"].boxes[:, 1] = -50
    points = [Point("her", 0, "PETS", 0, 100, 50), Point("her", 0, "PETS", 4, 100, 50),
              Point("her", 0, "PETS", 8, 300, 50), *_walk("him", [0, 4, 8], 500)]
    by_camera = {"PETS": list(tracks)}
    assert holder(tracks, by_camera, points[2]) == "v:2"  # the smallest box around the point, not v:5's
    assert holder(tracks, by_camera, Point("her", 0, "PETS", 8.5, 300, 50)) == "v:2"  # the nearest tracked time
    assert holder(tracks, by_camera, Point("her", 0, "PETS", 13, 300, 50)) is None  # 1 s from every row's end
    r = measure_tracks(tracks, points)["PETS"]
    assert (r["points"], r["held"], r["appearances"]) == (6, 1.0, 2)
    assert (r["switches"], r["breaks"]) == (1, 1)
    assert r["appearances_in_one_track"] == 0 and r["tracks_per_appearance"] == 2.0
    assert r["mixed_tracks"] == 0


def test_a_track_holding_two_people_is_mixed_and_an_unheld_point_counts_as_not_held():
    tracks = {"v:1:0": _row(0, 10, 100), "v:1:1": _row(11, 20, 200)}  # segments of one track
    points = [*_walk("her", [0, 5], 100), *_walk("him", [12, 16], 200), Point("him", 0, "PETS", 30, 200, 50)]
    r = measure_tracks(tracks, points)["all"]
    assert r["mixed_tracks"] == 1 and r["people_in_mixed_tracks"] == 2
    assert r["held"] == round(4 / 5, 3) and r["breaks"] == 0 and r["switches"] == 0

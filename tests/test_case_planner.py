"""The case planner: the space-time cone is queued nearest-in-time first, direction only reorders, footage gaps
and coverage are accounted for to the second, and the interval helpers agree with brute-force set arithmetic."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from case.planner import Anchor, PlanError, PlanParams, parse_direction, plan
from core import intervals as iv
from core.registry import Camera, CameraRegistry, UnknownCameraError

LAT0, LON0 = 37.55, 127.0
M_PER_DEG_LAT = 6_371_000.0 * math.pi / 180
T0 = 1_773_450_600.0  # 2026-03-14 10:10 KST, on a 10-minute grid line


def _cam(cid: str, north_m: float, east_m: float, district: str = "D") -> Camera:
    lat = LAT0 + north_m / M_PER_DEG_LAT
    lon = LON0 + east_m / (M_PER_DEG_LAT * math.cos(math.radians(LAT0)))
    return Camera(cid, district, cid, lat, lon, 0.0)


def _registry(*cams: Camera) -> CameraRegistry:
    return CameraRegistry({c.camera_id: c for c in cams})


CITY = _registry(_cam("C0", 0, 0), _cam("N-300", 300, 0), _cam("S-300", -300, 0), _cam("S-900", -900, 0),
                 _cam("E-600", 0, 600), _cam("FAR", 20_000, 0))


def _first_index(queue, cid: str) -> int:
    return next(i for i, w in enumerate(queue) if w.camera_id == cid)


def test_queue_runs_from_the_anchor_outward_in_time() -> None:
    p = plan(CITY, Anchor.at_camera(CITY, "C0", T0), PlanParams(horizon_s=3600))
    firsts = [p.queue[_first_index(p.queue, c)] for c in ("C0", "N-300", "E-600", "S-900")]
    assert [w.camera_id for w in firsts] == ["C0", "N-300", "E-600", "S-900"]
    assert firsts[0].t0 == T0 and firsts[0].priority == T0
    assert firsts[1].t0 == pytest.approx(T0 + 300 / 1.6, abs=0.5)  # earliest arrival at walking speed
    assert p.beyond_horizon == ["FAR"]  # 20 km is 3.5 h away at 1.6 m/s
    assert [w.priority for w in p.queue] == sorted(w.priority for w in p.queue)
    # Later chunks of a near camera come after the first chunks of farther cameras: the cone grows in time.
    assert _first_index(p.queue, "S-900") < [i for i, w in enumerate(p.queue) if w.camera_id == "C0"][2]


def test_stated_direction_reorders_but_never_drops() -> None:
    p = plan(CITY, Anchor.at_camera(CITY, "C0", T0, "south"), PlanParams(horizon_s=3600))
    assert _first_index(p.queue, "S-300") < _first_index(p.queue, "N-300")
    # Straight behind counts as twice as far (weight 1): N-300 (375 s) still before S-900 ahead (562 s).
    assert p.windows["N-300"].delay_s == pytest.approx(300 / 1.6, rel=1e-3)
    assert p.windows["S-300"].delay_s == pytest.approx(0.0, abs=1e-6)
    assert _first_index(p.queue, "N-300") < _first_index(p.queue, "S-900")
    assert {w.camera_id for w in p.queue} == {"C0", "N-300", "S-300", "S-900", "E-600"}
    # A perpendicular camera is half-way: delay = d/speed/2.
    assert p.windows["E-600"].delay_s == pytest.approx(600 / 1.6 / 2, rel=1e-2)


def test_chunks_are_on_the_clock_grid_and_end_at_the_horizon() -> None:
    p = plan(CITY, Anchor.at_camera(CITY, "C0", T0 + 7), PlanParams(horizon_s=3600, window_s=600))
    s300 = sorted((w for w in p.queue if w.camera_id == "S-300"), key=lambda w: w.t0)
    assert s300[0].t0 == pytest.approx(T0 + 7 + 300 / 1.6, abs=0.5)
    assert all(w.t1 % 600 == 0 for w in s300[:-1]) and s300[-1].t1 == T0 + 7 + 3600
    assert all(a.t1 == b.t0 for a, b in itertools.pairwise(s300))
    # C0's first piece [T0+7, T0+600) is long enough to stand alone; a 30-s first piece would join the next.
    c0 = sorted((w for w in p.queue if w.camera_id == "C0"), key=lambda w: w.t0)
    assert (c0[0].t0, c0[0].t1) == (T0 + 7, T0 + 600)
    late = plan(CITY, Anchor.at_camera(CITY, "C0", T0 + 570), PlanParams(horizon_s=3600))
    c0 = sorted((w for w in late.queue if w.camera_id == "C0"), key=lambda w: w.t0)
    assert (c0[0].t0, c0[0].t1) == (T0 + 570, T0 + 1200)


def test_windows_without_footage_are_listed_not_dropped() -> None:
    footage = {"C0": [(T0, T0 + 3600)], "S-300": [(T0, T0 + 1200), (T0 + 1800, T0 + 4000)]}
    p = plan(CITY, Anchor.at_camera(CITY, "C0", T0), PlanParams(horizon_s=3600), footage=footage)
    gaps = [(w.camera_id, w.t0, w.t1) for w in p.no_footage if w.camera_id == "S-300"]
    assert gaps == [("S-300", T0 + 1200, T0 + 1800)]
    assert not any(w.t0 < T0 + 1800 and w.t1 > T0 + 1200 for w in p.queue if w.camera_id == "S-300")
    # N-300 is not in the mapping: its whole window is "no footage", queued nowhere.
    n300 = [w for w in p.no_footage if w.camera_id == "N-300"]
    assert sum(w.duration_s for w in n300) == pytest.approx(3600 - 300 / 1.6, abs=0.5)
    assert not [w for w in p.queue if w.camera_id == "N-300"]


def test_recentring_leaves_out_what_is_covered() -> None:
    first = plan(CITY, Anchor.at_camera(CITY, "C0", T0), PlanParams(horizon_s=3600))
    covered: dict[str, list[iv.Interval]] = {}
    for w in first.queue[:12]:  # the first dozen windows were analysed
        covered[w.camera_id] = iv.merge([*covered.get(w.camera_id, []), (w.t0, w.t1)])
    again = plan(CITY, first.anchor, first.params, covered=covered)
    assert again.queue == first.queue[12:]
    assert again.covered_s == pytest.approx(sum(w.duration_s for w in first.queue[:12]))
    # She was seen at S-300 twenty minutes later: the new cone starts there and then, minus what is done.
    moved = plan(CITY, Anchor.at_camera(CITY, "S-300", T0 + 1200, "S"), PlanParams(horizon_s=3600), covered=covered)
    assert all(w.t0 >= T0 + 1200 for w in moved.queue)
    assert min(w.t0 for w in moved.queue if w.camera_id == "S-300") == covered["S-300"][-1][1]
    for w in moved.queue:
        assert not iv.intersect((w.t0, w.t1), covered.get(w.camera_id, []))
    assert _first_index(moved.queue, "S-900") < _first_index(moved.queue, "N-300")


def test_expired_and_unreachable_cameras() -> None:
    p = plan(CITY, Anchor.at_camera(CITY, "C0", T0), PlanParams(horizon_s=500))
    assert p.beyond_horizon == ["S-900", "FAR"]  # 562 s and 3.5 h away; nearest first
    assert p.expired_at(T0 + 499) == [] and p.expired_at(T0 + 500) == sorted(p.windows)
    nowhere = plan(CITY, Anchor(t=T0, lat=0.0, lon=0.0), PlanParams(horizon_s=600))
    assert not nowhere.queue and nowhere.notes and len(nowhere.beyond_horizon) == len(CITY)


def test_free_point_anchor_and_bad_input() -> None:
    p = plan(CITY, Anchor(t=T0, lat=LAT0 - 300 / M_PER_DEG_LAT, lon=LON0), PlanParams(horizon_s=900))
    assert p.queue[0].camera_id == "S-300" and p.queue[0].t0 == pytest.approx(T0, abs=0.01)
    with pytest.raises(UnknownCameraError, match="XX-99"):
        Anchor.at_camera(CITY, "XX-99", T0)
    with pytest.raises(PlanError, match="speed_mps"):
        PlanParams(speed_mps=0)
    with pytest.raises(PlanError, match="direction 'up'"):
        parse_direction("up")
    assert [parse_direction(v) for v in ("S", "south", "south-west", "south west", "nw", "남쪽", 360, "45", None, "")] \
        == [180.0, 180.0, 225.0, 225.0, 315.0, 180.0, 0.0, 45.0, None, None]


@pytest.mark.parametrize("bad", [370, "370", -10, "-0.5", 400.0, math.nan, "inf", True])
def test_a_bearing_outside_0_to_360_is_refused_not_wrapped(bad) -> None:
    # 370 is a typo, not 10: the case would otherwise follow her the wrong way (query --direction's rule)
    with pytest.raises(PlanError, match=r"direction .*expected"):
        parse_direction(bad)
    with pytest.raises(PlanError):
        Anchor.at_camera(CITY, "C0", T0, bad)


def test_case_start_refuses_a_bearing_of_370_in_one_line_before_anything_is_written(tmp_path, capsys) -> None:
    from core.registry import write_registry
    from footage_search.cli import main

    archive = tmp_path / "archive"
    (archive / "C0").mkdir(parents=True)
    write_registry(CITY, archive / "cameras.csv")
    rc = main(["case", "start", "--camera", "C0", "--at", "2026-03-14T10:10:00", "--direction", "370",
               "--text", "purple coat", "--archive", str(archive), "--index", str(tmp_path / "index"),
               "--case", "2026-T-0001", "--purpose", "missing person reported at 10:10"])
    err = capsys.readouterr().err
    assert rc == 2 and "direction '370'" in err and "0 to 360" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "cases").exists()


# ----------------------------------------------------------------------------------------------- properties

cam_st = st.tuples(st.floats(-4000, 4000), st.floats(-4000, 4000))
span_st = st.tuples(st.integers(-600, 9000), st.integers(1, 4000)).map(lambda t: (T0 + t[0], T0 + t[0] + t[1]))


@st.composite
def scenarios(draw):
    offsets = draw(st.lists(cam_st, min_size=1, max_size=8))
    reg = _registry(*[_cam(f"K{i}", n, e) for i, (n, e) in enumerate(offsets)])
    cids = list(reg.cameras)
    anchor_cam = draw(st.sampled_from(cids))
    direction = draw(st.one_of(st.none(), st.floats(0, 359.9)))
    params = PlanParams(speed_mps=draw(st.floats(0.5, 3.0)), horizon_s=draw(st.integers(300, 4 * 3600)),
                        window_s=draw(st.sampled_from([120, 300, 600])),
                        direction_weight=draw(st.floats(0, 3)))
    anchor = Anchor.at_camera(reg, anchor_cam, T0 + draw(st.integers(0, 900)), direction)
    footage = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(cids), st.lists(span_st, max_size=4))))
    covered = draw(st.dictionaries(st.sampled_from(cids), st.lists(span_st, max_size=4)))
    return reg, anchor, params, footage, covered


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_plan_partitions_each_window_exactly(sc) -> None:
    reg, anchor, params, footage, covered = sc
    p = plan(reg, anchor, params, footage=footage, covered=covered)
    keys = [(w.priority, w.distance_m, w.camera_id, w.t0) for w in p.queue]
    assert keys == sorted(keys)
    assert set(p.windows) | set(p.beyond_horizon) == set(reg.cameras)
    for cid, win in p.windows.items():
        d = reg.distance_m(anchor.camera_id, cid)
        assert win.earliest == pytest.approx(anchor.t + d / params.speed_mps)
        assert 0 <= win.delay_s <= params.direction_weight * d / params.speed_mps + 1e-6
        if anchor.direction_deg is None:
            assert win.delay_s == 0
        queued = [(w.t0, w.t1) for w in p.queue if w.camera_id == cid]
        missing = [(w.t0, w.t1) for w in p.no_footage if w.camera_id == cid]
        done = iv.intersect((win.earliest, win.end), covered.get(cid, []))
        pieces = queued + missing + done
        # queued, no-footage and covered parts are disjoint and together are the whole window
        assert iv.total(pieces) == pytest.approx(sum(b - a for a, b in pieces), abs=1e-6)
        assert iv.total(pieces) == pytest.approx(win.end - win.earliest, abs=1e-6)
        for a, b in queued + missing:
            assert win.earliest - 1e-6 <= a < b <= p.horizon_end + 1e-6
            assert b - a <= params.window_s + params.min_window_s + 1e-6
        if footage is not None:
            assert all(not iv.intersect(s, footage.get(cid, [])) for s in missing)
            assert all(iv.covers(footage.get(cid, []), s) for s in queued)
    for w in p.queue + p.no_footage:
        assert w.priority == pytest.approx(w.t0 + p.windows[w.camera_id].delay_s)
    for cid in p.beyond_horizon:
        assert reg.distance_m(anchor.camera_id, cid) / params.speed_mps >= params.horizon_s - 1e-6
    # Analysing the whole queue leaves nothing to plan from the same anchor.
    done_all = {c: iv.merge([*covered.get(c, []), *[(w.t0, w.t1) for w in p.queue + p.no_footage
                                                     if w.camera_id == c]]) for c in reg.cameras}
    assert plan(reg, anchor, params, footage=footage, covered=done_all).queue == []


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=12),
       st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_interval_helpers_match_set_arithmetic(raw, span_raw) -> None:
    def cells(ivs):
        return {c for a, b in ivs for c in range(int(a), int(b))}

    merged = iv.merge(raw)
    assert cells(merged) == cells(raw)
    assert all(a < b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(merged))  # touching ones merged
    span = (min(span_raw), max(span_raw))
    assert cells(iv.subtract(span, raw)) == cells([span]) - cells(raw)
    assert cells(iv.intersect(span, raw)) == cells([span]) & cells(raw)
    assert iv.total(raw) == len(cells(raw))
    assert iv.covers(raw, span) == (cells([span]) <= cells(raw))


def test_adjacent_and_overlapping_windows_merge() -> None:
    assert iv.merge([(600, 1200), (0, 600), (1100, 1300), (2000, 2000), (5, 1)]) == [(0, 1300)]
    assert iv.merge([(0, 10), (11, 20)]) == [(0, 10), (11, 20)]

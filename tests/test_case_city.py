"""The case benchmark's large city, as a scenario (nothing rendered here; bench/case_city.py renders it): the
sizes the benchmark asks for, a route across four districts at walking pace, hard negatives where the route
cannot explain them, recording gaps the case planner reports, and passers-by in view throughout."""

from __future__ import annotations

import numpy as np
import pytest

from case.follow import reachable
from case.planner import Anchor, PlanParams, plan
from core import intervals as iv
from sample_footage.large_city import LargeCitySpec, build_large_city, camera_crowd
from sample_footage.scenario import TARGET_LOOK, nominal_track, random_person


@pytest.fixture(scope="module")
def city():
    return build_large_city(LargeCitySpec(crowd=False))


def _footage(city) -> dict[str, list[iv.Interval]]:
    out: dict[str, list[iv.Interval]] = {}
    for c in city.clips:
        out.setdefault(c.camera_id, []).append((c.start, c.end))
    return {k: iv.merge(v) for k, v in out.items()}


def test_sizes_and_route(city) -> None:
    reg = city.registry
    assert len(reg) >= 40 and len(reg.districts) >= 5
    assert sum(c.duration_s for c in city.clips) / 3600 >= 24
    stops = [leg.camera_id for leg in city.route]
    assert len({reg.get(c).district for c in stops}) >= 4
    assert city.notes["districts_on_route"] == list(dict.fromkeys(reg.get(c).district for c in stops))
    for a, b in zip(city.route, city.route[1:], strict=False):
        gap = b.t_enter_planned - a.t_exit_planned
        assert 200 <= reg.distance_m(a.camera_id, b.camera_id) <= 450
        assert reg.distance_m(a.camera_id, b.camera_id) / gap == pytest.approx(1.2, rel=1e-6)
    # every camera records from the start, and the whole route lies inside its cameras' files
    t0 = min(c.start for c in city.clips)
    assert city.route[0].t_enter_planned - t0 == 240
    for leg in city.route:
        assert any(c.start <= leg.walk.t0 and leg.walk.t1 <= c.end for c in city.clips if c.camera_id == leg.camera_id)


def test_hard_negatives_share_the_targets_colours_and_are_placed_on_purpose(city) -> None:
    reg = city.registry
    scripted = {w.person.person_id: w for w in city.walks if w.person.role != "crowd"}
    looks = [w for w in scripted.values() if w.person.role == "lookalike"]
    assert len(looks) >= 3 and all((w.person.upper_colour, w.person.lower_colour) == ("purple", "blue") for w in looks)
    assert scripted["double-1"].person.look == TARGET_LOOK
    legs = city.route
    params = PlanParams(horizon_s=3 * 3600)
    report = Anchor.at_camera(reg, legs[0].camera_id, legs[0].t_exit_planned)
    # lookalike-1 walks before the report: a case never looks there; lookalike-2 is off the route's districts.
    assert scripted["lookalike-1"].t1 < report.t
    assert reg.get(scripted["lookalike-2"].camera_id).district not in city.notes["districts_on_route"]
    # lookalike-3 is within the target's reach from stop 4; the double is out of reach between stops 3 and 4.
    l3, dbl = scripted["lookalike-3"], scripted["double-1"]
    at4 = Anchor.at_camera(reg, legs[3].camera_id, legs[3].t_exit_planned)
    assert reachable(reg, at4, _as_sighting(l3), 1.6)
    at3 = Anchor.at_camera(reg, legs[2].camera_id, legs[2].t_exit_planned)
    assert not reachable(reg, at3, _as_sighting(dbl), 1.6)
    # The case planner from the report reaches every route stop in time (the cone holds the whole route).
    p = plan(reg, report, params, footage=_footage(city))
    for leg in legs[1:]:
        assert p.windows[leg.camera_id].earliest <= leg.t_enter_planned
        assert any(w.t0 <= leg.t_enter_planned < w.t1 for w in p.queue if w.camera_id == leg.camera_id)


def test_outages_are_reported_as_no_footage(city) -> None:
    legs = city.route
    p = plan(city.registry, Anchor.at_camera(city.registry, legs[0].camera_id, legs[0].t_exit_planned),
             PlanParams(horizon_s=3 * 3600), footage=_footage(city))
    t_start, t_end = min(c.start for c in city.clips), max(c.end for c in city.clips)
    footage = _footage(city)
    for cid in city.notes["outages"]:
        gaps = [(w.t0, w.t1) for w in p.no_footage if w.camera_id == cid and w.t1 <= t_end]
        assert iv.total(gaps) == pytest.approx(iv.total(iv.subtract((p.windows[cid].earliest, t_end), footage[cid])))
        # From the outage camera itself at the start of the recordings, the whole 4-minute gap is in the cone.
        here = plan(city.registry, Anchor.at_camera(city.registry, cid, t_start), footage=footage)
        assert iv.total((w.t0, w.t1) for w in here.no_footage if w.camera_id == cid and w.t1 <= t_end) == 240
    # Past the end of the recordings everything is "no footage", never silently dropped.
    assert all(any(w.camera_id == cid and w.t1 > t_end for w in p.no_footage) for cid in p.windows)


def test_passers_by_are_in_view_throughout(city) -> None:
    cid = city.route[2].camera_id  # a route camera: the crowd is planned around the scripted walks there
    rig = city.rigs[cid]
    fixed = city.walks_at(cid)
    pool = tuple(random_person(np.random.default_rng(7), f"o{j}") for j in range(40))
    t0, t1 = min(c.start for c in city.clips), max(c.end for c in city.clips)
    walks = fixed + camera_crowd(rig, fixed, pool, t0, t1)
    assert len({w.person.look for w in walks if w.person.role == "crowd"}) <= 40  # outfits from a pool
    times = np.arange(min(c.start for c in city.clips) + 5, max(c.end for c in city.clips) - 5, 10.0)
    in_view = np.zeros(len(times), dtype=int)
    for w in walks:
        in_view += ~np.isnan(nominal_track(w, rig.pinhole, times)[:, 0])
    assert (in_view >= 1).mean() >= 0.95 and in_view.mean() >= 2.0


def _as_sighting(w):
    class S:
        sighting_id, member_ids, camera_id = w.person.person_id, (), w.camera_id
        t_end, score, weak, bearing_deg = w.t1, 1.0, False, w.bearing_deg

    return S()


def _ideal_follow(city, window_s: float, with_direction: bool) -> tuple[int, float]:
    """Follow the route with a perfect detector: analyse the queue in order, re-centre on each stop found."""
    reg, legs, footage = city.registry, city.route, _footage(city)
    params = PlanParams(window_s=window_s, horizon_s=2 * 3600)
    anchor = Anchor.at_camera(reg, legs[0].camera_id, legs[0].t_exit_planned, 90.0 if with_direction else None)
    covered: dict[str, list[iv.Interval]] = {}
    found, analysed = {0}, 0.0
    queue = plan(reg, anchor, params, footage=footage).queue
    while queue and len(found) < len(legs):
        w = queue.pop(0)
        covered[w.camera_id] = iv.merge([*covered.get(w.camera_id, []), (w.t0, w.t1)])
        analysed += w.duration_s
        hit = [i for i, leg in enumerate(legs) if i not in found and leg.camera_id == w.camera_id
               and w.t0 <= leg.t_enter_planned < w.t1 and leg.t_enter_planned > anchor.t]
        if hit:
            found.add(max(hit))
            leg = legs[max(hit)]
            anchor = Anchor.at_camera(reg, leg.camera_id, leg.t_exit_planned,
                                      leg.walk.bearing_deg if with_direction else None)
            queue = plan(reg, anchor, params, footage=footage, covered=covered).queue
    return len(found), analysed


def test_a_perfect_follow_needs_a_small_part_of_the_archive(city) -> None:
    """The benchmark's goal (< 20 % of the archive) is within reach: with a perfect detector the cone finds
    every stop after a few percent (measured: 4.1 % with the reported direction, 6.0 % without)."""
    total = sum(c.duration_s for c in city.clips)
    n_dir, with_dir = _ideal_follow(city, 600, True)
    n_plain, without = _ideal_follow(city, 600, False)
    assert n_dir == n_plain == len(city.route)
    assert with_dir < without < 0.10 * total

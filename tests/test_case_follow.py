"""Following the person: which new sightings move the cone (pinned > confident and reachable), which never do
(rejected, earlier than the anchor, a double too far to walk to), and where the new anchor is."""

from __future__ import annotations

import pytest

from case.follow import decide, reachable
from case.planner import Anchor, PlanParams, plan
from core.registry import load_registry
from sample_footage.scenario import REGISTRY_PATH
from search.result import Sighting

REG = load_registry(REGISTRY_PATH)  # the demo city's cameras: JG-01 -> JG-02 about 320 m, JN-01 1.5 km away
T0 = 1_773_447_612.0  # 09:20:12 KST, the target at JG-01


def _s(sid: str, cam: str, t: float, score: float | None, *, weak: bool = False, bearing: float | None = 200.0,
       members: tuple[str, ...] = ()) -> Sighting:
    return Sighting(sighting_id=sid, member_ids=(sid, *members), video_id="v", camera_id=cam, camera_name=cam,
                    district=REG.get(cam).district, t_start=t - 8, t_end=t, t_best=t - 4, video_path=f"/a/{cam}.mp4",
                    offset_start_s=0, offset_end_s=8, offset_best_s=4, box=(1, 2, 3, 4), frame_size=(640, 360),
                    track_id=1, n_detections=8, bearing_deg=bearing, speed_mps=1.3, score=score, weak=weak)


ANCHOR = Anchor.at_camera(REG, "JG-01", T0)


def test_most_confident_reachable_sighting_moves_the_cone() -> None:
    hits = [_s("a", "JG-02", T0 + 300, 0.71), _s("b", "YS-01", T0 + 600, 0.83), _s("c", "YS-02", T0 + 900, 0.40)]
    d = decide(hits, ANCHOR, REG, threshold=0.6)
    assert d.recentre and d.sighting_id == "b" and d.reason == "confident sighting"
    assert d.anchor == Anchor(t=T0 + 600, lat=REG.get("YS-01").lat, lon=REG.get("YS-01").lon, camera_id="YS-01",
                              direction_deg=200.0)
    # The new cone starts at YS-01 when she was last in view there, heading on her own bearing.
    p = plan(REG, d.anchor, PlanParams(horizon_s=1800))
    assert p.queue[0].camera_id == "YS-01" and p.queue[0].t0 == T0 + 600


def test_pinned_wins_and_rejected_never_moves() -> None:
    hits = [_s("a", "JG-02", T0 + 300, 0.35), _s("b", "YS-01", T0 + 600, 0.9), _s("c", "YS-02", T0 + 500, 0.3)]
    d = decide(hits, ANCHOR, REG, pinned=["a", "c"], threshold=0.6)
    assert (d.recentre, d.sighting_id, d.reason) == (True, "c", "pinned sighting")  # the latest pinned one
    d = decide(hits, ANCHOR, REG, rejected=["b"], threshold=0.6)
    assert not d.recentre and "threshold" in d.reason
    # A rejection by any merged row id counts, and a rejected sighting that is also pinned stays rejected.
    merged = [_s("m1", "YS-01", T0 + 600, 0.95, members=("m2", "m3"))]
    assert not decide(merged, ANCHOR, REG, rejected=["m3"], pinned=["m1"]).recentre


def test_only_forward_in_time_and_never_weak() -> None:
    later = Anchor.at_camera(REG, "YS-01", T0 + 600)
    hits = [_s("old", "JG-02", T0 + 300, 0.99), _s("same", "YS-01", T0 + 600, 0.99),
            _s("weak", "YS-02", T0 + 900, 0.95, weak=True), _s("unscored", "YS-02", T0 + 950, None)]
    d = decide(hits, later, REG, pinned=["old"], threshold=0.5)
    assert not d.recentre and "threshold" in d.reason
    assert decide([], later, REG).reason == "no sighting ahead of the anchor"


def test_a_double_too_far_to_walk_to_is_not_followed() -> None:
    # JN-01 is about 1.5 km from JG-01: not reachable in 5 minutes at 1.6 m/s, but it is after 25 minutes.
    assert REG.distance_m("JG-01", "JN-01") == pytest.approx(1_490, abs=50)
    double = _s("double", "JN-01", T0 + 300, 0.97, bearing=15.0)
    target = _s("target", "JG-02", T0 + 290, 0.74)
    d = decide([double, target], ANCHOR, REG, threshold=0.6)
    assert d.sighting_id == "target" and d.unreachable == ("double",)
    d = decide([double], ANCHOR, REG, threshold=0.6)
    assert not d.recentre and d.unreachable == ("double",) and "too far" in d.reason
    assert decide([_s("later", "JN-01", T0 + 1500, 0.97)], ANCHOR, REG, threshold=0.6).recentre
    assert not reachable(REG, ANCHOR, double, 1.6) and reachable(REG, ANCHOR, double, 10.0)
    # The operator can overrule the bound by pinning.
    assert decide([double], ANCHOR, REG, pinned=["double"]).recentre


def test_ties_go_to_the_later_sighting() -> None:
    hits = [_s("x", "JG-02", T0 + 300, 0.8), _s("y", "YS-01", T0 + 620, 0.8)]
    assert decide(hits, ANCHOR, REG, threshold=0.6).sighting_id == "y"


def test_findings_stand_in_for_sightings() -> None:
    """A case keeps compact findings; they follow the same rules when the case is resumed."""
    from case.state import Finding

    hits = [Finding.from_sighting(_s("a", "JG-02", T0 + 300, 0.71, members=("a2",)), found_at=5.0),
            Finding.from_sighting(_s("b", "YS-01", T0 + 600, 0.83))]
    assert hits[0].member_ids == ("a", "a2") and hits[0].t_end == T0 + 300 and hits[0].found_at == 5.0
    assert decide(hits, ANCHOR, REG, threshold=0.6).sighting_id == "b"
    assert decide(hits, ANCHOR, REG, threshold=0.6, rejected=["b"], pinned=["a2"]).sighting_id == "a"

"""The route's best-path search on hand-made sightings: not greedy, speed limits, bearings, pins, rejects,
next-camera windows and gaps. First through the engine on a small index, then the pure path search
(:func:`search.route_path.plan_route`) on sightings, registry and footage coverage built by hand."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import lancedb
import pyarrow as pa
import pytest

from core.schema import VIDEOS, VIDEOS_SCHEMA
from search.engine import SearchEngine
from search.errors import SearchInputError
from search.request import SearchRequest
from search.result import Sighting
from search.route import VIEW_RADIUS_M, RouteRequest, build_route
from search.route_path import GAP_SCALE_S, W_APPEARANCE, W_EMIT, W_GAP, LastSeen, plan_route
from search.search_models import SearchModels
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, sighting, write_index

REG = grid_registry([("S", "Mid-gu", 0, 0), ("E1", "East-gu", 300, 0), ("E2", "East-gu", 600, 0),
                     ("E3", "Far-east-gu", 900, 0), ("W1", "West-gu", -300, 0), ("FAR", "North-gu", 0, 3000)])
RED = {"upper": "red", "lower": "black"}


def engine_with(tmp_path, rows: list[Row], **kw) -> tuple[SearchEngine, list[str]]:
    ids = write_index(tmp_path / "index", REG, rows, **kw)
    cfg = make_config(tmp_path / "index")
    return SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=False)), ids


def window(**kw):
    return {"time_from": T0 - 60, "time_to": T0 + 3600, **kw}


@pytest.fixture
def fork(tmp_path):
    """From S, a strong sighting west (W1) that leads nowhere, or a slightly weaker one east (E1) that
    leads on to E2. W1 -> E2 is 900 m in 220 s: too fast to walk."""
    return engine_with(tmp_path, [
        Row("S", T0, T0 + 10, track_id=1, **RED),
        Row("W1", T0 + 200, T0 + 210, track_id=2, **RED),
        Row("E1", T0 + 250, T0 + 260, track_id=3, upper={"red": 0.25}, lower={"black": 0.4}),
        Row("E2", T0 + 430, T0 + 440, track_id=4, **RED),
        Row("E1", T0 + 100, T0 + 110, track_id=5, upper="blue", lower="grey"),  # somebody else
    ])


def cams(route) -> list[str]:
    return [st.camera_id for st in route.stops]


def test_best_path_is_not_greedy(fork):
    engine, ids = fork
    # the eastern sighting is plausible, but weaker than the western one: a greedy walk would go west
    found = engine.search(SearchRequest(text="red jacket, black trousers")).sightings
    score = {s.sighting_id: s.score for s in found}
    assert score[ids[1]] > score[ids[2]] >= engine.cfg.search.min_score
    route = build_route(engine, RouteRequest(text="red jacket, black trousers", **window()))
    assert cams(route) == ["S", "E1", "E2"]
    assert route.districts == ["Mid-gu", "East-gu"]
    leg = route.stops[1].leg
    assert leg is not None and math.isclose(leg.distance_m, 300, rel_tol=0.01) and leg.gap_s == pytest.approx(240)


def test_speed_limit(tmp_path):
    engine, ids = engine_with(tmp_path, [Row("S", T0, T0 + 10, track_id=1, **RED),
                                         Row("FAR", T0 + 610, T0 + 620, track_id=2, **RED)])
    slow = build_route(engine, RouteRequest(start_sighting_id=ids[0], text="red jacket"))
    assert cams(slow) == ["S"]  # 3 km in 600 s needs 4.9 m/s
    fast = build_route(engine, RouteRequest(start_sighting_id=ids[0], text="red jacket", max_speed_mps=6.0))
    assert cams(fast) == ["S", "FAR"]
    assert fast.stops[1].leg.speed_needed_mps == pytest.approx((3000 - 2 * VIEW_RADIUS_M) / 600, rel=0.01)


@pytest.mark.parametrize("heading, expected", [(90.0, "E1"), (270.0, "W1")])
def test_direction_of_movement_decides_between_equal_candidates(tmp_path, heading, expected):
    engine, ids = engine_with(tmp_path, [
        Row("S", T0, T0 + 10, track_id=1, bearing=heading, **RED),
        Row("E1", T0 + 250, T0 + 260, track_id=2, **RED),
        Row("W1", T0 + 250, T0 + 260, track_id=3, **RED),
    ])
    route = build_route(engine, RouteRequest(start_sighting_id=ids[0], text="red jacket"))
    assert cams(route) == ["S", expected]
    assert route.stops[1].leg.bearing_agreement == pytest.approx(1.0, abs=0.01)


def test_look_alikes_passing_the_last_stop_again_do_not_hold_the_route_there(tmp_path):
    """She walks S -> E1 -> E2. Four people in her colours pass E1 after her: each pass used to add its
    own emission, so staying at E1 outscored walking on to E2 (the large city's route lost its last stop
    this way). A new pass of the same camera now adds no evidence; a broken track (gap <= 10 s) still joins."""
    lookalikes = [Row("E1", T0 + 300 + 40 * k, T0 + 310 + 40 * k, track_id=10 + k, **RED) for k in range(4)]
    engine, ids = engine_with(tmp_path, [
        Row("S", T0, T0 + 10, track_id=1, bearing=90.0, **RED),
        Row("E1", T0 + 250, T0 + 260, track_id=2, bearing=90.0, **RED),
        Row("E1", T0 + 266, T0 + 272, track_id=3, bearing=90.0, **RED),  # her track, broken by an occlusion
        Row("E2", T0 + 520, T0 + 530, track_id=4, bearing=90.0, upper={"red": 0.3}, lower={"black": 0.4}),
        *lookalikes,
    ])
    route = build_route(engine, RouteRequest(start_sighting_id=ids[0], text="red jacket, black trousers"))
    assert cams(route) == ["S", "E1", "E1", "E2"]
    assert [st.sighting.sighting_id for st in route.stops[1:3]] == ids[1:3]


def test_pins_and_rejects(fork):
    engine, ids = fork
    req = window(text="red jacket, black trousers")
    pinned = build_route(engine, RouteRequest(pinned=[ids[1]], **req))
    assert "W1" in cams(pinned) and next(st for st in pinned.stops if st.camera_id == "W1").pinned
    assert "E2" not in cams(pinned)  # unreachable after W1
    weak_pin = build_route(engine, RouteRequest(pinned=[ids[4]], **req))  # the blue/grey person at E1
    assert ids[4] in [st.sighting.sighting_id for st in weak_pin.stops]
    rejected = build_route(engine, RouteRequest(rejected=[ids[2]], **req))
    assert "E1" not in cams(rejected)
    assert rejected.stops and all(st.sighting.sighting_id != ids[2] for st in rejected.stops)
    with pytest.raises(SearchInputError, match="cannot both be on one route"):
        build_route(engine, RouteRequest(pinned=[ids[1], ids[3]], **req))
    with pytest.raises(SearchInputError, match="both pinned and rejected"):
        build_route(engine, RouteRequest(pinned=[ids[1]], rejected=[ids[1]], **req))


def test_gap_names_the_cameras_passed_on_the_way(fork):
    engine, ids = fork
    route = build_route(engine, RouteRequest(text="red jacket, black trousers", rejected=[ids[2]], pinned=[ids[3]],
                                             **window()))
    assert cams(route) == ["S", "E2"]
    assert route.gaps and "E1" in route.gaps[0].cameras_between and "W1" not in route.gaps[0].cameras_between


def test_next_camera_windows(tmp_path):
    engine, ids = engine_with(tmp_path, [Row("E2", T0, T0 + 10, track_id=1, bearing=90.0, **RED)],
                              videos_span=(T0 - 3600, T0 + 7200))
    route = build_route(engine, RouteRequest(start_sighting_id=ids[0], min_speed_mps=0.5))
    first = route.suggestions[0]
    assert first.camera_id == "E3"  # 300 m ahead (east)
    assert first.earliest == pytest.approx(T0 + 10 + (300 - 2 * VIEW_RADIUS_M) / 2.0, abs=2)
    assert first.latest == pytest.approx(T0 + 10 + (300 + 2 * VIEW_RADIUS_M) / 0.5, abs=2)
    assert first.bearing_agreement == pytest.approx(1.0, abs=0.01) and first.has_footage
    behind = next(c for c in route.suggestions if c.camera_id == "E1")
    assert behind.bearing_agreement == pytest.approx(-1.0, abs=0.01)
    assert [c.camera_id for c in route.suggestions].index("E1") > 0


def test_last_seen_camera_and_time_start(fork):
    engine, _ids = fork
    route = build_route(engine, RouteRequest(start_camera="e1", start_time=T0 + 245, text="red jacket"))
    assert route.stops[0].is_start and route.stops[0].sighting is None
    assert cams(route)[:2] == ["E1", "E1"] and cams(route)[-1] == "E2"


def test_no_match_gives_an_empty_route_with_a_message(fork):
    engine, _ = fork
    route = build_route(engine, RouteRequest(text="yellow coat, green trousers", **window()))
    assert route.stops == [] and "no plausible route" in route.message


@pytest.mark.parametrize("req, words", [
    (RouteRequest(), "needs a description or a photo"),
    (RouteRequest(start_sighting_id="x:1:0", start_camera="S", start_time=T0), "not both"),
    (RouteRequest(start_camera="S", text="red"), "both a camera and a time"),
    (RouteRequest(start_camera="Q", start_time=T0, text="red"), "unknown camera"),
    (RouteRequest(start_sighting_id="missing:1:0"), "unknown sighting"),
    (RouteRequest(text="red", max_speed_mps=0), "maximum walking speed"),
    (RouteRequest(text="red", forward_s=-1), "forward horizon"),
    (RouteRequest(text="red", pinned=["bad\x00id"]), "not a sighting id"),
])
def test_bad_route_input(fork, req, words):
    engine, _ = fork
    with pytest.raises(SearchInputError, match=words):
        build_route(engine, req)


def test_route_json(fork):
    engine, _ = fork
    d = build_route(engine, RouteRequest(text="red jacket, black trousers", **window())).to_dict(engine.tz)
    assert d["cameras"] == ["S", "E1", "E2"] and d["districts"] == ["Mid-gu", "East-gu"]
    assert d["stops"][1]["leg"]["distance_m"] == pytest.approx(300, rel=0.01)
    assert d["stops"][0]["sighting"]["time"].endswith("+09:00")


def test_route_needs_appearance_not_just_a_direction(fork):
    engine, _ = fork
    with pytest.raises(SearchInputError, match="recognise the person"):
        build_route(engine, RouteRequest(text="heading north", **window()))


def test_described_heading_orients_a_last_seen_start(tmp_path):
    engine, _ = engine_with(tmp_path, [Row("E1", T0 + 250, T0 + 260, track_id=2, **RED),
                                         Row("W1", T0 + 250, T0 + 260, track_id=3, **RED)],
                              videos_span=(T0 - 3600, T0 + 7200))
    east = build_route(engine, RouteRequest(start_camera="S", start_time=T0, text="red jacket heading east"))
    west = build_route(engine, RouteRequest(start_camera="S", start_time=T0, text="빨간 재킷, 서쪽으로"))
    assert cams(east) == ["S", "E1"] and cams(west) == ["S", "W1"]


def test_footage_coverage_is_read_within_the_routes_pinned_snapshot(tmp_path):
    engine, _ = engine_with(tmp_path, [Row("E2", T0, T0 + 10, track_id=1, **RED)], videos_span=(T0 - 60, T0 + 600))
    videos = lancedb.connect(str(tmp_path / "index")).open_table(VIDEOS)
    template = videos.to_arrow().to_pylist()[0]
    with engine.reader.snapshot(videos=True):
        before = engine.reader.footage_spans()
        videos.add(pa.Table.from_pylist([
            {**template, "video_id": "late-E3", "camera_id": "E3", "start_time": T0 + 3600, "duration_s": 60.0},
            {**template, "video_id": "bad-W1", "camera_id": "W1", "start_time": T0 + 7200, "status": "failed"},
        ], schema=VIDEOS_SCHEMA))
        assert engine.reader.footage_spans() == before  # an indexer commit mid-route is not seen
    assert before["E2"] == [(T0 - 60, T0 + 600)] and set(before) == {c.camera_id for c in REG}
    after = engine.reader.footage_spans()
    assert (T0 + 3600, T0 + 3660) in after["E3"]
    assert all(s < T0 + 7200 for s, _ in after["W1"])  # a failed file is no footage


# ------------------------------------------------------------------ the pure path search, no index

TZ = ZoneInfo("Asia/Seoul")
MIN_SCORE = 0.35
EVERYWHERE = {c.camera_id: [(T0 - 3600, T0 + 7200)] for c in REG}  # footage of every camera all morning


def seen(camera: str, t0: float, t1: float, *, track_id: int, score: float = 0.9, **kw) -> Sighting:
    return sighting(camera, T0 + t0, T0 + t1, score=score, track_id=track_id, district=REG.get(camera).district,
                    **{**RED, **kw})


def plan(cands, footage=None, **kw):
    kw.setdefault("v_max", 2.0)
    return plan_route(cands, REG, EVERYWHERE if footage is None else footage, tz=TZ, min_score=MIN_SCORE, **kw)


@pytest.fixture
def fork_sightings() -> list[Sighting]:
    """The engine tests' fork as scored sightings: W1 is the strongest after S but leads nowhere (W1 -> E2 is
    900 m in 220 s); E1 is weaker and leads on to E2."""
    return [seen("S", 0, 10, track_id=1), seen("W1", 200, 210, track_id=2, score=0.95),
            seen("E1", 250, 260, track_id=3, score=0.6), seen("E2", 430, 440, track_id=4)]


def test_plan_is_not_greedy_and_scores_the_path_as_documented(fork_sightings):
    route = plan(fork_sightings)
    assert cams(route) == ["S", "E1", "E2"] and route.candidates == 4
    assert route.districts == ["Mid-gu", "East-gu"] and route.message.startswith("route of 3 stop(s) (3 found)")
    # same outfit everywhere (appearance 1), no bearings: the documented sum, emissions plus transitions
    emissions = sum(W_EMIT * (s - MIN_SCORE) for s in (0.9, 0.6, 0.9))
    hops = sum(W_APPEARANCE * 1.0 - W_GAP * math.log1p(gap / GAP_SCALE_S) for gap in (240, 170))
    assert route.score == pytest.approx(emissions + hops, abs=1e-4)
    leg = route.stops[2].leg
    assert leg.gap_s == 170 and leg.appearance == pytest.approx(1.0, abs=1e-3) and leg.bearing_agreement is None
    assert leg.speed_needed_mps == pytest.approx((300 - 2 * VIEW_RADIUS_M) / 170, rel=0.01)
    assert route.parsed is None and route.timings_ms == {}  # the engine's part adds those


def test_plan_keeps_to_walking_speed():
    start = seen("S", 0, 10, track_id=1)
    far = [seen("FAR", 610, 620, track_id=2)]
    assert cams(plan(far, start=start)) == ["S"]  # 3 km in 600 s needs 4.9 m/s
    fast = plan(far, start=start, v_max=6.0)
    assert cams(fast) == ["S", "FAR"] and fast.stops[0].is_start
    assert fast.stops[1].leg.speed_needed_mps == pytest.approx((3000 - 2 * VIEW_RADIUS_M) / 600, rel=0.01)


@pytest.mark.parametrize("heading, expected", [(90.0, "E1"), (270.0, "W1")])
def test_plan_follows_the_direction_of_movement(heading, expected):
    start = seen("S", 0, 10, track_id=1, bearing=heading)
    route = plan([seen("E1", 250, 260, track_id=2), seen("W1", 250, 260, track_id=3)], start=start)
    assert cams(route) == ["S", expected]
    assert route.stops[1].leg.bearing_agreement == pytest.approx(1.0, abs=0.01)


def test_plan_pins_and_rejects(fork_sightings):
    s, w1, e1, e2 = fork_sightings
    pinned = plan(fork_sightings, pinned=[w1.sighting_id])
    assert cams(pinned) == ["S", "W1"] and pinned.stops[1].pinned  # E2 is out of reach after W1
    weak = seen("E1", 100, 110, track_id=5, score=0.2, upper="blue", lower="grey")  # somebody else, forced on
    assert weak.sighting_id in [st.sighting.sighting_id for st in plan([*fork_sightings, weak],
                                                                        pinned=[weak.sighting_id]).stops]
    assert cams(plan(fork_sightings, rejected=[e1.sighting_id])) == ["S", "W1"]
    # a sighting grouped with a rejected row goes too
    grouped = seen("E1", 250, 260, track_id=3, score=0.6, members=(e1.sighting_id, "vid-E1:3:1"))
    assert "E1" not in cams(plan([s, w1, grouped, e2], rejected=["vid-E1:3:1"]))
    with pytest.raises(SearchInputError, match="cannot both be on one route"):
        plan(fork_sightings, pinned=[w1.sighting_id, e2.sighting_id])
    with pytest.raises(SearchInputError, match="does not pass the route's filters"):
        plan([s, e1, e2], pinned=[w1.sighting_id])


def test_plan_leaves_out_the_starts_own_tracklet():
    start = seen("S", 0, 10, track_id=1)
    later_same_track = seen("S", 30, 40, track_id=1, score=0.95)
    route = plan([later_same_track, seen("E1", 250, 260, track_id=2)], start=start)
    assert cams(route) == ["S", "E1"] and route.candidates == 2  # the start and E1


def test_plan_from_a_last_seen_camera_and_time(fork_sightings):
    _s, _w1, e1, e2 = fork_sightings
    route = plan([e1, e2], last_seen=LastSeen("E1", T0 + 255))  # what the search finds after the last-seen time
    assert route.stops[0].is_start and route.stops[0].sighting is None
    assert route.stops[0].t_start == T0 + 250  # moved back to where the spanning sighting begins
    assert cams(route) == ["E1", "E1", "E2"] and route.districts == ["East-gu"]
    assert any("spans the last-seen time" in w for w in route.warnings)
    # a described heading orients the first hop from a last-seen camera
    east = plan([seen("E1", 250, 260, track_id=2), seen("W1", 250, 260, track_id=3)],
                last_seen=LastSeen("S", T0), described_heading=90.0)
    west = plan([seen("E1", 250, 260, track_id=2), seen("W1", 250, 260, track_id=3)],
                last_seen=LastSeen("S", T0), described_heading=270.0)
    assert cams(east) == ["S", "E1"] and cams(west) == ["S", "W1"]


def test_a_last_seen_start_is_not_moved_back_by_someone_else_in_view():
    # at E1 at 255 s: somebody who does not match was in view from 240 s, she from 252 s. Moved back to
    # 240 s, her sighting would begin 12 s after the start and read as a new pass of the camera.
    other = seen("E1", 240, 262, track_id=2, score=0.2)
    her = seen("E1", 252, 260, track_id=3)
    route = plan([other, her, seen("E2", 430, 440, track_id=4)], last_seen=LastSeen("E1", T0 + 255))
    assert route.stops[0].is_start and route.stops[0].t_start == T0 + 252
    assert cams(route) == ["E1", "E1", "E2"] and route.stops[1].sighting.sighting_id == her.sighting_id


def test_plan_gaps_name_cameras_on_the_way_that_had_footage(fork_sightings):
    s, _w1, _e1, e2 = fork_sightings
    covered = plan([s, e2])
    assert cams(covered) == ["S", "E2"] and covered.gaps[0].cameras_between == ["E1"]
    assert covered.gaps[0].gap_s == 420 and covered.gaps[0].distance_m == pytest.approx(600, rel=0.01)
    assert plan([s, e2], footage={}).gaps[0].cameras_between == []  # no footage there: nothing to check
    before = {"E1": [(T0 - 3600, T0 - 60)]}  # E1's footage ends before the gap
    assert plan([s, e2], footage=before).gaps[0].cameras_between == []


def test_plan_next_camera_windows_and_their_footage():
    start = seen("E2", 0, 10, track_id=1, bearing=90.0)
    footage = {"E3": [(T0 + 60, T0 + 1200)]}
    route = plan([], start=start, v_min=0.5, footage=footage)
    first = route.suggestions[0]
    assert first.camera_id == "E3"  # 300 m ahead (east)
    assert first.earliest == pytest.approx(T0 + 10 + (300 - 2 * VIEW_RADIUS_M) / 2.0, abs=2)
    assert first.latest == pytest.approx(T0 + 10 + (300 + 2 * VIEW_RADIUS_M) / 0.5, abs=2)
    assert first.bearing_agreement == pytest.approx(1.0, abs=0.01) and first.has_footage
    behind = next(c for c in route.suggestions if c.camera_id == "E1")
    assert behind.bearing_agreement == pytest.approx(-1.0, abs=0.01) and not behind.has_footage
    assert [c.camera_id for c in route.suggestions].index("E1") > 0
    assert len(plan([], start=start, suggestions=2).suggestions) == 2


def test_plan_without_a_plausible_sighting_is_empty():
    route = plan([seen("E1", 250, 260, track_id=2, score=0.2)])  # below the break-even
    assert route.stops == [] and route.score == 0.0 and "no plausible route" in route.message
    assert route.gaps == [] and route.suggestions == []

"""Routes on the generated demo city: the scripted person's walk recovered across districts.

Each route is checked against the ground truth: every stop shows the target (by the drawn boxes), stops
follow the scripted camera order, each stop's time falls inside her [enter, exit] at that camera, every
route camera where the index holds her is on the route, and the double (same outfit, 2 km away) never is.
"""

from __future__ import annotations

import json

import pytest

from core.registry import load_registry
from footage_search.cli import main as cli_main
from search.engine import SearchEngine
from search.errors import SearchInputError
from search.route import RouteRequest, build_route
from search.search_models import SearchModels
from tests.search_fixtures import ground_truth_people, holds, target_crop_png

WINDOW = {"time_from": "2026-03-14T09:00:00+09:00", "time_to": "2026-03-14T10:00:00+09:00"}


@pytest.fixture(scope="module")
def city(sample_index, sample_city):
    gt = json.loads(sample_city.ground_truth.read_text(encoding="utf-8"))
    registry = load_registry(sample_city.registry)
    engine = SearchEngine(sample_index, registry, SearchModels(sample_index, clip_enabled=False))
    votes = ground_truth_people(engine.reader.table(), gt)
    indexed = {engine.get_sighting(sid).camera_id for sid, c in votes.items() if c["target"] >= 2}
    return engine, gt, votes, indexed


def check_route(route, gt, votes, indexed, *, cameras=None) -> None:
    legs = {leg["camera_id"]: leg for leg in gt["route"]}
    order = [leg["camera_id"] for leg in gt["route"]]
    found = [st for st in route.stops if st.sighting is not None]
    assert found, route.message
    for st in found:
        assert holds(votes, st.sighting, "target"), (st.camera_id, st.sighting.sighting_id)
        assert not holds(votes, st.sighting, "double-1")
        leg = legs[st.camera_id]
        # the stop's time span overlaps her time in that camera's view (1 s slack for 2 fps sampling)
        assert st.t_start <= leg["t_exit_epoch"] + 1 and st.t_end >= leg["t_enter_epoch"] - 1, st.camera_id
    cams = [st.camera_id for st in found]
    ranks = [order.index(c) for c in cams]
    assert ranks == sorted(ranks)  # scripted camera order
    assert [st.t_start for st in route.stops] == sorted(st.t_start for st in route.stops)
    assert set(cameras if cameras is not None else indexed) <= set(cams)
    districts = [legs[c]["district"] for c in dict.fromkeys(cams)]
    expected = [d for k, d in enumerate(districts) if k == 0 or d != districts[k - 1]]
    assert route.districts == expected and len(route.districts) >= 2


def test_route_from_a_text_description_alone(city):
    engine, gt, votes, indexed = city
    route = build_route(engine, RouteRequest(text=gt["target"]["description_en"], **WINDOW))
    check_route(route, gt, votes, indexed)
    assert route.districts[0] == "Jung-gu" and route.districts[-1] in ("Yongsan-gu", "Mapo-gu")


def test_route_from_a_korean_description_alone(city):
    engine, gt, votes, indexed = city
    route = build_route(engine, RouteRequest(text=gt["target"]["description_ko"], **WINDOW))
    check_route(route, gt, votes, indexed)


@pytest.mark.parametrize("camera", ["JG-02", "YS-01"])
def test_route_from_a_reference_photo_alone(city, sample_city, camera):
    engine, gt, votes, indexed = city
    route = build_route(engine, RouteRequest(photo=target_crop_png(gt, sample_city.root, camera), **WINDOW))
    check_route(route, gt, votes, indexed)


def test_route_from_a_confirmed_sighting_and_from_a_last_seen_camera(city):
    engine, gt, votes, indexed = city
    first = gt["route"][0]
    legs = {leg["camera_id"]: leg for leg in gt["route"]}
    # an operator confirms a clean sighting of her (a track that is mostly her, not one the tracker mixed up)
    clean = [sid for sid, c in votes.items() if c["target"] >= 3 and c["target"] >= 0.8 * sum(c.values())]
    start = min(clean, key=lambda sid: engine.get_sighting(sid).t_start)
    t0 = engine.get_sighting(start).t_start
    route = build_route(engine, RouteRequest(start_sighting_id=start, forward_s=3600))
    assert route.stops[0].is_start and route.stops[0].sighting.sighting_id == start
    check_route(route, gt, votes, indexed, cameras={c for c in indexed if legs[c]["t_enter_epoch"] >= t0 - 30})
    seen = build_route(engine, RouteRequest(start_camera=first["camera_id"], start_time=first["t_enter_epoch"] + 2,
                                            text="purple coat, blue jeans", forward_s=3600))
    assert any(st.is_start and st.sighting is None for st in seen.stops)
    check_route(seen, gt, votes, indexed)


def test_next_camera_windows_contain_her_real_arrival(city):
    """Stop the search window after YS-01: the suggested windows for YS-02 and MP-01 must contain the
    times she actually got there."""
    engine, gt, _votes, indexed = city
    legs = {leg["camera_id"]: leg for leg in gt["route"]}
    if "YS-01" not in indexed:
        pytest.skip("the index lost the target at YS-01")
    end = legs["YS-01"]["t_exit_epoch"] + 20
    route = build_route(engine, RouteRequest(text="purple coat, blue jeans", time_from=end - 3600, time_to=end))
    assert route.stops[-1].camera_id == "YS-01"
    sugg = {c.camera_id: c for c in route.suggestions}
    for cam in ("YS-02", "MP-01"):
        if cam in sugg:
            assert sugg[cam].earliest <= legs[cam]["t_enter_epoch"] <= sugg[cam].latest, cam
    assert "YS-02" in sugg and sugg["YS-02"].has_footage
    assert route.suggestions[0].camera_id == "YS-02"  # nearest camera ahead of her


def test_pin_and_reject(city):
    engine, _gt, votes, _indexed = city
    base = build_route(engine, RouteRequest(text="purple coat, blue jeans", **WINDOW))
    ys01 = next((st.sighting for st in base.stops if st.camera_id == "YS-01"), None)
    if ys01 is None:
        pytest.skip("no YS-01 stop")
    rejected = build_route(engine, RouteRequest(text="purple coat, blue jeans", rejected=[ys01.sighting_id], **WINDOW))
    assert all(ys01.sighting_id not in (st.sighting.member_ids if st.sighting else ()) for st in rejected.stops)
    assert len(rejected.stops) == len(base.stops) - 1
    # the look-alike (purple coat, black trousers) 25 s before the target at YS-01: pinning forces her on
    look = next(sid for sid, c in votes.items() if c["lookalike-1"] >= 2 and c["target"] == 0)
    pinned = build_route(engine, RouteRequest(text="purple coat, blue jeans", pinned=[look], **WINDOW))
    ids = [m for st in pinned.stops if st.sighting for m in st.sighting.member_ids]
    assert look in ids and any(st.pinned for st in pinned.stops)
    times = [st.t_start for st in pinned.stops]
    assert times == sorted(times)
    with pytest.raises(SearchInputError, match="both pinned and rejected"):
        build_route(engine, RouteRequest(text="purple coat", pinned=[look], rejected=[look], **WINDOW))


def test_the_double_cannot_join_the_route_even_when_pinned_next_to_her(city):
    engine, _gt, votes, _indexed = city
    double = next(sid for sid, c in votes.items() if c["double-1"] >= 2)
    near = [sid for sid, c in votes.items() if c["target"] >= 2
            and engine.get_sighting(sid).camera_id in ("JG-02", "YS-01")]
    if not near:
        pytest.skip("target not indexed next to the double's time")
    with pytest.raises(SearchInputError, match="cannot"):
        build_route(engine, RouteRequest(text="purple coat, blue jeans", pinned=[double, *near], **WINDOW))


def test_route_cli_json(city, sample_index, sample_city, capsys):
    _engine, _gt, _votes, _indexed = city
    rc = cli_main(["route", "--index", sample_index.storage.index_uri, "--registry", str(sample_city.registry),
                   "--text", "purple coat, blue jeans", "--from", "2026-03-14T09:00", "--to", "2026-03-14T10:00",
                   "--no-clip", "--json", "--set", f"models.models_dir={sample_index.models.models_dir}",
                   "--set", "models.allow_download=false"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["districts"][0] == "Jung-gu" and len(out["districts"]) >= 2
    assert [s["camera_id"] for s in out["stops"]] == out["cameras"]
    stop = out["stops"][1]
    assert stop["leg"]["distance_m"] > 200 and stop["sighting"]["video_file"].endswith(".mp4")
    assert stop["start"].endswith("+09:00")
    assert out["suggestions"] and {"earliest", "latest", "has_footage"} <= set(out["suggestions"][0])

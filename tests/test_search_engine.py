"""SearchEngine on small hand-made indexes: filters, grouping, gating, pagination, errors, vector prefilter."""

from __future__ import annotations

import math

import lancedb
import numpy as np
import pytest

from core.schema import SIGHTINGS
from search.engine import SearchEngine
from search.errors import SearchInputError
from search.request import SearchRequest
from search.search_models import SearchModels
from tests.conftest import make_config
from tests.search_fixtures import DIM, T0, Row, grid_registry, unit, write_index

REG = grid_registry([("A-1", "Alpha-gu", 0, 0), ("A-2", "Alpha-gu", 300, 0), ("B-1", "Beta-gu", 600, 0),
                     ("B-2", "Beta-gu", 0, 900)])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    uri = tmp_path_factory.mktemp("search-small") / "index"
    rows = [
        Row("A-1", T0 + 0, T0 + 20, upper="red", lower="black", bearing=10, track_id=1, segment=0),
        Row("A-1", T0 + 20, T0 + 40, upper="red", lower="black", bearing=12, track_id=1, segment=1),
        Row("A-1", T0 + 60, T0 + 70, upper="red", lower="black", bearing=350, track_id=1, segment=3),
        Row("A-2", T0 + 300, T0 + 320, upper="red", lower="blue", bearing=180, track_id=2),
        Row("B-1", T0 + 900, T0 + 905, upper="blue", lower="black", bearing=90, track_id=3, n_detections=3),
        Row("B-2", T0 + 1000, T0 + 1030, upper="grey", lower="grey", bearing=None, track_id=4),
        Row("B-2", T0 + 1100, T0 + 1130, upper="purple", lower="blue", bearing=270, track_id=5),
    ]
    ids = write_index(uri, REG, rows)
    cfg = make_config(uri)
    return SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=False)), ids


def ids_of(result):
    return [s.sighting_id for s in result.sightings]


def test_colour_query_ranks_and_groups_adjacent_segments(small):
    engine, ids = small
    r = engine.search(SearchRequest(text="red jacket"))
    assert not r.no_result and r.calibrated
    cams = [s.camera_id for s in r.sightings]
    assert cams.count("A-1") == 2  # segments 0+1 merged, segment 3 (not adjacent) separate
    merged = next(s for s in r.sightings if len(s.member_ids) == 2)
    assert set(merged.member_ids) == {ids[0], ids[1]}
    assert merged.t_start == T0 and merged.t_end == T0 + 40
    assert {s.camera_id for s in r.sightings} == {"A-1", "A-2"}  # nobody else wears red
    assert all(s.score is not None and s.score >= engine.cfg.search.min_score for s in r.sightings)


def test_colour_combination_nobody_wears_is_a_no_result(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="yellow jacket, green trousers"))
    assert r.no_result and r.sightings == [] and r.total == 0
    assert "no plausible match" in r.message and "0.35" in r.message
    weak = engine.search(SearchRequest(text="yellow jacket, green trousers", include_weak=True))
    assert weak.no_result and weak.sightings and all(s.weak for s in weak.sightings)


def test_upper_and_lower_are_told_apart(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="purple top, blue jeans"))
    assert r.sightings[0].camera_id == "B-2" and r.sightings[0].track_id == 5
    # blue upper only in B-1: "blue coat" must not rank the blue-jeans wearers first
    r2 = engine.search(SearchRequest(text="blue coat"))
    assert r2.sightings[0].camera_id == "B-1"


def test_filters_camera_district_time(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="red", cameras=["a-2"]))  # case-insensitive registry match
    assert [s.camera_id for s in r.sightings] == ["A-2"]
    r = engine.search(SearchRequest(text="red", districts=["Beta-gu"]))
    assert r.no_result
    r = engine.search(SearchRequest(text="red", time_from=T0 + 50, time_to=T0 + 400))
    assert sorted(s.camera_id for s in r.sightings) == ["A-1", "A-2"]
    assert all(s.t_end >= T0 + 50 for s in r.sightings)
    iso = engine.search(SearchRequest(text="red", time_from="2026-03-14T10:04:00", time_to="2026-03-14T10:06:00"))
    assert [s.camera_id for s in iso.sightings] == ["A-2"]  # naive ISO times are in index.timezone (KST)


def test_direction_filter_wraps_around_north(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="red", direction="N"))
    bearings = sorted(s.bearing_deg for s in r.sightings)
    assert bearings and all(angle <= 45 or angle >= 315 for angle in bearings)
    assert 350 in [round(b) for b in bearings]
    r = engine.search(SearchRequest(text="red heading south"))
    assert [s.camera_id for s in r.sightings] == ["A-2"]
    assert r.parsed.direction == "S"
    narrow = engine.search(SearchRequest(text="red", direction=355, direction_tolerance_deg=6))
    assert [round(s.bearing_deg) for s in narrow.sightings] == [350]


def test_min_track_length_filters(small):
    engine, ids = small
    unfiltered = engine.search(SearchRequest(text="blue"))
    assert "B-1" in {s.camera_id for s in unfiltered.sightings}  # wears blue, but only 3 detections
    r = engine.search(SearchRequest(text="blue", min_detections=5))
    assert [(s.camera_id, s.track_id) for s in r.sightings] == [("A-2", 2), ("B-2", 5)]
    assert all(s.n_detections >= 5 for s in r.sightings)
    r = engine.search(SearchRequest(text="red", min_duration_s=15))
    # the 10 s segment 3 of track 1 is left out; the adjacent 20 s segments 0 and 1 stay one sighting
    assert [s.member_ids for s in r.sightings] == [(ids[0], ids[1]), (ids[3],)]
    assert all(s.duration_s >= 15 for s in r.sightings)


def test_pagination(small):
    engine, _ = small
    full = engine.search(SearchRequest(text="dark", include_weak=True, limit=100))
    page1 = engine.search(SearchRequest(text="dark", include_weak=True, limit=2))
    page2 = engine.search(SearchRequest(text="dark", include_weak=True, limit=2, offset=2))
    assert ids_of(page1) + ids_of(page2) == ids_of(full)[:4]
    assert page1.total == full.total


def test_direction_only_query_lists_by_time(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="heading west"))
    assert not r.no_result and [s.camera_id for s in r.sightings] == ["B-2"]
    assert "listed by time" in r.message


def test_more_like_excludes_itself_and_finds_the_same_outfit(small):
    engine, ids = small
    r = engine.more_like(ids[2])  # red/black, A-1 track 1 segment 3
    assert ids[2] not in {m for s in r.sightings for m in s.member_ids}
    assert r.sightings and set(r.sightings[0].member_ids) == {ids[0], ids[1]}  # the same outfit
    others = [s for s in r.sightings if s.camera_id == "A-2"]  # red top too, but blue trousers: ranks lower
    assert others and all(s.score < r.sightings[0].score for s in others)
    assert "B-1" not in {s.camera_id for s in r.sightings}  # blue top: not plausible
    s = engine.get_sighting(ids[3])
    assert s.camera_id == "A-2" and s.upper is not None and s.layout is not None


@pytest.mark.parametrize("req, words", [
    (SearchRequest(), "empty query"),
    (SearchRequest(text="   \n "), "empty query"),
    (SearchRequest(text="red", cameras=["Z-9"]), "unknown camera"),
    (SearchRequest(text="red", districts=["Gamma-gu"]), "unknown district"),
    (SearchRequest(text="red", time_from=T0 + 10, time_to=T0), "'from' is after 'to'"),
    (SearchRequest(text="red", time_from="yesterday"), "not an ISO 8601 time"),
    (SearchRequest(text="red", direction="upwards"), "direction"),
    (SearchRequest(text="red", direction_tolerance_deg=0), "tolerance"),
    (SearchRequest(text="red", limit=0), "limit"),
    (SearchRequest(text="red", offset=-1), "offset"),
    (SearchRequest(like="nope:1:0"), "unknown sighting"),
    (SearchRequest(like="x\x00y"), "not a sighting id"),
    (SearchRequest(text="red", min_detections=-1), "detections"),
    (SearchRequest(photo=b""), "empty"),
])
def test_bad_input_raises_clear_errors(small, req, words):
    engine, _ = small
    with pytest.raises(SearchInputError, match=words):
        engine.search(req)


def test_unusable_free_text_without_clip_says_so(small):
    engine, _ = small
    r = engine.search(SearchRequest(text="man with a hat"))
    assert r.no_result and "could not use the description" in r.message


def test_result_json_shape(small):
    engine, ids = small
    d = engine.search(SearchRequest(text="red jacket")).to_dict(engine.tz)
    assert d["total"] == 3 and [s["camera_id"] for s in d["sightings"]] == ["A-1", "A-1", "A-2"]
    s = d["sightings"][0]
    # the top: track 1's merged segments 0 and 1 (a full colour match, earliest first among equals)
    assert s["member_ids"] == [ids[0], ids[1]] and s["score"] == 1.0 and s["evidence"]["colour"] == 1.0
    assert (s["start"], s["end"]) == ("2026-03-14T10:00:00+09:00", "2026-03-14T10:00:40+09:00")
    assert s["upper_colours"][0][0] == "red" and s["lower_colours"][0][0] == "black"
    for key in ("sighting_id", "score", "camera_id", "district", "time", "start", "end", "video_file", "offset_s",
                "box", "direction", "bearing_deg"):
        assert key in s
    assert s["time"].endswith("+09:00") and s["rank"] == 1
    assert d["query"]["summary"].startswith("understood: upper=red")


# --------------------------------------------------------------------------- vector prefilter at scale


def _bulk_table(uri, n: int, target_vec: np.ndarray, rng) -> None:
    """n rows over 4 cameras; only 3 rows are at camera B-2, one of them holds ``target_vec``."""
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cams = np.array(["A-1", "A-2", "B-1"])[rng.integers(0, 3, n)]
    cams[:3] = "B-2"
    vecs[1] = target_vec
    # decoys elsewhere that are even closer to the target than the true row: an ANN cut-off would keep them
    vecs[3:200] = target_vec + 0.01 * rng.normal(size=(197, DIM)).astype(np.float32)
    vecs[3:200] /= np.linalg.norm(vecs[3:200], axis=1, keepdims=True)
    write_index(uri, REG, [Row(str(cams[i]), T0 + i, T0 + i + 5, track_id=i, video=f"v{i // 1000}",
                               vector=vecs[i]) for i in range(n)])
    table = lancedb.connect(str(uri)).open_table(SIGHTINGS)
    table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_PQ", num_partitions=64,
                       num_sub_vectors=DIM // 16, name="vector_idx")
    table.create_scalar_index("camera_id", index_type="BITMAP", name="camera_id_idx")


@pytest.mark.slow
def test_selective_filter_keeps_the_true_match_with_an_ann_index(tmp_path):
    rng = np.random.default_rng(7)
    target = unit(rng)
    uri = tmp_path / "bulk"
    _bulk_table(uri, 25_000, target, rng)
    cfg = make_config(uri)
    engine = SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=True))
    assert engine.reader.has_index("vector_idx")
    # Force the approximate path (IVF_PQ + prefilter) even though the filtered set is tiny.
    engine.exact_scan_max = 0
    engine.ann_exact_max = 0
    table = engine.reader.table()
    rows = table.search().where("camera_id = 'B-2'").select(["sighting_id"]).to_arrow().column(0).to_pylist()
    assert len(rows) == 3
    hits = engine.reader.nearest(target, "camera_id = 'B-2'", 10, ["sighting_id"], exact=False)
    assert "v0:1:0" in hits.column("sighting_id").to_pylist()
    # through the engine: a "more like this" query restricted to B-2 finds its 2 other rows, ranked by CLIP
    near = engine.search(SearchRequest(like="v0:3:0", cameras=["B-2"], include_weak=True))
    found = {s.sighting_id for s in near.sightings}
    assert "v0:1:0" in found
    assert math.isclose(near.sightings[0].evidence.get("clip", 0.0), 1.0, abs_tol=1e-6)
    # Unfiltered, the 197 decoys form one tight "look" that PQ codes cannot order: the ANN top 10 must
    # still be the exact top 10, which takes re-ranking enough candidates with their full vectors.
    exact = engine.reader.nearest(target, None, 10, ["sighting_id"], exact=True).column("sighting_id")
    approx = engine.reader.nearest(target, None, 10, ["sighting_id"], exact=False).column("sighting_id")
    assert len(set(exact.to_pylist()) & set(approx.to_pylist())) >= 9
    # Past evidence_scan_max rows a photo-style query is led by its vector: no appearance scan of every
    # row, yet the same people come first as with the scan.
    full = engine.search(SearchRequest(like="v0:1:0", limit=20))
    engine.evidence_scan_max = 0
    led = engine.search(SearchRequest(like="v0:1:0", limit=20))
    assert "scan" in full.timings_ms and "scan" not in led.timings_ms
    assert led.sightings and all(3 <= int(s.sighting_id.split(":")[1]) < 200 for s in led.sightings)
    assert {s.sighting_id for s in led.sightings[:10]} == {s.sighting_id for s in full.sightings[:10]}


def test_uses_tiny_clip_for_text_when_enabled(tmp_path):
    """Plumbing only: the random tiny model's similarities mean nothing and are not asserted on."""
    uri = tmp_path / "clip"
    write_index(uri, REG, [Row("A-1", T0, T0 + 10, upper="red", track_id=1),
                           Row("A-2", T0 + 100, T0 + 110, upper="blue", track_id=2)])
    cfg = make_config(uri)
    engine = SearchEngine(cfg, REG, SearchModels(cfg))
    r = engine.search(SearchRequest(text="red jacket"))
    assert not r.warnings, r.warnings
    assert "embed_text" in r.timings_ms
    assert r.sightings and all("clip" in s.evidence for s in r.sightings)
    assert r.sightings[0].camera_id == "A-1"  # colour evidence gates: the blue one is not plausible
    assert [s.camera_id for s in r.sightings] == ["A-1"]


def test_mismatched_clip_model_is_switched_off_with_a_warning(tmp_path):
    uri = tmp_path / "other-model"
    write_index(uri, REG, [Row("A-1", T0, T0 + 10, upper="red", track_id=1)], clip_model="ViT-B-32/openai")
    cfg = make_config(uri)
    engine = SearchEngine(cfg, REG, SearchModels(cfg))
    r = engine.search(SearchRequest(text="red jacket"))
    assert any("built with CLIP ViT-B-32/openai" in w for w in r.warnings)
    assert r.sightings and "clip" not in r.sightings[0].evidence

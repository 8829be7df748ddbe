"""A description's colour words, and a photo's no-result gate, read the sighting's crops as well as its averages.

A short pass's track average mixes in its poor frames (blur, half out of view, a neighbour), so a
red jacket can average out to "dark"; the crops (the best-placed frames, colour-corrected per frame)
still show it. Each colour term takes the better reading, and the large-index SQL pre-cut stays
lossless with the crops in play. A photo's gate lets a strong part match through (``gate_parts``).
"""

from __future__ import annotations

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from core.schema import SIGHTINGS
from core.vision.colours import N_COLOURS
from core.vision.parts import MAX_CROPS, N_PARTS, PART_DIM
from search import evidence as ev
from search.appearance import crop_body_colours, read_part_column
from search.engine import SearchEngine
from search.query_parser import parse_query
from search.request import SearchRequest
from search.search_models import SearchModels
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, colour_dist, crop_of, grid_registry, write_index

REG = grid_registry([("A-1", "Alpha-gu", 0, 0), ("A-2", "Alpha-gu", 300, 0)])


def crops(head: str, torso: str, legs: str, k: int = 2) -> list[float]:
    """``k`` identical crops of these part colours, as a ``part_colours`` value."""
    return np.tile(crop_of(head, torso, legs, strength=0.6), k).tolist()


def test_crop_body_colours_is_the_mean_torso_and_legs_and_nan_without_crops():
    red_blue, green_white = crops("black", "red", "blue", 1), crops("black", "green", "white", 1)
    rows, mask = read_part_column(pa.array([red_blue + green_white, None], type=pa.list_(pa.float32())))
    torso, legs = crop_body_colours(rows, mask)
    np.testing.assert_allclose(torso[0], (colour_dist("red", 0.6) + colour_dist("green", 0.6)) / 2, atol=1e-6)
    np.testing.assert_allclose(legs[0], (colour_dist("blue", 0.6) + colour_dist("white", 0.6)) / 2, atol=1e-6)
    assert np.isnan(torso[1]).all() and np.isnan(legs[1]).all()


def test_a_jacket_only_the_crops_show_is_found_and_the_cut_keeps_it(tmp_path):
    dark = {"black": 0.3, "grey": 0.2}  # what a blurred short pass averages to
    rows = [
        Row("A-1", T0, T0 + 4, upper=dark, lower=dark, track_id=1,
            extra={"part_colours": crops("black", "red", "blue")}),  # red jacket, blue jeans in its crops
        Row("A-1", T0 + 30, T0 + 34, upper=dark, lower=dark, track_id=2,
            extra={"part_colours": crops("black", "black", "black")}),  # dark in every reading
        Row("A-2", T0 + 60, T0 + 64, upper=dark, lower=dark, track_id=3),  # no crops (an older index)
        Row("A-2", T0 + 90, T0 + 94, upper="red", lower="blue", track_id=4),  # red in the average
    ]
    uri = tmp_path / "index"
    ids = write_index(uri, REG, rows)
    cfg = make_config(uri)
    engine = SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=False))
    for exact_max in (engine.exact_scan_max, 0):  # every row scored, then the SQL pre-cut first
        engine.exact_scan_max = exact_max
        r = engine.search(SearchRequest(text="red jacket, blue jeans"))
        assert [s.sighting_id for s in r.sightings] == [ids[3], ids[0]], (exact_max, r.message)
        # the average shows it fully; the crops alone, partly (ev.CROP_VIEW_WEIGHT)
        assert r.sightings[0].evidence["colour"] >= 0.9
        assert r.sightings[1].evidence["colour"] == pytest.approx(ev.CROP_VIEW_WEIGHT, abs=0.05)


def test_the_colour_pre_cut_never_drops_a_row_with_colour_evidence(tmp_path):
    """Lossless: every row the SQL pre-cut leaves out scores exactly 0 on every colour term."""
    rng = np.random.default_rng(7)
    n = 400
    upper = rng.dirichlet(np.full(N_COLOURS, 0.4), size=n).astype(np.float32)
    lower = rng.dirichlet(np.full(N_COLOURS, 0.4), size=n).astype(np.float32)
    k = rng.integers(0, MAX_CROPS + 1, size=n)
    parts = [rng.dirichlet(np.full(N_COLOURS, 0.4), size=(int(c), N_PARTS)).astype(np.float32).reshape(-1).tolist()
             if c else None for c in k]
    ids = [f"r{i}" for i in range(n)]
    table = pa.table({"sighting_id": ids,
                      "upper_colour": pa.FixedSizeListArray.from_arrays(upper.reshape(-1), N_COLOURS),
                      "lower_colour": pa.FixedSizeListArray.from_arrays(lower.reshape(-1), N_COLOURS),
                      "part_colours": pa.array(parts, type=pa.list_(pa.float32()))})
    db = lancedb.connect(str(tmp_path / "db"))
    t = db.create_table(SIGHTINGS, data=table)
    assert all(len(p) % PART_DIM == 0 for p in parts if p)
    crop_rows, mask = read_part_column(table.column("part_colours"))
    views = crop_body_colours(crop_rows, mask)
    cut = 0
    for text in ("red jacket", "navy coat, beige trousers", "purple", "white shirt, black trousers",
                 "dark jacket, blue jeans", "yellow top, green skirt"):
        parsed = parse_query(text)
        scores = ev.colour_term_scores(parsed, upper, lower)
        with_crops = [s.evidence for s in ev.colour_terms(parsed, upper, lower, None, views)]
        some = np.max(np.stack(scores + with_crops), axis=0) > 0
        kept = set(t.search().where(ev.colour_sql_prefilter(parsed)).select(["sighting_id"])
                   .limit(n).to_arrow().column("sighting_id").to_pylist())
        assert {ids[i] for i in np.nonzero(some)[0]} <= kept, text
        cut += n - len(kept)
    assert cut > 0  # the pre-cut does drop rows


def test_a_strong_part_match_passes_the_photo_gate_a_weak_one_does_not(tmp_path):
    """The no-result gate of a photo / "more like this" query: the averaged colours' evidence, or the fused
    (colours + parts) evidence up to ``gate_parts`` of it. Her second pass, washed out to grey on average,
    still shows her crops; a man whose crops differ does not pass on parts."""
    from dataclasses import replace

    from search.appearance import DEFAULT
    from search.filters import SearchFilters

    her = crops("yellow", "purple", "blue", 4)
    WASHED = {"purple": 0.2, "grey": 0.3}  # her coat on a cut-off pass: partly purple
    rows = [
        Row("A-1", T0, T0 + 10, upper="purple", lower="blue", track_id=1, extra={"part_colours": her}),
        Row("A-2", T0 + 300, T0 + 304, upper=WASHED, lower="blue", track_id=2, extra={"part_colours": her}),
        Row("A-2", T0 + 400, T0 + 404, upper=WASHED, lower="blue", track_id=3,
            extra={"part_colours": crops("black", "green", "black", 4)}),
    ]
    uri = tmp_path / "index"
    ids = write_index(uri, REG, rows)
    cfg = make_config(uri)
    engine = SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=False))

    def passing(gate_parts: float) -> list[str]:
        q = engine.compile(like=ids[0], use_clip=False)
        q.scoring.part_weights = replace(DEFAULT, gate_parts=gate_parts)
        r = engine.find(q, SearchFilters(), limit=10, include_weak=True)
        return [s.sighting_id for s in r.sightings if not s.weak]

    assert passing(0.0) == []  # the averaged colours alone: her grey pass is "not there"
    assert passing(DEFAULT.gate_parts) == [ids[1]]  # her crops carry her through; his do not

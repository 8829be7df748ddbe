"""``footage-search query`` / ``route`` on a small hand-made index: output formats, registry lookup, errors."""

from __future__ import annotations

import json

import pytest

from core.registry import write_registry
from footage_search.cli import main
from tests.search_fixtures import T0, Row, grid_registry, write_index

REG = grid_registry([("A-1", "Alpha-gu", 0, 0), ("B-1", "Beta-gu", 300, 0)])


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_index(root / "index", REG, [Row("A-1", T0, T0 + 10, upper="red", bearing=90.0, track_id=1),
                                      Row("B-1", T0 + 200, T0 + 210, upper="red", bearing=90.0, track_id=2),
                                      Row("B-1", T0 + 300, T0 + 310, upper="blue", track_id=3)])
    write_registry(REG, root / "cameras.csv")
    return root


def run(capsys, index, *args: str) -> tuple[int, str, str]:
    rc = main([*args, "--index", str(index / "index"), "--registry", str(index / "cameras.csv"), "--no-clip",
               "--set", "models.allow_download=false"])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_query_json(index, capsys):
    rc, out, _ = run(capsys, index, "query", "--text", "빨간 재킷", "--json", "--from", "2026-03-14T09:59",
                     "--to", "2026-03-14T10:10")
    assert rc == 0
    d = json.loads(out)
    assert d["total"] == 2 and [s["camera_id"] for s in d["sightings"]] == ["A-1", "B-1"]
    s = d["sightings"][0]
    assert s["video_file"] == "vid-A-1.mp4" and s["offset_s"] == pytest.approx(5.0)
    assert s["time"] == "2026-03-14T10:00:05+09:00" and s["direction"] == "E" and s["box"] == [100, 50, 140, 170]


def test_query_table_and_pagination(index, capsys):
    rc, out, _ = run(capsys, index, "query", "--text", "red top", "--limit", "1")
    assert rc == 0
    assert "2 sighting(s) found" in out and "A-1" in out and "1 more (use --offset)" in out
    rc, out, _ = run(capsys, index, "query", "--text", "red top", "--limit", "1", "--offset", "1")
    assert rc == 0
    assert "B-1" in out and "A-1" not in out.split("\n", 2)[-1] and "more (use --offset)" not in out


def test_no_result_and_input_errors(index, capsys):
    rc, out, _ = run(capsys, index, "query", "--text", "green trousers")
    assert rc == 0 and "no plausible match" in out
    rc, _, err = run(capsys, index, "query", "--text", "red", "--district", "Nowhere-gu")
    assert rc == 2 and "unknown district 'Nowhere-gu'" in err and "Traceback" not in err
    rc, _, err = run(capsys, index, "query")
    assert rc == 2 and "empty query" in err
    rc, _, err = run(capsys, index, "query", "--photo", str(index / "missing.jpg"))
    assert rc == 2 and "cannot read the photo" in err


def test_registry_is_required_when_the_archive_is_unknown(index, capsys):
    rc = main(["query", "--text", "red", "--index", str(index / "index"), "--no-clip"])
    err = capsys.readouterr().err
    assert rc == 2 and "--registry" in err


def test_route_human_and_json(index, capsys):
    rc, out, _ = run(capsys, index, "route", "--camera", "A-1", "--at", "2026-03-14T10:00:00", "--text", "red",
                     "--hours", "1")
    assert rc == 0 and "across 2 district(s): Alpha-gu -> Beta-gu" in out and "next cameras to check" in out
    rc, out, _ = run(capsys, index, "route", "--text", "red top", "--from", "2026-03-14T09:00", "--to",
                     "2026-03-14T11:00", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["cameras"] == ["A-1", "B-1"] and d["stops"][1]["leg"]["gap_s"] == pytest.approx(190)
    rc, _, err = run(capsys, index, "route", "--text", "red", "--pin", "x", "--reject", "x", "--from",
                     "2026-03-14T09:00", "--to", "2026-03-14T11:00")
    assert rc == 2 and "both pinned and rejected" in err

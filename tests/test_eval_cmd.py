"""``footage-search eval``: recall@k and mAP on a tiny hand-made index whose answers are worked out by hand.

Rows (all "red jacket" evidence computed from the colour ranges: red floor 0.10, full 0.35; a
``colour_dist("red", s)`` row shows s + (1 - s) / 11 red):

    row  camera  time (s after T0)  red strength -> evidence   who
    0    C1      0-10               0.20 -> 0.69               the person (interval A)
    1    C1      20-30              0.50 -> 1.00               someone else in red
    2    C2      100-110            0.25 -> 0.87               the person (interval B)
    3    C2      200-210            black                      someone else

"red jacket" ranks rows 1, 2, 0 (row 3 is below the no-result threshold): the person's intervals are
hit at ranks 2 and 3, so R@1 = 0, R@5 = R@10 = 1 and AP = (1/2 + 2/3) / 2 = 7/12.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.registry import write_registry
from footage_search.cli import main
from search.evaluation import Interval, Track, row_hits, score_ranking
from tests.search_fixtures import T0, Row, grid_registry, write_index

REG = grid_registry([("C1", "One-gu", 0, 0), ("C2", "Two-gu", 300, 0)])
A = {"camera": "C1", "t_start": T0 - 5, "t_end": T0 + 12}
B = {"camera": "C2", "t_start": "2026-03-14T10:01:35+09:00", "t_end": "2026-03-14T10:01:55+09:00"}  # T0 + 95..115


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    write_index(root / "index", REG, [
        Row("C1", T0, T0 + 10, upper={"red": 0.20}, track_id=1),
        Row("C1", T0 + 20, T0 + 30, upper={"red": 0.50}, track_id=2),
        Row("C2", T0 + 100, T0 + 110, upper={"red": 0.25}, track_id=3),
        Row("C2", T0 + 200, T0 + 210, upper="black", track_id=4),
    ])
    write_registry(REG, root / "cameras.csv")
    return root


def run(capsys, index: Path, labels: dict | str, *args: str) -> tuple[int, str, str]:
    path = index / "labels.json"
    path.write_text(labels if isinstance(labels, str) else json.dumps(labels), encoding="utf-8")
    rc = main(["eval", str(path), "--index", str(index / "index"), "--registry", str(index / "cameras.csv"),
               "--no-clip", "--set", "models.allow_download=false", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


LABELS = {
    "people": {"her": [A, B]},
    "queries": [
        {"id": "all", "text": "red jacket", "person": "her"},
        {"id": "c2", "text": "빨간 재킷", "cameras": ["C2"], "person": "her"},  # only row 2 passes: rank 1 of 2
        {"id": "boxed", "text": "red jacket", "appearances": [{**A, "boxes": [[T0 + 0.2, 100, 50, 140, 170]]}]},
        {"id": "wrong-box", "text": "red jacket", "appearances": [{**A, "boxes": [[T0, 400, 50, 440, 170]]}]},
        {"id": "point", "text": "red jacket", "appearances": [{**A, "points": [[T0 + 10, 120, 100]]}]},
        {"id": "window", "text": "red jacket", "time_from": "2026-03-14T10:01:00", "person": "her"},
    ],
}


def test_figures_match_the_hand_computed_ones(index, capsys, tmp_path):
    out_path = tmp_path / "eval.json"
    rc, out, err = run(capsys, index, LABELS, "--out", str(out_path))
    assert rc == 0, err
    report = json.loads(out_path.read_text(encoding="utf-8"))
    q = {d["id"]: d for d in report["queries"]}
    assert q["all"]["hit_ranks"] == [2, 3]
    assert (q["all"]["R@1"], q["all"]["R@5"], q["all"]["R@10"]) == (0.0, 1.0, 1.0)
    assert q["all"]["AP"] == pytest.approx(7 / 12, abs=1e-4)
    assert q["c2"]["hit_ranks"] == [1] and q["c2"]["R@1"] == 0.5 and q["c2"]["AP"] == 0.5
    assert q["boxed"]["hit_ranks"] == [3] and q["boxed"]["AP"] == pytest.approx(1 / 3, abs=1e-4)
    assert q["wrong-box"]["hit_ranks"] == [] and q["wrong-box"]["AP"] == 0.0  # right time, someone else's box
    assert q["point"]["hit_ranks"] == [3]
    assert q["window"]["hit_ranks"] == [1] and q["window"]["results"] == 1  # from T0 + 60: row 2 only
    text = report["summary"]["text"]
    assert text["queries"] == 6 and "photo" not in report["summary"]
    assert text["R@1"] == pytest.approx((0 + 0.5 + 0 + 0 + 0 + 0.5) / 6, abs=1e-4)
    assert text["mAP"] == pytest.approx((7 / 12 + 0.5 + 1 / 3 + 0 + 1 / 3 + 0.5) / 6, abs=1e-4)
    assert "by query kind" in out and "text" in out and "0.583" in out  # the rich tables


def test_each_interval_counts_once():
    """Two results on one interval: the second is a miss, not a second hit."""
    iv = Interval("C1", 0.0, 10.0)
    rows = [[Track("C1", 0.0, 5.0, [], [])], [Track("C1", 5.0, 9.0, [], [])], [Track("C2", 0.0, 9.0, [], [])]]
    ranks, recall, ap = score_ranking(rows, (iv, Interval("C2", 0.0, 1.0)))
    assert ranks == [1, 3] and recall[1] == 0.5 and ap == pytest.approx((1 + 2 / 3) / 2)
    assert not row_hits(Track("C1", 11.0, 12.0, [], []), iv)  # no overlap in time


@pytest.mark.parametrize("labels, message", [
    ("{not json", "not JSON (line 1"),
    ({"queries": []}, 'non-empty "queries" list'),
    ({"queries": [{"text": "red", "appearances": [{"camera": "C9", "t_start": 0, "t_end": 1}]}]},
     "queries[0].appearances[0]: unknown camera 'C9' (known: C1, C2)"),
    ({"queries": [{"text": "red", "appearances": [{"camera": "C1", "t_start": "yesterday", "t_end": 1}]}]},
     "is not an ISO 8601 time"),
    ({"queries": [{"text": "red", "person": "nobody"}]}, "person 'nobody' is not in \"people\""),
    ({"queries": [{"text": "red"}]}, "says nothing about where the person is"),
    ({"queries": [{"photo": "missing.jpg", "appearances": [A]}]}, "cannot read the photo"),
    ({"queries": [{"txt": "red", "appearances": [A]}]}, "unknown key(s) txt"),
    ({"queries": [{"text": "red", "appearances": [{**A, "t_end": T0 - 10}]}]}, "t_end is before t_start"),
    ({"queries": [{"text": "red", "appearances": [{**A, "boxes": [[T0, 1, 2]]}]}]}, "expected [t, x1, y1, x2, y2]"),
    ({"queries": [{"text": "red", "districts": ["Nowhere-gu"], "appearances": [A]}]},
     "query '1': unknown district"),
])
def test_bad_labels_give_one_clear_line(index, capsys, labels, message):
    rc, _, err = run(capsys, index, labels)
    assert rc == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and "labels" in err


# ------------------------------------------------------------------------ the real clips' labels


GAP_S = 8.0  # torso points further apart than this start a new appearance (PETS points are 4 s apart)


def real_clip_labels(labels: dict, photos: Path) -> dict:
    """tests/data/search_real_labels.json (torso points per clip) in the eval format: each person's
    points split into appearance intervals at gaps, on the clip's camera, in absolute time; queries are
    the labelled colour queries, each person's own description and each reference photo."""
    from datetime import datetime

    from tests.conftest import REAL_CLIPS

    people: dict[str, list[dict]] = {}
    for person, p in labels["people"].items():
        for clip, points in p["points"].items():
            camera, stamp = REAL_CLIPS[clip]
            start = datetime.strptime(stamp, "%Y%m%dT%H%M%S%z").timestamp()
            run: list[list[float]] = []
            for t, x, y in [*sorted(points), [math.inf, 0, 0]]:
                if run and t - run[-1][0] > GAP_S:
                    people.setdefault(person, []).append(
                        {"camera": camera, "t_start": start + run[0][0] - 1, "t_end": start + run[-1][0] + 1,
                         "points": [[start + u, a, b] for u, a, b in run]})
                    run = []
                run.append([t, x, y])
    queries = [{"id": f"colour: {text}", "text": text, "person": spec["relevant"]}
               for text, spec in labels["queries"].items()]
    queries += [{"id": f"described: {person}", "text": p["description"].split(" (")[0], "person": person}
                for person, p in labels["people"].items()]
    queries += [{"id": f"photo: {name}", "photo": str(photos / name), "person": person}
                for name, person in sorted(labels["reference_photos"].items()) if (photos / name).exists()]
    return {"people": people, "queries": queries}


def test_eval_on_the_real_clips(real_index, real_archive, capsys):
    """The real clips' labels through ``footage-search eval`` (CLIP off: the test model is random)."""
    from tests.conftest import ARTIFACTS, FOOTAGE

    labels = json.loads((Path(__file__).parent / "data" / "search_real_labels.json").read_text(encoding="utf-8"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path, out = ARTIFACTS / "search_real_eval_labels.json", ARTIFACTS / "search_real_eval.json"
    path.write_text(json.dumps(real_clip_labels(labels, FOOTAGE / "reference_photos"), indent=1), encoding="utf-8")
    rc = main(["eval", str(path), "--index", real_index.storage.index_uri, "--registry",
               str(real_archive / "cameras.csv"), "--no-clip", "--out", str(out),
               "--set", f"models.models_dir={real_index.models.models_dir}", "--set", "models.allow_download=false"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    # Floors a little under the figures measured when this test was written: 14 text queries (the two
    # colour queries and each person's own description) R@10 0.36, mAP 0.32; 8 photos R@10 0.75, mAP 0.75.
    assert summary["text"]["queries"] == 14
    assert summary["text"]["R@10"] >= 0.3 and summary["text"]["mAP"] >= 0.28, summary
    if "photo" in summary:
        assert summary["photo"]["R@10"] >= 0.7 and summary["photo"]["mAP"] >= 0.7, summary

"""`footage-search demo` on a machine that ran an older version: its demo index is rebuilt, not refused."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import shutil
from pathlib import Path

import lancedb

import sample_footage
from core.index_db import IndexDB
from core.schema import META_SCHEMA_VERSION, SCHEMA_VERSION, SIGHTINGS
from footage_search.demo import run_demo
from tests.conftest import make_config


def test_demo_rebuilds_an_index_left_by_an_older_version(sample_city, sample_index, tmp_path: Path,
                                                          monkeypatch, capsys):
    old = tmp_path / "demo-index"
    shutil.copytree(sample_index.storage.index_uri, old)
    cfg = make_config(old)
    IndexDB.open(cfg.storage).set_meta({META_SCHEMA_VERSION: "1"})  # what an index of schema v1 says
    # Two of the city's cameras: the rebuild indexes what the demo's archive holds, and a smaller archive
    # keeps the test quick; its rows must equal the original index's rows of those cameras.
    small = _two_camera_city(sample_city, tmp_path / "small-city")
    monkeypatch.setattr(sample_footage, "generate_city", lambda out: small)

    args = argparse.Namespace(out=tmp_path / "city", index_uri=str(old), port=None, no_ui=True)
    assert run_demo(args, cfg) == 0

    out = capsys.readouterr().out
    assert "rebuilding" in out and "schema version 1" in out
    assert IndexDB.open(cfg.storage).meta()[META_SCHEMA_VERSION] == SCHEMA_VERSION
    rebuilt = lancedb.connect(str(old)).open_table(SIGHTINGS).to_arrow()
    original = lancedb.connect(sample_index.storage.index_uri).open_table(SIGHTINGS).to_arrow()
    kept = set(small.cameras)
    assert set(rebuilt.column("camera_id").to_pylist()) == kept
    assert sorted(rebuilt.column("sighting_id").to_pylist()) == sorted(
        sid for sid, cam in zip(original.column("sighting_id").to_pylist(), original.column("camera_id").to_pylist(),
                                strict=True) if cam in kept) != []


@dataclasses.dataclass(frozen=True)
class _SmallCity:
    root: Path
    archive: Path
    registry: Path
    ground_truth: Path
    cameras: tuple[str, ...]


def _two_camera_city(city, root: Path) -> _SmallCity:
    with open(city.registry, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = rows[:2]
    (root / "archive").mkdir(parents=True)
    for row in keep:
        shutil.copytree(Path(city.archive) / row["camera_id"], root / "archive" / row["camera_id"])
    registry = root / "cameras.csv"
    with open(registry, "w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(keep)
    return _SmallCity(root, root / "archive", registry, Path(city.ground_truth),
                      tuple(r["camera_id"] for r in keep))

"""`footage-search demo` on a machine that ran an older version: its demo index is rebuilt, not refused."""

from __future__ import annotations

import argparse
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
    monkeypatch.setattr(sample_footage, "generate_city", lambda out: sample_city)

    args = argparse.Namespace(out=tmp_path / "city", index_uri=str(old), port=None, no_ui=True)
    assert run_demo(args, cfg) == 0

    out = capsys.readouterr().out
    assert "rebuilding" in out and "schema version 1" in out
    assert IndexDB.open(cfg.storage).meta()[META_SCHEMA_VERSION] == SCHEMA_VERSION
    rebuilt = lancedb.connect(str(old)).open_table(SIGHTINGS).count_rows()
    original = lancedb.connect(sample_index.storage.index_uri).open_table(SIGHTINGS).count_rows()
    assert rebuilt == original > 0

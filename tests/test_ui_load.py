"""bench/load_console.py for a few seconds: concurrent API searches while a reindex runs, zero errors.

Not a timing test (the figures are the benchmark's): only that nothing fails, every search is audited
and the audit log still verifies after concurrent appends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.load_console import print_table, run_load
from tests.conftest import ARTIFACTS


@pytest.mark.slow
def test_concurrent_searches_during_a_reindex_have_no_errors(sample_index, sample_city, tmp_path: Path, capsys):
    res = run_load(Path(sample_index.storage.index_uri), sample_city.registry, sample_city.archive, clients=3,
                   idle_s=4, load_s=8, reindex_workers=1, work_dir=tmp_path, log=lambda m: None)
    idle, busy = res["phases"]
    assert idle["ok"] > 0 and busy["ok"] > 0
    assert idle["errors"] == 0 and busy["errors"] == 0, (idle["first_errors"], busy["first_errors"])
    runs = res["reindex"]["runs"]
    assert runs and not any(r.get("error") for r in runs), runs  # started, and only stopped by the benchmark
    assert res["audit"]["ok"] and res["audit"]["search_records"] == res["audit"]["requests"]
    print_table(res)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load_console_short.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    assert "p95 under reindex" in capsys.readouterr().out

"""Twenty kill -9s at random moments of a batch reindex; the index is consistent after each, and a
final run produces exactly the uninterrupted result (bench/kill_loop.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from bench.kill_loop import kill_loop
from tests.conftest import MODELS, TINY_CLIP_CONFIG


@pytest.mark.slow
def test_twenty_kills_leave_a_consistent_index(sample_city, tmp_path, detector_path, colour_table_path):
    archive = tmp_path / "archive"
    for cam in ("JG-01", "JG-02", "YS-01", "YS-02"):
        (archive / cam).mkdir(parents=True)
        for f in (sample_city.archive / cam).iterdir():
            os.symlink(f, archive / cam / f.name)
    shutil.copy(sample_city.registry, archive / "cameras.csv")
    overrides = [f"models.models_dir={MODELS}", "models.allow_download=false", "models.clip_model=fs-tiny-test",
                 "models.clip_pretrained=random-init", f"models.clip_config_path={TINY_CLIP_CONFIG}",
                 "index.workers=1"]
    report = kill_loop(archive, tmp_path / "index", 20, overrides, seed=7)
    assert report.kills >= 20
    assert report.killed_while_writing >= 5, report.checks  # kills landed between commits, not only at start-up
    assert report.final_sightings > 0 and report.equals_clean_index

"""Twenty kill -9s at random moments of a batch reindex; the index is consistent after each, and a
final run produces exactly the uninterrupted result (bench/kill_loop.py).

The uninterrupted result is the session's sample-city index (built with the same settings) restricted
to this archive's cameras: sighting ids name the archive-relative file, so they are comparable, and
the loop does not index the archive a further time to learn them.
"""

from __future__ import annotations

import os
import shutil

import lancedb
import pytest

from bench.kill_loop import kill_loop
from core.schema import SIGHTINGS
from tests.conftest import MODELS, TINY_CLIP_CONFIG

CAMERAS = ("JG-01", "JG-02", "YS-01", "YS-02")


@pytest.mark.slow
def test_twenty_kills_leave_a_consistent_index(sample_city, sample_index, tmp_path, detector_path,
                                               colour_table_path):
    archive = tmp_path / "archive"
    for cam in CAMERAS:
        (archive / cam).mkdir(parents=True)
        for f in (sample_city.archive / cam).iterdir():
            os.symlink(f, archive / cam / f.name)
    shutil.copy(sample_city.registry, archive / "cameras.csv")
    rows = lancedb.connect(sample_index.storage.index_uri).open_table(SIGHTINGS).to_arrow()
    reference = {sid for sid, cam in zip(rows.column("sighting_id").to_pylist(), rows.column("camera_id").to_pylist(),
                                         strict=True) if cam in CAMERAS}
    assert reference
    overrides = [f"models.models_dir={MODELS}", "models.allow_download=false", "models.clip_model=fs-tiny-test",
                 "models.clip_pretrained=random-init", f"models.clip_config_path={TINY_CLIP_CONFIG}",
                 "index.workers=1"]
    # Timed kills within the first seconds (start-up, the first video); the other half wait for a commit.
    report = kill_loop(archive, tmp_path / "index", 20, overrides, seed=7, max_delay_s=6.0, reference=reference)
    assert report.kills >= 20
    assert report.killed_while_writing >= 5, report.checks  # kills landed between commits, not only at start-up
    assert report.final_sightings > 0 and report.equals_clean_index

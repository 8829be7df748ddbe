"""A camera registry edited between index runs: documented behaviour (indexer/registry_sync.py)."""

from __future__ import annotations

import os
import shutil

import lancedb
import numpy as np

from core.compass import angle_diff_deg
from core.registry import load_registry, write_registry
from core.schema import SIGHTINGS
from indexer.batch import BatchOptions, run_index
from tests.conftest import make_config


def _rows(cfg):
    return lancedb.connect(cfg.storage.index_uri).open_table(SIGHTINGS).to_arrow() \
        .select(["sighting_id", "camera_id", "district", "bearing_deg"]).to_pylist()


def _index(archive, cfg, **opts):
    return run_index(archive, cfg, load_registry(archive / "cameras.csv"), BatchOptions(progress=False, **opts))


def test_moved_reaimed_regrouped_and_removed_cameras(sample_city, tmp_path, detector_path, colour_table_path):
    archive = tmp_path / "archive"
    for cam in ("JG-01", "JG-02", "JN-02"):
        (archive / cam).mkdir(parents=True)
        for f in (sample_city.archive / cam).iterdir():
            os.symlink(f, archive / cam / f.name)
    shutil.copy(sample_city.registry, archive / "cameras.csv")
    cfg = make_config(tmp_path / "index")
    first = _index(archive, cfg)
    assert first.indexed == 3 and not first.registry_changes
    before = {r["sighting_id"]: r for r in _rows(cfg)}

    reg = load_registry(archive / "cameras.csv")
    cams = {c.camera_id: c for c in reg}
    from dataclasses import replace
    cams["JG-01"] = replace(cams["JG-01"], heading_deg=(cams["JG-01"].heading_deg + 90) % 360)  # re-aimed
    cams["JG-02"] = replace(cams["JG-02"], district="Seodaemun-gu", lat=cams["JG-02"].lat + 0.001)  # regrouped
    del cams["JN-02"]  # removed
    write_registry(list(cams.values()), archive / "cameras.csv")

    second = _index(archive, cfg)
    text = "\n".join(second.lines())
    assert second.indexed == 0 and second.unchanged == 2  # nothing re-decoded
    assert "heading/tilt changed for JG-01" in text and "district changed for JG-02" in text
    assert "position changed for JG-02" in text and "JN-02 no longer listed" in text
    assert any("unknown camera 'JN-02'" in f.reason for f in second.skipped)
    after = {r["sighting_id"]: r for r in _rows(cfg)}
    assert set(after) == set(before)  # nothing lost
    for sid, r in after.items():
        old = before[sid]
        if r["camera_id"] == "JG-02":
            assert r["district"] == "Seodaemun-gu"
        elif r["camera_id"] == "JG-01" and old["bearing_deg"] is not None:
            assert angle_diff_deg(r["bearing_deg"], old["bearing_deg"] + 90) < 1.0  # turned with the camera
        else:
            assert r == old

    third = _index(archive, cfg)  # the new registry is now the remembered one
    assert not third.registry_changes
    pruned = _index(archive, cfg, prune=True)
    assert pruned.pruned_videos == 1
    assert {r["camera_id"] for r in _rows(cfg)} == {"JG-01", "JG-02"}
    assert np.isfinite([r["bearing_deg"] for r in _rows(cfg) if r["bearing_deg"] is not None]).all()

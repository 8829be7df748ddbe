"""Batch reindex on real footage: incremental, idempotent, resumable after kill -9, corrupt files, model checks.

The car-park clip is its first 20.8 s (cut at its second keyframe, packets copied): every test indexes the
archive at least once, and the clip's later seconds add indexing time but no case the tests check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest

from core.index_db import IndexDB, ModelMismatchError
from core.registry import load_registry
from core.schema import SIGHTINGS, VIDEOS
from indexer import run_plan
from indexer.batch import BatchOptions, run_index
from indexer.embed_fill import fill_embeddings
from indexer.lock import IndexBusyError, indexer_lock
from tests.conftest import FOOTAGE, REPO, TINY_CLIP_CONFIG, kill_when_done, make_config, requires
from tests.videos import head, truncate

# Every test here indexes real or written videos in worker processes.
pytestmark = pytest.mark.slow

CARPARK_S = 20.0  # the car-park clip up to its keyframe at 20.8 s
CLIPS = {  # short real clips: camera -> files
    "CARPARK": ["intel_person_bicycle_car.mp4"],
    "STREET": ["oxford_towncentre_clipA.mp4", "oxford_towncentre_clipB.mp4"],
}
REGISTRY = """camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
CARPARK,Yongsan-gu,Car park,37.5320,126.9900,0,70,
STREET,Jung-gu,Shopping street,37.5640,126.9820,180,35,
"""


@pytest.fixture(scope="module")
def carpark_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    requires(FOOTAGE / CLIPS["CARPARK"][0])
    return head(FOOTAGE / CLIPS["CARPARK"][0], tmp_path_factory.mktemp("clips") / CLIPS["CARPARK"][0], CARPARK_S)


@pytest.fixture
def archive(tmp_path: Path, carpark_clip: Path, detector_path, colour_table_path) -> Path:
    root = tmp_path / "archive"
    for cam, files in CLIPS.items():
        for i, name in enumerate(files):
            requires(FOOTAGE / name)
            (root / cam).mkdir(parents=True, exist_ok=True)
            src = carpark_clip if cam == "CARPARK" else FOOTAGE / name
            shutil.copy(src, root / cam / f"{cam}_20260314T10{i:02d}00+0900.mp4")
    (root / "cameras.csv").write_text(REGISTRY, encoding="utf-8")
    return root


def _index(archive: Path, cfg, **opts):
    return run_index(archive, cfg, load_registry(archive / "cameras.csv"), BatchOptions(progress=False, **opts))


def _rows(cfg) -> list[dict]:
    db = lancedb.connect(cfg.storage.index_uri)
    return db.open_table(SIGHTINGS).to_arrow().drop_columns(["thumbnail", "vector"]).to_pylist()


def _consistent(cfg) -> list[dict]:
    """No duplicate sightings, every sighting belongs to a finished video, counts agree."""
    rows = _rows(cfg)
    ids = [r["sighting_id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate sightings"
    videos = lancedb.connect(cfg.storage.index_uri).open_table(VIDEOS).to_arrow().to_pylist()
    done = {v["video_id"]: v for v in videos if v["status"] == "done"}
    assert {r["video_id"] for r in rows} <= set(done), "orphan sightings"
    for vid, v in done.items():
        assert v["n_sightings"] == sum(r["video_id"] == vid for r in rows)
    return rows


def test_incremental_and_idempotent(archive: Path, tmp_path: Path):
    cfg = make_config(tmp_path / "index")
    first = _index(archive, cfg)
    assert first.indexed == 3 and not first.failed and first.sightings > 5
    assert first.footage_s == pytest.approx(20.83 + 5.96 + 3.84, abs=0.5)
    assert first.x_realtime > 0 and set(first.stage_seconds) >= {"decode", "detect", "track", "describe", "embed",
                                                                    "write"}
    rows = _consistent(cfg)
    assert {r["camera_id"] for r in rows} == {"CARPARK", "STREET"}
    assert all(r["has_vector"] and r["clip_model"] == "fs-tiny-test/random-init" for r in rows)

    again = _index(archive, cfg)
    assert again.indexed == 0 and again.unchanged == 3 and again.sightings == 0
    assert sorted(r["sighting_id"] for r in _consistent(cfg)) == sorted(r["sighting_id"] for r in rows)

    # touched but identical: hashed, recognised, not reindexed
    target = next((archive / "STREET").iterdir())
    os.utime(target, (time.time() + 100, time.time() + 100))
    touched = _index(archive, cfg)
    assert touched.indexed == 0 and touched.unchanged == 3

    # a new file: only it is indexed; existing rows are untouched
    shutil.copy(FOOTAGE / "oxford_towncentre_clipB.mp4", archive / "STREET" / "STREET_20260314T110000+0900.mp4")
    added = _index(archive, cfg)
    assert added.indexed == 1 and added.unchanged == 3
    assert len(_consistent(cfg)) == len(rows) + added.sightings

    # changed content under the same name: its rows are replaced, not duplicated
    shutil.copy(FOOTAGE / "oxford_towncentre_clipA.mp4", archive / "STREET" / "STREET_20260314T110000+0900.mp4")
    changed = _index(archive, cfg)
    assert changed.indexed == 1
    _consistent(cfg)


def test_changed_settings_reindex_and_model_mismatch_is_refused(archive: Path, tmp_path: Path):
    cfg = make_config(tmp_path / "index")
    _index(archive, cfg)
    redo = _index(archive, make_config(tmp_path / "index", index__max_segment_s=10.0))
    assert redo.indexed == 3  # other indexing settings: files are redone, not mixed
    _consistent(cfg)
    other = make_config(tmp_path / "index", models__clip_model="ViT-B-32", models__clip_pretrained="openai",
                        models__clip_config_path="")
    with pytest.raises(ModelMismatchError, match="--rebuild"):
        _index(archive, other)
    assert len(_rows(cfg)) > 0  # nothing lost by the refusal


def test_corrupt_and_truncated_files_are_reported_and_skipped(archive: Path, tmp_path: Path):
    bad = archive / "STREET"
    (bad / "STREET_20260314T120000+0900.mp4").write_bytes(b"")
    (bad / "STREET_20260314T120100+0900.mp4").write_bytes(os.urandom(200_000))
    truncate(FOOTAGE / "intel_person_bicycle_car.mp4", archive / "CARPARK" / "CARPARK_20260314T120000+0900.mp4", 0.4)
    cfg = make_config(tmp_path / "index")
    s = _index(archive, cfg)
    assert s.indexed == 3
    reasons = {Path(f.path).name: f.reason for f in s.failed}
    assert set(reasons) == {"STREET_20260314T120000+0900.mp4", "STREET_20260314T120100+0900.mp4",
                            "CARPARK_20260314T120000+0900.mp4"}
    assert "truncated" in reasons["CARPARK_20260314T120000+0900.mp4"] or "decod" in reasons[
        "CARPARK_20260314T120000+0900.mp4"]
    assert any("FAILED" in line for line in s.lines())
    good = len(_consistent(cfg))
    again = _index(archive, cfg)
    assert again.indexed == 0 and again.previously_failed == 3 and len(_rows(cfg)) == good
    retry = _index(archive, cfg, retry_failed=True)
    assert len(retry.failed) == 3 and len(_rows(cfg)) == good


def test_unreadable_file_is_reported_and_the_rest_indexed(archive: Path, tmp_path: Path, monkeypatch):
    locked = archive / "STREET" / "STREET_20260314T100100+0900.mp4"
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the hash step see what any other account would
        real_hash = run_plan.content_hash

        def permission_aware(path: Path) -> str:
            if not Path(path).stat().st_mode & 0o444:
                raise PermissionError(13, "Permission denied", str(path))
            return real_hash(path)

        monkeypatch.setattr(run_plan, "content_hash", permission_aware)
    cfg = make_config(tmp_path / "index")
    s = _index(archive, cfg)
    assert s.indexed == 2 and [Path(f.path).name for f in s.failed] == [locked.name]
    assert "unreadable" in s.failed[0].reason and "Permission denied" in s.failed[0].reason
    good = _consistent(cfg)
    locked.chmod(0o644)  # fixed by the admin: the next run takes it (its mtime/size are unchanged)
    again = _index(archive, cfg, retry_failed=True)
    assert again.indexed == 1 and not again.failed and len(_consistent(cfg)) > len(good)


def test_a_file_changing_while_indexed_is_failed_then_retried(archive: Path, tmp_path: Path, monkeypatch):
    """A recording still being written: fail it for this run, keep any earlier version's sightings."""
    growing = archive / "STREET" / "STREET_20260314T100000+0900.mp4"
    real_index_video = run_plan.index_video

    def written_during_indexing(video, camera, models, cfg):
        result = real_index_video(video, camera, models, cfg)
        if video.path == growing:
            os.utime(growing, (time.time() + 5, time.time() + 5))  # the recorder wrote to it meanwhile
        return result

    monkeypatch.setattr(run_plan, "index_video", written_during_indexing)
    cfg = make_config(tmp_path / "index")
    s = _index(archive, cfg)
    assert s.indexed == 2 and [Path(f.path).name for f in s.failed] == [growing.name]
    assert s.failed[0].reason.startswith("changed while indexing")
    first = _consistent(cfg)
    assert growing.name not in {Path(r["video_path"]).name for r in first}

    monkeypatch.setattr(run_plan, "index_video", real_index_video)
    s = _index(archive, cfg)  # it stopped changing: indexed now, without --retry-failed
    assert s.indexed == 1 and not s.failed
    done = _consistent(cfg)
    kept = [r for r in done if Path(r["video_path"]).name == growing.name]
    assert kept

    # Replaced by a new recording that changes again while indexed: the old sightings stay, still done.
    shutil.copy(FOOTAGE / "oxford_towncentre_clipB.mp4", growing)
    monkeypatch.setattr(run_plan, "index_video", written_during_indexing)
    s = _index(archive, cfg)
    assert [f.reason.split(":")[0] for f in s.failed] == ["changed while indexing"]
    assert sorted(r["sighting_id"] for r in _consistent(cfg)) == sorted(r["sighting_id"] for r in done)
    monkeypatch.setattr(run_plan, "index_video", real_index_video)
    s = _index(archive, cfg)
    assert s.indexed == 1 and not s.failed
    _consistent(cfg)


def test_a_crash_inside_the_pipeline_fails_one_video_not_the_batch(archive: Path, tmp_path: Path, monkeypatch):
    real_index_video = run_plan.index_video

    def buggy(video, camera, models, cfg):
        if video.camera_id == "CARPARK":
            raise ValueError("shape mismatch in a detector output")
        return real_index_video(video, camera, models, cfg)

    monkeypatch.setattr(run_plan, "index_video", buggy)
    cfg = make_config(tmp_path / "index")
    s = _index(archive, cfg)
    assert s.indexed == 2 and len(s.failed) == 1
    assert s.failed[0].reason == "internal error: ValueError: shape mismatch in a detector output"
    _consistent(cfg)


def test_half_written_rows_of_a_killed_run_are_removed(archive: Path, tmp_path: Path):
    cfg = make_config(tmp_path / "index")
    _index(archive, cfg)
    db = IndexDB.open(cfg.storage)
    table = db.table(SIGHTINGS)
    # What a crash between "append sightings" and "mark video done" leaves behind:
    stray = table.to_arrow().slice(0, 3)
    stray = stray.set_column(stray.schema.get_field_index("video_id"), "video_id",
                             pa.array(["deadbeef"] * stray.num_rows))
    table.add(stray)
    before = table.count_rows()
    s = _index(archive, cfg)
    assert s.orphans_removed == 3 and db.table(SIGHTINGS).count_rows() == before - 3
    _consistent(cfg)


def test_kill_9_mid_run_then_resume(archive: Path, carpark_clip: Path, tmp_path: Path):
    """A real SIGKILL of the CLI while it indexes; the next run finishes with no duplicates."""
    for i in range(3):  # more files, so the kill lands mid-run
        shutil.copy(carpark_clip, archive / "CARPARK" / f"CARPARK_2026031{i}T090000.mp4")
    index = tmp_path / "index"
    cfg = make_config(index)
    sets = [f"--set=models.models_dir={cfg.models.models_dir}", "--set=models.allow_download=false",
            f"--set=models.clip_model={cfg.models.clip_model}", "--set=models.clip_pretrained=random-init",
            f"--set=models.clip_config_path={TINY_CLIP_CONFIG}"]
    cmd = [sys.executable, "-m", "footage_search.cli", "index", str(archive), "--index", str(index),
           "--workers", "1", "--no-progress", *sets]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = kill_when_done(proc, index, 1, timeout_s=240) is not None
    proc.wait(timeout=30)
    assert killed, proc.stdout.read().decode()[-2000:] if proc.stdout else "not killed"
    partial = _consistent(cfg) if (index / "sightings.lance").exists() else []
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "indexed" in out.stdout
    resumed = _consistent(cfg)
    assert len(resumed) >= len(partial)
    # the resumed index equals an uninterrupted one
    clean = make_config(tmp_path / "clean")
    _index(archive, clean)
    assert sorted(r["sighting_id"] for r in resumed) == sorted(r["sighting_id"] for r in _rows(clean))


def test_without_clip_weights_everything_else_is_indexed_then_filled(archive: Path, tmp_path: Path):
    no_clip = make_config(tmp_path / "index", models__clip_checkpoint=str(tmp_path / "missing.pt"))
    s = _index(archive, no_clip)
    assert s.indexed == 3 and s.clip_error and "--embeddings-only" in "\n".join(s.lines())
    rows = _rows(no_clip)
    assert rows and not any(r["has_vector"] for r in rows)
    assert all(sum(r["upper_colour"]) == pytest.approx(1, abs=1e-3) for r in rows)
    filled = fill_embeddings(make_config(tmp_path / "index"))
    assert filled.filled == len(rows) and not filled.unreadable
    rows = _rows(no_clip)
    assert all(r["has_vector"] and r["clip_model"] == "fs-tiny-test/random-init" for r in rows)
    assert IndexDB.open(no_clip.storage).clip_model() == "fs-tiny-test/random-init"


def test_second_indexer_is_refused_while_one_runs(tmp_path: Path):
    lock = str(tmp_path / "index")
    with indexer_lock(lock), pytest.raises(IndexBusyError, match="another indexer"), indexer_lock(lock):
        pass
    with indexer_lock(str(tmp_path / "index")):  # released afterwards
        pass

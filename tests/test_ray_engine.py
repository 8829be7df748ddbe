"""``index --engine ray``: a local Ray cluster indexes the sample city into exactly the local indexer's
sightings, a rerun adds nothing, a SIGKILLed driver's job resumes, and the local engine never imports Ray."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import lance
import lancedb
import pytest
import ray

from core.index_db import IndexDB
from core.registry import load_registry
from core.schema import SIGHTINGS, VIDEOS
from indexer.batch import BatchOptions, run_index
from indexer.ray_commit import FragmentTarget, sweep_stray_files
from indexer.ray_engine import plan_resources
from indexer.store import SightingStore
from tests.conftest import REPO, TINY_CLIP_CONFIG, kill_when_done, make_config
from tests.index_compare import assert_same_sightings, sightings

pytestmark = pytest.mark.slow

def _videos(cfg) -> dict[str, dict]:
    return {v["video_id"]: v for v in lancedb.connect(cfg.storage.index_uri).open_table(VIDEOS).to_arrow().to_pylist()}


def assert_consistent(cfg, *, orphans_allowed: bool = False) -> None:
    """No duplicates; every finished video has exactly its rows; rows of unfinished videos only if allowed."""
    rows = sightings(cfg).values()
    videos = _videos(cfg)
    done = {vid for vid, v in videos.items() if v["status"] == "done"}
    if not orphans_allowed:
        assert {r["video_id"] for r in rows} <= done, "orphan sightings"
    for vid in done:
        assert videos[vid]["n_sightings"] == sum(r["video_id"] == vid for r in rows), vid


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=500 * 1024**2, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _cli(archive: Path, registry: Path, index: Path, *extra: str) -> list[str]:
    cfg = make_config(index)
    return [sys.executable, "-m", "footage_search.cli", "index", str(archive), "--registry", str(registry),
            "--index", str(index), "--no-progress",
            f"--set=models.models_dir={cfg.models.models_dir}", "--set=models.allow_download=false",
            f"--set=models.clip_model={cfg.models.clip_model}", "--set=models.clip_pretrained=random-init",
            f"--set=models.clip_config_path={TINY_CLIP_CONFIG}", *extra]


def test_local_engine_never_imports_ray(sample_city, tmp_path: Path, detector_path):
    archive = tmp_path / "archive"
    first = sorted(sample_city.archive.rglob("*.mp4"))[0]
    (archive / first.parent.name).mkdir(parents=True)
    os.symlink(first, archive / first.parent.name / first.name)
    script = textwrap.dedent(f"""
        import sys
        from core.registry import load_registry
        from indexer.batch import BatchOptions, run_index
        from tests.conftest import make_config
        s = run_index({str(archive)!r}, make_config({str(tmp_path / "index")!r}),
                      load_registry({str(sample_city.registry)!r}), BatchOptions(progress=False))
        assert s.indexed == 1, s.lines()
        assert "ray" not in sys.modules, "the local engine imported ray"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stdout + out.stderr


def test_killed_ray_driver_resumes(sample_city, sample_index, tmp_path: Path):
    """SIGKILL the driver of a real ``index --engine ray`` run after its first batch commit; the next
    run finishes with no duplicate or orphan sightings, equal to the uninterrupted local index."""
    index = tmp_path / "index"
    cmd = _cli(sample_city.archive, sample_city.registry, index, "--engine", "ray", "--commit-every", "2")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    n_videos = len(list(sample_city.archive.rglob("*.mp4")))
    try:
        done = kill_when_done(proc, index, 2, timeout_s=300)
        proc.wait(timeout=30)
    finally:
        time.sleep(2)  # Ray's daemons share the driver's fate; end any straggler of that session
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert done is not None, proc.stdout.read().decode()[-3000:] if proc.stdout else "not killed"
    cfg = make_config(index)
    assert done < n_videos
    assert_consistent(cfg, orphans_allowed=True)  # only whole batches are visible

    resumed = subprocess.run(_cli(sample_city.archive, sample_city.registry, index, "--engine", "ray"),
                             cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert " indexed" in resumed.stdout, resumed.stdout
    assert_consistent(cfg)
    assert_same_sightings(cfg, sample_index)

    # Fragments the killed workers wrote were never committed: invisible above, and swept as strays.
    store = SightingStore(IndexDB.open(cfg.storage), 0)
    target = FragmentTarget.of(store, cfg.storage)
    sweep_stray_files(target, older_than=timedelta(0))
    ds = lance.dataset(target.sightings_uri)
    referenced = {f.path for frag in ds.get_fragments() for f in frag.data_files()}
    assert set(os.listdir(Path(target.sightings_uri) / "data")) == referenced
    assert_same_sightings(cfg, sample_index)


def test_ray_index_equals_local_index(sample_city, sample_index, ray_cluster, tmp_path: Path):
    cfg = make_config(tmp_path / "ray", index__workers=2)
    registry = load_registry(sample_city.registry)
    progress: list[tuple[int, int, float]] = []
    summary = run_index(sample_city.archive, cfg, registry,
                        BatchOptions(engine="ray", progress=False, commit_every_videos=3),
                        on_progress=lambda *a: progress.append(a))
    local = _videos(sample_index)
    assert summary.indexed == len(local) and not summary.failed, summary.lines()
    assert summary.sightings == len(sightings(sample_index))
    assert len(progress) == len(local) and progress[-1][:2] == (len(local), len(local))
    assert summary.footage_s == pytest.approx(sum(v["duration_s"] for v in local.values()), rel=1e-6)
    assert any("x realtime" in line for line in summary.lines())
    assert_consistent(cfg)
    assert_same_sightings(cfg, sample_index)
    ours = _videos(cfg)
    assert set(ours) == set(local)
    for vid, v in ours.items():
        for k in ("status", "n_sightings", "content_hash", "config_version", "clip_model", "path"):
            assert v[k] == local[vid][k], (vid, k)
    # batched: fewer table versions than videos (one commit per 3 videos, plus creation and compaction)
    for table in (VIDEOS, SIGHTINGS):
        assert len(lance.dataset(f"{tmp_path}/ray/{table}.lance").versions()) < len(local), table

    again = run_index(sample_city.archive, cfg, registry, BatchOptions(engine="ray", progress=False))
    assert again.indexed == 0 and again.unchanged == len(local) and again.sightings == 0
    assert_same_sightings(cfg, sample_index)


def test_actor_resources_follow_the_cluster(tmp_path: Path):
    cfg = make_config(tmp_path / "i", index__workers=0)
    opts = BatchOptions(engine="ray")
    cpu_only = plan_resources(cfg, opts, {"CPU": 16.0}, n_jobs=1000)
    assert (cpu_only.actors, cpu_only.cpus, cpu_only.gpus) == (16, 1.0, 0.0)
    gpu = plan_resources(cfg, opts, {"CPU": 16.0, "GPU": 2.0}, n_jobs=1000)
    assert gpu.actors == 16 and gpu.gpus == pytest.approx(2 / 16)
    assert plan_resources(cfg, opts, {"CPU": 16.0, "GPU": 2.0}, n_jobs=1).gpus == 1.0  # never more than one
    assert plan_resources(make_config(tmp_path / "i", models__device="cpu"), opts, {"CPU": 4.0, "GPU": 1.0},
                          n_jobs=10).gpus == 0.0
    with pytest.raises(RuntimeError, match="no GPU"):
        plan_resources(make_config(tmp_path / "i", models__device="cuda"), opts, {"CPU": 4.0}, n_jobs=10)

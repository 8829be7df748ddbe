"""The local engine with several workers: the parent runs videos in a thread of its own beside
``workers - 1`` processes, and the index is the one a single worker writes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.loading import plan_image_embedder
from core.registry import load_registry
from indexer import process_pool
from indexer.archive import discover
from indexer.batch import BatchOptions, run_index
from indexer.run_plan import Job
from tests.conftest import make_config
from tests.index_compare import assert_same_sightings, sightings

pytestmark = pytest.mark.slow

@pytest.fixture
def small_archive(sample_city, tmp_path: Path) -> Path:
    """Four videos of the sample city, linked: enough for the parent and a worker to take turns."""
    root = tmp_path / "archive"
    for video in sorted(sample_city.archive.rglob("*.mp4"))[:4]:
        (root / video.parent.name).mkdir(parents=True, exist_ok=True)
        os.symlink(video, root / video.parent.name / video.name)
    os.symlink(sample_city.registry, root / "cameras.csv")
    return root


def _count_submissions(monkeypatch) -> dict[str, int]:
    ran = {"parent": 0, "pool": 0}
    parent_submit = process_pool.ParentWorker.submit

    def count_parent(self, job):
        ran["parent"] += 1
        return parent_submit(self, job)

    class CountingPool(process_pool.ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            ran["pool"] += 1
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(process_pool.ParentWorker, "submit", count_parent)
    monkeypatch.setattr(process_pool, "ProcessPoolExecutor", CountingPool)
    return ran


def test_two_workers_share_the_videos_and_write_the_one_worker_index(small_archive, sample_index, tmp_path,
                                                                     monkeypatch):
    ran = _count_submissions(monkeypatch)
    cfg = make_config(tmp_path / "index", index__workers=2)
    summary = run_index(small_archive, cfg, load_registry(small_archive / "cameras.csv"), BatchOptions(progress=False))
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert ran["parent"] >= 1 and ran["pool"] >= 1 and ran["parent"] + ran["pool"] == 4, ran

    ids = {v.video_id for v in discover(small_archive, load_registry(small_archive / "cameras.csv"),
                                        cfg.index.timezone)[0]}
    ours, reference = sightings(cfg, ids), sightings(sample_index, ids)
    assert ours
    assert_same_sightings(cfg, sample_index, ids)
    for sid, row in ours.items():  # the colour names come out exactly the same, not just close
        assert (row["upper_colour"], row["lower_colour"]) == (reference[sid]["upper_colour"],
                                                              reference[sid]["lower_colour"]), sid


def test_a_model_that_cannot_load_in_the_parent_ends_the_run(small_archive, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("detector file is corrupt")

    monkeypatch.setattr(process_pool, "load_models", broken)  # the parent's thread only: workers re-import
    cfg = make_config(tmp_path / "index", index__workers=2)
    registry = load_registry(small_archive / "cameras.csv")
    jobs = [Job(v, registry.get(v.camera_id)) for v in discover(small_archive, registry, cfg.index.timezone)[0]]
    with pytest.raises(RuntimeError, match="detector file is corrupt"):
        list(process_pool.results(jobs, 2, cfg, plan_image_embedder(cfg)))


def test_closing_the_results_early_returns_at_once(small_archive, tmp_path):
    """An operator's Ctrl-C (or an error while committing) must not wait for the videos in hand."""
    cfg = make_config(tmp_path / "index", index__workers=2)
    registry = load_registry(small_archive / "cameras.csv")
    jobs = [Job(v, registry.get(v.camera_id)) for v in discover(small_archive, registry, cfg.index.timezone)[0]]
    out = process_pool.results(jobs, 2, cfg, plan_image_embedder(cfg))
    first, _, _ = next(out)
    assert first.error == ""
    t0 = time.perf_counter()
    out.close()
    assert time.perf_counter() - t0 < 5.0


def test_a_parent_that_serves_people_leaves_the_videos_to_worker_processes(small_archive, tmp_path, monkeypatch):
    """The console passes ``parent_indexes=False``: its requests must not share the GIL with the pipeline."""
    ran = _count_submissions(monkeypatch)
    cfg = make_config(tmp_path / "index", index__workers=2)
    summary = run_index(small_archive, cfg, load_registry(small_archive / "cameras.csv"),
                        BatchOptions(progress=False, parent_indexes=False))
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert ran == {"parent": 0, "pool": 4}


def test_the_consoles_reindex_keeps_its_process_free(small_archive, tmp_path, monkeypatch):
    """A reindex started from the console runs in worker processes only."""
    from ui.index_panel import Reindexer

    ran = _count_submissions(monkeypatch)
    cfg = make_config(tmp_path / "index", index__workers=2)
    summary = Reindexer(cfg, load_registry(small_archive / "cameras.csv"), small_archive).run()
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert ran == {"parent": 0, "pool": 4}


def test_one_worker_runs_here_and_keeps_no_models(small_archive, tmp_path):
    """With one worker the videos run in this process, and nothing of the run stays in it (a console
    reindexes many times in one process)."""
    cfg = make_config(tmp_path / "index", index__workers=1)
    summary = run_index(small_archive, cfg, load_registry(small_archive / "cameras.csv"), BatchOptions(progress=False))
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert process_pool._WorkerState.models is None

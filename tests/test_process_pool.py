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
    ran = {"parent": 0, "pool": 0, "parent embeds": 0}
    parent_submit = process_pool.ParentWorker.submit

    def count_parent(self, job):
        ran["parent embeds" if isinstance(job, tuple) else "parent"] += 1
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
    assert ran["parent embeds"] == 0, ran  # the int8 session is small: each worker embeds its own

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
    assert ran == {"parent": 0, "pool": 4, "parent embeds": 0}


def test_the_consoles_reindex_keeps_its_process_free(small_archive, tmp_path, monkeypatch):
    """A reindex started from the console runs in worker processes only."""
    from ui.index_panel import Reindexer

    ran = _count_submissions(monkeypatch)
    cfg = make_config(tmp_path / "index", index__workers=2)
    summary = Reindexer(cfg, load_registry(small_archive / "cameras.csv"), small_archive).run()
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert ran == {"parent": 0, "pool": 4, "parent embeds": 0}


def test_one_worker_runs_here_and_keeps_no_models(small_archive, tmp_path):
    """With one worker the videos run in this process, and nothing of the run stays in it (a console
    reindexes many times in one process)."""
    cfg = make_config(tmp_path / "index", index__workers=1)
    summary = run_index(small_archive, cfg, load_registry(small_archive / "cameras.csv"), BatchOptions(progress=False))
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert process_pool._WorkerState.models is None


def test_worker_processes_hold_no_clip_session_when_the_parent_embeds(tmp_path):
    """What a pool process loads when the parent embeds for it: no CLIP session, and it says so to the
    pipeline (which then hands its crops back instead of dropping them)."""
    cfg = make_config(tmp_path / "index", models__clip_runtime="openvino")
    plan = plan_image_embedder(cfg)
    assert plan.runtime == "openvino"
    try:
        process_pool._init_worker(cfg, plan, 1, True)
        models = process_pool._WorkerState.models
        assert models is not None and models.embedder is None and models.defer_embedding
        assert process_pool._WorkerState.clip_error == ""  # nothing failed: the parent embeds
        process_pool._init_worker(cfg, plan, 1, False)
        models = process_pool._WorkerState.models
        assert models is not None and models.embedder is not None and not models.defer_embedding
    finally:
        process_pool._WorkerState.models = process_pool._WorkerState.cfg = None


def test_with_a_large_clip_session_the_parent_embeds_for_the_pool(small_archive, tmp_path, monkeypatch):
    """OpenVINO's session is ~300 MB: the parent's worker holds the only one and embeds the processes'
    crops, and the index is the one a single worker writes with the same runtime."""
    ran = _count_submissions(monkeypatch)
    registry = load_registry(small_archive / "cameras.csv")
    one = make_config(tmp_path / "one", index__workers=1, models__clip_runtime="openvino")
    assert not run_index(small_archive, one, registry, BatchOptions(progress=False)).failed
    cfg = make_config(tmp_path / "two", index__workers=2, models__clip_runtime="openvino")
    summary = run_index(small_archive, cfg, registry, BatchOptions(progress=False))
    assert summary.indexed == 4 and not summary.failed, summary.lines()
    assert ran["pool"] >= 1 and ran["parent embeds"] == ran["pool"], ran
    rows = sightings(cfg)
    assert rows and all(r["has_vector"] and r["clip_model"] for r in rows.values())
    assert_same_sightings(cfg, one)


def test_the_parent_embeds_only_for_a_large_session_and_a_few_workers():
    from core.loading import ImageEmbedderPlan

    openvino, int8 = ImageEmbedderPlan("openvino", 16), ImageEmbedderPlan("onnx-int8", 16)
    assert process_pool.parent_embeds(2, openvino, parent_indexes=True)
    assert process_pool.parent_embeds(process_pool.ONE_EMBEDDER_UP_TO, openvino, parent_indexes=True)
    assert not process_pool.parent_embeds(process_pool.ONE_EMBEDDER_UP_TO + 1, openvino, parent_indexes=True)
    assert not process_pool.parent_embeds(2, openvino, parent_indexes=False)  # the console embeds nothing
    assert not process_pool.parent_embeds(2, int8, parent_indexes=True)
    assert not process_pool.parent_embeds(2, ImageEmbedderPlan("none", 16), parent_indexes=True)


def test_an_embedding_failure_fails_that_video_and_the_run_goes_on(small_archive, tmp_path, monkeypatch):
    """The parent embeds a pool worker's crops: an error there is that video's, as it would be in the
    worker, and the other videos are indexed."""
    real = process_pool.embed_pending
    failed: list[str] = []

    def once_broken(sightings_table, pending, *args):
        if not failed:
            failed.append(pending.video.video_id)
            raise ValueError("tower returned NaN")
        return real(sightings_table, pending, *args)

    monkeypatch.setattr(process_pool, "embed_pending", once_broken)
    cfg = make_config(tmp_path / "index", index__workers=2, models__clip_runtime="openvino")
    summary = run_index(small_archive, cfg, load_registry(small_archive / "cameras.csv"), BatchOptions(progress=False))
    assert failed and summary.indexed == 3, summary.lines()
    assert any("tower returned NaN" in line for line in summary.lines()), summary.lines()

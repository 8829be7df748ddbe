"""Batch (re)indexing of an archive: incremental, idempotent, resumable, with progress and a summary.

* Incremental: a video already ``done`` with the same size, mtime and indexing settings is skipped
  without being read; one whose mtime changed is hashed, and skipped if its content is unchanged.
* Idempotent: sighting ids are derived from (video, track, segment) and each video's rows are
  replaced as a whole, so indexing twice adds nothing.
* Resumable: see :mod:`indexer.store` for the per-video commit order; a killed run's leftovers are
  removed at the start of the next, which then redoes only the unfinished videos.

This module is the dispatcher: :func:`run_index` picks the engine. The local engine runs videos in
a thread of the parent and in worker processes (:mod:`indexer.process_pool`;
decode/detect/track/describe/embed), and the parent alone writes to the index.
``BatchOptions(engine="ray")`` runs the same plan, pipeline and commit rules (:mod:`indexer.run_plan`)
as a Ray Data job instead (:mod:`indexer.ray_engine`); Ray is imported only then. Both report through
:mod:`indexer.progress`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from core.config import Config
from core.loading import ImageEmbedderPlan, plan_image_embedder
from core.registry import CameraRegistry
from indexer.archive import SkippedFile
from indexer.lock import indexer_lock
from indexer.pipeline import VideoResult
from indexer.process_pool import results, worker_count
from indexer.progress import BatchSummary, FileFailure, FootageProgress
from indexer.run_plan import (
    BatchOptions,
    Job,
    RunPlan,
    finish_run,
    keeps_previous_version,
    load_models,
    prepare_run,
    run_job,
)
from indexer.store import SightingStore, VideoOutcome


def run_index(archive: str | Path, cfg: Config, registry: CameraRegistry,
              options: BatchOptions | None = None,
              on_progress: Callable[[int, int, float], None] | None = None) -> BatchSummary:
    """Index every new or changed video under ``archive`` into ``cfg.storage.index_uri``."""
    options = options or BatchOptions()
    if options.engine == "ray":
        from indexer.ray_engine import run_index_ray  # Ray is imported only when asked for

        return run_index_ray(archive, cfg, registry, options, on_progress)
    if options.engine != "local":
        raise ValueError(f"unknown indexing engine {options.engine!r}: local or ray")
    summary = BatchSummary()
    t_start = time.perf_counter()
    with indexer_lock(cfg.storage.index_uri, wait_s=options.wait_s):
        run = prepare_run(archive, cfg, registry, options, summary)
        store, config_version, jobs = run.store, run.config_version, run.jobs
        workers = worker_count(cfg, options, len(jobs))
        plan = plan_image_embedder(cfg) if jobs else ImageEmbedderPlan("none", store.dim)
        with FootageProgress(options.progress and bool(jobs), run.total_bytes, len(jobs), workers) as bar:
            for result, digest, clip_error in (results(jobs, workers, cfg, plan, parent_indexes=options.parent_indexes)
                                               if jobs else iter(())):
                summary.clip_error = summary.clip_error or clip_error
                record_result(result, digest, store, config_version, summary, run)
                bar.advance(*_progress_of(result))
                if on_progress is not None:
                    on_progress(summary.indexed + summary.windows + len(summary.failed), len(jobs), summary.footage_s)
        finish_run(store, summary)
    summary.wall_s = time.perf_counter() - t_start
    return summary


def record_result(result: VideoResult, digest: str, store: SightingStore, config_version: str,
             summary: BatchSummary, run: RunPlan) -> int:
    """Write one video's (or window's) result; returns the sightings written."""
    outcome = VideoOutcome.of(result, digest)
    if keeps_previous_version(outcome.error, run.records.get(result.video.video_id)):
        summary.count(outcome, window=result.window)
        return 0
    if not outcome.ok:
        store.record_failure(result.video, result, digest, config_version, result.error)
        summary.count(outcome, window=result.window)
        return 0
    t0 = time.perf_counter()
    if result.window is not None:
        n = store.commit_window(result, config_version, outcome.clip_model)
    else:
        n = store.commit_video(result, digest, config_version, outcome.clip_model,
                               replacing=run.replacing(result.video.video_id))
    summary.count(outcome, write_s=time.perf_counter() - t0, window=result.window)
    return n


def _progress_of(result: VideoResult) -> tuple[int, float]:
    """Bytes and footage seconds one result stands for on the progress bar."""
    if result.window is not None:
        t0, t1 = result.window
        duration = result.info.duration_s if result.info and result.info.duration_s > 0 else t1
        return int(result.video.size_bytes * (t1 - t0) / max(duration, 1e-9)), t1 - t0
    return result.video.size_bytes, result.info.duration_s if result.info else 0.0


# The names callers imported from here before the run plan, worker pool and progress moved out.
__all__ = ["BatchOptions", "BatchSummary", "FileFailure", "FootageProgress", "Job", "RunPlan", "SkippedFile",
           "finish_run", "keeps_previous_version", "load_models", "prepare_run", "run_index", "run_job"]

"""The local engine's workers: models loaded once per process, videos run in a bounded process pool."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from core.config import Config
from core.loading import ImageEmbedderPlan
from indexer.pipeline import Models, VideoResult
from indexer.run_plan import BatchOptions, Job, limit_torch_threads, load_models, run_job


class _WorkerState:
    """Models loaded once per worker process by the pool initializer."""

    models: Models | None = None
    clip_error: str = ""
    cfg: Config | None = None


def _init_worker(cfg: Config, plan: ImageEmbedderPlan, threads: int) -> None:
    limit_torch_threads(plan, threads)
    logging.basicConfig(level=logging.WARNING)
    _WorkerState.cfg = cfg
    _WorkerState.models, _WorkerState.clip_error = load_models(cfg, plan, threads=threads)


def _run_job(job: Job) -> tuple[VideoResult, str, str]:
    assert _WorkerState.models is not None and _WorkerState.cfg is not None
    result, digest = run_job(job, _WorkerState.models, _WorkerState.cfg)
    return result, digest, _WorkerState.clip_error


def worker_count(cfg: Config, options: BatchOptions, n_jobs: int) -> int:
    wanted = options.workers if options.workers is not None else cfg.index.workers
    if wanted <= 0:
        wanted = os.cpu_count() or 1
    return max(1, min(wanted, n_jobs))


def results(jobs: list[Job], workers: int, cfg: Config,
            plan: ImageEmbedderPlan) -> Iterator[tuple[VideoResult, str, str]]:
    """Run jobs in-process (one worker) or in a process pool, yielding (result, digest, clip error) as they finish."""
    if workers == 1:
        _init_worker(cfg, plan, threads=max(1, (os.cpu_count() or 1)))
        for job in jobs:
            yield _run_job(job)
        return
    ctx = multiprocessing.get_context("spawn")  # fork + torch/onnxruntime threads can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(cfg, plan, 1)) as pool:
        pending: set[Future] = set()
        queue = iter(jobs)
        try:
            for job in queue:  # keep the pipeline full but bounded (results hold thumbnails)
                pending.add(pool.submit(_run_job, job))
                if len(pending) >= 2 * workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise

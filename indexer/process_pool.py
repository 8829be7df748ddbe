"""The local engine's workers: models loaded once per worker, videos run in this process and a bounded
process pool.

The parent process is a worker too. It holds the index (lancedb and pyarrow), and a worker process holds
the same libraries again with its models: each one is ~250 MB of resident memory before its models. So
with ``workers`` workers the parent runs videos in a thread of its own and ``workers - 1`` processes run
the rest (``bench/results/index_levers.json``, ``parent_is_a_worker_2026_12_07``). Its thread takes the
next video only when it is free, like each process, so no one waits with work queued elsewhere at the end.
A parent that serves people (the console) passes ``parent_indexes=False`` and keeps ``workers`` processes.

A CLIP runtime whose session is large (:data:`SHARED_SESSION_RUNTIMES`) is held by the parent's worker
alone, with a few workers: the processes hand their chosen crops back and it embeds them before the result
is committed (:mod:`indexer.embedding`). Beyond :data:`ONE_EMBEDDER_UP_TO` workers one session could not
keep up, and every worker embeds its own. The int8 ONNX session is small enough that sharing it does not
pay: one run measured 5 % less memory for 7 % more wall time (``one_clip_session_2026_12_07``).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace

from core.config import Config
from core.loading import ImageEmbedderPlan
from indexer.embedding import embed_pending
from indexer.pipeline import Models, VideoResult
from indexer.run_plan import BatchOptions, Job, limit_torch_threads, load_models, run_job

log = logging.getLogger(__name__)

JobResult = tuple[VideoResult, str, str]  # result, content digest, why CLIP could not be loaded ("" if it was)
# Embedding is about a quarter of a worker's CPU time, so one embedding thread serves about three other
# workers; with more, each embeds its own (bench/results/index_levers.json, one_clip_session_2026_12_07).
ONE_EMBEDDER_UP_TO = 4
SHARED_SESSION_RUNTIMES = ("openvino",)  # ~300 MB a session: one per process tree


class _WorkerState:
    """Models loaded once per worker process by the pool initializer."""

    models: Models | None = None
    clip_error: str = ""
    cfg: Config | None = None


def _init_worker(cfg: Config, plan: ImageEmbedderPlan, threads: int, defer_embedding: bool = False) -> None:
    limit_torch_threads(plan, threads)
    logging.basicConfig(level=logging.WARNING)
    _WorkerState.cfg = cfg
    if defer_embedding:  # the parent embeds: no CLIP session here
        plan = replace(plan, runtime="none", error="")
    _WorkerState.models, _WorkerState.clip_error = load_models(cfg, plan, threads=threads)
    _WorkerState.models.defer_embedding = defer_embedding


def _run_job(job: Job) -> JobResult:
    assert _WorkerState.models is not None and _WorkerState.cfg is not None
    result, digest = run_job(job, _WorkerState.models, _WorkerState.cfg)
    return_freed_memory()
    return result, digest, _WorkerState.clip_error


class ParentWorker:
    """The parent's own worker: one daemon thread with its own models, fed one job at a time.

    Daemon, so an interrupted run does not wait for the video in hand; its models go with the thread when
    the run ends (nothing is kept in the parent between runs)."""

    def __init__(self, cfg: Config, plan: ImageEmbedderPlan) -> None:
        # Embedding first: a finished video waits on it, and its crops wait in memory.
        self._jobs: queue.PriorityQueue[tuple[int, int, tuple[Job | JobResult, Future] | None]] = queue.PriorityQueue()
        self._count = itertools.count()
        self._thread = threading.Thread(target=self._loop, args=(cfg, plan), name="index-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Job | JobResult) -> Future:
        """Run a job, or embed the crops of another worker's result (a :data:`JobResult`)."""
        fut: Future = Future()
        self._jobs.put((0 if isinstance(job, tuple) else 1, next(self._count), (job, fut)))
        return fut

    def shutdown(self) -> None:
        self._jobs.put((2, next(self._count), None))

    def _loop(self, cfg: Config, plan: ImageEmbedderPlan) -> None:
        # Models loaded at the first job, not in __init__: the load overlaps the pool's start-up.
        here = _ModelsHere(cfg, plan, threads=1)
        while (item := self._jobs.get()[2]) is not None:
            job, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                out = here.embed(job) if isinstance(job, tuple) else here.run(job)
            except BaseException as exc:  # a model that cannot load ends the run, as a worker's would
                fut.set_exception(exc)
            else:
                fut.set_result(out)
        here.close()


class _ModelsHere:
    """Jobs run in this process with models of its own, loaded at the first job. ``close`` frees them and
    trims the heap: the parent keeps nothing of a run."""

    def __init__(self, cfg: Config, plan: ImageEmbedderPlan, threads: int) -> None:
        self.cfg, self.plan, self.threads = cfg, plan, threads
        self.models: Models | None = None
        self.clip_error = ""

    def _loaded(self) -> Models:
        if self.models is None:
            limit_torch_threads(self.plan, self.threads)
            self.models, self.clip_error = load_models(self.cfg, self.plan, threads=self.threads)
        return self.models

    def run(self, job: Job) -> JobResult:
        result, digest = run_job(job, self._loaded(), self.cfg)
        return_freed_memory()
        return result, digest, self.clip_error

    def embed(self, done: JobResult) -> JobResult:
        """Another worker's result with its crops embedded here (its ``embed`` seconds added)."""
        result, digest, _ = done
        pending, result.pending = result.pending, None
        if pending is None or result.sightings is None:
            return result, digest, self.clip_error
        models = self._loaded()
        t = time.perf_counter()
        try:
            result.sightings, result.frames = embed_pending(result.sightings, pending, models.embedder,
                                                            models.clip_dim, self.cfg.index)
        except Exception as exc:  # as in run_job: one video's failure must not end the run
            log.exception("embedding %s failed", result.video.rel_path)
            result.sightings, result.frames = None, None
            result.error = f"internal error: {type(exc).__name__}: {exc}"
        result.seconds["embed"] = result.seconds.get("embed", 0.0) + time.perf_counter() - t
        return result, digest, self.clip_error

    def close(self) -> None:
        self.models = None
        return_freed_memory()


def return_freed_memory() -> None:
    """Hand the heap pages a video freed back to the system (glibc keeps them otherwise, and the next
    video's peak lands on top of them). A no-op where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def worker_count(cfg: Config, options: BatchOptions, n_jobs: int) -> int:
    wanted = options.workers if options.workers is not None else cfg.index.workers
    if wanted <= 0:
        wanted = os.cpu_count() or 1
    return max(1, min(wanted, n_jobs))


def _here(jobs: list[Job], cfg: Config, plan: ImageEmbedderPlan) -> Iterator[JobResult]:
    """One worker: the jobs one after the other in this process, with all its cores."""
    here = _ModelsHere(cfg, plan, threads=max(1, os.cpu_count() or 1))
    try:
        for job in jobs:
            yield here.run(job)
    finally:
        here.close()


def parent_embeds(workers: int, plan: ImageEmbedderPlan, parent_indexes: bool) -> bool:
    """Whether the parent's worker embeds for the worker processes (which then hold no CLIP session)."""
    return parent_indexes and 1 < workers <= ONE_EMBEDDER_UP_TO and plan.runtime in SHARED_SESSION_RUNTIMES


def results(jobs: list[Job], workers: int, cfg: Config, plan: ImageEmbedderPlan, *,
            parent_indexes: bool = True) -> Iterator[JobResult]:
    """Run jobs in this process (one worker), or in a thread here and ``workers - 1`` processes (``workers``
    processes when not ``parent_indexes``), yielding (result, digest, clip error) as they finish."""
    if workers == 1:  # all here, whatever parent_indexes says: one process is all one worker needs
        yield from _here(jobs, cfg, plan)
        return
    ctx = multiprocessing.get_context("spawn")  # fork + torch/onnxruntime threads can deadlock
    parent = ParentWorker(cfg, plan) if parent_indexes else None
    processes = workers - 1 if parent_indexes else workers
    one_embedder = parent_embeds(workers, plan, parent_indexes)
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=ctx, initializer=_init_worker,
                               initargs=(cfg, plan, 1, one_embedder))
    queued = iter(jobs)
    running: dict[Future, ParentWorker | ProcessPoolExecutor | None] = {}  # None: the parent embeds a result

    def give(worker: ParentWorker | ProcessPoolExecutor) -> None:
        job = next(queued, None)
        if job is not None:
            running[worker.submit(_run_job, job) if worker is pool else worker.submit(job)] = worker

    try:
        if parent is not None:
            give(parent)
        for _ in range(processes):
            give(pool)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                worker = running.pop(fut)
                if worker is not None:
                    give(worker)  # before the caller commits the result: the worker never waits on it
                out = fut.result()
                if parent is not None and out[0].pending is not None:
                    running[parent.submit(out)] = None  # queued behind the parent's video in hand
                    continue
                yield out
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if parent is not None:
            parent.shutdown()
    pool.shutdown()

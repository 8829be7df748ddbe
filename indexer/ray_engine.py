"""``footage-search index ARCHIVE --engine ray``: the local indexer's run as a Ray Data job.

Everything but the execution is shared with the local engine (:mod:`indexer.batch`): the same lock,
orphan cleanup and plan (:func:`~indexer.run_plan.prepare_run`), the same per-video pipeline and model
loading (:func:`~indexer.run_plan.run_job`, :func:`~indexer.run_plan.load_models`), the same ``videos``
rows, progress bar and summary (:mod:`indexer.progress`) and final compaction. What differs:

* videos are rows of a Ray dataset, indexed by a pool of stateful actors (:class:`IndexActor`) that
  load the detector and CLIP model once each; each actor decodes its own files, so decoding runs in
  parallel across files and nodes. Actors ask for a share of a GPU when the cluster has GPUs (CLIP
  runs there; the ONNX detector and the decoder stay on the actor's CPUs);
* actors write their videos' rows to the tables as uncommitted Lance fragments, and the driver
  commits them in batches (:mod:`indexer.ray_commit`, which explains the crash guarantees);
* whole files only: a video partly analysed by windows (case mode, :mod:`indexer.windows`) with coverage
  still valid is left as it is (the summary says so; the local engine fills its gaps), so no covered
  span is analysed twice. One whose coverage is stale (other settings, changed file) is redone whole,
  its windows' rows and coverage replaced like any redone video's.

On a multi-node cluster the index must be reachable from every node under the same URI (object
storage, or a shared mount), and so must the archive's files and the model files; every node needs
this package installed.
"""

from __future__ import annotations

import logging
import pickle
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import Config
from core.loading import ImageEmbedderPlan, plan_image_embedder
from core.registry import CameraRegistry
from core.schema import FRAMES, frames_schema
from indexer.lock import indexer_lock
from indexer.progress import BatchSummary, FootageProgress
from indexer.ray_commit import BatchCommitter, FragmentTarget, VideoReport, write_video_fragments
from indexer.run_plan import BatchOptions, Job, finish_run, limit_torch_threads, load_models, prepare_run, run_job

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2  # reports are a few kB per video; rows never pass through it


@dataclass(frozen=True)
class ActorResources:
    """What each indexing actor asks the cluster for, and how many of them run."""

    actors: int
    cpus: float
    gpus: float

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))


def plan_resources(cfg: Config, options: BatchOptions, cluster: dict[str, float], n_jobs: int) -> ActorResources:
    """One single-CPU actor per cluster CPU (or ``workers``), each with an equal share of the GPUs.

    A whole GPU per actor would leave it idle while the actor decodes and detects on its CPU, so the
    cluster's GPUs are split across all actors (at most one each); CLIP then runs on the GPU with
    PyTorch. ``models.device = cpu`` asks for none; ``cuda`` on a cluster without GPUs is an error.
    """
    cpus = max(1.0, float(cluster.get("CPU", 1)))
    wanted = options.workers if options.workers is not None else cfg.index.workers
    actors = max(1, min(int(wanted) if wanted > 0 else int(cpus), n_jobs))
    gpus_total = float(cluster.get("GPU", 0))
    device = cfg.models.device
    if device.startswith("cuda") and gpus_total <= 0:
        raise RuntimeError(f"models.device = {device} but the Ray cluster has no GPU")
    gpus = 0.0 if device == "cpu" or gpus_total <= 0 else min(1.0, gpus_total / actors)
    return ActorResources(actors=actors, cpus=1.0, gpus=gpus)


class IndexActor:
    """A Ray Data actor: models loaded once, then one video per call, rows written as fragments."""

    def __init__(self, cfg: Config, plan: ImageEmbedderPlan, target: FragmentTarget, threads: int,
                 uses_gpu: bool):
        logging.basicConfig(level=logging.WARNING)
        # The driver's plan names an ONNX file on the driver's machine and a device chosen there; an
        # actor given a GPU, or on another node, plans for where it runs (exporting once per node).
        if uses_gpu or (plan.onnx_path and not Path(plan.onnx_path).exists()):
            plan = plan_image_embedder(cfg)
        limit_torch_threads(plan, threads)
        self.cfg = cfg
        self.target = target
        self.models, self.clip_error = load_models(cfg, plan, threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        reports = []
        for blob in batch["job"]:
            job: Job = pickle.loads(blob)
            result, digest = run_job(job, self.models, self.cfg)
            report = write_video_fragments(result, digest, self.target, self.clip_error)
            reports.append(pickle.dumps(report))
        return {"report": np.array(reports, dtype=object)}


@contextmanager
def ray_session(address: str, *, num_cpus: int | None = None) -> Iterator[None]:
    """Use the Ray already initialised in this process, else join ``address``, else start a local one
    (shut down again afterwards)."""
    import ray

    if ray.is_initialized():
        yield
        return
    with warnings.catch_warnings():
        # Ray forks and at once execs its daemons; Lance's fork-safety warnings are about forked
        # children that go on using an open table, which these never do.
        warnings.filterwarnings("ignore", message=".*fork", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*fork", category=UserWarning)
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def run_index_ray(archive: str | Path, cfg: Config, registry: CameraRegistry, options: BatchOptions,
                  on_progress: Callable[[int, int, float], None] | None = None) -> BatchSummary:
    """:func:`indexer.batch.run_index` on Ray: same plan, same rows, same summary."""
    summary = BatchSummary()
    t_start = time.perf_counter()
    with indexer_lock(cfg.storage.index_uri, wait_s=options.wait_s):
        run = prepare_run(archive, cfg, registry, options, summary)
        store = run.store
        # Whole files only: the windows (gaps of partly indexed videos) need the merge-per-window commit of
        # the local engine. Their covered spans are respected by leaving these videos as they are.
        partial = {j.video.video_id for j in run.jobs if j.window is not None}
        run.jobs = [j for j in run.jobs if j.window is None]
        summary.ray_left_partial = len(partial)
        if cfg.index.frame_embed_interval_s > 0 and not store.db.has_table(FRAMES):
            store.db.db.create_table(FRAMES, schema=frames_schema(store.dim))  # workers append to it
        if run.jobs:
            target = FragmentTarget.of(store, cfg.storage)
            committer = BatchCommitter(store, target, run.config_version, run.records,
                                       options.commit_every_videos, options.commit_every_s,
                                       covered=set(run.coverage))
            with ray_session(options.ray_address):
                _index_on_ray(run.jobs, run.total_bytes, cfg, options, target, committer, summary, on_progress)
            summary.stage_seconds["write"] += committer.write_s
        finish_run(store, summary)
    summary.wall_s = time.perf_counter() - t_start
    return summary


def _index_on_ray(jobs: list[Job], total_bytes: int, cfg: Config, options: BatchOptions, target: FragmentTarget,
                  committer: BatchCommitter, summary: BatchSummary,
                  on_progress: Callable[[int, int, float], None] | None) -> None:
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the footage-hours bar below is the one progress display
    ctx.log_internal_stack_trace_to_stdout = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)

    res = plan_resources(cfg, options, ray.cluster_resources(), len(jobs))
    plan = plan_image_embedder(cfg)
    # Largest files first: the pool's tail is then short files, not one long file holding up the end.
    ordered = sorted(jobs, key=lambda j: -j.video.size_bytes)
    items = [{"job": pickle.dumps(j)} for j in ordered]
    ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        IndexActor,
        fn_constructor_kwargs={"cfg": cfg, "plan": plan, "target": target, "threads": res.threads,
                               "uses_gpu": res.gpus > 0},
        batch_size=1,  # one video per call: a result (and its fragments) as soon as a file is done
        compute=ray.data.ActorPoolStrategy(size=res.actors),
        num_cpus=res.cpus,
        num_gpus=res.gpus,
        batch_format="numpy",
        zero_copy_batch=True,
    )
    with FootageProgress(options.progress, total_bytes, len(jobs), res.actors) as bar:
        for row in ds.iter_rows():
            report: VideoReport = pickle.loads(row["report"])
            if not committer.add(report):
                continue
            outcome = report.outcome
            summary.clip_error = summary.clip_error or report.clip_error
            summary.count(outcome)
            bar.advance(outcome.video.size_bytes, outcome.info.duration_s if outcome.info else 0.0)
            if on_progress is not None:
                on_progress(summary.indexed + len(summary.failed), len(jobs), summary.footage_s)
        committer.flush()


__all__ = ["ActorResources", "IndexActor", "plan_resources", "ray_session", "run_index_ray"]

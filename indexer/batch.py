"""Batch (re)indexing of an archive: incremental, idempotent, resumable, with progress and a summary.

* Incremental: a video already ``done`` with the same size, mtime and indexing settings is skipped
  without being read; one whose mtime changed is hashed, and skipped if its content is unchanged.
* Idempotent: sighting ids are derived from (video, track, segment) and each video's rows are
  replaced as a whole, so indexing twice adds nothing.
* Resumable: see :mod:`indexer.store` for the per-video commit order; a killed run's leftovers are
  removed at the start of the next, which then redoes only the unfinished videos.

Videos are processed in parallel worker processes (decode/detect/track/describe/embed); the parent
process alone writes to the index. ``BatchOptions(engine="ray")`` runs the same plan, pipeline and
commit rules as a Ray Data job instead (:mod:`indexer.ray_engine`); Ray is imported only then.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from core.index_db import IndexDB
from core.loading import (
    ImageEmbedderPlan,
    load_colours,
    load_detector,
    load_image_embedder,
    plan_image_embedder,
)
from core.registry import CameraRegistry
from core.schema import VIDEO_STATUS_DONE, VIDEO_STATUS_FAILED
from core.vision.clip_embedder import ClipSpec, ClipUnavailableError
from indexer.archive import SkippedFile, VideoFile, content_hash, discover
from indexer.lock import indexer_lock
from indexer.pipeline import STAGES, Models, VideoResult, index_video
from indexer.registry_sync import sync as registry_sync
from indexer.store import SightingStore, VideoOutcome, VideoRecord

log = logging.getLogger(__name__)


@dataclass
class BatchOptions:
    rebuild: bool = False  # drop the index first (e.g. after changing the CLIP model)
    retry_failed: bool = False  # try again files that failed and have not changed since
    workers: int | None = None  # None: config index.workers (0 = one per core)
    progress: bool = True
    wait_s: float = 0.0  # how long to wait for another indexer's lock
    engine: str = "local"  # local (worker processes on this machine) | ray (a Ray Data job)
    ray_address: str = ""  # engine=ray: "" starts a Ray on this machine; "auto" / "ray://host:10001" joins one
    commit_every_videos: int = 64  # engine=ray: commit finished videos in batches of this many ...
    commit_every_s: float = 60.0  # ... or after this long, whichever comes first
    prune: bool = False  # forget videos whose file or camera is gone (their sightings too)


@dataclass
class FileFailure:
    path: str
    reason: str


@dataclass
class BatchSummary:
    files_found: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    skipped: list[FileFailure] = field(default_factory=list)  # not indexable: no camera, no time
    previously_failed: int = 0
    sightings: int = 0
    sightings_without_vectors: int = 0
    orphans_removed: int = 0
    footage_s: float = 0.0
    frames_sampled: int = 0
    frames_gated: int = 0  # sampled frames where nothing moved, so detection was skipped
    wall_s: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*STAGES, "write"), 0.0))
    clip_error: str = ""
    detector: str = ""
    indexes_built: list[str] = field(default_factory=list)
    registry_changes: list[str] = field(default_factory=list)
    pruned_videos: int = 0

    def count(self, outcome: VideoOutcome, write_s: float = 0.0) -> None:
        """Add one processed video (indexed or failed) to the totals."""
        for k, v in outcome.seconds.items():
            self.stage_seconds[k] = self.stage_seconds.get(k, 0.0) + v
        if not outcome.ok:
            self.failed.append(FileFailure(str(outcome.video.path), outcome.error))
            return
        if outcome.detector:
            self.detector = outcome.detector
        self.sightings_without_vectors += outcome.n_without_vectors
        self.sightings += outcome.n_sightings
        self.stage_seconds["write"] += write_s
        self.indexed += 1
        self.footage_s += outcome.info.duration_s if outcome.info else 0.0
        self.frames_sampled += outcome.n_sampled
        self.frames_gated += outcome.n_gated

    @property
    def x_realtime(self) -> float:
        return self.footage_s / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        out = [
            f"files: {self.files_found} found, {self.indexed} indexed, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped"
            + (f", {self.previously_failed} failed before (use --retry-failed)" if self.previously_failed else ""),
            f"sightings written: {self.sightings}"
            + (f" ({self.sightings_without_vectors} without CLIP vectors)" if self.sightings_without_vectors else ""),
            f"footage: {self.footage_s / 3600:.3f} h in {self.wall_s:.1f} s wall = {self.x_realtime:.1f}x realtime",
        ]
        if self.frames_sampled:
            out.append(f"frames analysed: {self.frames_sampled}, of which {self.frames_gated} "
                       f"({100 * self.frames_gated / self.frames_sampled:.0f}%) were still and skipped detection")
        total = sum(self.stage_seconds.values())
        if total > 0:
            split = ", ".join(f"{k} {v:.1f}s ({100 * v / total:.0f}%)" for k, v in self.stage_seconds.items())
            out.append(f"stage time (summed over workers): {split}")
        if self.detector:
            out.append(f"detector: {self.detector}")
        if self.orphans_removed:
            out.append(f"removed {self.orphans_removed} half-written sightings left by an interrupted run")
        out += self.registry_changes
        if self.pruned_videos:
            out.append(f"pruned {self.pruned_videos} videos whose file or camera is gone (and their sightings)")
        for f in self.failed:
            out.append(f"FAILED  {f.path}: {f.reason}")
        for f in self.skipped:
            out.append(f"SKIPPED {f.path}: {f.reason}")
        if self.clip_error:
            out.append(f"CLIP unavailable ({self.clip_error}); sightings were indexed without CLIP vectors. "
                       "Run `footage-search index --embeddings-only` once the weights can be loaded.")
        if self.indexes_built:
            out.append(f"indexes built: {', '.join(self.indexes_built)}")
        return out


@dataclass(frozen=True)
class Job:
    video: VideoFile
    camera: object  # core.registry.Camera (kept loose for pickling simplicity)


@dataclass
class RunPlan:
    """What a run will do, decided under the lock before any video is read (both engines)."""

    store: SightingStore
    config_version: str
    jobs: list[Job]
    records: dict[str, VideoRecord]  # the ``videos`` table as it was when the run started

    @property
    def total_bytes(self) -> int:
        return sum(j.video.size_bytes for j in self.jobs)


class _WorkerState:
    """Models loaded once per worker process by the pool initializer."""

    models: Models | None = None
    clip_error: str = ""
    cfg: Config | None = None


def load_models(cfg: Config, plan: ImageEmbedderPlan, *, threads: int = 1) -> tuple[Models, str]:
    detector = load_detector(cfg, threads=threads)
    colours = load_colours(cfg)
    embedder, error = load_image_embedder(cfg, plan, threads=threads)
    return Models(detector=detector, colours=colours, embedder=embedder, clip_dim=plan.dim), error


def limit_torch_threads(plan: ImageEmbedderPlan, threads: int) -> None:
    if plan.runtime == "torch":  # ONNX workers never import torch at all
        import torch

        torch.set_num_threads(threads)


def _init_worker(cfg: Config, plan: ImageEmbedderPlan, threads: int) -> None:
    limit_torch_threads(plan, threads)
    logging.basicConfig(level=logging.WARNING)
    _WorkerState.cfg = cfg
    _WorkerState.models, _WorkerState.clip_error = load_models(cfg, plan, threads=threads)


CHANGED_WHILE_INDEXING = "changed while indexing"


def keeps_previous_version(error: str, previous: VideoRecord | None) -> bool:
    """A file still being written keeps the sightings of the version indexed before: its ``videos``
    row is left as it was (still naming the old size/mtime), so the next run picks the file up again."""
    return (error.startswith(CHANGED_WHILE_INDEXING) and previous is not None
            and previous.status == VIDEO_STATUS_DONE)


def _failed(video: VideoFile, reason: str) -> VideoResult:
    return VideoResult(video, None, "", None, None, {}, error=reason)


def _changed_since_discovery(video: VideoFile) -> str:
    """Why the file on disk is no longer the one discovered (and hashed), or "" if it is."""
    try:
        st = video.path.stat()
    except OSError as exc:
        return f"{CHANGED_WHILE_INDEXING}: {exc.strerror or exc}"
    if st.st_size != video.size_bytes or abs(st.st_mtime - video.mtime) >= 1e-3:
        return (f"{CHANGED_WHILE_INDEXING}: {video.size_bytes} -> {st.st_size} bytes; "
                "it will be indexed again on the next run once it stops changing")
    return ""


def run_job(job: Job, models: Models, cfg: Config) -> tuple[VideoResult, str]:
    """Hash and index one video (both engines' workers).

    Never raises for one bad file: an unreadable file, a file still being written (size or mtime
    differ from discovery after indexing) or an unexpected error in the pipeline is a failed result,
    so one video cannot stop the batch. A file that changed is retried by the next run because its
    recorded size/mtime no longer match.
    """
    video = job.video
    try:
        digest = content_hash(video.path)
    except OSError as exc:
        return _failed(video, f"unreadable: {exc.strerror or exc}"), ""
    try:
        result = index_video(video, job.camera, models, cfg)  # type: ignore[arg-type]
    except Exception as exc:  # one video's bug (MemoryError included) must not end the run
        log.exception("indexing %s failed", video.rel_path)
        return _failed(video, f"internal error: {type(exc).__name__}: {exc}"), ""
    changed = _changed_since_discovery(video)
    if changed:
        return _failed(video, changed), ""
    return result, digest


def _run_job(job: Job) -> tuple[VideoResult, str, str]:
    assert _WorkerState.models is not None and _WorkerState.cfg is not None
    result, digest = run_job(job, _WorkerState.models, _WorkerState.cfg)
    return result, digest, _WorkerState.clip_error


def plan_work(videos: list[VideoFile], store: SightingStore, config_version: str,
         retry_failed: bool, records: dict[str, VideoRecord] | None = None,
         ) -> tuple[list[VideoFile], int, int, list[VideoFile]]:
    """Split discovered videos into (to index, unchanged, previously failed, touched-but-same)."""
    records = store.video_records() if records is None else records
    todo: list[VideoFile] = []
    touched: list[VideoFile] = []
    unchanged = previously_failed = 0
    for v in videos:
        rec = records.get(v.video_id)
        if rec is None:
            todo.append(v)
            continue
        same_file = rec.size_bytes == v.size_bytes and abs(rec.mtime - v.mtime) < 1e-3
        if rec.status == VIDEO_STATUS_FAILED and not retry_failed and same_file:
            previously_failed += 1
            continue
        if rec.status != VIDEO_STATUS_DONE or rec.config_version != config_version:
            todo.append(v)
            continue
        if same_file:
            unchanged += 1
            continue
        if rec.size_bytes == v.size_bytes and content_hash(v.path) == rec.content_hash:
            touched.append(v)
            unchanged += 1
            continue
        todo.append(v)
    return todo, unchanged, previously_failed, touched


def _worker_count(cfg: Config, options: BatchOptions, n_jobs: int) -> int:
    wanted = options.workers if options.workers is not None else cfg.index.workers
    if wanted <= 0:
        wanted = os.cpu_count() or 1
    return max(1, min(wanted, n_jobs))


def _results(jobs: list[Job], workers: int, cfg: Config,
             plan: ImageEmbedderPlan) -> Iterator[tuple[VideoResult, str, str]]:
    """Run jobs in-process (one worker) or in a process pool, yielding results as they finish."""
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
        workers = _worker_count(cfg, options, len(jobs))
        plan = plan_image_embedder(cfg) if jobs else ImageEmbedderPlan("none", store.dim)
        with FootageProgress(options.progress and bool(jobs), run.total_bytes, len(jobs), workers) as bar:
            for result, digest, clip_error in _results(jobs, workers, cfg, plan) if jobs else iter(()):
                summary.clip_error = summary.clip_error or clip_error
                _record(result, digest, store, config_version, summary, run.records)
                bar.advance(result.video.size_bytes, result.info.duration_s if result.info else 0.0)
                if on_progress is not None:
                    on_progress(summary.indexed + len(summary.failed), len(jobs), summary.footage_s)
        finish_run(store, summary)
    summary.wall_s = time.perf_counter() - t_start
    return summary


def prepare_run(archive: str | Path, cfg: Config, registry: CameraRegistry, options: BatchOptions,
                summary: BatchSummary) -> RunPlan:
    """Open and check the index, clear a killed run's leftovers, and decide which videos to (re)index."""
    spec = ClipSpec.from_config(cfg.models)
    db = IndexDB.open(cfg.storage)
    store = SightingStore(db, spec.embed_dim())
    if options.rebuild:
        store.drop_all()
    db.check_compatible(_identity_or_none(spec), store.dim)
    store.ensure_tables()
    summary.orphans_removed = store.remove_orphans()
    summary.registry_changes = registry_sync(db, registry).lines()

    videos, skipped = discover(archive, registry, cfg.index.timezone)
    summary.files_found = len(videos) + len(skipped)
    summary.skipped = [FileFailure(str(s.path), s.reason) for s in skipped]
    config_version = cfg.index_fingerprint()
    records = store.video_records()
    if options.prune:
        present = {v.video_id for v in videos}
        gone = [vid for vid in records if vid not in present]
        store.forget_videos(gone)
        summary.pruned_videos = len(gone)
        records = {vid: rec for vid, rec in records.items() if vid in present}
    todo, summary.unchanged, summary.previously_failed, touched = plan_work(
        videos, store, config_version, options.retry_failed, records)
    for v in touched:
        store.touch_video(v)
    jobs = [Job(v, registry.get(v.camera_id)) for v in todo]
    return RunPlan(store, config_version, jobs, records)


def finish_run(store: SightingStore, summary: BatchSummary) -> None:
    """Compact and index what this run added."""
    if summary.indexed:
        t0 = time.perf_counter()
        store.optimize()
        summary.indexes_built = store.build_indexes()
        summary.stage_seconds["write"] += time.perf_counter() - t0


def _identity_or_none(spec: ClipSpec) -> str | None:
    try:
        return spec.identity
    except ClipUnavailableError:
        return None  # a missing checkpoint: the workers report it and index without vectors


def _record(result: VideoResult, digest: str, store: SightingStore, config_version: str,
            summary: BatchSummary, records: dict[str, VideoRecord]) -> None:
    outcome = VideoOutcome.of(result, digest)
    if keeps_previous_version(outcome.error, records.get(result.video.video_id)):
        summary.count(outcome)
        return
    if not outcome.ok:
        store.record_failure(result.video, result, digest, config_version, result.error)
        summary.count(outcome)
        return
    t0 = time.perf_counter()
    store.commit_video(result, digest, config_version, outcome.clip_model,
                       replacing=result.video.video_id in records)
    summary.count(outcome, write_s=time.perf_counter() - t0)


class FootageProgress:
    """A rich progress bar in footage terms: hours done, footage-hours per minute, ETA."""

    def __init__(self, enabled: bool, total_bytes: int, n_files: int, workers: int):
        self.enabled = enabled
        self.total_bytes = max(total_bytes, 1)
        self.n_files = n_files
        self.workers = workers
        self.done_files = 0
        self.footage_s = 0.0
        self.t0 = time.perf_counter()

    def __enter__(self) -> FootageProgress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._p = Progress(
                TextColumn("[bold]indexing[/] {task.fields[files]}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[footage]}"),
                TextColumn("ETA"), TimeRemainingColumn(), transient=False,
            )
            self._p.__enter__()
            self._task = self._p.add_task("index", total=self.total_bytes, files=self._files(),
                                          footage=self._footage())
        return self

    def _files(self) -> str:
        return f"{self.done_files}/{self.n_files} files ({self.workers} workers)"

    def _footage(self) -> str:
        minutes = max(time.perf_counter() - self.t0, 1e-6) / 60
        return f"{self.footage_s / 3600:.2f} h footage, {self.footage_s / 3600 / minutes:.2f} footage-h/min"

    def advance(self, nbytes: int, footage_s: float) -> None:
        self.done_files += 1
        self.footage_s += footage_s
        if self.enabled:
            self._p.update(self._task, advance=nbytes, files=self._files(), footage=self._footage())

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._p.__exit__(*exc)  # type: ignore[arg-type]


__all__ = ["BatchOptions", "BatchSummary", "FootageProgress", "Job", "RunPlan", "SkippedFile", "finish_run",
           "keeps_previous_version", "load_models", "prepare_run", "run_index", "run_job"]

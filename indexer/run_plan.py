"""What a run does and how one video's job ends, shared by both engines (:mod:`indexer.batch` runs them
in local worker processes, :mod:`indexer.ray_engine` on Ray Data actors).

* :func:`prepare_run` (under the indexer lock, before any video is read): open and check the index,
  remove a killed run's leftovers, apply registry edits, and split the discovered videos into those to
  (re)index and those left as they are (:func:`plan_work`);
* :func:`run_job` (in a worker): hash and index one video, turning any failure into a failed result;
* :func:`keeps_previous_version`: whether a failed video keeps the sightings of its earlier version;
* :func:`finish_run`: compact and index what the run added.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from core.index_db import IndexDB
from core.loading import ImageEmbedderPlan, load_colours, load_detector, load_image_embedder
from core.registry import CameraRegistry
from core.schema import VIDEO_STATUS_DONE, VIDEO_STATUS_FAILED, VIDEO_STATUS_PARTIAL
from core.vision.clip_embedder import ClipSpec, ClipUnavailableError
from indexer.archive import VideoFile, content_hash, discover
from indexer.coverage import CoverageRecord
from indexer.pipeline import Models, VideoResult, index_video
from indexer.progress import BatchSummary, FileFailure
from indexer.registry_sync import sync as registry_sync
from indexer.store import SightingStore, VideoRecord

log = logging.getLogger(__name__)

CHANGED_WHILE_INDEXING = "changed while indexing"
WINDOW_CHUNK_S = 600.0  # a long unanalysed span is split into windows of this length, one job each


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
    # engine=local: the parent indexes videos too, in a thread (one process fewer: ~250 MB less). False for a
    # parent that serves people (the console): its requests would share the GIL with the pipeline.
    parent_indexes: bool = True


@dataclass(frozen=True)
class Job:
    video: VideoFile
    camera: object  # core.registry.Camera (kept loose for pickling simplicity)
    window: tuple[float, float] | None = None  # [t0, t1) file offsets (indexer.windows); None: the whole file


@dataclass
class RunPlan:
    """What a run will do, decided under the lock before any video is read (both engines)."""

    store: SightingStore
    config_version: str
    jobs: list[Job]
    records: dict[str, VideoRecord]  # the ``videos`` table as it was when the run started
    coverage: dict[str, CoverageRecord] = field(default_factory=dict)  # the ``coverage`` table then

    def replacing(self, video_id: str) -> bool:
        """Whether the index may hold rows of this video already (a whole-file commit then swaps them)."""
        return video_id in self.records or video_id in self.coverage

    @property
    def total_bytes(self) -> int:
        return sum(j.video.size_bytes for j in self.jobs)


# -- worker side ---------------------------------------------------------------------------------
def load_models(cfg: Config, plan: ImageEmbedderPlan, *, threads: int = 1) -> tuple[Models, str]:
    detector = load_detector(cfg, threads=threads)
    colours = load_colours(cfg)
    embedder, error = load_image_embedder(cfg, plan, threads=threads)
    return Models(detector=detector, colours=colours, embedder=embedder, clip_dim=plan.dim), error


def limit_torch_threads(plan: ImageEmbedderPlan, threads: int) -> None:
    if plan.runtime == "torch":  # ONNX workers never import torch at all
        import torch

        torch.set_num_threads(threads)


def keeps_previous_version(error: str, previous: VideoRecord | None) -> bool:
    """A file still being written keeps the sightings of the version indexed before: its ``videos``
    row is left as it was (still naming the old size/mtime), so the next run picks the file up again."""
    return (error.startswith(CHANGED_WHILE_INDEXING) and previous is not None
            and previous.status in (VIDEO_STATUS_DONE, VIDEO_STATUS_PARTIAL))


def _failed(video: VideoFile, reason: str, window: tuple[float, float] | None = None) -> VideoResult:
    return VideoResult(video, None, "", None, None, {}, error=reason, window=window)


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
        # A window reads a small part of the file: hashing all of it for each window would cost more.
        digest = content_hash(video.path) if job.window is None else ""
    except OSError as exc:
        return _failed(video, f"unreadable: {exc.strerror or exc}", job.window), ""
    try:
        window = {} if job.window is None else {"window": job.window}  # a whole file: the plain call
        result = index_video(video, job.camera, models, cfg, **window)  # type: ignore[arg-type]
    except Exception as exc:  # one video's bug (MemoryError included) must not end the run
        log.exception("indexing %s failed", video.rel_path)
        return _failed(video, f"internal error: {type(exc).__name__}: {exc}", job.window), ""
    changed = _changed_since_discovery(video)
    if changed:
        return _failed(video, changed, job.window), ""
    return result, digest


# -- driver side ---------------------------------------------------------------------------------
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


def open_for_run(cfg: Config, registry: CameraRegistry, options: BatchOptions, summary: BatchSummary) -> SightingStore:
    """Open and check the index, clear a killed run's leftovers and apply registry edits (under the lock)."""
    spec = ClipSpec.from_config(cfg.models)
    db = IndexDB.open(cfg.storage)
    store = SightingStore(db, spec.embed_dim())
    if options.rebuild:
        store.drop_all()
    db.check_compatible(_identity_or_none(spec), store.dim)
    store.ensure_tables()
    summary.orphans_removed = store.remove_orphans()
    summary.registry_changes = registry_sync(db, registry).lines()
    return store


def prepare_run(archive: str | Path, cfg: Config, registry: CameraRegistry, options: BatchOptions,
                summary: BatchSummary) -> RunPlan:
    """Open and check the index, clear a killed run's leftovers, and decide which videos to (re)index."""
    store = open_for_run(cfg, registry, options, summary)
    videos, skipped = discover(archive, registry, cfg.index.timezone)
    summary.files_found = len(videos) + len(skipped)
    summary.skipped = [FileFailure(str(s.path), s.reason) for s in skipped]
    config_version = cfg.index_fingerprint()
    records = store.video_records()
    if options.prune:
        present = {v.video_id for v in videos}
        gone = sorted(vid for vid in set(records) | set(store.coverage_records()) if vid not in present)
        store.forget_videos(gone)
        summary.pruned_videos = len(gone)
        records = {vid: rec for vid, rec in records.items() if vid in present}
    todo, summary.unchanged, summary.previously_failed, touched = plan_work(
        videos, store, config_version, options.retry_failed, records)
    for v in touched:
        store.touch_video(v)
    coverage = store.coverage_records()
    jobs: list[Job] = []
    complete: list[str] = []
    for v in todo:
        cov = coverage.get(v.video_id)
        if cov is None or not cov.valid_for(v, config_version):
            jobs.append(Job(v, registry.get(v.camera_id)))
            continue
        # Partly analysed by windows (case mode): only the gaps, never a covered span again.
        gaps = cov.gaps()
        if not gaps:
            complete.append(v.video_id)  # a run killed after its last window's coverage was written
        jobs += [Job(v, registry.get(v.camera_id), w) for g in gaps for w in chunk(g)]
    store.mark_done(complete)
    return RunPlan(store, config_version, jobs, records, coverage)


def chunk(span: tuple[float, float], size_s: float = WINDOW_CHUNK_S) -> list[tuple[float, float]]:
    """``span`` cut into windows of at most ``size_s`` (so workers share a long gap), ends on whole
    milliseconds: a window's start is part of its sighting ids and must match its coverage exactly."""
    t0, t1 = round(span[0], 3), span[1]
    cuts = [t0 + k * size_s for k in range(max(1, math.ceil((t1 - t0) / size_s)))]
    return [(round(a, 3), round(min(a + size_s, t1), 3) if a + size_s < t1 else t1) for a in cuts if t1 - a > 1e-3]


def finish_run(store: SightingStore, summary: BatchSummary) -> None:
    """Compact and index what this run added."""
    if summary.indexed or summary.windows:
        t0 = time.perf_counter()
        store.optimize()
        summary.indexes_built = store.build_indexes()
        summary.stage_seconds["write"] += time.perf_counter() - t0


def _identity_or_none(spec: ClipSpec) -> str | None:
    try:
        return spec.identity
    except ClipUnavailableError:
        return None  # a missing checkpoint: the workers report it and index without vectors

"""Windowed indexing (case mode): analyse given time windows of given cameras, never a span twice.

:func:`index_windows` maps each (camera, t0, t1) epoch window to the files of that camera that overlap
it, leaves out what the index already covers (a ``done`` video whole, a ``partial`` one the spans of its
``coverage`` row, both only while the file and the settings are unchanged), and analyses the rest as
windows of those files in the local engine's worker processes, committing each under the indexer lock
(:meth:`indexer.store.SightingStore.commit_window`). It returns, per window, the footage seconds
analysed and decoded, the sightings added and the parts of the window no file covers.

Window edges. A window [t0, t1) of a file is decoded from ``t0 - index.window_warmup_s`` (the tracker
and the background model need a few frames to know who is already in view). A window keeps the tracks
first seen before t1 that are still in view at t0, from t0 on: tracks that ended in the warm-up are the
window before's, tracks first seen at or after t1 the next window's. Decoding goes on past t1 while a
track the window keeps is still followed (up to ``max(index.max_segment_s, 120 s)`` beyond it: someone
standing in view longer than that across the edge is cut there). So a person crossing an edge is seen by
both windows, and :mod:`indexer.window_overlap` keeps her once, from the earlier window. A window does
not drop everyone its warm-up saw: its frames can differ from the window before's (adaptive sampling
follows each run's own tracker), and a person that window's tracker first saw just after the edge
while this one saw her in its warm-up was kept by neither (PETS 2009, 50 s edge, ``busy_stay_s`` 5).
Sample times lie on the file's own grid (:mod:`indexer.decode`), so windows see the frames a whole-file
run sees at the base rate.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import intervals as iv
from core.config import Config
from core.errors import FootageSearchError
from core.loading import ImageEmbedderPlan, plan_image_embedder
from core.registry import CameraRegistry
from core.schema import VIDEO_STATUS_DONE, VIDEO_STATUS_FAILED, SightingField
from indexer.archive import VideoFile, discover
from indexer.batch import record_result
from indexer.coverage import CoverageRecord
from indexer.decode import DecodeError, probe
from indexer.lock import indexer_lock
from indexer.pipeline import VideoResult
from indexer.process_pool import results, worker_count
from indexer.progress import BatchSummary, FileFailure
from indexer.run_plan import BatchOptions, Job, RunPlan, chunk, finish_run, open_for_run
from indexer.store import VideoRecord

log = logging.getLogger(__name__)

LONGEST_FILE_S = 86_400.0  # a file starting longer than this before a window cannot reach into it


class WindowError(FootageSearchError, ValueError):
    """A window that cannot be indexed as asked (unknown camera, empty or reversed span)."""


@dataclass
class WindowReport:
    """What indexing one asked-for window did."""

    camera_id: str
    t0: float  # epoch
    t1: float
    analysed_s: float = 0.0  # footage seconds of this window analysed now
    decoded_s: float = 0.0  # footage seconds decoded for it (warm-up before, tracks run out after)
    covered_before_s: float = 0.0  # footage seconds of it the index held already
    sightings_added: int = 0  # sightings (track segments) starting inside this window
    no_footage: list[tuple[float, float]] = field(default_factory=list)  # epoch spans no file covers
    failed: list[str] = field(default_factory=list)  # "path: reason" of files that could not be analysed


@dataclass
class WindowRun:
    windows: list[WindowReport]
    summary: BatchSummary

    def lines(self, tz: ZoneInfo) -> list[str]:
        def fmt(t: float) -> str:
            return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")

        out = []
        for w in self.windows:
            out.append(f"{w.camera_id} {fmt(w.t0)} .. {fmt(w.t1)}: analysed {w.analysed_s:.0f} s "
                       f"(decoded {w.decoded_s:.0f} s), {w.covered_before_s:.0f} s indexed before, "
                       f"{w.sightings_added} sightings added")
            out += [f"  no footage {fmt(a)} .. {fmt(b)}" for a, b in w.no_footage]
            out += [f"  FAILED {f}" for f in w.failed]
        return out + [line for line in self.summary.lines() if not line.startswith("files:")]


@dataclass
class _File:
    video: VideoFile
    duration_s: float

    @property
    def span(self) -> tuple[float, float]:
        return self.video.start_time, self.video.start_time + self.duration_s


def index_windows(cfg: Config, registry: CameraRegistry, archive: str | Path,
                  windows: Sequence[tuple[str, float, float]], *, workers: int | None = None,
                  wait_s: float = 0.0, retry_failed: bool = False, parent_indexes: bool = True,
                  progress: Callable[[int, int, float], None] | None = None) -> WindowRun:
    """Index the uncovered parts of ``windows`` ((camera_id, t0, t1) in epoch seconds) of ``archive``."""
    reports = [_checked(registry, cam, t0, t1) for cam, t0, t1 in windows]
    summary = BatchSummary()
    t_start = time.perf_counter()
    options = BatchOptions(workers=workers, wait_s=wait_s, progress=False, retry_failed=retry_failed,
                           parent_indexes=parent_indexes)
    with indexer_lock(cfg.storage.index_uri, wait_s=wait_s):
        store = open_for_run(cfg, registry, options, summary)
        config_version = cfg.index_fingerprint()
        records, coverage = store.video_records(), store.coverage_records()
        videos, skipped = discover(archive, registry, cfg.index.timezone)
        summary.files_found = len(videos) + len(skipped)
        files = _files_of(videos, reports, records, coverage, summary)
        jobs = _plan(files, reports, registry, records, coverage, config_version, retry_failed)
        run = RunPlan(store, config_version, jobs, records, coverage)
        n_workers = worker_count(cfg, options, len(jobs))
        plan = plan_image_embedder(cfg) if jobs else ImageEmbedderPlan("none", store.dim)
        for result, digest, clip_error in (results(jobs, n_workers, cfg, plan, parent_indexes=parent_indexes)
                                           if jobs else iter(())):
            summary.clip_error = summary.clip_error or clip_error
            record_result(result, digest, store, config_version, summary, run)
            _attribute(result, reports)
            if progress is not None:
                progress(summary.windows + len(summary.failed), len(jobs), summary.footage_s)
        finish_run(store, summary)
    summary.wall_s = time.perf_counter() - t_start
    return WindowRun(reports, summary)


def _checked(registry: CameraRegistry, camera_id: str, t0: float, t1: float) -> WindowReport:
    if camera_id not in registry:
        raise WindowError(f"unknown camera {camera_id!r}: not in the registry {registry.source}")
    if not t1 > t0:
        raise WindowError(f"empty window for {camera_id}: it ends ({t1}) no later than it starts ({t0})")
    return WindowReport(camera_id, float(t0), float(t1))


def _same_file(rec: VideoRecord | CoverageRecord, v: VideoFile) -> bool:
    return rec.size_bytes == v.size_bytes and abs(rec.mtime - v.mtime) < 1e-3


def _files_of(videos: list[VideoFile], reports: list[WindowReport], records: dict[str, VideoRecord],
              coverage: dict[str, CoverageRecord], summary: BatchSummary) -> dict[str, list[_File]]:
    """Camera -> its files that may overlap an asked window, with their durations (probed if unknown)."""
    by_camera: dict[str, list[_File]] = defaultdict(list)
    for v in videos:
        near = [r for r in reports if r.camera_id == v.camera_id
                and r.t0 - LONGEST_FILE_S < v.start_time < r.t1]
        if not near:
            continue
        rec, cov = records.get(v.video_id), coverage.get(v.video_id)
        if rec is not None and rec.duration_s > 0 and _same_file(rec, v):
            duration = rec.duration_s
        elif cov is not None and _same_file(cov, v):
            duration = cov.duration_s
        else:
            try:
                duration = probe(v.path).duration_s
            except (DecodeError, OSError) as exc:
                summary.failed.append(FileFailure(str(v.path), str(exc)))
                for r in near:
                    r.failed.append(f"{v.rel_path}: {exc}")
                continue
        by_camera[v.camera_id].append(_File(v, duration))
    for r in reports:
        r.no_footage = iv.subtract((r.t0, r.t1), [f.span for f in by_camera.get(r.camera_id, [])])
    return by_camera


def _plan(files: dict[str, list[_File]], reports: list[WindowReport], registry: CameraRegistry,
          records: dict[str, VideoRecord], coverage: dict[str, CoverageRecord], config_version: str,
          retry_failed: bool) -> list[Job]:
    """The jobs: per file, the asked spans (merged, as file offsets) less what is covered, in chunks.
    Overlapping asked windows are merged first, so no span is analysed twice in one call either."""
    jobs: list[Job] = []
    for camera_id, camera_files in files.items():
        asked = [(r.t0, r.t1) for r in reports if r.camera_id == camera_id]
        for f in camera_files:
            v, start = f.video, f.video.start_time
            wanted = iv.merge(s for a, b in asked for s in iv.intersect((a - start, b - start), [(0.0, f.duration_s)]))
            if not wanted:
                continue
            rec, cov = records.get(v.video_id), coverage.get(v.video_id)
            same = rec is not None and _same_file(rec, v)
            if same and rec.status == VIDEO_STATUS_DONE and rec.config_version == config_version:
                covered = [(0.0, f.duration_s)]
            elif same and rec.status == VIDEO_STATUS_FAILED and not retry_failed:  # purged ones too, as in plan_work
                for r in reports:
                    if r.camera_id == camera_id and iv.intersect((r.t0, r.t1), [f.span]):
                        r.failed.append(f"{v.rel_path}: failed before (index --retry-failed tries again)")
                continue
            elif cov is not None and cov.valid_for(v, config_version):
                covered = cov.spans
            else:
                covered = []
            for r in reports:
                if r.camera_id == camera_id:
                    mine = iv.intersect((r.t0 - start, r.t1 - start), [(0.0, f.duration_s)])
                    r.covered_before_s += iv.total(s for m in mine for s in iv.intersect(m, covered))
            for span in wanted:
                for gap in iv.subtract(span, covered):
                    if gap[1] - gap[0] > 1e-3:
                        jobs += [Job(v, registry.get(camera_id), w) for w in chunk(gap)]
    return jobs


def _attribute(result: VideoResult, reports: list[WindowReport]) -> None:
    """Credit a window job's footage and sightings to the asked windows it lies in."""
    if result.window is None or not result.ok:
        return
    start = result.video.start_time
    w0, w1 = start + result.window[0], start + result.window[1]
    t_starts = (result.sightings.column(SightingField.T_START).to_pylist()
                if result.sightings is not None else [])
    for r in reports:
        if r.camera_id != result.video.camera_id:
            continue
        overlap = iv.total(iv.intersect((r.t0, r.t1), [(w0, w1)]))
        if overlap <= 0:
            continue
        r.analysed_s += overlap
        r.decoded_s += result.decoded_s * overlap / max(w1 - w0, 1e-9)
        r.sightings_added += sum(1 for t in t_starts if r.t0 <= t < r.t1)

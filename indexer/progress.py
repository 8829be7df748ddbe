"""What a run tells the operator: the footage-hours progress bar and the end-of-run summary (both engines)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from indexer.pipeline import STAGES
from indexer.store import VideoOutcome


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
    windows: int = 0  # windows of partly analysed videos (case mode, or the gaps a whole run fills)
    ray_left_partial: int = 0  # partly analysed videos the Ray engine leaves to the local one
    cpu_decoded: dict[str, int] = field(default_factory=dict)  # GPU decoding asked for, CPU used: why -> files

    def count(self, outcome: VideoOutcome, write_s: float = 0.0, window: tuple[float, float] | None = None) -> None:
        """Add one processed video or window of a video (indexed or failed) to the totals."""
        for k, v in outcome.seconds.items():
            self.stage_seconds[k] = self.stage_seconds.get(k, 0.0) + v
        if not outcome.ok:
            self.failed.append(FileFailure(str(outcome.video.path), outcome.error))
            return
        if outcome.detector:
            self.detector = outcome.detector
        if "(cpu: " in outcome.decoder:  # indexer.decode: the GPU could not decode this file
            why = outcome.decoder.partition("(cpu: ")[2].rstrip(")")
            self.cpu_decoded[why] = self.cpu_decoded.get(why, 0) + 1
        self.sightings_without_vectors += outcome.n_without_vectors
        self.sightings += outcome.n_sightings
        self.stage_seconds["write"] += write_s
        if window is not None:
            self.windows += 1
            self.footage_s += window[1] - window[0]
        else:
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
            + (f", {self.previously_failed} failed before (use --retry-failed)" if self.previously_failed else "")
            + (f"; {self.windows} windows of partly indexed videos analysed" if self.windows else ""),
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
        for why, n in self.cpu_decoded.items():
            out.append(f"decoded on the CPU instead of the GPU: {n} files, {why}")
        if self.orphans_removed:
            out.append(f"removed {self.orphans_removed} half-written sightings left by an interrupted run")
        out += self.registry_changes
        if self.ray_left_partial:
            out.append(f"{self.ray_left_partial} partly indexed videos (case-mode windows) left as they are: the "
                       "Ray engine indexes whole files only; `footage-search index` (local engine) fills their gaps")
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

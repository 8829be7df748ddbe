"""A ``coverage`` row (windowed indexing, case mode) as the indexer reads it: which spans of one file
were analysed, for which file and settings, and what is left to analyse."""

from __future__ import annotations

from dataclasses import dataclass

from core import intervals as iv
from indexer.archive import VideoFile

# Coverage this close to the end of the file covers it: containers round their declared duration, and a
# sliver shorter than a millisecond holds no sample to analyse.
COVERAGE_SLACK_S = 1e-3


@dataclass
class CoverageRecord:
    """One ``coverage`` row: which spans of a file windowed indexing analysed, for which file and settings."""

    video_id: str
    camera_id: str
    path: str
    start_time: float
    duration_s: float
    size_bytes: int
    mtime: float
    config_version: str
    spans: list[tuple[float, float]]

    def valid_for(self, video: VideoFile, config_version: str) -> bool:
        """Whether these spans still describe ``video`` as it is now, analysed as it would be now."""
        return (self.config_version == config_version and self.size_bytes == video.size_bytes
                and abs(self.mtime - video.mtime) < 1e-3)

    def gaps(self, span: tuple[float, float] | None = None) -> list[tuple[float, float]]:
        """The parts of ``span`` (default: the whole file) not analysed yet, slivers dropped."""
        span = span or (0.0, self.duration_s)
        return [g for g in iv.subtract(span, self.spans) if g[1] - g[0] > COVERAGE_SLACK_S]

    def epoch_spans(self) -> list[tuple[float, float]]:
        return [(self.start_time + a, self.start_time + b) for a, b in self.spans]

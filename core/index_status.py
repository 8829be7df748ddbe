"""What an index holds: per-camera coverage, totals, and the model that made its vectors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from core.config import Config
from core.index_db import IndexDB
from core.schema import COVERAGE, SIGHTINGS, VIDEO_STATUS_DONE, VIDEO_STATUS_FAILED, VIDEO_STATUS_PARTIAL, VIDEOS


@dataclass
class CameraCoverage:
    camera_id: str
    videos: int
    footage_s: float
    first: float  # epoch
    last: float


@dataclass
class IndexStatus:
    index_uri: str
    exists: bool
    clip_model: str = ""
    videos_done: int = 0
    videos_failed: int = 0
    videos_partial: int = 0  # some windows analysed (case mode); their footage_s counts those windows only
    sightings: int = 0
    sightings_without_vectors: int = 0
    footage_s: float = 0.0
    cameras: list[CameraCoverage] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    timezone: str = "UTC"

    def to_dict(self) -> dict:
        return asdict(self)

    def _fmt(self, t: float) -> str:
        return datetime.fromtimestamp(t, ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M:%S")

    def lines(self) -> list[str]:
        if not self.exists:
            return [f"no index at {self.index_uri} yet: run `footage-search index ARCHIVE`"]
        out = [
            f"index: {self.index_uri}",
            f"CLIP model: {self.clip_model or 'none yet (sightings have no CLIP vectors)'}",
            f"videos: {self.videos_done} indexed, "
            + (f"{self.videos_partial} partly (case-mode windows), " if self.videos_partial else "")
            + f"{self.videos_failed} failed; "
            f"footage {self.footage_s / 3600:.2f} h",
            f"sightings: {self.sightings}"
            + (f" ({self.sightings_without_vectors} without CLIP vectors)" if self.sightings_without_vectors else ""),
        ]
        for c in self.cameras:
            out.append(f"  {c.camera_id:<16} {c.videos:>4} videos {c.footage_s / 3600:7.2f} h  "
                       f"{self._fmt(c.first)} .. {self._fmt(c.last)}")
        out += [f"  FAILED {p}: {e}" for p, e in self.failures]
        return out


def index_status(cfg: Config) -> IndexStatus:
    db = IndexDB.open(cfg.storage)
    status = IndexStatus(index_uri=db.uri, exists=db.has_table(VIDEOS), timezone=cfg.index.timezone)
    if not status.exists:
        return status
    status.clip_model = db.clip_model() or ""
    videos = db.table(VIDEOS).to_arrow().to_pylist()
    analysed = {r["video_id"]: r["spans"] for r in db.table(COVERAGE).to_arrow().select(["video_id", "spans"])
                .to_pylist()} if db.has_table(COVERAGE) else {}
    per_cam: dict[str, CameraCoverage] = {}
    for v in videos:
        if v["status"] == VIDEO_STATUS_FAILED:
            status.videos_failed += 1
            status.failures.append((v["path"], v["error"]))
            continue
        spans = [(0.0, v["duration_s"])] if v["status"] == VIDEO_STATUS_DONE else analysed.get(v["video_id"], [])
        if v["status"] == VIDEO_STATUS_DONE:
            status.videos_done += 1
        elif v["status"] == VIDEO_STATUS_PARTIAL:
            status.videos_partial += 1
        if not spans:
            continue
        seconds = sum(b - a for a, b in spans)
        status.footage_s += seconds
        first, end = v["start_time"] + spans[0][0], v["start_time"] + spans[-1][1]
        c = per_cam.setdefault(v["camera_id"], CameraCoverage(v["camera_id"], 0, 0.0, first, end))
        c.videos += 1
        c.footage_s += seconds
        c.first, c.last = min(c.first, first), max(c.last, end)
    status.cameras = sorted(per_cam.values(), key=lambda c: c.camera_id)
    if db.has_table(SIGHTINGS):
        table = db.table(SIGHTINGS)
        status.sightings = table.count_rows()
        status.sightings_without_vectors = table.count_rows("has_vector = false")
    return status

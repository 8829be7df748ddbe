"""What an index holds: per-camera coverage, totals, the model that made its vectors, and the camera
registry it was built with.

The indexer records that registry's file (absolute path and SHA-256, ``meta``) on every run, so
``query``, ``route`` and ``ui`` find it without ``--registry`` and can tell when it was edited or
removed since; the registry's contents are kept in ``meta`` too (``indexer/registry_sync.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.config import Config
from core.index_db import IndexDB
from core.registry import Camera, CameraRegistry
from core.schema import (
    COVERAGE,
    META_REGISTRY,
    META_REGISTRY_PATH,
    META_REGISTRY_SHA256,
    SIGHTINGS,
    VIDEO_STATUS_DONE,
    VIDEO_STATUS_FAILED,
    VIDEO_STATUS_PARTIAL,
    VIDEOS,
)

UNCHANGED, CHANGED, GONE = "unchanged", "changed", "gone"


@dataclass(frozen=True)
class IndexRegistry:
    """The registry file an index was last built with, and whether it is still the same."""

    path: str
    sha256: str
    state: str  # UNCHANGED | CHANGED | GONE

    def warning(self) -> str:
        """One line for the operator; "" while the file is as it was."""
        if self.state == CHANGED:
            return (f"the camera registry {self.path} changed since this index was built: searches use it as it "
                    "is now; run `footage-search index` to bring indexed sightings (districts, directions) in line")
        if self.state == GONE:
            return f"the camera registry {self.path} this index was built with is gone"
        return ""


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_registry_source(db: IndexDB, registry: CameraRegistry) -> None:
    """Remember the file ``registry`` was read from (written only when it differs from what is recorded)."""
    path = Path(registry.source)
    values = {META_REGISTRY_PATH: "", META_REGISTRY_SHA256: ""}
    if path.is_file():  # a registry built in memory (tests, generated cities) has no file to find again
        values = {META_REGISTRY_PATH: str(path.resolve()), META_REGISTRY_SHA256: file_sha256(path)}
    meta = db.meta()
    if any(meta.get(k, "") != v for k, v in values.items()):
        db.set_meta(values)


def index_registry(db: IndexDB) -> IndexRegistry | None:
    """The registry file the index records, or None when it records none."""
    meta = db.meta()
    path, digest = meta.get(META_REGISTRY_PATH, ""), meta.get(META_REGISTRY_SHA256, "")
    if not path:
        return None
    try:
        state = UNCHANGED if file_sha256(Path(path)) == digest else CHANGED
    except OSError:
        state = GONE
    return IndexRegistry(path, digest, state)


def registry_kept_in_index(db: IndexDB) -> CameraRegistry | None:
    """The registry's contents as last indexed (kept in ``meta``), for when its file is gone."""
    raw = db.meta().get(META_REGISTRY)
    if not raw:
        return None
    cameras = {cid: Camera(**fields) for cid, fields in json.loads(raw).items()}
    recorded = index_registry(db)
    where = recorded.path if recorded else "the registry"
    return CameraRegistry(cameras, source=f"{where} (the copy kept in the index)") if cameras else None


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
    registry: IndexRegistry | None = None

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
        if self.registry is None:
            out.append("camera registry: none recorded (pass --registry to query, route and ui)")
        else:
            out.append(f"camera registry: {self.registry.path} ({self.registry.state} since indexing)")
        return out


def index_status(cfg: Config) -> IndexStatus:
    db = IndexDB.open(cfg.storage)
    status = IndexStatus(index_uri=db.uri, exists=db.has_table(VIDEOS), timezone=cfg.index.timezone)
    if not status.exists:
        return status
    status.clip_model = db.clip_model() or ""
    status.registry = index_registry(db)
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

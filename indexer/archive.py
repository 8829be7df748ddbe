"""Finding the video files of an archive and when each one started recording.

Layout::

    ARCHIVE/
      cameras.csv                      # the camera registry (unless configured elsewhere)
      <camera_id>/                     # one folder per camera, named by its registry id
        <anything>_20260314T093000+0900.mp4
        sub/folders/are/fine/....mp4
        odd_name.mp4
        odd_name.mp4.json              # sidecar: {"start": "2026-03-14T09:30:00+09:00"}
        manifest.csv                   # or: file,start rows for the folder's files

Start time, first match wins: the file's JSON sidecar, the camera folder's ``manifest.csv``, then a
timestamp in the file name (``YYYYMMDD[T_-]HHMMSS`` or ``YYYY-MM-DD[T _]HH-MM-SS``, optionally followed
by ``Z`` or a ``+HHMM``/``+HH:MM`` offset; without an offset ``index.timezone`` applies).
Files with no start time, in no camera folder, or in the folder of a camera the registry does not
list are reported as skipped; every other file is still indexed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import MissingFileError
from core.model_files import sha256_file
from core.registry import CameraRegistry

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mkv", ".avi", ".mov", ".ts", ".mts", ".mpg", ".mpeg", ".webm", ".flv", ".h264", ".264",
})
MANIFEST = "manifest.csv"
SIDECAR_SUFFIX = ".json"

_NAME_TS = re.compile(
    r"(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})[T_\- ]?(?P<h>\d{2})[-:.]?(?P<mi>\d{2})[-:.]?(?P<s>\d{2})"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class VideoFile:
    path: Path
    rel_path: str
    camera_id: str
    start_time: float  # UTC epoch seconds
    size_bytes: int
    mtime: float

    @property
    def video_id(self) -> str:
        return video_id_for(self.rel_path)


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


def video_id_for(rel_path: str) -> str:
    return hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:16]


def parse_timestamp(text: str, tz: ZoneInfo) -> float:
    """ISO 8601 (with or without offset) to UTC epoch seconds; naive times are in ``tz``."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def start_from_name(name: str, tz: ZoneInfo) -> float | None:
    matches = list(_NAME_TS.finditer(name))
    if not matches:
        return None
    m = matches[-1]  # the last timestamp in a name is the most specific (folders can carry dates too)
    try:
        dt = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]))
    except ValueError:
        return None
    zone = m["tz"]
    if zone == "Z":
        dt = dt.replace(tzinfo=UTC)
    elif zone:
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        dt = dt.replace(tzinfo=timezone(sign * timedelta(hours=hh, minutes=mm)))
    else:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def _read_manifest(folder: Path, tz: ZoneInfo) -> tuple[dict[str, float], list[SkippedFile]]:
    path = folder / MANIFEST
    if not path.is_file():
        return {}, []
    starts: dict[str, float] = {}
    problems: list[SkippedFile] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            name, start = (row.get("file") or "").strip(), (row.get("start") or "").strip()
            try:
                starts[name] = parse_timestamp(start, tz)
            except ValueError:
                problems.append(SkippedFile(folder / name, f"{path}:{line_no}: bad start time {start!r}"))
    return starts, problems


def _start_time(video: Path, manifest: dict[str, float], tz: ZoneInfo, camera_dir: Path) -> float:
    sidecar = video.with_name(video.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        try:
            doc = json.loads(sidecar.read_text(encoding="utf-8"))
            return parse_timestamp(str(doc["start"]), tz)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"sidecar {sidecar.name} has no valid 'start' ({exc})") from None
    rel = video.relative_to(camera_dir).as_posix()
    if rel in manifest:
        return manifest[rel]
    start = start_from_name(video.name, tz)
    if start is None:
        raise ValueError(
            "no recording start time: put a timestamp in the file name, a sidecar "
            f"{video.name}{SIDECAR_SUFFIX}, or a row in {MANIFEST}"
        )
    return start


def discover(root: str | Path, registry: CameraRegistry, tz_name: str) -> tuple[list[VideoFile], list[SkippedFile]]:
    """All indexable videos under ``root`` (sorted by camera, then start) and the skipped ones."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise MissingFileError(f"archive folder not found: {root}")
    tz = ZoneInfo(tz_name)
    videos: list[VideoFile] = []
    skipped: list[SkippedFile] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if entry.suffix.lower() in VIDEO_EXTENSIONS:
                skipped.append(SkippedFile(entry, "not inside a camera folder (ARCHIVE/<camera_id>/...)"))
            continue
        camera_id = entry.name
        files = sorted(p for p in entry.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS
                       and p.is_file() and not any(part.startswith(".") for part in p.relative_to(entry).parts))
        if camera_id not in registry:
            skipped.extend(SkippedFile(p, f"unknown camera {camera_id!r}: not in the registry {registry.source}")
                           for p in files)
            continue
        manifest, problems = _read_manifest(entry, tz)
        skipped.extend(problems)
        bad = {p.path for p in problems}
        for p in files:
            if p in bad:
                continue
            try:
                start = _start_time(p, manifest, tz, entry)
                st = p.stat()
            except (ValueError, OSError) as exc:
                skipped.append(SkippedFile(p, str(exc)))
                continue
            videos.append(VideoFile(path=p, rel_path=p.relative_to(root).as_posix(), camera_id=camera_id,
                                    start_time=start, size_bytes=st.st_size, mtime=st.st_mtime))
    videos.sort(key=lambda v: (v.camera_id, v.start_time, v.rel_path))
    return videos, skipped


def content_hash(path: Path) -> str:
    """SHA-256 of the whole file: the identity of footage, whatever its name or mtime."""
    return sha256_file(path)

"""Small image files the console serves: sighting thumbnails and the detail view's frame and strip.

Everything is written once into a cache folder and served as a file, so a results page costs a few
kilobytes per sighting and a second look costs nothing. File names carry a hash of what the image
shows, so a reindex that changes a sighting never serves a stale picture under the old name.

They are pictures of people: every folder here is 0700 and every file 0600 (:func:`private_dir`), and
the folder is one console's own (``core.state_paths.console_cache_dir``), never a shared temp folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.atomic_file import write_atomic
from core.config import ConfigError
from core.video_frames import FrameReadError, read_frames_at

Box = tuple[float, float, float, float]

BOX_COLOUR_BGR = (0, 200, 255)  # amber: visible on grey streets and on every clothing colour
FRAME_MAX_WIDTH = 960
STRIP_FRAMES = 6
STRIP_HEIGHT = 200
JPEG_QUALITY = 85


@dataclass(frozen=True)
class TrackPath:
    """Where the person was in the frame over time (seconds from the file start, source pixels)."""

    offsets: tuple[float, ...]
    boxes: tuple[Box, ...]

    def box_at(self, offset_s: float) -> Box | None:
        if not self.offsets:
            return None
        i = int(np.argmin(np.abs(np.asarray(self.offsets) - offset_s)))
        return self.boxes[i]


@dataclass(frozen=True)
class DetailImages:
    frame: Path | None  # the whole frame at the best moment with the box drawn
    strip: Path | None  # crops around the person across the sighting
    message: str = ""  # why an image is missing (source video moved, unreadable...)


def private_dir(path: str | Path) -> Path:
    """``path`` as a folder only this account may enter (0700), made with any missing parents (0700 too).

    An existing folder of another account, or a shared one (world-writable or sticky, like /tmp), is
    refused: others could read what the console writes there, or swap files under it.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"console cache {path} is not a folder")
    if st.st_uid != os.getuid():
        raise ConfigError(f"console cache {path} belongs to another account (uid {st.st_uid}): choose a folder "
                          "of the console's own account (ui.cache_dir)")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_ISVTX | stat.S_IWOTH):  # /tmp and the like: closing them would break everyone else
        raise ConfigError(f"console cache {path} is a shared folder (mode {mode:o}): choose a folder of the "
                          "console's own (ui.cache_dir or --cache-dir)")
    if mode != 0o700:
        path.chmod(0o700)
    return path


def _safe_stem(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80].strip("._") or "item"


def _safe_name(key: str, digest_of: bytes) -> str:
    return f"{_safe_stem(key)}-{hashlib.sha1(digest_of).hexdigest()[:12]}"


def _write_once(path: Path, data: bytes) -> Path:
    if path.exists():
        return path
    private_dir(path.parent)
    # Write-then-rename: two sessions rendering the same picture never serve a half-written file.
    write_atomic(path, data, mode=0o600, durable=False)  # a cache: a lost picture is rendered again
    return path


def encode_jpeg(image_bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def draw_box(image: np.ndarray, box: Box, label: str = "", thickness: int = 3) -> np.ndarray:
    out = image.copy()
    h, w = out.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, x2 = max(0, min(w - 1, x1)), max(0, min(w - 1, x2))
    y1, y2 = max(0, min(h - 1, y1)), max(0, min(h - 1, y2))
    cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 0), thickness + 2)  # dark outline: readable on bright walls
    cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR_BGR, thickness)
    if label:
        scale = max(0.45, min(1.0, w / 1100))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = y1 - 6 if y1 - th - base - 6 > 0 else min(h - 2, y2 + th + 6)
        cv2.rectangle(out, (x1, ty - th - base), (min(w - 1, x1 + tw + 6), ty + base), (0, 0, 0), -1)
        cv2.putText(out, label, (x1 + 3, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, BOX_COLOUR_BGR, 1, cv2.LINE_AA)
    return out


def _fit_width(image: np.ndarray, max_width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    return cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)


def _crop_around(image: np.ndarray, box: Box, height: int) -> tuple[np.ndarray, Box]:
    """A 3:4 crop with context around the person, resized to ``height``; the box in crop pixels."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bh = max(y2 - y1, 8.0)
    ch = min(float(h), bh * 1.6)
    cw = min(float(w), ch * 0.75)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(max(0, min(w - cw, cx - cw / 2)))
    top = int(max(0, min(h - ch, cy - ch / 2)))
    crop = image[top: top + int(ch), left: left + int(cw)]
    k = height / max(crop.shape[0], 1)
    resized = cv2.resize(crop, (max(1, round(crop.shape[1] * k)), height), interpolation=cv2.INTER_AREA)
    return resized, ((x1 - left) * k, (y1 - top) * k, (x2 - left) * k, (y2 - top) * k)


def strip_offsets(track: TrackPath, n: int = STRIP_FRAMES) -> list[float]:
    """Up to ``n`` track offsets spread evenly over the sighting."""
    if not track.offsets:
        return []
    offs = np.asarray(track.offsets, dtype=np.float64)
    targets = np.linspace(offs.min(), offs.max(), num=min(n, len(offs)))
    picked = sorted({float(offs[int(np.argmin(np.abs(offs - t)))]) for t in targets})
    return picked


class ThumbnailCache:
    """Image files under ``root``; safe to share between sessions and processes."""

    # the folders of pictures the console shows (ui.app lets Gradio serve these, and nothing else here)
    FOLDERS = ("thumbs", "detail", "photos")

    def __init__(self, root: str | Path):
        self.root = private_dir(root)

    def folders(self) -> list[Path]:
        return [private_dir(self.root / name) for name in self.FOLDERS]

    def thumbnail(self, sighting_id: str, jpeg: bytes) -> Path | None:
        """The sighting's stored thumbnail as a file (None when the index holds none)."""
        if not jpeg:
            return None
        return _write_once(self.root / "thumbs" / f"{_safe_name(sighting_id, jpeg)}.jpg", jpeg)

    def image(self, key: str, jpeg: bytes, folder: str = "photos") -> Path:
        if folder not in self.FOLDERS:
            raise ValueError(f"pictures go in one of {self.FOLDERS}, not {folder!r}")
        return _write_once(self.root / folder / f"{_safe_name(key, jpeg)}.jpg", jpeg)

    def detail(self, sighting_id: str, video_path: str, offset_best_s: float, box: Box, track: TrackPath,
               label: str = "", tile_label: Callable[[float], str] | None = None) -> DetailImages:
        """The frame with the box drawn, and a strip of crops across the sighting, read from the source video.

        ``tile_label`` turns a file offset into the text under a strip tile (e.g. the wall-clock time);
        by default the tile shows seconds relative to the best moment.
        """
        key = repr((sighting_id, video_path, round(offset_best_s, 3), box, track, label))
        folder = self.root / "detail"
        stem = _safe_name(sighting_id, key.encode())
        frame_path, strip_path = folder / f"{stem}-frame.jpg", folder / f"{stem}-strip.jpg"
        if frame_path.exists() and strip_path.exists():
            return DetailImages(frame_path, strip_path)
        if not Path(video_path).is_file():
            return DetailImages(None, None, f"source video not found: {video_path}")
        offs = strip_offsets(track)
        try:
            frames = read_frames_at(video_path, [offset_best_s, *offs])
        except FrameReadError as exc:
            return DetailImages(None, None, f"cannot read the source video: {exc}")
        best = frames[0]
        if best is None:
            return DetailImages(None, None, f"no frame at {offset_best_s:.1f} s in {Path(video_path).name}")
        _write_once(frame_path, encode_jpeg(_fit_width(draw_box(best, box, label), FRAME_MAX_WIDTH)))
        tiles = []
        for off, frame in zip(offs, frames[1:], strict=True):
            tbox = track.box_at(off)
            if frame is None or tbox is None:
                continue
            crop, cbox = _crop_around(frame, tbox, STRIP_HEIGHT)
            text = tile_label(off) if tile_label else f"{off - offset_best_s:+.1f} s"
            tile = draw_box(crop, cbox, thickness=2)
            cv2.rectangle(tile, (0, STRIP_HEIGHT - 20), (tile.shape[1], STRIP_HEIGHT), (0, 0, 0), -1)
            cv2.putText(tile, text, (4, STRIP_HEIGHT - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                        cv2.LINE_AA)
            tiles.append(tile)
            tiles.append(np.full((STRIP_HEIGHT, 4, 3), 255, dtype=np.uint8))
        if not tiles:
            return DetailImages(frame_path, None, "no frames of the track could be read for the strip")
        _write_once(strip_path, encode_jpeg(np.concatenate(tiles[:-1], axis=1)))
        return DetailImages(frame_path, strip_path)


# Files named after a sighting: thumbs/<stem>-<hash>.jpg, detail/<stem>-<hash>-frame.jpg / -strip.jpg, and
# Gradio's copies of them, gradio/<content hash>/<same name>, in each console's folder under the root.
_PER_SIGHTING = ("thumbs", "detail")
GRADIO_FOLDER = "gradio"  # a console's Gradio upload/cache folder (ui.case_files.gradio_folder)


def _sighting_stem(path: Path) -> str | None:
    """The sighting stem a picture is named after, or None for files not named after a sighting."""
    if path.parent.name not in _PER_SIGHTING and path.parent.parent.name != GRADIO_FOLDER:
        return None
    name = path.stem.removesuffix("-frame").removesuffix("-strip")
    return name.rsplit("-", 1)[0] if "-" in name else None


def purge_cache(root: Path, sighting_ids: set[str], cutoff: float, *, dry_run: bool = False) -> int:
    """Delete the pictures of these sightings, and every cache file last written before ``cutoff``.

    ``root`` is one console's folder or the folder holding several (``core.state_paths.default_cache_dir``).
    The second rule covers what is not named after a sighting: exported reports and their owner records,
    photo previews, uploads, and pictures of sightings purged by an earlier run. Export folders left
    empty go too. Returns the number of files (that would be) removed.
    """
    root = Path(root)
    if not root.is_dir():
        return 0
    stems = {_safe_stem(i) for i in sighting_ids}
    removed = 0
    folders = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            folders.append(path)
            continue
        doomed = path.stat().st_mtime < cutoff or _sighting_stem(path) in stems
        if doomed:
            removed += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    if not dry_run:
        for folder in reversed(folders):  # deepest first
            if folder.parent.name in ("exports", GRADIO_FOLDER) and not any(folder.iterdir()):
                folder.rmdir()
    return removed

"""A self-generated demo city: synthetic CCTV clips from 7 cameras in 4 Seoul districts, with ground truth.

A scripted missing person walks a route across five cameras in three districts among passers-by,
look-alikes and a double; see README.md for the scenario and the ground-truth format.

    from sample_footage import generate_city
    paths = generate_city(Path("sample_footage/generated"))

Generation is deterministic (same code and libraries -> byte-identical files) and is skipped when the
output folder already holds a complete city from the same generator and scenario.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenario import City

GENERATOR_VERSION = "1.0.0"
STAMP_NAME = ".sample_footage_stamp.json"
LOCK_NAME = ".sample_footage.lock"
DEFAULT_OUT = Path(__file__).resolve().parent / "generated"

__all__ = ["DEFAULT_OUT", "GENERATOR_VERSION", "CityPaths", "city_digest", "generate_city"]


@dataclass(frozen=True)
class CityPaths:
    root: Path
    archive: Path
    registry: Path
    ground_truth: Path


def _paths(root: Path) -> CityPaths:
    return CityPaths(root=root, archive=root / "archive", registry=root / "cameras.csv",
                     ground_truth=root / "ground_truth.json")


def city_digest(city: City | None = None) -> str:
    """Hash of everything that decides the output: scenario, generator code, and encoder libraries.

    ``city``: an already built scenario (default: the demo city's).
    """
    import av
    import cv2
    import numpy

    from .scenario import REGISTRY_PATH, build_city

    h = hashlib.sha256()
    libs = f"av {av.__version__}|cv2 {cv2.__version__}|numpy {numpy.__version__}"
    h.update(f"{GENERATOR_VERSION}|{libs}".encode())
    here = Path(__file__).resolve().parent
    for src in sorted(here.glob("*.py")):
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    h.update(REGISTRY_PATH.read_bytes())
    h.update((city or build_city()).digest_source().encode())
    return h.hexdigest()


def _complete(root: Path, digest: str) -> bool:
    try:
        stamp = json.loads((root / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("digest") != digest or stamp.get("version") != GENERATOR_VERSION:
        return False
    files = stamp.get("files") or {}
    return bool(files) and all((root / rel).is_file() and (root / rel).stat().st_size == size
                               for rel, size in files.items())


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise generators writing the same folder (e.g. parallel test sessions)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, still correct for a single caller
        yield
        return
    with open(root / LOCK_NAME, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _render_camera(job: tuple) -> list[tuple[str, list, int]]:
    """Render all clips of one camera in one process: they share the background and the sprites."""
    import cv2

    from .render import render_clip
    from .scene import render_background

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would only contend
    rig, walks, clips, out_root = job
    bg = render_background(rig.pinhole, rig.layout)
    out = []
    for clip in clips:
        apps, size = render_clip(rig, walks, clip, Path(out_root), background=bg)
        out.append((clip.rel_path, apps, size))
    return out


def _clear_previous(root: Path, camera_ids: list[str]) -> None:
    (root / STAMP_NAME).unlink(missing_ok=True)
    for cid in camera_ids:
        folder = root / "archive" / cid
        if folder.is_dir():
            for f in folder.iterdir():
                if re.fullmatch(rf"{re.escape(cid)}_\d{{8}}T\d{{6}}\+0900\.mp4(\.tmp)?", f.name):
                    f.unlink()


def generate_city(out_dir: Path, *, force: bool = False, workers: int | None = None,
                  build: Callable[[], City] | None = None) -> CityPaths:
    """Write the demo city into ``out_dir`` (archive/, cameras.csv, ground_truth.json); return its paths.

    Skips the work when ``out_dir`` already holds a complete city made by this generator version and
    scenario; ``force=True`` always regenerates. ``workers`` defaults to min(2, CPU count). ``build``
    makes another scenario with the same generator (``sample_footage.large_city`` for the case bench).
    """
    from core.registry import write_registry

    from . import ground_truth
    from .scenario import build_city

    root = Path(out_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    paths = _paths(root)
    with _locked(root):
        city = (build or build_city)()
        digest = city_digest(city)
        if not force and _complete(root, digest):
            return paths
        _clear_previous(root, list(city.registry.cameras))
        write_registry(city.registry, paths.registry)

        cams = sorted(city.registry.cameras,
                      key=lambda cid: -sum(c.duration_s for c in city.clips if c.camera_id == cid))
        jobs = [(city.rigs[cid], city.walks_at(cid), [c for c in city.clips if c.camera_id == cid], str(root))
                for cid in cams]
        n = workers or min(2, os.cpu_count() or 1)
        if n > 1:
            # spawn, not fork: the caller may already hold onnxruntime or OpenCV thread pools.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
                results = [r for rs in pool.map(_render_camera, jobs) for r in rs]
        else:
            results = [r for j in jobs for r in _render_camera(j)]

        rendered = {rel: apps for rel, apps, _ in results}
        gt = ground_truth.build(city, rendered, {"name": "footage-search sample_footage",
                                                 "version": GENERATOR_VERSION, "digest": digest})
        tmp = paths.ground_truth.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(gt, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(paths.ground_truth)

        files = {rel: size for rel, _, size in results}
        for p in (paths.registry, paths.ground_truth):
            files[p.name] = p.stat().st_size
        stamp = {"version": GENERATOR_VERSION, "digest": digest, "files": dict(sorted(files.items()))}
        (root / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    return paths

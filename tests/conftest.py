"""Shared fixtures: real model files and footage from ../shared (skipped cleanly when absent), a tiny
random-initialised open_clip model for CLIP plumbing, and session-scoped indexes built once.

Nothing here fakes results: the detector and colour table are the real ones, and the tiny CLIP
model's similarities are never asserted to mean anything semantic.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import lancedb
import pytest
from filelock import FileLock

from core.config import Config, load_config
from core.schema import VIDEOS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
FOOTAGE = SHARED / "footage"
TINY_CLIP_CONFIG = Path(__file__).parent / "data" / "fs-tiny-test.json"
TINY_CLIP = "fs-tiny-test"
ARTIFACTS = REPO / "tests" / "artifacts"
# Debian's chromium for the Playwright tests (tests/test_ui_browser*.py), with flags for a headless CI box.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

DETECTOR = MODELS / "yolox_nano_coco" / "yolox_nano_dynamic.onnx"
COLOUR_TABLE = MODELS / "colour_names_w2c" / "w2c.npy"

# The real clips, arranged as an archive: camera folder, recording start in the file name.
REAL_CLIPS = {
    "pets2009_s2l1_view001.mp4": ("PETS", "20260314T100000+0900"),
    "oxford_towncentre_clipA.mp4": ("OXFORD", "20260314T101000+0900"),
    "oxford_towncentre_clipB.mp4": ("OXFORD", "20260314T101008+0900"),
    "intel_one_by_one_person.mp4": ("INTEL-ROOM", "20260314T102000+0900"),
    "intel_person_bicycle_car.mp4": ("INTEL-CARPARK", "20260314T103000+0900"),
}
REAL_REGISTRY = """camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
PETS,Jongno-gu,Campus path junction,37.5800,126.9770,0,40,PETS 2009 S2.L1 view 1
OXFORD,Jung-gu,Shopping street,37.5640,126.9820,180,35,Oxford Town Centre
INTEL-ROOM,Jung-gu,Indoor room,37.5650,126.9850,90,45,Intel sample video
INTEL-CARPARK,Yongsan-gu,Car park,37.5320,126.9900,0,70,Intel sample video
"""


def clip_name(video_path: str) -> str:
    """The shared clip a video of the real archive (``real_archive``) was made from."""
    base = Path(video_path).name
    for name, (_, stamp) in REAL_CLIPS.items():
        if base == f"{Path(name).stem}_{stamp}.mp4":
            return name
    return base


def requires(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"shared data absent: {', '.join(missing)}")


# Fixtures that index real or generated footage (minutes on 2 cores) or drive a browser: a test that
# uses one belongs to the slow lane whether or not its module says so (make test-fast skips them).
SLOW_FIXTURES = {"real_index", "sample_index", "sample_city"}
BROWSER_FIXTURES = {"browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


T = TypeVar("T")


def _under_xdist() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def session_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Where a session fixture builds ``name``: this session's own temp folder, or under pytest-xdist (make test
    runs two workers) one folder in the run's shared temp folder that every worker is handed."""
    if not _under_xdist():
        return tmp_path_factory.mktemp(name)
    return tmp_path_factory.getbasetemp().parent / name


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T],
               load: Callable[[Path], T]) -> T:
    """A session fixture's folder, built by ``build``. Under pytest-xdist the first worker builds it in
    :func:`session_folder` and the others ``load`` it, so the minutes of indexing behind the shared indexes
    are spent once per run, not once per worker."""
    root = session_folder(tmp_path_factory, name)
    if not _under_xdist():
        return build(root)
    with FileLock(str(root) + ".lock"):
        if (root / ".built").exists():
            return load(root)
        shutil.rmtree(root, ignore_errors=True)  # a worker that failed half way
        root.mkdir()
        out = build(root)
        (root / ".built").touch()
        return out


@pytest.fixture(scope="session")
def detector_path() -> Path:
    requires(DETECTOR)
    return DETECTOR


@pytest.fixture(scope="session")
def colour_table_path() -> Path:
    requires(COLOUR_TABLE)
    return COLOUR_TABLE


def make_config(index_uri: Path | str, **overrides: object) -> Config:
    """A config using the real detector/colour table when present and the tiny test CLIP model."""
    values: dict[str, object] = {
        "storage.index_uri": str(index_uri),
        "models.models_dir": str(MODELS if MODELS.exists() else REPO / "data" / "no-models"),
        "models.allow_download": False,
        "models.clip_model": TINY_CLIP,
        "models.clip_pretrained": "random-init",
        "models.clip_config_path": str(TINY_CLIP_CONFIG),
        "index.workers": 1,
    }
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(None, values, environ={})


@pytest.fixture(scope="session")
def real_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared real clips as an archive (symlinks, nothing copied into the repo)."""
    requires(FOOTAGE, *(FOOTAGE / name for name in REAL_CLIPS))

    def build(root: Path) -> Path:
        for name, (camera, stamp) in REAL_CLIPS.items():
            (root / camera).mkdir(exist_ok=True)
            os.symlink(FOOTAGE / name, root / camera / f"{Path(name).stem}_{stamp}.mp4")
        (root / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
        return root

    return built_once(tmp_path_factory, "real-archive", build, lambda root: root)


@pytest.fixture(scope="session")
def real_index(real_archive: Path, tmp_path_factory: pytest.TempPathFactory,
               detector_path: Path, colour_table_path: Path) -> Config:
    """The real clips indexed once per session with the default pipeline (tiny CLIP)."""
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index

    def build(root: Path) -> Config:
        cfg = make_config(root / "index")
        summary = run_index(real_archive, cfg, load_registry(real_archive / "cameras.csv"),
                            BatchOptions(progress=False))
        assert summary.indexed == len(REAL_CLIPS), summary.lines()
        return cfg

    return built_once(tmp_path_factory, "real-index", build, lambda root: make_config(root / "index"))


@pytest.fixture(scope="session")
def sample_city(tmp_path_factory: pytest.TempPathFactory):
    """The generated demo city (deterministic; generated once per session)."""
    from sample_footage import generate_city

    # generate_city locks its folder and skips a city already complete there, so under pytest-xdist the
    # worker that comes second just reads the first one's city.
    return generate_city(session_folder(tmp_path_factory, "sample-city"))


@pytest.fixture(scope="session")
def sample_index(sample_city, tmp_path_factory: pytest.TempPathFactory, detector_path: Path,
                 colour_table_path: Path) -> Config:
    """The sample city indexed once per session with the default pipeline (tiny CLIP)."""
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index

    def build(root: Path) -> Config:
        cfg = make_config(root / "index")
        summary = run_index(sample_city.archive, cfg, load_registry(sample_city.registry),
                            BatchOptions(progress=False))
        assert summary.indexed > 0 and not summary.failed, summary.lines()
        return cfg

    return built_once(tmp_path_factory, "sample-index", build, lambda root: make_config(root / "index"))


@pytest.fixture
def copy_tree(tmp_path: Path):
    """Copy a folder (following symlinks) into this test's tmp dir, to mutate it safely."""
    def _copy(src: Path, name: str = "copy") -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst, symlinks=False)
        return dst
    return _copy


def kill_when_done(proc: subprocess.Popen, index: Path, at_least: int, timeout_s: float) -> int | None:
    """SIGKILL the indexer ``proc`` as soon as ``index`` holds ``at_least`` videos done; how many it held
    then, or None if the run ended or the time ran out first."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            done = lancedb.connect(str(index)).open_table(VIDEOS).count_rows("status = 'done'")
        except Exception:  # tables not created yet
            done = 0
        if done >= at_least:
            proc.send_signal(signal.SIGKILL)
            return done
        time.sleep(0.2)
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per browser-test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()

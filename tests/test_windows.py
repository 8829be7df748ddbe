"""Windowed indexing (case mode): window edges, coverage merging, window + whole-file runs, kill -9.

The slow tests index the real PETS 2009 clip (people cross the frame all the time, so every window
edge cuts through someone's track) and the Intel car-park clip, and compare with a whole-file run. Both
clips are cut at a keyframe (packets copied, not re-encoded) to the length the windows need: the PETS
clip is indexed three times over (whole, in two windows, in three windows and a whole-file run), the
car-park clip four times, and their later minutes add indexing time but no case the tests check.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lancedb
import pytest

from core.index_db import IndexDB
from core.index_status import index_status
from core.registry import load_registry
from core.schema import COVERAGE, SIGHTINGS, VIDEOS, sighting_id, sighting_window
from indexer.archive import VideoFile, discover
from indexer.batch import BatchOptions, run_index
from indexer.coverage import CoverageRecord
from indexer.decode import DecordDecoder, PyAVDecoder, PyAVKeyframeDecoder
from indexer.run_plan import chunk
from indexer.store import SightingStore
from indexer.windows import WindowError, index_windows
from search.index_reader import SightingReader
from tests.conftest import FOOTAGE, REPO, TINY_CLIP_CONFIG, make_config, requires
from tests.videos import head, write_video

REGISTRY = """camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
PETS,Jongno-gu,Campus path junction,37.5800,126.9770,0,40,
CARPARK,Yongsan-gu,Car park,37.5320,126.9900,0,70,
"""
PETS_CLIP = "pets2009_s2l1_view001.mp4"
CARPARK_CLIP = "intel_person_bicycle_car.mp4"
EDGE_S = 50.0  # where the PETS clip is cut in two windows: several people are in view then
PETS_S = 70.0  # the PETS clip's first 71.4 s (up to its keyframe at 71.4 s): past EDGE_S and the 20-70 s windows
CARPARK_S = 20.0  # the car-park clip's first 20.8 s (up to its second keyframe)
FRAME_S = 1.0  # one sampled frame at the default index.sample_fps


# -- fast: no footage indexed ----------------------------------------------------------------------
@pytest.mark.parametrize("gop_s,fps", [(1.0, 1.0), (0.7, 1.0), (0.5, 2.0), (1.3, 1.0)])
def test_windows_sample_exactly_the_frames_of_a_whole_pass(tmp_path: Path, gop_s: float, fps: float):
    video = write_video(tmp_path / "v.mp4", seconds=20, fps=10, gop_s=gop_s)
    for decoder in (PyAVDecoder(), PyAVKeyframeDecoder(), DecordDecoder()):
        whole = [f.t for f in decoder.frames(video, fps)]
        parts = [f.t for a, b in ((0, 3.05), (3.05, 7.0), (7.0, 12.34), (12.34, 1e9))
                 for f in decoder.frames(video, fps, a, b)]
        assert whole == parts and len(whole) >= 10, decoder.name
        late = [f.t for f in decoder.frames(video, fps, 12.34)]
        assert late and late[0] >= 12.34 and late == [t for t in whole if t >= 12.34]


def test_sighting_ids_carry_the_window_start_and_chunks_end_on_milliseconds():
    assert sighting_id("abc", 3, 1) == "abc:3:1" and sighting_window("abc:3:1") is None
    assert sighting_id("abc", 3, 1, 600.0004) == "abc@600000:3:1"
    assert sighting_window("abc@600000:3:1") == 600.0
    assert chunk((0.0, 1500.5)) == [(0.0, 600.0), (600.0, 1200.0), (1200.0, 1500.5)]
    assert chunk((10.12345, 20.0)) == [(10.123, 20.0)]


def test_coverage_gaps_and_validity(tmp_path: Path):
    video = VideoFile(tmp_path / "a.mp4", "CAM/a.mp4", "CAM", 1000.0, 123, 5.0)
    cov = CoverageRecord(video.video_id, "CAM", "CAM/a.mp4", 1000.0, 100.0, 123, 5.0, "cfg",
                         [(0.0, 20.0), (40.0, 99.9995)])
    assert cov.gaps() == [(20.0, 40.0)]  # the sliver before the end holds no sample
    assert cov.gaps((10.0, 30.0)) == [(20.0, 30.0)]
    assert cov.epoch_spans() == [(1000.0, 1020.0), (1040.0, 1099.9995)]
    assert cov.valid_for(video, "cfg")
    assert not cov.valid_for(video, "other settings")
    assert not cov.valid_for(VideoFile(video.path, video.rel_path, "CAM", 1000.0, 124, 5.0), "cfg")


def _track_rows(window_t0: float, track: int, offsets: list[float], x: float) -> dict:
    return {"sighting_id": sighting_id("vid", track, 0, window_t0), "track_id": track, "track_offsets": offsets,
            "track_boxes": [[x, 10.0, x + 40.0, 130.0] for _ in offsets]}


def test_a_person_two_windows_tracked_is_kept_from_the_earlier_window():
    import pyarrow as pa

    from indexer.window_overlap import twins

    stored = pa.Table.from_pylist([_track_rows(0.0, 8, [60.0, 61.0, 62.0, 63.0], 100.0),   # earlier window's run-out
                                   _track_rows(0.0, 9, [60.0, 61.0, 62.0], 400.0),          # someone else
                                   _track_rows(120.0, 3, [121.0, 122.0], 700.0)])           # a later window
    new = pa.Table.from_pylist([_track_rows(60.0, 2, [61.0, 62.0, 63.0, 64.0], 101.0),     # her again
                                _track_rows(60.0, 5, [62.0], 400.0),  # one shared point: not enough
                                _track_rows(60.0, 6, [121.0, 122.0, 123.0], 700.0)])        # the later window's twin
    drop, delete = twins(new, 60.0, stored)
    assert drop == {2} and delete == [sighting_id("vid", 3, 0, 120.0)]
    assert twins(new, 60.0, stored.slice(0, 0)) == (set(), [])


def test_a_window_keeps_whoever_is_in_view_inside_it_from_its_start(tmp_path: Path):
    import numpy as np

    from indexer.pipeline import _Window
    from indexer.tracking import Track, TrackPoint

    def track(*ts: float) -> Track:
        return Track(1, [TrackPoint(t, np.zeros(4, np.float32), 0.9, i) for i, t in enumerate(ts)])

    w = _Window.of((60.0, 120.0), make_config(tmp_path / "index", index__window_warmup_s=10))
    assert w.decode_from == 50.0
    assert w.owns(track(52.0, 58.0, 61.0, 64.0))  # first seen in the warm-up, still in view at 60
    assert [p.t for p in w.clip(track(52.0, 58.0, 61.0, 64.0).points)] == [61.0, 64.0]
    assert not w.owns(track(52.0, 58.0, 59.0))  # gone before the window starts: the window before's
    assert w.owns(track(60.0, 70.0)) and w.owns(track(119.0, 130.0))
    assert not w.owns(track(120.0, 125.0))  # first seen at the end: the next window's


def test_bad_windows_are_refused_in_one_line(tmp_path: Path):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "cameras.csv").write_text(REGISTRY, encoding="utf-8")
    reg = load_registry(root / "cameras.csv")
    cfg = make_config(tmp_path / "index")
    with pytest.raises(WindowError, match="unknown camera 'NOPE'"):
        index_windows(cfg, reg, root, [("NOPE", 0.0, 10.0)])
    with pytest.raises(WindowError, match=r"ends .* no later than it starts"):
        index_windows(cfg, reg, root, [("PETS", 10.0, 10.0)])


# -- slow: real footage --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pets(tmp_path_factory: pytest.TempPathFactory, detector_path, colour_table_path) -> tuple[Path, float, float]:
    """An archive of the PETS clip's first PETS_S seconds: (archive, its start epoch, its duration)."""
    requires(FOOTAGE / PETS_CLIP)
    root = tmp_path_factory.mktemp("pets-archive")
    head(FOOTAGE / PETS_CLIP, root / "PETS" / "pets_20260314T100000+0900.mp4", PETS_S)
    (root / "cameras.csv").write_text(REGISTRY, encoding="utf-8")
    video = discover(root, load_registry(root / "cameras.csv"), "Asia/Seoul")[0][0]
    from indexer.decode import probe

    return root, video.start_time, probe(video.path).duration_s


@pytest.fixture(scope="module")
def pets_whole(pets, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The PETS clip indexed whole, the usual way."""
    root = pets[0]
    cfg = make_config(tmp_path_factory.mktemp("pets-whole") / "index")
    s = run_index(root, cfg, load_registry(root / "cameras.csv"), BatchOptions(progress=False))
    assert s.indexed == 1
    return _rows(cfg)


def _rows(cfg) -> list[dict]:
    rows = (lancedb.connect(cfg.storage.index_uri).open_table(SIGHTINGS).to_arrow()
            .select(["sighting_id", "video_id", "t_start", "offset_start_s", "offset_end_s", "n_detections"])
            .to_pylist())
    ids = [r["sighting_id"] for r in rows]
    assert len(ids) == len(set(ids))
    return sorted(rows, key=lambda r: (r["offset_start_s"], r["offset_end_s"]))


def _table(cfg, name: str) -> list[dict]:
    return lancedb.connect(cfg.storage.index_uri).open_table(name).to_arrow().to_pylist()


def _same_sightings(a: list[dict], b: list[dict]) -> None:
    """The same sightings: one for one, each starting and ending within a sampled frame of its match."""
    assert len(a) == len(b), (len(a), len(b))
    unmatched = list(b)
    for r in a:
        match = next((s for s in unmatched if abs(s["offset_start_s"] - r["offset_start_s"]) <= FRAME_S
                      and abs(s["offset_end_s"] - r["offset_end_s"]) <= FRAME_S), None)
        assert match is not None, f"no match for {r}"
        unmatched.remove(match)


@pytest.mark.slow
def test_a_person_crossing_the_edge_of_two_windows_is_one_sighting(pets, pets_whole, tmp_path: Path):
    root, start, duration = pets
    reg = load_registry(root / "cameras.csv")
    cfg = make_config(tmp_path / "index")
    first = index_windows(cfg, reg, root, [("PETS", start, start + EDGE_S)])
    w = first.windows[0]
    assert w.analysed_s == pytest.approx(EDGE_S) and w.covered_before_s == 0 and w.no_footage == []
    assert w.decoded_s > EDGE_S  # it ran on past the edge while someone it saw first was still in view
    assert [v["status"] for v in _table(cfg, VIDEOS)] == ["partial"]
    second = index_windows(cfg, reg, root, [("PETS", start + EDGE_S, start + duration + 60)])
    w2 = second.windows[0]
    assert w2.analysed_s == pytest.approx(duration - EDGE_S)
    assert w2.no_footage == [(pytest.approx(start + duration), start + duration + 60)]

    windowed = _rows(cfg)
    crossing = [r for r in pets_whole if r["offset_start_s"] < EDGE_S - FRAME_S < EDGE_S + FRAME_S < r["offset_end_s"]]
    assert len(crossing) >= 3  # the edge really cuts through people
    for r in crossing:  # found by the first window, whole, once
        at_edge = [s for s in windowed if s["offset_start_s"] <= EDGE_S <= s["offset_end_s"]
                   and abs(s["offset_start_s"] - r["offset_start_s"]) <= FRAME_S
                   and abs(s["offset_end_s"] - r["offset_end_s"]) <= FRAME_S]
        assert len(at_edge) == 1 and sighting_window(at_edge[0]["sighting_id"]) == 0.0
    # and nobody is in view at the edge twice: as many sightings span it as in the whole-file run
    assert (sum(r["offset_start_s"] <= EDGE_S <= r["offset_end_s"] for r in windowed)
            == sum(r["offset_start_s"] <= EDGE_S <= r["offset_end_s"] for r in pets_whole))
    _same_sightings(pets_whole, windowed)
    cov = _table(cfg, COVERAGE)
    assert [tuple(s) for s in cov[0]["spans"]] == [(0.0, pytest.approx(duration))]
    video = _table(cfg, VIDEOS)[0]
    assert video["status"] == "done" and video["n_sightings"] == len(windowed)


@pytest.mark.slow
def test_window_then_whole_index_analyses_only_the_gaps_and_duplicates_nothing(pets, pets_whole, tmp_path: Path):
    root, start, duration = pets
    reg = load_registry(root / "cameras.csv")
    cfg = make_config(tmp_path / "index")
    run = index_windows(cfg, reg, root, [("PETS", start + 20, start + 60)])
    assert run.windows[0].sightings_added > 0
    assert [tuple(s) for s in _table(cfg, COVERAGE)[0]["spans"]] == [(20.0, 60.0)]
    reader = SightingReader(IndexDB.open(cfg.storage))
    assert reader.footage_spans() == {"PETS": [(start + 20, start + 60)]}
    status = index_status(cfg)
    assert status.videos_partial == 1 and status.videos_done == 0 and status.footage_s == pytest.approx(40)

    # the same window again, and one inside it: nothing analysed, nothing written
    version = lancedb.connect(cfg.storage.index_uri).open_table(SIGHTINGS).version
    again = index_windows(cfg, reg, root, [("PETS", start + 20, start + 60), ("PETS", start + 30, start + 40)])
    assert [w.analysed_s for w in again.windows] == [0.0, 0.0]
    assert again.windows[0].covered_before_s == pytest.approx(40) and again.summary.windows == 0
    assert lancedb.connect(cfg.storage.index_uri).open_table(SIGHTINGS).version == version

    # an overlapping window analyses only what is new; coverage merges
    more = index_windows(cfg, reg, root, [("PETS", start + 50, start + 70)])
    assert more.windows[0].analysed_s == pytest.approx(10) and more.windows[0].covered_before_s == pytest.approx(10)
    assert [tuple(s) for s in _table(cfg, COVERAGE)[0]["spans"]] == [(20.0, 70.0)]

    # a whole-file run fills the two gaps only, then says done
    s = run_index(root, cfg, reg, BatchOptions(progress=False))
    assert s.windows == 2 and s.indexed == 0 and s.footage_s == pytest.approx(duration - 50)
    assert _table(cfg, VIDEOS)[0]["status"] == "done"
    rows = _rows(cfg)
    _same_sightings(pets_whole, rows)
    assert reader.footage_spans() == {"PETS": [(start, pytest.approx(start + duration))]}
    # and then it is an ordinary done video: nothing to do
    s = run_index(root, cfg, reg, BatchOptions(progress=False))
    assert s.unchanged == 1 and s.windows == 0 and s.indexed == 0
    assert len(_rows(cfg)) == len(rows)


@pytest.fixture
def carpark(tmp_path: Path, detector_path, colour_table_path) -> tuple[Path, float]:
    """Two recordings of one camera a minute apart (the same CARPARK_S seconds of the clip): (archive,
    start of the first)."""
    requires(FOOTAGE / CARPARK_CLIP)
    root = tmp_path / "archive"
    first = head(FOOTAGE / CARPARK_CLIP, root / "CARPARK" / "carpark_20260314T100000+0900.mp4", CARPARK_S)
    shutil.copy(first, root / "CARPARK" / "carpark_20260314T100100+0900.mp4")
    (root / "cameras.csv").write_text(REGISTRY, encoding="utf-8")
    first = discover(root, load_registry(root / "cameras.csv"), "Asia/Seoul")[0][0]
    return root, first.start_time


@pytest.mark.slow
def test_kill_9_during_windowed_indexing_then_resume_equals_a_clean_run(carpark, tmp_path: Path):
    root, start = carpark
    window = ["--camera", "CARPARK", "--from", "2026-03-14T10:00:00+09:00", "--to", "2026-03-14T10:02:00+09:00"]
    index = tmp_path / "killed"
    cfg = make_config(index)
    sets = [f"--set=models.models_dir={cfg.models.models_dir}", "--set=models.allow_download=false",
            f"--set=models.clip_model={cfg.models.clip_model}", "--set=models.clip_pretrained=random-init",
            f"--set=models.clip_config_path={TINY_CLIP_CONFIG}"]
    cmd = [sys.executable, "-m", "footage_search.cli", "index", str(root), "--index", str(index),
           "--workers", "1", "--no-progress", *window, *sets]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = False
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:  # kill as soon as the first window's rows are in, before or after its coverage row
            rows = lancedb.connect(str(index)).open_table(SIGHTINGS).count_rows()
        except Exception:  # tables not created yet
            rows = 0
        if rows:
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed, proc.stdout.read().decode()[-2000:] if proc.stdout else "not killed"
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CARPARK" in out.stdout and "sightings added" in out.stdout

    clean = make_config(tmp_path / "clean")
    reg = load_registry(root / "cameras.csv")
    index_windows(clean, reg, root, [("CARPARK", start, start + 120)])
    resumed = _rows(cfg)
    assert resumed and sorted(r["sighting_id"] for r in resumed) == sorted(r["sighting_id"] for r in _rows(clean))
    assert {v["status"] for v in _table(cfg, VIDEOS)} == {"done"}  # each file's window covered it whole

    # The exact crash between a window's rows and its coverage row: the next run's clean-up removes
    # those rows (their window start is not covered), and the window is analysed again, once.
    store = SightingStore(IndexDB.open(clean.storage), 0)
    second = sorted({r["video_id"] for r in resumed})[1]
    db = IndexDB.open(clean.storage)
    db.table(COVERAGE).delete(f"video_id = '{second}'")
    db.table(VIDEOS).delete(f"video_id = '{second}'")
    assert store.remove_orphans() == sum(r["video_id"] == second for r in resumed) > 0
    assert {r["video_id"] for r in _rows(clean)} == {r["video_id"] for r in resumed} - {second}
    again = index_windows(clean, reg, root, [("CARPARK", start, start + 120)])
    assert again.windows[0].covered_before_s > 0 and again.summary.windows == 1
    assert sorted(r["sighting_id"] for r in _rows(clean)) == sorted(r["sighting_id"] for r in resumed)

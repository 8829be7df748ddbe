"""Night / infrared footage: flagged, and its colours down-weighted in search.

The shared footage has no real IR recording, so this test makes one: the first 75 seconds of the Intel
room clip (four people, one at a time), each frame turned into what an IR camera's stream looks like -
one channel (near-infrared follows the red channel more than the others, and fabrics reflect it more,
so clothes come out lighter), a gamma lift, a little blur and sensor noise, stored as grey H.264. It is
indexed as its own camera and compared with the same clip in colour (the session's real index).
"""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from core.registry import load_registry
from core.video_frames import read_frames_at
from indexer.batch import BatchOptions, run_index
from search import evidence as ev
from search.engine import SearchEngine
from search.query_parser import parse_query
from search.request import SearchRequest
from search.search_models import SearchModels
from tests.conftest import FOOTAGE, make_config, requires

# Indexes a real clip and its infrared version.
pytestmark = pytest.mark.slow

SOURCE = FOOTAGE / "intel_one_by_one_person.mp4"
SECONDS, FPS = 75, 2
REGISTRY = """camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
ROOM-IR,Jung-gu,Indoor room at night (synthetic IR),37.5650,126.9850,90,45,grey frames made from the Intel clip
"""


def infrared_look(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    b, g, r = (frame[..., i].astype(np.float32) for i in range(3))
    nir = 0.6 * r + 0.3 * g + 0.1 * b
    nir = 255.0 * (nir / 255.0) ** 0.7  # IR illuminators and fabrics: a brighter, flatter picture
    nir = cv2.GaussianBlur(nir, (3, 3), 0) + rng.normal(0.0, 3.0, nir.shape)
    grey = np.clip(nir, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def write_infrared_clip(path) -> None:
    rng = np.random.default_rng(0)
    times = [i / FPS for i in range(SECONDS * FPS)]
    frames = read_frames_at(SOURCE, times)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = FPS
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(infrared_look(frame, rng), format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, FPS)
            for pkt in stream.encode(vf):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)


@pytest.fixture(scope="module")
def night(tmp_path_factory, detector_path, colour_table_path):
    requires(SOURCE)
    root = tmp_path_factory.mktemp("ir-archive")
    (root / "ROOM-IR").mkdir()
    write_infrared_clip(root / "ROOM-IR" / "room_ir_20260314T230000+0900.mp4")
    (root / "cameras.csv").write_text(REGISTRY, encoding="utf-8")
    cfg = make_config(tmp_path_factory.mktemp("ir-index") / "index")
    registry = load_registry(root / "cameras.csv")
    summary = run_index(root, cfg, registry, BatchOptions(progress=False))
    assert summary.indexed == 1, summary.lines()
    engine = SearchEngine(cfg, registry, SearchModels(cfg, clip_enabled=False))
    return engine, engine.reader.table().to_arrow().to_pylist()


@pytest.fixture(scope="module")
def day(real_index, real_archive):
    engine = SearchEngine(real_index, load_registry(real_archive / "cameras.csv"),
                          SearchModels(real_index, clip_enabled=False))
    return engine


def test_infrared_sightings_are_flagged(night, day):
    _, rows = night
    assert len(rows) >= 3  # the people are still detected and tracked in grey
    assert all(r["night"] and r["colour_reliability"] <= 0.05 for r in rows), \
        [(r["night"], r["colour_reliability"]) for r in rows]
    day_rows = day.reader.table().to_arrow().select(["camera_id", "night", "colour_reliability"]).to_pylist()
    room = [r for r in day_rows if r["camera_id"] == "INTEL-ROOM"]
    assert room and not any(r["night"] for r in room) and min(r["colour_reliability"] for r in room) >= 0.99
    assert not any(r["night"] for r in day_rows)  # PETS, Oxford, the car park: all daylight


def test_infrared_colours_are_down_weighted_in_search(night, day):
    engine, rows = night
    text = "black top, black trousers"  # the two men in black; in IR everything dark reads black
    parsed = parse_query(text)
    upper = np.array([r["upper_colour"] for r in rows], np.float32)
    lower = np.array([r["lower_colour"] for r in rows], np.float32)
    raw = ev.colour_evidence(parsed, upper, lower)  # as if IR colours were trusted
    assert (raw >= 0.35).sum() >= 2, raw  # they would all but match
    r = engine.search(SearchRequest(text=text, include_weak=True))
    assert r.no_result and "below the threshold" in r.message
    assert all(s.attributes.night and s.evidence["colour"] == pytest.approx(ev.UNKNOWN, abs=0.02)
               for s in r.sightings)
    # the same people in daylight are found by the same words
    d = day.search(SearchRequest(text=text, cameras=["INTEL-ROOM"]))
    assert not d.no_result and len(d.sightings) >= 2
    # hair colour counts as unknown in IR too
    assert engine.search(SearchRequest(text="blonde woman")).no_result


def test_an_infrared_clip_keeps_its_calibration_with_other_terms(night):
    """An attribute the IR frames can show (none here) would still count; colour terms stay unknown, so a
    description that is only colours never becomes plausible at night."""
    engine, _ = night
    for text in ("red jacket", "black coat", "grey cardigan", "white shirt"):
        r = engine.search(SearchRequest(text=text))
        assert r.no_result, (text, [(s.sighting_id, s.evidence) for s in r.sightings])

"""Awkward videos the indexer must cope with: rotated, unknown codec, variable frame rate, very long."""

from __future__ import annotations

import resource
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from core.loading import load_colours, load_detector
from core.registry import parse_registry
from core.video_frames import read_frames_at
from indexer.archive import VideoFile
from indexer.decode import DecodeError, PyAVDecoder, PyAVKeyframeDecoder, probe
from indexer.pipeline import Models, index_video
from tests.conftest import FOOTAGE, make_config, requires
from tests.videos import write_video

# Indexes damaged, rotated and very long videos it writes.
pytestmark = pytest.mark.slow

CAMERA = parse_registry("camera_id,district,name,lat,lon,heading_deg\nC,Jung-gu,c,37.56,126.98,90\n").get("C")
# tkhd matrices (16.16 fixed point, last 2.30) that tell a player to turn the picture
TURN_CLOCKWISE_90 = (0, 0x00010000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000)


def _video(path: Path, start: float = 1_773_450_000.0) -> VideoFile:
    st = path.stat()
    return VideoFile(path=path, rel_path=f"C/{path.name}", camera_id="C", start_time=start,
                     size_bytes=st.st_size, mtime=st.st_mtime)


def _encode(frames: list[np.ndarray], path: Path, fps: int, pts: list[int] | None = None,
            time_base: Fraction | None = None) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if time_base is not None:  # variable frame rate: timestamps in this unit, not frame counts
            stream.time_base = stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = fps
        stream.options = {"keyint_min": str(fps), "sc_threshold": "0", "bf": "0"}
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts = pts[i] if pts else i
            f.time_base = time_base or Fraction(1, fps)
            for pkt in stream.encode(f):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return path


def _set_display_matrix(path: Path, matrix: tuple[int, ...]) -> None:
    """Write a display rotation into the MP4 track header, as phones and rotated cameras do."""
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    assert data[i + 4] == 0  # version 0 header
    off = i + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 2 + 2 + 2 + 2 + 4
    assert struct.unpack(">I", data[off + 32: off + 36])[0] == 0x40000000
    struct.pack_into(">9I", data, off, *matrix)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def models(detector_path, colour_table_path, tmp_path_factory):
    cfg = make_config(tmp_path_factory.mktemp("m"))
    return Models(detector=load_detector(cfg), colours=load_colours(cfg), embedder=None, clip_dim=32)


def test_rotated_recording_is_turned_upright_before_detection(models, tmp_path):
    clip = FOOTAGE / "intel_one_by_one_person.mp4"
    requires(clip)
    times = [float(t) for t in range(50, 70)]  # a woman walks up to the table and reads
    upright = [f for f in read_frames_at(clip, times) if f is not None]
    sideways = [np.ascontiguousarray(np.rot90(f)) for f in upright]  # stored turned a quarter left
    straight = _encode(upright, tmp_path / "straight.mp4", fps=1)
    turned = _encode(sideways, tmp_path / "turned.mp4", fps=1)
    _set_display_matrix(turned, TURN_CLOCKWISE_90)
    first = next(iter(PyAVDecoder().frames(turned, 1.0))).image
    assert first.shape == upright[0].shape  # displayed as recorded, not as stored
    assert np.abs(first.astype(int) - next(iter(PyAVDecoder().frames(straight, 1.0))).image.astype(int)).mean() < 6
    assert read_frames_at(turned, [3.0])[0].shape == upright[0].shape  # the console's frames agree
    a = index_video(_video(straight), CAMERA, models, make_config(tmp_path / "a"))
    b = index_video(_video(turned), CAMERA, models, make_config(tmp_path / "b"))
    assert a.ok and b.ok and a.sightings.num_rows >= 1
    assert b.sightings.num_rows == a.sightings.num_rows
    assert np.allclose(b.sightings.column("box").to_pylist(), a.sightings.column("box").to_pylist(), atol=8)


def test_unknown_codec_is_a_clear_decode_error(tmp_path, models):
    path = tmp_path / "odd.avi"
    with av.open(str(path), "w") as out:
        s = out.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 160, 96, "yuvj420p"
        for i in range(10):
            f = av.VideoFrame.from_ndarray(np.zeros((96, 160, 3), np.uint8), format="rgb24").reformat(
                format="yuvj420p")
            f.pts, f.time_base = i, Fraction(1, 10)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    path.write_bytes(path.read_bytes().replace(b"MJPG", b"ZQZQ"))  # a codec tag nobody knows
    with pytest.raises(DecodeError, match="unsupported video codec"):
        probe(path)
    res = index_video(_video(path), CAMERA, models, make_config(tmp_path / "i"))
    assert not res.ok and "unsupported video codec" in res.error


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    # irregular capture times in ms: bursts and gaps, as network cameras under load record
    stamps_ms = [0, 40, 90, 700, 1010, 1020, 1900, 2600, 2610, 3950, 4020, 5500, 6010]
    frames = [np.full((48, 64, 3), 20 * i % 255, np.uint8) for i in range(len(stamps_ms))]
    path = _encode(frames, tmp_path / "vfr.mp4", fps=25, pts=stamps_ms, time_base=Fraction(1, 1000))
    got = [round(f.t, 3) for f in PyAVDecoder().frames(path, 1.0)]
    # first frame at or after each whole second
    assert got == [0.0, 1.01, 2.6, 3.95, 4.02, 5.5, 6.01]


def test_very_long_static_video_is_quick_and_memory_bounded(models, tmp_path):
    """Two hours of an empty scene: motion gating skips detection, memory stays flat."""
    frames = [np.full((72, 128, 3), 90, np.uint8)] * (2 * 3600)  # 1 fps, 2 h
    path = _encode(frames, tmp_path / "long.mp4", fps=1)
    info = probe(path)
    assert info.duration_s == pytest.approx(7200, abs=2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = index_video(_video(path), CAMERA, models, make_config(tmp_path / "i"))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert res.ok and res.n_sampled == 7200 and res.sightings.num_rows == 0
    assert res.n_gated >= 7000
    assert grown_mb < 300
    assert sum(1 for _ in PyAVKeyframeDecoder().frames(path, 1.0)) == 7200


def test_empty_and_garbage_files_fail_cleanly(models, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = write_video(tmp_path / "g.mp4")
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(1).bytes(30_000))
    for path in (empty, garbage):
        res = index_video(_video(path), CAMERA, models, make_config(tmp_path / "i"))
        assert not res.ok and res.error

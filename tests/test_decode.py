from pathlib import Path

import numpy as np
import pytest

from indexer.decode import (
    DecodeError,
    DecordDecoder,
    PyAVDecoder,
    PyAVKeyframeDecoder,
    choose_decoder,
    probe,
)
from tests.videos import truncate, write_video


@pytest.fixture(scope="module")
def gop1(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("v") / "gop1.mp4", seconds=8, fps=10, gop_s=1.0)


@pytest.fixture(scope="module")
def gop5(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("v") / "gop5.mp4", seconds=8, fps=10, gop_s=5.0)


def test_probe_reads_duration_rate_and_keyframe_spacing(gop1, gop5):
    info = probe(gop1)
    assert info.width == 320 and info.height == 240 and info.codec == "h264"
    assert info.fps == pytest.approx(10)
    assert info.duration_s == pytest.approx(8, abs=0.2)
    assert info.keyframe_gap_s == pytest.approx(1.0, abs=0.01)
    assert probe(gop5).keyframe_gap_s == pytest.approx(5.0, abs=0.01)


@pytest.mark.parametrize("decoder", [PyAVKeyframeDecoder(), PyAVDecoder(), DecordDecoder()], ids=lambda d: d.name)
def test_decoders_agree_on_times_and_pixels_at_1fps(gop1, decoder):
    frames = list(decoder.frames(gop1, 1.0))
    assert [round(f.t, 2) for f in frames] == [float(i) for i in range(8)]
    reference = list(PyAVDecoder().frames(gop1, 1.0))
    for a, b in zip(frames, reference, strict=True):
        assert a.image.shape == (240, 320, 3)
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 2.0  # same frames, BGR order


def test_full_decode_honours_higher_rates(gop1):
    times = [round(f.t, 2) for f in PyAVDecoder().frames(gop1, 2.0)]
    assert times == [i * 0.5 for i in range(16)]


def test_auto_prefers_keyframes_only_when_they_are_frequent_enough(gop1, gop5):
    assert choose_decoder("auto", probe(gop1), 1.0).name == "pyav-keyframes"
    assert choose_decoder("auto", probe(gop1), 2.0).name == "pyav"  # keyframes are too sparse for 2 fps
    assert choose_decoder("auto", probe(gop5), 1.0).name == "pyav"
    with pytest.raises(ValueError, match="unknown decoder"):
        choose_decoder("ffmpeg-magic", None, 1.0)


def test_corrupt_inputs_raise_decode_errors(tmp_path, gop1):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    for bad in (empty, garbage, tmp_path / "absent.mp4"):
        with pytest.raises(DecodeError):
            probe(bad)
        with pytest.raises(DecodeError):
            list(PyAVDecoder().frames(bad, 1.0))
    # a file cut in half either fails to open or yields fewer frames than its declared duration
    cut = truncate(gop1, tmp_path / "cut.mp4", 0.5)
    try:
        frames = list(PyAVDecoder().frames(cut, 1.0))
    except DecodeError:
        return
    assert frames == [] or frames[-1].t < probe(gop1).duration_s - 2

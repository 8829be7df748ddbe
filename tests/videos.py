"""Small synthetic videos for tests of decoding and fault handling (not for detection: the
detector is tested on real footage and on the generated sample city)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video(path: Path, seconds: float = 6.0, fps: int = 10, size: tuple[int, int] = (320, 240),
                gop_s: float = 1.0, codec: str = "libx264") -> Path:
    """A grey scene with a dark block moving left to right; H.264 with a keyframe every ``gop_s``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = max(1, int(fps * gop_s))
        stream.codec_context.max_b_frames = 0
        if codec == "libx264":
            stream.options = {"keyint_min": str(max(1, int(fps * gop_s))), "sc_threshold": "0", "bf": "0"}
        n = int(seconds * fps)
        for i in range(n):
            img = np.full((h, w, 3), 150, np.uint8)
            x = int(10 + (w - 60) * i / max(n - 1, 1))
            img[h // 3: h // 3 + 80, x: x + 30] = (40, 40, 40)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return path


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def head(src: Path, dst: Path, seconds: float) -> Path:
    """The start of a real clip, up to its first keyframe at or after ``seconds``, copied packet for packet
    (no re-encoding: the frames are the clip's own, with their own timestamps)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for pkt in inp.demux(vin):
            if pkt.dts is None:  # the demuxer's flush packet
                continue
            if pkt.is_keyframe and pkt.pts is not None and pkt.pts * vin.time_base >= seconds:
                break
            pkt.stream = vout
            out.mux(pkt)
    return dst

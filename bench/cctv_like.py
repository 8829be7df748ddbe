"""Re-encode a clip the way CCTV recorders store footage: H.264, keyframe every second, no B-frames.

Used by the benchmarks (and some tests) to turn the shared sample clips into recorder-like files,
optionally looping a short clip to a target length. Nothing written here is committed.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av


def reencode_cctv(src: str | Path, dst: str | Path, *, min_duration_s: float = 0.0,
                  width: int | None = None, crf: int = 26, gop_s: float = 1.0, pingpong: bool = True) -> Path:
    """Write ``dst`` (H.264, yuv420p, GOP = ``gop_s`` seconds, no B-frames), looping ``src`` until
    it lasts at least ``min_duration_s``. ``width`` rescales, keeping the aspect ratio.

    ``pingpong`` plays the clip forward, then backward, and so on: a plain loop makes everyone in
    view jump back to where they were at the start, which a tracker must see as new people, and a
    6 s clip looped for an hour would then hold ten times the sightings real footage has.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp:
        vs = inp.streams.video[0]
        rate = vs.average_rate or Fraction(25)
        w, h = vs.codec_context.width, vs.codec_context.height
        if width and width != w:
            h = int(round(h * width / w / 2) * 2)
            w = width
        frames = [f.reformat(width=w, height=h, format="yuv420p") for f in inp.decode(video=0)]
    out = av.open(str(dst), mode="w")
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    gop = max(1, round(float(rate) * gop_s))
    stream.codec_context.gop_size = gop
    stream.codec_context.max_b_frames = 0
    stream.options = {"crf": str(crf), "preset": "veryfast", "keyint_min": str(gop), "sc_threshold": "0",
                      "bf": "0"}
    target = max(len(frames), round(min_duration_s * float(rate)))
    cycle = frames + frames[-2:0:-1] if pingpong and len(frames) > 2 else frames
    for i in range(target):
        img = cycle[i % len(cycle)]
        img.pts = i
        img.time_base = Fraction(1, 1) / rate
        for packet in stream.encode(img):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--min-duration", type=float, default=0.0)
    ap.add_argument("--width", type=int)
    args = ap.parse_args()
    print(reencode_cctv(args.src, args.dst, min_duration_s=args.min_duration, width=args.width))


if __name__ == "__main__":
    main()

"""Cutting a few seconds of a source video into a small clip a browser plays (PyAV, no ffmpeg binary).

The cut starts at the keyframe before the wanted start, decodes, drops the frames before it and
re-encodes the rest: H.264 in MP4 (``+faststart``, so playback starts before the whole file has
arrived) when PyAV has libx264, else VP8 in WebM. Re-encoding, not remuxing: a remux could only start
at a keyframe (CCTV GOPs run to several seconds, so the clip would start well before the asked
moment) and would carry the camera's full resolution and bit rate; a clip here is at most
:data:`MAX_HEIGHT` pixels high. Frames are turned upright the way the console's pictures are
(``core.video_frames.upright_bgr``) and keep their own timestamps, so a clip of variable-rate footage
plays at the speed it was recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2

from core.errors import FootageSearchError
from core.video_frames import upright_bgr

MAX_HEIGHT = 480
TIME_BASE = Fraction(1, 1000)  # the clip's timestamps in milliseconds


class ClipCutError(FootageSearchError):
    """The source video cannot be cut (unreadable, no video stream, nothing decodable in the window)."""


@dataclass(frozen=True)
class ClipFormat:
    codec: str
    container: str
    suffix: str
    media_type: str
    options: dict[str, str]


H264 = ClipFormat("libx264", "mp4", ".mp4", "video/mp4",
                  {"preset": "veryfast", "crf": "26", "profile": "main", "tune": "zerolatency"})
VP8 = ClipFormat("libvpx", "webm", ".webm", "video/webm",
                 {"deadline": "realtime", "cpu-used": "8", "crf": "12", "b": "1M"})


def clip_format() -> ClipFormat:
    """H.264/MP4 when this PyAV build can encode it, else VP8/WebM (every Chromium and Firefox plays it)."""
    import av

    return H264 if H264.codec in av.codecs_available else VP8


@dataclass(frozen=True)
class ClipInfo:
    """What was cut: seconds from the source file's start, and the clip's own length."""

    start_s: float  # the clip's first frame, in the source file
    end_s: float  # the end of its last frame, in the source file
    frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def clip_window(offset_s: float, before_s: float, after_s: float, file_duration_s: float | None) -> tuple[float, float]:
    """[start, end) seconds of the source file: ``offset - before`` to ``offset + after``, clamped to the file."""
    start = max(0.0, offset_s - before_s)
    end = offset_s + after_s
    if file_duration_s is not None and file_duration_s > 0:
        end = min(end, file_duration_s)
        start = min(start, max(0.0, end - 1e-3))
    return start, max(end, start)


def probe_duration(path: str | Path) -> float | None:
    """The file's length in seconds (None when its container does not say)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipCutError(f"{Path(path).name} has no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / 1e6 if container.duration else None
    except av.error.FFmpegError as exc:
        raise ClipCutError(f"{Path(path).name} cannot be decoded ({exc})") from None


def _even(n: float) -> int:
    return max(2, round(n / 2) * 2)


def cut_clip(src: str | Path, start_s: float, end_s: float, dest: str | Path,
             fmt: ClipFormat | None = None, max_height: int = MAX_HEIGHT) -> ClipInfo:
    """Write ``src``'s [start_s, end_s) to ``dest`` (replaced only once complete, mode 0600)."""
    import av

    fmt = fmt or clip_format()
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        source = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipCutError(f"{Path(src).name} cannot be decoded ({exc})") from None
    try:
        if not source.streams.video:
            raise ClipCutError(f"{Path(src).name} has no video stream")
        stream = source.streams.video[0]
        stream.thread_type = "AUTO"
        info = _transcode(source, stream, start_s, end_s, tmp, fmt, max_height)
    except av.error.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        raise ClipCutError(f"{Path(src).name} cannot be decoded ({exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, dest)
    return info


def _transcode(source, stream, start_s: float, end_s: float, tmp: Path, fmt: ClipFormat,
               max_height: int) -> ClipInfo:
    import av

    tb = stream.time_base
    origin = stream.start_time or 0
    rate = stream.average_rate or stream.guessed_rate or 25
    source.seek(int(start_s / tb) + origin, stream=stream, backward=True, any_frame=False)
    frame_s = 1.0 / float(rate)
    out = None
    first = last = None
    frames = 0
    size = (0, 0)
    try:
        for frame in _frames(source, stream):
            t = float((frame.pts - origin) * tb)
            if t + frame_s / 2 < start_s:  # before the window: decoded only to reach it from the keyframe
                continue
            if t >= end_s:
                break
            image = upright_bgr(frame)
            if out is None:
                h, w = image.shape[:2]
                k = min(1.0, max_height / h)
                size = (_even(w * k), _even(h * k))
                out = av.open(str(tmp), "w", format=fmt.container,
                              options={"movflags": "+faststart"} if fmt.container == "mp4" else {})
                ostream = out.add_stream(fmt.codec, rate=rate, options=fmt.options)
                ostream.width, ostream.height = size
                ostream.pix_fmt = "yuv420p"
                ostream.time_base = TIME_BASE
                ostream.codec_context.time_base = TIME_BASE
                first = t
            if image.shape[1::-1] != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            vf = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            vf.pts = round((t - first) / TIME_BASE)
            vf.time_base = TIME_BASE
            out.mux(ostream.encode(vf))
            last = t
            frames += 1
        if out is None or first is None or last is None:
            raise ClipCutError(f"no frame could be decoded between {start_s:.1f} s and {end_s:.1f} s")
        out.mux(ostream.encode(None))
    finally:
        if out is not None:
            out.close()
    return ClipInfo(start_s=first, end_s=last + frame_s, frames=frames, width=size[0], height=size[1])


def _frames(source, stream):
    """Decoded frames with a timestamp; a damaged tail ends the clip where the good frames end."""
    import av

    try:
        for frame in source.decode(stream):
            if frame.pts is not None:
                yield frame
    except av.error.InvalidDataError:
        return

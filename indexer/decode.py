"""Sampled-frame decoding behind one small interface.

Three decoders, all yielding :class:`SampledFrame` (BGR image + seconds from the file's start), of the
whole file or of a window ``[start_s, end_s)`` of it (the PyAV decoders seek to the keyframe before
``start_s``). Sample times lie on the file's own grid (the first frame at or after each k / sample_fps),
so the windows of a file together sample exactly the frames one pass over it samples:

* ``pyav-keyframes`` - PyAV with ``skip_frame = NONKEY``: only keyframes are decoded. CCTV recorders
  write a keyframe every 1-2 s, so this gives ~1 frame/s for a fraction of the decode cost.
* ``pyav`` - PyAV decoding every frame (threaded) and keeping those nearest the sample times.
* ``decord`` - decord's ``VideoReader.get_batch`` on the sample indices (it ignores display rotation
  metadata; the PyAV decoders turn rotated recordings upright).

``auto`` picks ``pyav-keyframes`` when the file's keyframes are at most ``MAX_KEYFRAME_GAP_S`` apart
and the asked rate is no higher than the keyframe rate allows, else ``pyav``; see
``bench/decode_speed.py`` for the measurement behind that choice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from core.video_frames import upright_bgr

log = logging.getLogger(__name__)

MAX_KEYFRAME_GAP_S = 2.0
PROBE_SCAN_S = 30.0  # how far into a file the keyframe spacing is measured
DECODERS = ("auto", "pyav-keyframes", "pyav", "decord")


class DecodeError(RuntimeError):
    """The video cannot be opened or decoded (corrupt, truncated, unsupported, unreadable)."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    codec: str
    keyframe_gap_s: float  # largest gap between keyframes seen in the first PROBE_SCAN_S; inf if one


@dataclass(frozen=True)
class SampledFrame:
    t: float  # seconds from the start of the file
    image: np.ndarray  # H x W x 3, BGR, uint8


class FrameDecoder(Protocol):
    name: str

    def frames(self, path: str | Path, sample_fps: float, start_s: float = 0.0,
               end_s: float = math.inf) -> Iterator[SampledFrame]: ...


def _grid_step(t: float, step: float) -> int:
    """Which sample period of the file's own grid (k / sample_fps from its start) ``t`` falls in."""
    return math.floor(t / step + 1e-6)


class _GridSampler:
    """Keeps the first decoded frame at or after each grid time k / sample_fps, and only those in
    [start_s, end_s).

    The choice depends only on a frame and the one decoded before it, so decoding from any keyframe
    before ``start_s`` keeps exactly the frames a whole-file pass keeps there: two adjacent windows
    sample what one pass over both samples.
    """

    def __init__(self, sample_fps: float, start_s: float, end_s: float):
        self.step, self.start_s, self.end_s = 1.0 / sample_fps, start_s, end_s
        self.prev: float | None = None  # the previous decoded frame; None: the file's first frame

    def keep(self, t: float) -> bool:
        first = self.prev is None or _grid_step(t, self.step) > _grid_step(self.prev, self.step)
        self.prev = t
        return first and t + 1e-6 >= self.start_s

    def past_end(self, t: float) -> bool:
        return t + 1e-6 >= self.end_s


def _seek_before(container, stream, start_s: float) -> None:
    """Seek to the keyframe before ``start_s`` (strictly before, so the frame decoded just ahead of
    the window is known to :class:`_GridSampler`); from the file's start nothing is sought."""
    if start_s <= 0:
        return
    tb = stream.time_base
    target = int((start_s - 1e-3) / tb) + (stream.start_time or 0)
    container.seek(max(target, stream.start_time or 0), stream=stream, backward=True, any_frame=False)


def _open(path: str | Path, hwaccel: str = ""):  # -> av.container.InputContainer
    import av

    try:
        if hwaccel:
            from av.codec.hwaccel import HWAccel

            container = av.open(str(path), mode="r", hwaccel=HWAccel(device_type=hwaccel))
        else:
            container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"cannot open video: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise DecodeError("no video stream in file")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise DecodeError("unsupported video codec: no decoder for this stream's format")
    return container


def open_video(path: str | Path, hwaccel: str = ""):  # -> (av.container.InputContainer, str)
    """The file opened for decoding on ``hwaccel``'s device ("": the CPU), and "" - or, when the device
    cannot decode it, the file opened for the CPU and the reason (a per-file fallback; the run goes on)."""
    if not hwaccel:
        return _open(path), ""
    try:
        return _open(path, hwaccel), ""
    except DecodeError as exc:
        container = _open(path)  # a file the CPU cannot open either fails as any bad file does
        return container, f"{hwaccel} decode unavailable ({str(exc).removeprefix('cannot open video: ')})"


def _named(base: str, hwaccel: str, note: str) -> str:
    """The decoder as recorded with the video: ``pyav+cuda`` on the GPU, the fallback's reason if not."""
    if not hwaccel:
        return base
    return f"{base} (cpu: {note})" if note else f"{base}+{hwaccel}"


def probe(path: str | Path) -> VideoInfo:
    """Duration, rate, size, codec and keyframe spacing, reading packets but decoding nothing."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 90000)
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        start = stream.start_time or 0
        if stream.duration:
            duration = float((stream.duration) * tb)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        key_pts: list[float] = []
        last_pts = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                t = float((packet.pts - start) * tb)
                last_pts = t if last_pts is None else max(last_pts, t)
                if packet.is_keyframe:
                    key_pts.append(t)
                if t > PROBE_SCAN_S:
                    break
        except av.error.FFmpegError as exc:
            raise DecodeError(f"cannot read packets: {exc}") from exc
        if not key_pts:
            raise DecodeError("no keyframe found: the file is corrupt or truncated")
        gaps = np.diff(key_pts) if len(key_pts) > 1 else np.array([np.inf])
        if duration <= 0 and last_pts is not None:
            duration = last_pts
        ctx = stream.codec_context
        return VideoInfo(
            path=str(path), duration_s=float(duration), fps=fps, width=int(ctx.width),
            height=int(ctx.height), codec=str(ctx.name), keyframe_gap_s=float(np.max(gaps)),
        )
    finally:
        container.close()


def _sample_times(duration_s: float, sample_fps: float) -> np.ndarray:
    step = 1.0 / sample_fps
    return np.arange(0.0, max(duration_s, step), step)


@dataclass
class PyAVDecoder:
    """Decode every frame (FFmpeg's own threading) and keep the first at or after each sample time."""

    name: str = "pyav"
    threads: int = 0  # 0 lets FFmpeg choose
    hwaccel: str = ""  # a PyAV hwaccel device type ("cuda"); "" decodes on the CPU

    def frames(self, path: str | Path, sample_fps: float, start_s: float = 0.0,
               end_s: float = math.inf) -> Iterator[SampledFrame]:
        container, note = open_video(path, self.hwaccel)
        self.name = _named("pyav", self.hwaccel, note)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if self.threads:
                stream.codec_context.thread_count = self.threads
            yield from _sampled(container, stream, _GridSampler(sample_fps, start_s, end_s))
        finally:
            container.close()


@dataclass
class PyAVKeyframeDecoder:
    """Decode keyframes only; the sample rate is capped by the keyframe rate."""

    name: str = "pyav-keyframes"
    hwaccel: str = ""  # a PyAV hwaccel device type ("cuda"); "" decodes on the CPU

    def frames(self, path: str | Path, sample_fps: float, start_s: float = 0.0,
               end_s: float = math.inf) -> Iterator[SampledFrame]:
        container, note = open_video(path, self.hwaccel)
        self.name = _named("pyav-keyframes", self.hwaccel, note)
        try:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            yield from _sampled(container, stream, _GridSampler(sample_fps, start_s, end_s))
        finally:
            container.close()


def _sampled(container, stream, sampler: _GridSampler) -> Iterator[SampledFrame]:
    """The frames ``sampler`` keeps, decoding from the keyframe before its start."""
    import av

    tb = stream.time_base
    start = stream.start_time or 0
    t = sampler.start_s
    try:
        _seek_before(container, stream, sampler.start_s)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float((frame.pts - start) * tb)
            if sampler.past_end(t):
                return
            if sampler.keep(t):
                yield SampledFrame(t=t, image=upright_bgr(frame))
    except av.error.FFmpegError as exc:
        raise DecodeError(f"decoding failed near {t:.1f}s: {exc}") from exc


@dataclass
class DecordDecoder:
    """decord ``VideoReader`` reading the frame indices nearest the sample times, in batches."""

    name: str = "decord"
    batch: int = 16

    def frames(self, path: str | Path, sample_fps: float, start_s: float = 0.0,
               end_s: float = math.inf) -> Iterator[SampledFrame]:
        import decord

        try:
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=0)
        except (decord.DECORDError, RuntimeError) as exc:
            raise DecodeError(f"cannot open video: {exc}") from exc
        n = len(vr)
        if n == 0:
            raise DecodeError("video has no frames")
        fps = vr.get_avg_fps() or 25.0
        times = _sample_times(n / fps, sample_fps)
        times = times[(times + 1e-6 >= start_s) & (times + 1e-6 < end_s)]  # grid times stay the file's own
        idx = np.unique(np.clip(np.round(times * fps).astype(int), 0, n - 1))
        for lo in range(0, len(idx), self.batch):
            chunk = idx[lo: lo + self.batch]
            try:
                batch = vr.get_batch(chunk.tolist()).asnumpy()
                stamps = vr.get_frame_timestamp(chunk.tolist())[:, 0]
            except (decord.DECORDError, RuntimeError) as exc:
                raise DecodeError(f"decoding failed near frame {int(chunk[0])}: {exc}") from exc
            for img, t in zip(batch, stamps, strict=True):
                yield SampledFrame(t=float(t), image=np.ascontiguousarray(img[:, :, ::-1]))


def choose_decoder(name: str, info: VideoInfo | None, sample_fps: float, hwaccel: str = "") -> FrameDecoder:
    """Resolve ``auto`` per file: keyframes when they come often enough for the asked rate. ``hwaccel``
    (a PyAV device type) decodes on that device where it can (decord always decodes on the CPU)."""
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; choose one of {', '.join(DECODERS)}")
    if name == "pyav-keyframes":
        return PyAVKeyframeDecoder(hwaccel=hwaccel)
    if name == "pyav":
        return PyAVDecoder(hwaccel=hwaccel)
    if name == "decord":
        return DecordDecoder()
    if info is not None and info.keyframe_gap_s <= min(MAX_KEYFRAME_GAP_S, 1.0 / sample_fps + 1e-3):
        return PyAVKeyframeDecoder(hwaccel=hwaccel)
    return PyAVDecoder(hwaccel=hwaccel)


def resolve_hwaccel(setting: str, device: str) -> str:
    """The PyAV hwaccel device type for ``index.hwaccel`` ("" = CPU decoding): ``auto`` decodes on the GPU
    the models run on (``device`` as :func:`core.vision.onnx_device.resolve_onnx_device` resolved it)."""
    setting = (setting or "none").strip().lower()
    if setting == "auto":
        return "cuda" if device.startswith("cuda") else ""
    return "" if setting in ("none", "cpu") else setting

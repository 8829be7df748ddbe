"""Adaptive sampling: more frames while someone has just come into view, the base rate otherwise.

At ``index.sample_fps`` = 1, a person crossing a street camera in 3-4 s gets 2-4 detections, so their
sighting's colours, crops and direction rest on very little. Sampling everything at 2 fps doubles the
indexing cost, most of it spent on empty scenes and on people who stay in view long enough anyway.
So frames lie on a grid of ``index.busy_fps`` (an integer multiple of the base rate); every
``busy_fps / sample_fps``-th grid point is a *base* frame, always analysed, and the points between are
analysed only while the scene is *busy*: some track seen within the last base period is younger than
``index.busy_track_s`` (0: any track still in view). A new person's first detection (on a base frame)
turns the higher rate on; it stays on while they are new, then falls back.

Not every new person needs it: one heading to be in view ``index.busy_stay_s`` in all (tracked so far, plus
how long their walk so far keeps them in the frame: :func:`seconds_left_in_view`) gets enough base-rate
frames anyway. A busy plaza always has someone new in view, and most of them stay long, so its camera runs
at the busy rate nearly all the time. At 5 s that check cut the busy frames of the 1 h real archive from
1,812 to 1,020 (adaptive sampling 1.28x -> 1.20x the flat rate's wall time) with retrieval held, and it is
the default (5). Busy frames then depend on who the tracker follows, so a window's warm-up may not reach the
whole-file pass's frames by the window's edge; a window therefore keeps whoever is in view at its start
(:mod:`indexer.windows`, ``tests/test_windows.py``), so that nobody falls between two windows.

Decoding follows the same choice (:class:`SkippingDecoder`): packets are demuxed one by one and a
non-key packet is decoded only while it leads to a wanted frame before the next keyframe; otherwise
decoding skips to that keyframe. With recorder-style 1 s GOPs an empty scene costs keyframes only
(as ``pyav-keyframes`` does), and a busy second costs the frames up to its middle (about half a GOP).
The next keyframe is predicted from the spacing of the last two (the probe's spacing at first); a
late keyframe only means a wanted frame comes from the next keyframe instead.

Base frames are the ones a constant-rate run at ``sample_fps`` takes (the first decoded frame at or
after each grid time), so windows (:mod:`indexer.windows`) and a whole-file pass share them; which
in-between frames a window analyses depends on what its tracker follows, which its warm-up settles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import ConfigError, IndexConfig
from core.video_frames import upright_bgr
from indexer.decode import (
    MAX_KEYFRAME_GAP_S,
    DecodeError,
    FrameDecoder,
    SampledFrame,
    VideoInfo,
    _grid_step,
    _named,
    _seek_before,
    choose_decoder,
    open_video,
)
from indexer.tracking import PersonTracker, Track

EPS = 1e-6
MIN_VELOCITY_SPAN_S = 0.5  # one busy-grid step: two boxes this far apart give a person's walking speed
# Before a second box gives their speed, a person may walk 1.4 m/s, ~0.8 of their height a second; a brisk
# pace in the worst direction (to the nearest edge) bounds how soon they can leave.
BRISK_WALK_HEIGHTS_PER_S = 1.0
# In-between frames detect around the busy people only (index.busy_region_detect; busy_region): a region at
# least this many network pixels a side, and the whole frame once the region would cover this share of it.
REGION_MIN_NET_PX = 256
REGION_MAX_SHARE = 0.5


@dataclass(frozen=True)
class SamplingPlan:
    """The sampling settings of a run: base rate, busy rate, and how long a new track keeps it busy."""

    base_fps: float
    busy_fps: float
    busy_track_s: float
    busy_stay_s: float = 0.0  # >0: a new track heading to be in view this long in all does not need the busy rate

    @classmethod
    def of(cls, icfg: IndexConfig) -> SamplingPlan:
        base, busy = float(icfg.sample_fps), float(icfg.busy_fps)
        if base <= 0:
            raise ConfigError(f"index.sample_fps must be above 0, got {base:g}")
        if busy <= base + EPS:  # no higher rate asked for: a constant-rate run
            return cls(base, base, icfg.busy_track_s, icfg.busy_stay_s)
        ratio = busy / base
        if abs(ratio - round(ratio)) > 1e-3:
            raise ConfigError(f"index.busy_fps ({busy:g}) must be a whole multiple of index.sample_fps ({base:g}), "
                              f"e.g. {2 * base:g}; or set it to {base:g} to sample at a constant rate")
        return cls(base, base * round(ratio), icfg.busy_track_s, icfg.busy_stay_s)

    @property
    def adaptive(self) -> bool:
        return self.busy_fps > self.base_fps + EPS

    @property
    def ratio(self) -> int:
        return round(self.busy_fps / self.base_fps)


class AdaptiveSampler:
    """Which frames to analyse, within ``[start_s, end_s)``: one per *unit* of time, a base period (1 /
    ``sample_fps``) while the scene is quiet and a busy-grid period (1 / ``busy_fps``) while :attr:`busy`.

    A unit's frame is its keyframe when one lies in it, else its first frame: a property of the file, so
    windows and a whole-file pass agree, and a quiet scene on recorder GOPs costs keyframes only, wherever
    they fall in the second. Units follow one another on the busy grid: a unit is never one already served.
    """

    KEEP, CHAIN, SKIP = "keep", "chain", "skip"

    def __init__(self, plan: SamplingPlan, start_s: float = 0.0, end_s: float = math.inf):
        self.plan, self.start_s, self.end_s = plan, start_s, end_s
        self.step, self.period = 1.0 / plan.busy_fps, 1.0 / plan.base_fps
        self.busy = False  # set by the pipeline after each analysed frame
        self.served_end = -math.inf  # end of the last unit a frame was taken for
        self.last_period: int | None = None  # base period of the last kept frame
        self.n_busy = 0  # frames kept in a base period that already had one (the busy rate's extra frames)
        self.extra = False  # the frame last taken is one of those (not a base frame)

    def next_unit(self) -> tuple[float, float]:
        """[start, end) of the next unit to serve."""
        size = self.step if self.busy else self.period
        if math.isinf(self.served_end):
            return -math.inf, -math.inf
        a = math.ceil(self.served_end / size - EPS) * size  # a base period already served is skipped
        return a, a + size

    def _unit_of(self, t: float) -> tuple[float, float]:
        size = self.step if self.busy else self.period
        k = math.floor(t / size + EPS)
        return k * size, (k + 1) * size

    def decide(self, t: float, is_key: bool, next_key: float) -> str:
        """What to do with the packet at ``t`` (``next_key``: when the keyframe after it is expected):
        KEEP its frame (the frame of a unit), CHAIN (decode it only so a later frame can be), or SKIP."""
        a, b = self.next_unit()
        if t + EPS >= a:  # the packet lies in (or past) the next unit: it may be that unit's frame
            if t + EPS >= b:
                b = self._unit_of(t)[1]
            if is_key or next_key + EPS >= b:  # a keyframe, or no keyframe in the unit after it
                # served up to the end of the frame's busy-grid step, so turning busy takes the next one
                self.served_end = (math.floor(t / self.step + EPS) + 1) * self.step
                return self.KEEP
            return self.SKIP  # a keyframe later in the unit serves it
        # inside a served unit: decode only if the next unit's frame is a non-key frame (no key in it)
        a, b = self.next_unit()
        return self.CHAIN if next_key + EPS >= b else self.SKIP

    def take(self, t: float) -> bool:
        """A frame decided KEEP came out of the decoder: whether the pipeline gets it."""
        if t + EPS < self.start_s:
            return False
        period = math.floor(t / self.period + EPS)
        self.extra = period == self.last_period
        if self.extra:
            self.n_busy += 1
        self.last_period = period
        return True

    def keep(self, t: float) -> bool:
        """For a decoder that delivers every busy-grid frame: whether to analyse the frame at ``t``."""
        return self.decide(t, True, math.inf) == self.KEEP and self.take(t)

    def past_end(self, t: float) -> bool:
        return t + EPS >= self.end_s


@dataclass
class SkippingDecoder:
    """PyAV decoding only the packets that lead to a frame :class:`AdaptiveSampler` wants (module doc).

    No frame threading: each packet's frame must be out before the next packet is chosen."""

    keyframe_gap_s: float
    name: str = "pyav-adaptive"
    hwaccel: str = ""  # a PyAV hwaccel device type ("cuda"); "" decodes on the CPU

    def frames(self, path: str | Path, sampler: AdaptiveSampler) -> Iterator[SampledFrame]:
        import av

        container, note = open_video(path, self.hwaccel)
        self.name = _named("pyav-adaptive", self.hwaccel, note)
        t = sampler.start_s
        try:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            tb, start = stream.time_base, stream.start_time or 0
            gap, last_key, chain = self.keyframe_gap_s, -math.inf, False
            keep: set[int] = set()  # pts of the packets whose frames are kept (the decoder may lag)
            _seek_before(container, stream, sampler.start_s)
            for packet in container.demux(stream):
                if packet.pts is not None:
                    tp = float((packet.pts - start) * tb)
                    if packet.is_keyframe:
                        if math.isfinite(last_key) and tp > last_key:
                            gap = tp - last_key
                        last_key = tp
                    decision = sampler.decide(tp, packet.is_keyframe, last_key + gap)
                    if decision == sampler.SKIP or not (chain or packet.is_keyframe):
                        chain = False  # a skipped packet breaks the chain until the next keyframe
                        continue
                    chain = True
                    if decision == sampler.KEEP:
                        keep.add(packet.pts)
                for frame in packet.decode():
                    if frame.pts is None or frame.pts not in keep:
                        continue
                    keep.discard(frame.pts)
                    t = float((frame.pts - start) * tb)
                    if sampler.past_end(t):
                        return
                    if sampler.take(t):
                        yield SampledFrame(t=t, image=upright_bgr(frame))
        except av.error.FFmpegError as exc:
            raise DecodeError(f"decoding failed near {t:.1f}s: {exc}") from exc
        finally:
            container.close()


def choose_sampling_decoder(name: str, info: VideoInfo | None,
                            plan: SamplingPlan) -> FrameDecoder | SkippingDecoder:
    """The decoder of a run: as :func:`indexer.decode.choose_decoder` at a constant rate; adaptive under
    ``auto``, the skipping decoder when keyframes come often enough to skip to (else decoding every frame
    costs the same and FFmpeg's threads make it faster); a named decoder decodes at the busy rate."""
    if not plan.adaptive:
        return choose_decoder(name, info, plan.base_fps)
    if name == "auto" and info is not None and info.keyframe_gap_s <= MAX_KEYFRAME_GAP_S:
        return SkippingDecoder(info.keyframe_gap_s)
    return choose_decoder(name, info, plan.busy_fps)


def sampled_frames(decoder: FrameDecoder | SkippingDecoder, path: str | Path,
                   sampler: AdaptiveSampler) -> Iterator[SampledFrame]:
    """The frames ``sampler`` keeps, from any decoder (a frame decoder samples the busy grid, and the
    sampler drops the in-between frames of quiet moments)."""
    if isinstance(decoder, SkippingDecoder):
        yield from decoder.frames(path, sampler)
        return
    plan = sampler.plan
    frames = decoder.frames(path, plan.busy_fps, sampler.start_s, sampler.end_s)
    try:
        for frame in frames:
            if not plan.adaptive or sampler.keep(frame.t):
                yield frame
    finally:
        frames.close()  # type: ignore[attr-defined]


def scene_is_busy(tracker: PersonTracker, t: float, plan: SamplingPlan,
                  frame_wh: tuple[int, int] | None = None) -> bool:
    """Someone seen within the last base period is new (tracked for less than ``busy_track_s``) and, with
    ``busy_stay_s`` set and the frame size known, not heading to be in view that long in all."""
    return bool(busy_track_ids(tracker, t, plan, frame_wh))


def busy_track_ids(tracker: PersonTracker, t: float, plan: SamplingPlan,
                   frame_wh: tuple[int, int] | None = None) -> set[int]:
    """The tracks that keep the scene busy at ``t`` (:func:`scene_is_busy`): the people the busy rate's
    frames are for."""
    if not plan.adaptive:
        return set()
    recent = 1.0 / plan.base_fps + EPS
    check_stay = plan.busy_stay_s > 0 and frame_wh is not None
    out = set()
    for tr in tracker.tracks():
        seen_s = tr.t_end - tr.t_start
        young = plan.busy_track_s <= 0 or seen_s < plan.busy_track_s
        if t - tr.t_end <= recent and young and not (
                check_stay and seen_s + seconds_left_in_view(tr, frame_wh) >= plan.busy_stay_s):  # type: ignore[arg-type]
            out.add(tr.track_id)
    return out


def busy_region(boxes: list[np.ndarray], frame_wh: tuple[int, int], net_scale: float,
                min_net_px: float = REGION_MIN_NET_PX) -> tuple[int, int, int, int] | None:
    """The part of an in-between frame worth detecting on, joined into one rectangle: around each box (a busy
    person's last box), a person's height to either side and above and below its middle, and never less than
    ``min_net_px`` network pixels high and wide. ``net_scale``: network pixels per frame pixel.
    None: the whole frame (no box, or the rectangle would cover most of it anyway).

    Half a second after their last box a walker has moved less than half their height, well inside; the
    network pixels around them are the context the detector needs (with less, it misses small people:
    bench/busy_region.py)."""
    if not boxes:
        return None
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    half = np.maximum(b[:, 3] - b[:, 1], min_net_px / 2 / max(net_scale, EPS))
    cy = (b[:, 1] + b[:, 3]) / 2
    w, h = frame_wh
    x0, y0 = int(max(0.0, (b[:, 0] - half).min())), int(max(0.0, (cy - half).min()))
    x1, y1 = int(min(w, math.ceil((b[:, 2] + half).max()))), int(min(h, math.ceil((cy + half).max())))
    if (x1 - x0) * (y1 - y0) > REGION_MAX_SHARE * w * h:
        return None
    return x0, y0, x1, y1


def seconds_left_in_view(track: Track, frame_wh: tuple[int, int]) -> float:
    """How long the track's box centre stays inside the frame, moving as it did over its last half second or
    more (``inf`` for someone standing still); with one box, walking briskly to the nearest edge."""
    last = track.points[-1]
    prev = next((p for p in reversed(track.points[:-1]) if last.t - p.t >= MIN_VELOCITY_SPAN_S - EPS), None)
    centre = (last.box[:2] + last.box[2:4]) / 2.0
    if prev is None:
        to_edge = min(min(float(centre[a]), frame_wh[a] - float(centre[a])) for a in (0, 1))
        return max(0.0, to_edge) / max(BRISK_WALK_HEIGHTS_PER_S * float(last.box[3] - last.box[1]), EPS)
    velocity = (centre - (prev.box[:2] + prev.box[2:4]) / 2.0) / (last.t - prev.t)
    left = math.inf
    for a, size in enumerate(frame_wh):
        v = float(velocity[a])
        if abs(v) > EPS:
            left = min(left, max(0.0, (size - float(centre[a])) / v if v > 0 else float(centre[a]) / -v))
    return left


def base_periods(times: list[float], plan: SamplingPlan) -> int:
    """How many base-rate periods ``times`` fall in: a detection count that does not grow with the busy
    rate (what ``min_track_detections`` and the crops per sighting are counted in)."""
    return len({_grid_step(t, 1.0 / plan.base_fps) for t in times})

"""Adaptive sampling (indexer/sampling.py): which frames are analysed, what is decoded, bad settings."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from core.config import ConfigError, load_config
from indexer.decode import PyAVDecoder, PyAVKeyframeDecoder, probe
from indexer.sampling import (
    REGION_MIN_NET_PX,
    AdaptiveSampler,
    SamplingPlan,
    SkippingDecoder,
    base_periods,
    busy_region,
    busy_track_ids,
    choose_sampling_decoder,
    sampled_frames,
    scene_is_busy,
    seconds_left_in_view,
)
from indexer.tracking import PersonTracker, Track, TrackPoint
from tests.videos import write_video

ADAPTIVE = SamplingPlan(base_fps=1.0, busy_fps=2.0, busy_track_s=5.0)


def _plan(**over: object) -> SamplingPlan:
    return SamplingPlan.of(load_config(None, {f"index.{k}": v for k, v in over.items()}, environ={}).index)


def test_plan_from_settings_and_bad_rates_in_one_line():
    # on by default: 1 fps, 2 while someone new is in view who will not stay 5 s (core/config.py says why)
    assert _plan() == SamplingPlan(1.0, 2.0, 5.0, busy_stay_s=5.0)
    assert _plan(busy_fps=2, busy_stay_s=0) == ADAPTIVE and ADAPTIVE.adaptive and ADAPTIVE.ratio == 2
    assert not _plan(busy_fps=1).adaptive and not _plan(sample_fps=3).adaptive  # busy <= base: constant rate
    assert _plan(sample_fps=0.5, busy_fps=2).ratio == 4
    with pytest.raises(ConfigError, match=r"index.busy_fps \(2.5\) must be a whole multiple of index.sample_fps"):
        _plan(busy_fps=2.5)
    with pytest.raises(ConfigError, match="sample_fps must be above 0"):
        _plan(sample_fps=0)


def _times(video: Path, busy: bool, start: float = 0.0, end: float = 1e9) -> list[float]:
    sampler = AdaptiveSampler(ADAPTIVE, start, end)
    sampler.busy = busy
    return [f.t for f in SkippingDecoder(probe(video).keyframe_gap_s).frames(video, sampler)]


def _expected(seconds: float, fps: int, gop_s: float, unit_s: float) -> list[float]:
    """Per unit of ``unit_s``: its keyframe if one lies in it, else its first frame (the sampler's rule)."""
    frames = [i / fps for i in range(int(seconds * fps))]
    gop = max(1, int(fps * gop_s))
    keys = [t for i, t in enumerate(frames) if i % gop == 0]
    out = []
    for k in range(int(seconds / unit_s + 1e-9)):
        a, b = k * unit_s - 1e-6, (k + 1) * unit_s - 1e-6
        inside = [t for t in keys if a <= t < b] or [t for t in frames if a <= t < b]
        out += inside[:1]
    return out


@pytest.mark.parametrize("gop_s", [1.0, 0.5, 1.3, 2.0])
def test_quiet_scene_takes_one_frame_a_second_and_a_busy_one_two(tmp_path: Path, gop_s: float):
    """Whatever the GOP, each second (quiet) or half second (busy) gets one frame: its keyframe when it
    has one, else its first frame; windows of a file together take what one pass over it takes."""
    video = write_video(tmp_path / "v.mp4", seconds=12, fps=10, gop_s=gop_s)
    quiet = _times(video, busy=False)
    assert quiet == pytest.approx(_expected(12, 10, gop_s, 1.0)) and len(quiet) == 12
    assert _times(video, busy=True) == pytest.approx(_expected(12, 10, gop_s, 0.5))
    parts = [t for a, b in ((0, 3.05), (3.05, 7.0), (7.0, 1e9)) for t in _times(video, False, a, b)]
    assert parts == quiet
    if gop_s == 1.0:  # keyframes on the second: exactly a constant-rate run's frames
        assert quiet == [f.t for f in PyAVDecoder().frames(video, 1.0)]
        assert _times(video, busy=True) == [f.t for f in PyAVDecoder().frames(video, 2.0)]


def test_busy_only_while_someone_new_is_in_view(tmp_path: Path):
    """The sampler follows ``busy`` as it changes: extra frames only after a busy frame."""
    video = write_video(tmp_path / "v.mp4", seconds=10, fps=10, gop_s=1.0)
    sampler = AdaptiveSampler(ADAPTIVE)
    kept, extra = [], []
    for f in SkippingDecoder(1.0).frames(video, sampler):
        kept.append(f.t)
        if sampler.extra:
            extra.append(f.t)
        sampler.busy = 3.0 <= f.t < 6.0  # someone came into view at 3 s and was new until 6 s
    assert kept == pytest.approx([0, 1, 2, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9])
    assert sampler.n_busy == 3 and extra == pytest.approx([3.5, 4.5, 5.5])  # the frames between the base ones


def test_named_decoders_sample_the_busy_grid_and_drop_the_quiet_frames(tmp_path: Path):
    video = write_video(tmp_path / "v.mp4", seconds=8, fps=10, gop_s=1.0)
    info = probe(video)
    assert isinstance(choose_sampling_decoder("auto", info, ADAPTIVE), SkippingDecoder)
    assert isinstance(choose_sampling_decoder("auto", info, SamplingPlan(1.0, 1.0, 5.0)), PyAVKeyframeDecoder)
    named = choose_sampling_decoder("pyav", info, ADAPTIVE)
    assert isinstance(named, PyAVDecoder)
    quiet = [f.t for f in sampled_frames(named, video, AdaptiveSampler(ADAPTIVE))]
    assert quiet == [f.t for f in PyAVDecoder().frames(video, 1.0)]
    sparse = write_video(tmp_path / "sparse.mp4", seconds=8, fps=10, gop_s=20.0)  # keyframes too rare to skip to
    assert choose_sampling_decoder("auto", probe(sparse), ADAPTIVE).name == "pyav"


def test_a_quiet_scene_decodes_keyframes_only(tmp_path: Path):
    """Skipping is real: a quiet pass over 1 s GOPs costs about what the keyframe decoder costs, well
    under decoding every frame (the least of three runs each, so other jobs on the box matter less)."""
    video = write_video(tmp_path / "v.mp4", seconds=30, fps=25, size=(1280, 720), gop_s=1.0)

    def best(run) -> float:
        out = []
        for _ in range(3):
            t0 = time.perf_counter()
            run()
            out.append(time.perf_counter() - t0)
        return min(out)

    quiet = best(lambda: _times(video, busy=False))
    keyframes = best(lambda: list(PyAVKeyframeDecoder().frames(video, 1.0)))
    every = best(lambda: list(PyAVDecoder(threads=1).frames(video, 1.0)))
    assert quiet < 0.6 * every and quiet < 2.0 * keyframes, (quiet, keyframes, every)


def test_base_periods_count_detections_at_the_base_rate():
    assert base_periods([0.0, 0.5, 1.0, 1.5, 2.0], ADAPTIVE) == 3
    assert base_periods([0.0, 0.5], ADAPTIVE) == 1  # a blip the busy rate saw twice is still one detection
    assert base_periods([0.0, 0.5], SamplingPlan(2.0, 2.0, 0.0)) == 2


def _walker(times: list[float], x0: float, speed: float, y: float = 200.0) -> Track:
    """A 40x100 px person whose box moves ``speed`` px/s along x from ``x0``."""
    points = [TrackPoint(t, np.array([x0 + speed * t, y, x0 + speed * t + 40, y + 100], np.float32), 0.9, i)
              for i, t in enumerate(times)]
    return Track(1, points)


def test_seconds_left_in_view_from_the_walk_so_far():
    frame = (768, 432)
    # centre at 20 + 100 * 1.0 = 120 px, walking left at 100 px/s: 1.2 s from the left edge
    assert seconds_left_in_view(_walker([0.0, 1.0], 0.0, -100.0, y=100.0), frame) == pytest.approx(0.0)
    assert seconds_left_in_view(_walker([0.0, 1.0], 200.0, -100.0), frame) == pytest.approx(1.2)
    # walking right from centre 420 px at 50 px/s: (768 - 420) / 50
    assert seconds_left_in_view(_walker([0.0, 0.5, 1.0], 350.0, 50.0), frame) == pytest.approx(6.96)
    # one box: walking briskly (a height a second) to the nearest edge, 182 px below the centre
    assert seconds_left_in_view(_walker([0.0], 300.0, 50.0), frame) == pytest.approx(1.82)
    assert seconds_left_in_view(_walker([0.0, 1.0], 300.0, 0.0), frame) == float("inf")  # standing


def _tracker_with(boxes_at: dict[float, list[float]]) -> PersonTracker:
    """A real tracker fed one person's box at each time."""
    tracker = PersonTracker(1.0)
    for i, (t, box) in enumerate(sorted(boxes_at.items())):
        tracker.update(t, i, sv.Detections(xyxy=np.array([box], np.float32), confidence=np.array([0.9], np.float32),
                                           class_id=np.array([0])))
    return tracker


def test_a_new_person_crossing_fast_keeps_the_scene_busy_one_in_view_long_does_not():
    staying = SamplingPlan(1.0, 2.0, 5.0, busy_stay_s=5.0)
    frame = (768, 432)
    # (the tracker records a person from their second detection on)
    # heading right at 60 px/s: centre at 240 px at 2 s, in view for another ~9 s
    slow = _tracker_with({0.0: [100, 150, 140, 250], 1.0: [160, 150, 200, 250], 2.0: [220, 150, 260, 250]})
    # heading right at 200 px/s: centre at 420 px at 1 s, gone in under 2 s
    fast = _tracker_with({0.0: [200, 150, 240, 250], 0.5: [300, 150, 340, 250], 1.0: [400, 150, 440, 250]})
    just_seen = _tracker_with({0.0: [300, 150, 340, 250], 1.0: [300, 150, 340, 250]})
    # seen for 3 s and leaving in 2.5: five and a half seconds in view in all
    leaving = _tracker_with({float(t): [100 + 100 * t, 150, 140 + 100 * t, 250] for t in range(5)})
    assert scene_is_busy(slow, 2.0, ADAPTIVE, frame)  # without busy_stay_s every new person counts
    assert not scene_is_busy(slow, 2.0, staying, frame)
    assert scene_is_busy(fast, 1.0, staying, frame)
    assert scene_is_busy(just_seen, 1.0, staying, frame)  # one box 2 s from an edge: they may be leaving
    assert scene_is_busy(leaving, 4.0, ADAPTIVE, frame) and not scene_is_busy(leaving, 4.0, staying, frame)
    assert scene_is_busy(slow, 2.0, staying)  # frame size unknown: as without the check
    assert not scene_is_busy(slow, 4.0, staying, frame)  # gone from view for two seconds


def test_the_busy_tracks_are_the_new_people_not_heading_to_stay():
    """Who the busy rate's frames are for: the crosser, not the person strolling into a long stay."""
    staying = SamplingPlan(1.0, 2.0, 5.0, busy_stay_s=5.0)
    tracker = PersonTracker(1.0)
    stroller = [[100, 150, 140, 250], [130, 150, 170, 250], [160, 150, 200, 250]]  # 60 px/s: ~10 s to go
    crosser = [[500, 50, 540, 150], [560, 50, 600, 150], [620, 50, 660, 150]]  # 120 px/s: ~1 s to go
    for i, t in enumerate((0.0, 0.5, 1.0)):
        tracker.update(t, i, sv.Detections(xyxy=np.array([stroller[i], crosser[i]], np.float32),
                                           confidence=np.array([0.9, 0.9], np.float32), class_id=np.array([0, 0])))
    ids = {tr.track_id: tr.points[-1].box[0] for tr in tracker.tracks()}
    crosser_id = next(tid for tid, x1 in ids.items() if x1 > 400)
    assert len(ids) == 2
    assert busy_track_ids(tracker, 1.0, staying, (768, 432)) == {crosser_id}
    assert busy_track_ids(tracker, 1.0, ADAPTIVE, (768, 432)) == set(ids)  # without busy_stay_s: both are new
    assert busy_track_ids(tracker, 1.0, SamplingPlan(1.0, 1.0, 5.0), (768, 432)) == set()  # flat rate


def test_busy_region_surrounds_the_busy_people_with_context_and_gives_up_when_it_would_be_most_of_the_frame():
    wh = (1280, 720)
    scale = 640 / 1280  # network pixels per frame pixel
    far = np.array([600.0, 300.0, 620.0, 340.0])  # 40 px high: the region's floor decides its size
    x0, y0, x1, y1 = busy_region([far], wh, scale)
    assert x1 - x0 >= REGION_MIN_NET_PX / scale and y1 - y0 >= REGION_MIN_NET_PX / scale
    assert x0 < far[0] and far[2] < x1 and y0 < far[1] and far[3] < y1
    near = np.array([100.0, 200.0, 180.0, 500.0])  # 300 px high: a person's height either side
    x0, y0, x1, y1 = busy_region([near], wh, scale)
    assert (x0, y0, x1, y1) == (0, 50, 480, 650)  # clamped to the frame on the left
    beside = np.array([700.0, 320.0, 720.0, 360.0])
    assert busy_region([far, beside], wh, scale) == (344, 64, 976, 596)  # one rectangle around both
    assert busy_region([far, near], wh, scale) is None  # most of the frame: the whole frame costs hardly more
    spread = [np.array([50.0, 50, 70, 90]), np.array([1200.0, 600, 1220, 640])]
    assert busy_region(spread, wh, scale) is None  # corner to corner
    assert busy_region([], wh, scale) is None

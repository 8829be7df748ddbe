"""One video through the pipeline, without the batch machinery."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import supervision as sv

from core.loading import load_colours, load_detector
from core.registry import parse_registry
from indexer.archive import VideoFile
from indexer.pipeline import Models, index_video
from tests.conftest import FOOTAGE, make_config, requires
from tests.videos import write_video

# Runs the whole one-video pipeline on real clips.
pytestmark = pytest.mark.slow

CAMERA = parse_registry("camera_id,district,name,lat,lon,heading_deg\nROOM,Jung-gu,room,37.56,126.98,90\n").get("ROOM")


def _video(path) -> VideoFile:
    st = path.stat()
    return VideoFile(path=path, rel_path=f"ROOM/{path.name}", camera_id="ROOM", start_time=1_773_450_000.0,
                     size_bytes=st.st_size, mtime=st.st_mtime)


@pytest.fixture(scope="module")
def models(detector_path, colour_table_path, tmp_path_factory):
    cfg = make_config(tmp_path_factory.mktemp("i"))
    return Models(detector=load_detector(cfg), colours=load_colours(cfg), embedder=None, clip_dim=32)


@dataclass
class CountingDetector:
    inner: object
    calls: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def reset(self) -> None:
        self.inner.reset()

    def detect(self, frame):
        self.calls += 1
        return self.inner.detect(frame)


def test_motion_gating_skips_still_frames_without_losing_people(models, tmp_path):
    clip = FOOTAGE / "intel_one_by_one_person.mp4"  # six people, one at a time, empty room between them
    requires(clip)
    gated, ungated = CountingDetector(models.detector), CountingDetector(models.detector)
    # 1 fps throughout: this is about gating, not about adaptive sampling's extra frames
    on = index_video(_video(clip), CAMERA, replace(models, detector=gated),
                     make_config(tmp_path / "a", index__busy_fps=1))
    off = index_video(_video(clip), CAMERA, replace(models, detector=ungated),
                      make_config(tmp_path / "b", index__motion_gating=False, index__busy_fps=1))
    assert on.ok and off.ok and on.n_sampled == off.n_sampled == 140
    assert on.n_gated >= 10 and off.n_gated == 0
    assert gated.calls == 140 - on.n_gated and ungated.calls == 140
    assert abs(on.sightings.num_rows - off.sightings.num_rows) <= 1
    # the same people: every sighting without gating has a counterpart at the same time with gating
    starts_on = np.array(on.sightings.column("offset_start_s").to_pylist())
    for t0, t1 in zip(off.sightings.column("offset_start_s").to_pylist(),
                      off.sightings.column("offset_end_s").to_pylist(), strict=True):
        if t1 - t0 >= 3:
            assert np.abs(starts_on - t0).min() <= 2.0


def test_rows_carry_absolute_times_offsets_and_no_vectors_without_clip(models, tmp_path):
    clip = FOOTAGE / "intel_person_bicycle_car.mp4"
    requires(clip)
    res = index_video(_video(clip), CAMERA, models, make_config(tmp_path / "a"))
    rows = res.sightings.to_pylist()
    assert rows and res.decoder == "pyav"  # 20 s GOPs: keyframes are too sparse for 1 fps
    for r in rows:
        assert r["t_start"] == pytest.approx(1_773_450_000.0 + r["offset_start_s"])
        assert r["offset_start_s"] <= r["offset_best_s"] <= r["offset_end_s"] <= 38.3
        assert len(r["track_offsets"]) == len(r["track_boxes"]) == r["n_detections"] >= 2
        assert r["day"] == "2026-03-14" and r["district"] == "Jung-gu"
        assert not r["has_vector"] and r["clip_model"] == "" and r["thumbnail"][:2] == b"\xff\xd8"
        assert 0 <= r["box"][0] < r["box"][2] <= r["frame_width"] and r["frame_width"] == 768


def test_a_video_with_nobody_in_it_has_no_sightings(models, tmp_path):
    empty = write_video(tmp_path / "empty.mp4", seconds=5)
    res = index_video(_video(empty), CAMERA, models, make_config(tmp_path / "a"))
    assert res.ok and res.sightings.num_rows == 0 and res.n_sampled == 5


def _close_looks_per_frame(monkeypatch, models, clip, cfg) -> list[tuple[bool, set[int], set[int], set[int]]]:
    """Index ``clip``; per analysed frame with someone tracked: whether it was an in-between frame, who was
    tracked, whom the close look was offered (it then picks those due), and who kept the scene busy (or was
    first seen then)."""
    import indexer.pipeline as pipeline
    from indexer.attributes import CloseLook

    frames: list[tuple[bool, set[int], set[int], set[int]]] = []
    offered: list[set[int]] = []
    look = CloseLook.look

    def recording_look(self, t, frame, boxes, track_ids, *args):
        offered.append({int(i) for i in track_ids})
        return look(self, t, frame, boxes, track_ids, *args)

    class Recording(pipeline._VideoState):
        def _observe_attributes(self, t, frame, fg, persons, objects, tracked, extra=False):
            offered.clear()
            out = super()._observe_attributes(t, frame, fg, persons, objects, tracked, extra)
            assert all(a is not None for a in out)  # hair, texture and frame-pass objects: everyone, every frame
            ids = {int(i) for i in tracked.tracker_id}
            wanted = {i for i in ids if i in self.busy_ids or i not in self.track_t0}
            frames.append((extra, ids, set().union(*offered), wanted))
            return out

    monkeypatch.setattr(CloseLook, "look", recording_look)
    monkeypatch.setattr(pipeline, "_VideoState", Recording)
    assert index_video(_video(clip), CAMERA, models, cfg).ok
    return frames


def test_in_between_frames_take_close_looks_at_the_new_people_only(models, tmp_path, monkeypatch):
    """The busy rate's extra frames are for people who just came into view: in a plaza, the people already
    followed for a while get their close look for bags on the base frames only, as at the flat rate."""
    clip = FOOTAGE / "oxford_towncentre_clipA.mp4"
    requires(clip)
    focused = _close_looks_per_frame(monkeypatch, models, clip, make_config(tmp_path / "a"))
    extra = [f for f in focused if f[0]]
    assert all(offered == tracked for is_extra, tracked, offered, _ in focused if not is_extra)
    assert extra and all(offered == tracked & wanted for _, tracked, offered, wanted in extra)
    assert sum(len(tracked - offered) for _, tracked, offered, _ in extra) > 0  # a crowd: not everyone is new
    assert sum(len(offered) for _, _, offered, _ in extra) > 0
    everyone = _close_looks_per_frame(monkeypatch, models, clip,
                                      make_config(tmp_path / "b", index__busy_close_looks_all=True))
    assert any(f[0] for f in everyone) and all(offered == tracked for _, tracked, offered, _ in everyone)


Frame = tuple[float, tuple | None, set[int], dict[int, np.ndarray]]


def _regions_per_frame(monkeypatch, models, clip, cfg) -> tuple[object, list[Frame]]:
    """Index ``clip``; per in-between frame: its time, the region detected on (None: the whole frame), who
    kept the scene busy before it, and who was tracked on it, with their boxes."""
    import indexer.pipeline as pipeline

    frames: list[Frame] = []

    class Recording(pipeline._VideoState):
        def observe(self, t, frame, timer, extra=False):
            region = self._busy_region() if extra else None
            busy = set(self.busy_ids)
            super().observe(t, frame, timer, extra)
            if extra:
                seen = {tr.track_id: tr.points[-1].box for tr in self.tracker.tracks() if abs(tr.t_end - t) < 1e-6}
                frames.append((t, region, busy, seen))

    monkeypatch.setattr(pipeline, "_VideoState", Recording)
    result = index_video(_video(clip), CAMERA, models, cfg)
    assert result.ok
    return result, frames


def test_in_between_frames_detect_around_the_new_people_only(models, tmp_path, monkeypatch):
    """The busy rate's extra frames are for the people who just came into view: their detector looks at a
    region around those people, who are still found there, and the video's sightings stay the same people."""
    clip = FOOTAGE / "pets2009_s2l1_view001.mp4"  # a square crossed by a few people at a time
    requires(clip)
    on, frames = _regions_per_frame(monkeypatch, models, clip, make_config(tmp_path / "a"))
    regions = [f for f in frames if f[1] is not None]
    assert len(regions) >= 0.8 * len(frames)  # rarely are the new people spread over most of the frame
    found = sum(len(busy & set(seen)) for _, _, busy, seen in regions)
    assert found >= 0.8 * sum(len(busy) for _, _, busy, _ in regions)
    w, h = on.info.width, on.info.height
    for _, (x0, y0, x1, y1), _, seen in regions:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and (x1 - x0) * (y1 - y0) <= w * h / 2
        # everyone tracked on a region frame was detected inside the region, and not cut by its edge
        assert all((x0 == 0 or b[0] > x0) and (y0 == 0 or b[1] > y0) and (x1 == w or b[2] < x1)
                   and (y1 == h or b[3] < y1) for b in seen.values())
    assert sum(len(seen) for *_, seen in regions) > found  # others near the new people are followed too
    off, whole = _regions_per_frame(monkeypatch, models, clip, make_config(tmp_path / "b",
                                                                          index__busy_region_detect=False))
    assert whole and all(region is None for _, region, _, _ in whole)
    assert abs(on.sightings.num_rows - off.sightings.num_rows) <= 0.1 * off.sightings.num_rows
    # the same people: everyone the whole frame's run saw for 3 s or more has a sighting with a box on them
    points_on = [dict(zip(r["track_offsets"], r["track_boxes"], strict=True)) for r in on.sightings.to_pylist()]
    for r in off.sightings.to_pylist():
        if r["offset_end_s"] - r["offset_start_s"] >= 3:
            assert any(sv.box_iou_batch(np.array([box]), np.array([pts[t]]))[0, 0] >= 0.5
                       for t, box in zip(r["track_offsets"], r["track_boxes"], strict=True)
                       for pts in points_on if t in pts), r["offset_start_s"]

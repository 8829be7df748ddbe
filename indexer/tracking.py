"""Within-camera tracking of people across sampled frames, with Roboflow's ``trackers`` ByteTrack.

Sampled frames are ~1 s apart, so a walking person's boxes in consecutive samples often do not overlap
at all. Plain IoU then starts a new track every frame; generalised IoU (GIoU) still ranks near but
disjoint boxes, so association uses GIoU with a floor proportional to the sample interval. Adaptive
sampling adds frames half a second apart while someone new is in view; ``floor_slack`` gives each track its
own floor from the time since it last matched (:func:`elapsed_floor`), so that a track matched half a second
ago cannot take a box a whole second's walk away. It is off by default: measured, it did not pay (below).

Motion alone cannot tell two people apart when they cross between samples, and at 1 sample/s that
happens all the time in a busy street. So the association similarity also looks at clothes: the
library's similarity hook (its ``iou`` metric) is given GIoU minus a penalty when a detection's colour
layout disagrees with the track's (:class:`AppearanceGIoU`). On the sample city's ground truth
(``bench/tracking_quality.py``) this is what measured best; see that script's table for the figures.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv
import trackers

LOST_TRACK_S = 3.0
# A person's colour layout from one sample to the next agrees to >= 0.966 in 95% of cases, both on the
# sample city and on real clips (PETS, Oxford: tracked at full frame rate as reference); two different
# people at the same moment have a median of 0.93-0.96. Below the floor each 0.01 of disagreement costs
# 0.15 of GIoU: a stranger in other clothes must be much closer to win, a look-alike competes on
# position alone, and the same person seen badly once (p1: 0.92) still usually matches. The floor and
# penalty were swept on the sample city (bench/tracking_quality.py); stronger settings purify a little
# more there but split real tracks more often, since real clothes vary more under changing light.
APPEARANCE_FLOOR = 0.97
APPEARANCE_PENALTY = 15.0
FEATURE_MOMENTUM = 0.7  # how much of a track's look is its past (smooths one occluded view)
UNMATCHABLE = -1e3  # a similarity no assignment will take
# With a per-track floor, the flat rate's for 1.5x the time since the track last matched (:func:`elapsed_floor`):
# a young track's predicted box is rough. On the generated city at adaptive sampling (bench/tracking_quality.py)
# slack 1.0-1.5 all raise purity (0.954 -> 0.963-0.965) and halve the people lost inside others' tracks
# (8 -> 4); 1.5 splits the fewest tracks doing it (1.28 -> 1.30 tracks per person), 1.75 gives the gain back.
# On the real clips it raised held-out "more like this" (0.79 / 0.60 -> 0.86 / 0.65) but lost blonde-hair
# sightings (bench.attributes_eval precision and recall 0.625 -> 0.571, under tests/test_attributes_real.py's
# floor) and 0.008 of description mAP, so PersonTracker leaves it off (docs/EVALUATION.md, "Tracking").
FLOOR_SLACK = 1.5


@dataclass
class TrackPoint:
    t: float  # seconds from the start of the file
    box: np.ndarray  # (4,) x1, y1, x2, y2
    score: float
    frame_index: int  # index of the sampled frame this point came from
    data: dict[str, Any] = field(default_factory=dict)  # this detection's row of ``Detections.data``


@dataclass
class Track:
    track_id: int
    points: list[TrackPoint] = field(default_factory=list)

    @property
    def t_start(self) -> float:
        return self.points[0].t

    @property
    def t_end(self) -> float:
        return self.points[-1].t


def giou_floor(sample_fps: float) -> float:
    """How far apart (in GIoU) a track's predicted box and a detection may be and still match.

    People move further between sparser samples: the measured best floor was -0.6 at 1 sample/s and
    -0.3 at 2 (``bench/tracking_quality.py``), i.e. proportional to the sample interval.
    """
    return -min(0.6, 0.6 / max(sample_fps, 1e-6))


def elapsed_floor(elapsed_s: float, slack: float = FLOOR_SLACK) -> float:
    """:func:`giou_floor` for a track last matched ``elapsed_s`` ago, as if ``slack`` times that had passed.
    Adaptive sampling adds frames half a second apart while someone new is in view; a track matched on the
    frame before cannot have moved a whole second's way, while one the detector missed for a while can."""
    return giou_floor(1.0 / max(elapsed_s * slack, 1e-6))


class AppearanceGIoU(trackers.GIoU):
    """GIoU between predicted track boxes and detections, minus a penalty for disagreeing clothes.

    The library hands this metric boxes only, so rows are matched back to tracks by their predicted
    box and columns to this frame's detections by their box (both exact copies of what we hold).
    """

    def __init__(self, floor: float = APPEARANCE_FLOOR, penalty: float = APPEARANCE_PENALTY):
        super().__init__()
        self.floor, self.penalty = floor, penalty
        self.byte_track: trackers.ByteTrackTracker | None = None
        self.track_features: dict[int, np.ndarray] = {}
        self.frame_boxes = np.zeros((0, 4), np.float32)
        self.frame_features: np.ndarray | None = None
        self.now = 0.0  # the frame being associated (s)
        self.last_matched: dict[int, float] = {}  # tracker id -> when it last took a detection
        self.gate_floor: float | None = None  # the tracker's own floor; None: no per-track floor
        self.slack = FLOOR_SLACK

    def _compute(self, boxes_1: np.ndarray, boxes_2: np.ndarray) -> np.ndarray:
        sim = super()._compute(boxes_1, boxes_2)
        penalise = self.frame_features is not None and bool(self.track_features)
        if self.byte_track is None or len(boxes_1) == 0 or not (penalise or self.gate_floor is not None):
            return sim
        tracks = self.byte_track.tracks
        states = np.array([t.get_state_bbox() for t in tracks], np.float64).reshape(-1, 4)
        ids = [_track_at(states, box) for box in boxes_1]
        ids = [tracks[k].tracker_id if k is not None else None for k in ids]
        if penalise:
            cols = [_row_of(self.frame_boxes, box) for box in boxes_2]
            for i, tid in enumerate(ids):
                track_feature = self.track_features.get(tid) if tid is not None else None
                if track_feature is None:
                    continue
                for j, det in enumerate(cols):
                    if det is None:
                        continue
                    agreement = float(track_feature @ self.frame_features[det])
                    sim[i, j] -= self.penalty * max(0.0, self.floor - agreement)
        if self.gate_floor is not None:
            # Each track's own floor, from the time since it last matched: a pair below it is taken out of
            # the assignment (not only dropped after it), so the detection stays free for another track.
            for i, tid in enumerate(ids):
                seen = self.last_matched.get(tid) if tid is not None else None
                if seen is not None:
                    floor = max(self.gate_floor, elapsed_floor(self.now - seen, self.slack))
                    sim[i, sim[i] < floor] = UNMATCHABLE
        return sim


def _track_at(states: np.ndarray, box: np.ndarray) -> int | None:
    """Index of the track whose predicted box ``box`` is."""
    # One vectorised comparison per box: np.allclose per (box, track) pair was ~13 % of a busy camera's CPU.
    if len(states) == 0:
        return None
    close = np.all(np.abs(states - box) <= 1e-4 + 1e-5 * np.abs(box), axis=1)
    hits = np.flatnonzero(close)
    return int(hits[0]) if len(hits) else None


def _row_of(boxes: np.ndarray, box: np.ndarray) -> int | None:
    if len(boxes) == 0:
        return None
    d = np.abs(boxes - box).sum(axis=1)
    i = int(np.argmin(d))
    return i if d[i] < 1e-3 else None


class PersonTracker:
    """Feeds per-frame detections (and their appearance) to ByteTrack and collects the tracks."""

    def __init__(self, sample_fps: float, similarity: str = "giou+appearance", min_similarity: float | None = None,
                 floor_slack: float | None = None):
        if min_similarity is None:
            min_similarity = giou_floor(sample_fps)
        self._appearance = AppearanceGIoU() if similarity == "giou+appearance" else None
        if self._appearance is not None and floor_slack is not None:  # None: the one floor for every track
            self._appearance.gate_floor, self._appearance.slack = min_similarity, floor_slack
        metric = self._appearance or {"iou": trackers.IoU, "giou": trackers.GIoU, "diou": trackers.DIoU,
                                      "biou": lambda: trackers.BIoU(buffer_ratio=0.3)}[similarity]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tracker = trackers.ByteTrackTracker(
                frame_rate=sample_fps,
                lost_track_buffer=int(LOST_TRACK_S * 30),  # trackers counts the buffer in 30 fps frames
                track_activation_threshold=0.35,
                minimum_consecutive_frames=1,
                minimum_iou_threshold=min_similarity,  # GIoU is in [-1, 1]: disjoint but near boxes still match
                high_conf_det_threshold=0.5,
                iou=metric,
            )
        if self._appearance is not None:
            self._appearance.byte_track = self._tracker
        self._tracks: dict[int, Track] = {}

    def update(self, t: float, frame_index: int, detections: sv.Detections,
               features: np.ndarray | None = None) -> sv.Detections:
        """Track one sampled frame (:meth:`associate`, then :meth:`record`); returns the detections that
        joined a track, with ``tracker_id``."""
        tracked = self.associate(t, detections, features)
        self.record(t, frame_index, tracked)
        return tracked

    def associate(self, t: float, detections: sv.Detections, features: np.ndarray | None = None) -> sv.Detections:
        """Match one sampled frame's detections to tracks; returns those that joined one, with
        ``tracker_id``, without adding them to the tracks yet (:meth:`record` does).

        ``features`` (one unit vector per detection, e.g. colour layouts) let clothes break ties.
        ByteTrack returns rows of the ``detections`` given, so their ``data`` columns come back with
        them: a caller that measured something per detection finds it on the tracked row.
        """
        if self._appearance is not None:
            self._appearance.frame_boxes = detections.xyxy if len(detections) else np.zeros((0, 4), np.float32)
            self._appearance.frame_features = features
            self._appearance.now = t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracked = self._tracker.update(detections, timestamp=t)
        if len(tracked) == 0:
            return tracked
        tracked = tracked[tracked.tracker_id >= 0]
        if self._appearance is not None and self._appearance.gate_floor is not None:
            self._appearance.last_matched.update((int(tid), t) for tid in tracked.tracker_id)
        if self._appearance is not None and features is not None:
            for box, tid in zip(tracked.xyxy, tracked.tracker_id, strict=True):
                row = _row_of(detections.xyxy, box)
                if row is not None:
                    self._remember(int(tid), features[row])
        return tracked

    def record(self, t: float, frame_index: int, tracked: sv.Detections) -> None:
        """Add the tracked detections of one frame (from :meth:`associate`) to their tracks, each point
        keeping its row of ``tracked.data``."""
        if len(tracked) == 0:
            return
        for i, (box, score, tid) in enumerate(zip(tracked.xyxy, tracked.confidence, tracked.tracker_id,
                                                  strict=True)):
            track = self._tracks.setdefault(int(tid), Track(track_id=int(tid)))
            track.points.append(TrackPoint(t=t, box=box.astype(np.float32), score=float(score),
                                           frame_index=frame_index,
                                           data={k: v[i] for k, v in tracked.data.items()}))

    def _remember(self, track_id: int, feature: np.ndarray) -> None:
        store = self._appearance.track_features  # type: ignore[union-attr]
        old = store.get(track_id)
        new = feature if old is None else FEATURE_MOMENTUM * old + (1 - FEATURE_MOMENTUM) * feature
        store[track_id] = new / max(float(np.linalg.norm(new)), 1e-12)

    def active(self, t: float) -> bool:
        """Whether any track was seen recently enough that the tracker still follows it."""
        return any(t - tr.t_end <= LOST_TRACK_S for tr in self._tracks.values())

    def tracks(self) -> list[Track]:
        return sorted(self._tracks.values(), key=lambda tr: (tr.t_start, tr.track_id))


# A second track on the same person: every one of its boxes lies (this share of the smaller box) inside
# one other, longer track's box in the same frames. The detector sometimes gives a person two boxes at
# once, e.g. the woman alone and the woman with her pushchair (Oxford clip A, 3.5-4.5 s); ByteTrack keeps
# both, and when the two swap between frames the second one lives on as a short track of her.
NESTED_SHARE = 0.9


def nested_duplicates(tracks: list[Track], share: float = NESTED_SHARE) -> set[int]:
    """Ids of tracks that duplicate another one: in every frame of the track, its box and that other
    track's box nest (intersection >= ``share`` of the smaller box), and the other track is longer (more
    points; of two as long, the lower id stays). Such a track adds no person, only a second, partial view
    of one that is already tracked."""
    by_frame: dict[int, list[tuple[Track, np.ndarray]]] = {}
    for tr in tracks:
        for p in tr.points:
            by_frame.setdefault(p.frame_index, []).append((tr, p.box))
    out: set[int] = set()
    for tr in tracks:
        rank = (len(tr.points), -tr.track_id)
        hosts: set[int] | None = None
        for p in tr.points:
            longer = [(other, box) for other, box in by_frame[p.frame_index]
                      if (len(other.points), -other.track_id) > rank]
            nested = sv.box_iou_batch(np.asarray([p.box]), np.asarray([box for _, box in longer]).reshape(-1, 4),
                                      overlap_metric=sv.OverlapMetric.IOS)[0] >= share
            here = {other.track_id for (other, _), n in zip(longer, nested, strict=True) if n}
            hosts = here if hosts is None else hosts & here
            if not hosts:
                break
        if hosts:
            out.add(tr.track_id)
    return out

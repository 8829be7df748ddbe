"""Within-camera tracking of people across sampled frames, with Roboflow's ``trackers`` ByteTrack.

Sampled frames are ~1 s apart, so a walking person's boxes in consecutive samples often do not
overlap at all. Plain IoU then starts a new track every frame; generalised IoU (GIoU) still ranks
near-but-disjoint boxes. ``bench/tracking_quality.py`` measured the variants against the sample city's
ground truth at 1 sample/s: GIoU with a -0.6 floor gave the purest tracks (0.90) with the least
fragmentation (1.23 tracks per person) and the fewest people missed; IoU, BIoU, DIoU and CIoU were all
worse. 2 samples/s gives purer tracks still (0.95) for twice the detection and full decoding; see the
README's performance notes. Tracks are kept while lost for a few seconds, and are then closed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

LOST_TRACK_S = 3.0


@dataclass
class TrackPoint:
    t: float  # seconds from the start of the file
    box: np.ndarray  # (4,) x1, y1, x2, y2
    score: float
    frame_index: int  # index of the sampled frame this point came from


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


class PersonTracker:
    """Feeds per-frame detections to ByteTrack and collects finished tracks."""

    def __init__(self, sample_fps: float, similarity: str = "giou", min_similarity: float | None = None):
        import trackers

        if min_similarity is None:
            min_similarity = giou_floor(sample_fps)
        metric = {"iou": trackers.IoU, "giou": trackers.GIoU, "diou": trackers.DIoU, "ciou": trackers.CIoU,
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
        self._tracks: dict[int, Track] = {}

    def update(self, t: float, frame_index: int, detections: sv.Detections) -> sv.Detections:
        """Track one sampled frame; returns the detections that joined a track, with ``tracker_id``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracked = self._tracker.update(detections, timestamp=t)
        if len(tracked) == 0:
            return tracked
        keep = tracked.tracker_id >= 0
        tracked = tracked[keep]
        for box, score, tid in zip(tracked.xyxy, tracked.confidence, tracked.tracker_id, strict=True):
            track = self._tracks.setdefault(int(tid), Track(track_id=int(tid)))
            track.points.append(TrackPoint(t=t, box=box.astype(np.float32), score=float(score),
                                           frame_index=frame_index))
        return tracked

    def active(self, t: float) -> bool:
        """Whether any track was seen recently enough that the tracker still follows it."""
        return any(t - tr.t_end <= LOST_TRACK_S for tr in self._tracks.values())

    def tracks(self) -> list[Track]:
        return sorted(self._tracks.values(), key=lambda tr: (tr.t_start, tr.track_id))


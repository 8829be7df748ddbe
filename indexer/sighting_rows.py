"""From tracks to table rows: segments, crop choice, thumbnails, the sighting record and frame rows.

The pipeline (:mod:`indexer.pipeline`) streams a video's frames through detection and tracking;
each tracked detection's measurements ride on its track point (``TrackPoint.data``, from the
frame's ``sv.Detections.data``, keys below). Once the video is done, this turns each track segment
into a :class:`~core.schema.SightingRecord`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pyarrow as pa
import supervision as sv

from core.loading import ImageEmbedder
from core.registry import Camera
from core.schema import SightingRecord, frames_schema
from core.vision.colours import LAYOUT_DIM, N_COLOURS, ColourNamer
from core.vision.crops import CROP_MARGIN
from core.vision.parts import MAX_CROPS, crops_part_colours
from indexer.archive import VideoFile
from indexer.motion import estimate_motion
from indexer.tracking import Track, TrackPoint

MIN_CROP_SPACING_S = 2.0  # a second crop should show the person at another moment
# Per-detection columns of a frame's person ``sv.Detections.data``; the tracker carries them through to
# each track point (``TrackPoint.data``), so later stages read them there instead of matching boxes.
ROW = "row"  # the detection's row in this frame's person detections (for "the others" and objects)
COLOURS = "colours"  # core.vision.colours.BodyColours, or absent without a colour table
ATTRIBUTES = "attributes"  # indexer.attributes.PointAttributes of a tracked person


@dataclass(eq=False)
class Candidate:
    quality: float
    t: float
    box: np.ndarray
    crop: np.ndarray  # crop_with_margin(frame, box)
    gains: np.ndarray | None = None  # the frame's grey-world gains (core.vision.parts), for part colours


def crop_quality(box: np.ndarray, score: float, frame_wh: tuple[int, int], others: np.ndarray) -> float:
    """How good a view of the person this box gives: confident, large, whole, unoccluded, upright."""
    x1, y1, x2, y2 = box
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    W, H = frame_wh
    q = score * min(h / 160.0, 1.0)
    if x1 <= 2 or y1 <= 2 or x2 >= W - 2 or y2 >= H - 2:
        q *= 0.3  # cut by the frame edge
    if len(others):
        overlap = sv.box_iou_batch(box[None], others)[0].max()
        q *= 1.0 - min(overlap * 2.0, 0.8)
    aspect = h / w
    if not 1.4 <= aspect <= 4.5:
        q *= 0.6
    return float(q)


def segments(track: Track, max_segment_s: float) -> list[list[TrackPoint]]:
    groups: dict[int, list[TrackPoint]] = defaultdict(list)
    for p in track.points:
        groups[segment_index(p.t, track.t_start, max_segment_s)].append(p)
    return [groups[k] for k in sorted(groups)]


def segment_index(t: float, t0: float, max_segment_s: float) -> int:
    return int((t - t0) // max_segment_s) if max_segment_s > 0 else 0


def pick_crops(cands: list[Candidate], k: int) -> list[Candidate]:
    ranked = sorted(cands, key=lambda c: -c.quality)
    chosen: list[Candidate] = []
    for c in ranked:
        if len(chosen) >= k:
            break
        if all(abs(c.t - o.t) >= MIN_CROP_SPACING_S for o in chosen):
            chosen.append(c)
    return chosen or ranked[:1]


def crop_part_colours(pool: list[Candidate], namer: ColourNamer | None) -> np.ndarray | None:
    """The ``part_colours`` of a segment: head / torso / legs colours of each of its best crops (up to
    ``MAX_CROPS``, best first), so a photo can meet the view closest to its own; None without a colour table.
    Unlike the CLIP crops these need no spacing in time: they cost microseconds, and a short pass has no
    two crops 2 s apart."""
    if namer is None or not pool:
        return None
    ranked = sorted(pool, key=lambda c: -c.quality)[:MAX_CROPS]
    return crops_part_colours(namer, [(c.crop, c.box, c.gains) for c in ranked], CROP_MARGIN)


def thumbnail(crop: np.ndarray, height: int) -> bytes:
    h, w = crop.shape[:2]
    scale = height / max(h, 1)
    small = cv2.resize(crop, (max(1, round(w * scale)), height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else b""


def local_day(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d")


def sighting_record(video: VideoFile, camera: Camera, points: list[TrackPoint], track: Track, seg: int,
                    best: Candidate, frame_wh: tuple[int, int], tz: ZoneInfo, detector: str,
                    thumbnail_height: int) -> SightingRecord:
    """One segment of a track as a sighting: times, boxes, motion, score-weighted colours, best crop.

    The attribute columns and the vector are left for the attributes and embed stages.
    """
    times = [p.t for p in points]
    boxes = np.stack([p.box for p in points])
    motion = estimate_motion(times, boxes, camera.heading_deg, camera.tilt_deg)
    upper = np.zeros(N_COLOURS, dtype=np.float64)
    lower = np.zeros(N_COLOURS, dtype=np.float64)
    layout = np.zeros(LAYOUT_DIM, dtype=np.float64)
    weight = 0.0
    for p in points:
        bc = p.data.get(COLOURS)
        w = bc.weight * p.score if bc is not None else 0.0
        if w > 0:
            upper += bc.upper * w
            lower += bc.lower * w
            layout += bc.layout * w
            weight += w
    if weight > 0:
        upper, lower = upper / upper.sum(), lower / lower.sum()
        layout /= max(np.linalg.norm(layout), 1e-12)
    else:  # no colour table: an uninformative distribution, so colour terms neither help nor hurt
        upper[:] = lower[:] = 1.0 / N_COLOURS
    t0 = video.start_time
    return SightingRecord(
        sighting_id=f"{video.video_id}:{track.track_id}:{seg}",
        video_id=video.video_id,
        camera_id=camera.camera_id,
        district=camera.district,
        day=local_day(t0 + times[0], tz),
        t_start=t0 + times[0],
        t_end=t0 + times[-1],
        t_best=t0 + best.t,
        video_path=str(video.path),
        offset_start_s=times[0],
        offset_end_s=times[-1],
        offset_best_s=best.t,
        box=best.box.astype(np.float32),
        frame_width=frame_wh[0],
        frame_height=frame_wh[1],
        track_id=track.track_id,
        segment=seg,
        track_offsets=times,
        track_boxes=[b.astype(np.float32) for b in boxes],
        n_detections=len(points),
        det_score=float(np.mean([p.score for p in points])),
        bearing_deg=None if not motion.moving else motion.bearing_deg,
        speed_mps=motion.speed_mps,
        upper_colour=upper.astype(np.float32),
        lower_colour=lower.astype(np.float32),
        colour_layout=layout.astype(np.float32),
        detector=detector,
        thumbnail=thumbnail(best.crop, thumbnail_height),
        indexed_at=time.time(),
    )


def frame_rows(video: VideoFile, camera: Camera, scene_frames: list[tuple[float, np.ndarray]],
               embedder: ImageEmbedder | None, dim: int, batch_size: int, thumbnail_height: int,
               tz: ZoneInfo) -> pa.Table | None:
    """Whole-frame vectors of ``scene_frames`` as ``frames`` rows (none without CLIP)."""
    if not scene_frames or embedder is None:
        return None
    vecs = embedder.embed_images([f for _, f in scene_frames], batch_size=batch_size)
    rows = []
    for (t, frame), v in zip(scene_frames, vecs, strict=True):
        rows.append({
            "frame_id": f"{video.video_id}:{t:.3f}",
            "video_id": video.video_id,
            "camera_id": camera.camera_id,
            "district": camera.district,
            "day": local_day(video.start_time + t, tz),
            "t": video.start_time + t,
            "video_path": str(video.path),
            "offset_s": t,
            "vector": v,
            "clip_model": embedder.identity,
            "thumbnail": thumbnail(frame, thumbnail_height),
        })
    return pa.Table.from_pylist(rows, schema=frames_schema(dim))

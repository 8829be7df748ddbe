"""Indexing one video: decode -> detect -> track -> describe -> embed, producing sighting rows.

This module holds no storage code and no process management: :func:`index_video` takes a video,
its camera and loaded models, and returns Arrow rows plus per-stage timings. The run plan
(:mod:`indexer.run_plan`) decides what to index, an engine (:mod:`indexer.batch`) runs this in worker
processes, and the results are written by :mod:`indexer.store`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pyarrow as pa
import supervision as sv

from core.config import Config
from core.loading import ImageEmbedder
from core.registry import Camera
from core.schema import SightingRecord, frames_schema, sightings_schema
from core.vision.attributes import garment_texture, head_colour, object_colour
from core.vision.colours import LAYOUT_DIM, N_COLOURS, ColourNamer
from core.vision.crops import crop_with_margin
from core.vision.detector import Detector, detect_frame
from core.vision.night import colour_reliability
from indexer.archive import VideoFile
from indexer.attributes import NO_HEAD, ObjectSeen, PointAttributes, associate, summarise
from indexer.decode import VideoInfo, choose_decoder, probe
from indexer.motion import estimate_motion
from indexer.tracking import PersonTracker, Track, TrackPoint

log = logging.getLogger(__name__)

STAGES = ("decode", "detect", "track", "describe", "attributes", "embed")
CANDIDATES_PER_SEGMENT = 4  # crops kept in memory per track segment while the video streams by
FOREGROUND_LONG_SIDE = 320
MIN_CROP_SPACING_S = 2.0  # a second crop should show the person at another moment
DETECTIONS_PER_EXTRA_CROP = 8
TRUNCATION_SLACK_S = 2.0
# Motion gating: below this share of moving pixels (at FOREGROUND_LONG_SIDE) with no live track, the
# detector is skipped. A distant person is ~250 such pixels of ~57,600; the gate sits at ~60.
MIN_MOTION_FRACTION = 0.001
GATE_WARMUP_FRAMES = 3  # the background model needs a few frames before "no motion" means anything
BACKGROUND_RATE = 0.1  # per sampled frame: the background image follows light changes within ~10 s
RELIABILITY_EVERY_S = 5.0  # day turns to night (and the camera to IR) over minutes: measure every 5 s
# Per-detection columns of a frame's person ``sv.Detections.data``; the tracker carries them through to
# each track point (``TrackPoint.data``), so later stages read them there instead of matching boxes.
ROW = "row"  # the detection's row in this frame's person detections (for "the others" and objects)
COLOURS = "colours"  # core.vision.colours.BodyColours, or absent without a colour table
ATTRIBUTES = "attributes"  # indexer.attributes.PointAttributes of a tracked person


@dataclass
class Models:
    """Everything loaded once per worker."""

    detector: Detector
    colours: ColourNamer | None
    embedder: ImageEmbedder | None
    clip_dim: int


@dataclass
class StageTimer:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


@dataclass
class VideoResult:
    video: VideoFile
    info: VideoInfo | None
    decoder: str
    sightings: pa.Table | None
    frames: pa.Table | None
    seconds: dict[str, float]
    n_sampled: int = 0
    error: str = ""
    n_gated: int = 0  # sampled frames on which motion gating skipped detection

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(eq=False)
class _Candidate:
    quality: float
    t: float
    box: np.ndarray
    crop: np.ndarray


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


class _Foreground:
    """Per-video background model at low resolution.

    Its mask keeps colour sampling on the person rather than the street, and its foreground share
    tells when nothing in view moves, so detection can be skipped (motion gating).
    """

    def __init__(self) -> None:
        self._bg = cv2.createBackgroundSubtractorMOG2(history=60, varThreshold=20, detectShadows=False)
        self._small: np.ndarray | None = None
        self.small_frame: np.ndarray | None = None  # the last frame at FOREGROUND_LONG_SIDE
        self.background: np.ndarray | None = None  # running mean of what the model calls background
        self.fraction = 1.0

    def update(self, frame: np.ndarray) -> None:
        H, W = frame.shape[:2]
        s = FOREGROUND_LONG_SIDE / max(H, W)
        small = cv2.resize(frame, (max(1, int(W * s)), max(1, int(H * s))), interpolation=cv2.INTER_AREA)
        self.small_frame = small
        m = self._bg.apply(small)
        # A background image per pixel for small regions (heads), where a dilated mask is too coarse;
        # MOG2's own getBackgroundImage costs ~1 ms, this a tenth of that.
        if self.background is None:
            self.background = small.astype(np.float32)
        else:
            cv2.accumulateWeighted(small, self.background, BACKGROUND_RATE, mask=cv2.bitwise_not(m))
        # Sensor noise leaves isolated specks; a person is a blob.
        opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        self.fraction = float(np.count_nonzero(opened)) / opened.size
        self._small = cv2.dilate(m, np.ones((3, 3), np.uint8))

    def mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if self._small is None:
            return None
        return cv2.resize(self._small, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


class _VideoState:
    """Everything one video's pass accumulates, frame by frame."""

    def __init__(self, models: Models, cfg: Config, tracker: PersonTracker, frame_wh: tuple[int, int]):
        self.models, self.icfg, self.tracker = models, cfg.index, tracker
        self.foreground = _Foreground() if models.colours is not None or cfg.index.motion_gating else None
        self.reliability, self.reliability_t = 1.0, None  # colour reliability of the light, and when measured
        self.candidates: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
        self.track_t0: dict[int, float] = {}
        self.scene_frames: list[tuple[float, np.ndarray]] = []
        self.next_scene_t = 0.0
        self.frame_wh = frame_wh
        self.n_sampled = 0
        self.n_gated = 0
        self.last_t = 0.0

    def _gated(self, t: float) -> bool:
        """Nothing moves and nobody is being followed: no new person can have appeared."""
        return (self.icfg.motion_gating and self.foreground is not None and self.n_sampled >= GATE_WARMUP_FRAMES
                and self.foreground.fraction < MIN_MOTION_FRACTION and not self.tracker.active(t))

    def observe(self, t: float, frame: np.ndarray, timer: StageTimer) -> None:
        models, icfg = self.models, self.icfg
        self.last_t, self.frame_wh = t, (frame.shape[1], frame.shape[0])
        with timer.stage("describe"):
            if self.foreground is not None:
                self.foreground.update(frame)
            if icfg.frame_embed_interval_s > 0 and t + 1e-6 >= self.next_scene_t:
                self.scene_frames.append((t, frame.copy()))
                self.next_scene_t = t + icfg.frame_embed_interval_s
        index = self.n_sampled
        self.n_sampled += 1
        if self._gated(t):
            self.n_gated += 1
            return
        with timer.stage("detect"):
            found = detect_frame(models.detector, frame)
            persons = found.persons[found.persons.class_id == 0] if len(found.persons) else found.persons
        if len(persons) == 0 and not self.tracker.active(t):
            return
        with timer.stage("describe"):
            # Colours come before tracking: the tracker uses them to tell crossing people apart.
            fg = self.foreground.mask(frame.shape) if self.foreground is not None and len(persons) else None
            colours = [models.colours.body_colours(frame, box, fg) for box in persons.xyxy] \
                if models.colours is not None else []
            persons.data[ROW] = np.arange(len(persons))
            if colours:
                persons.data[COLOURS] = _objects_array(colours)
        with timer.stage("track"):
            features = np.stack([c.layout for c in colours]) if colours else None
            tracked = self.tracker.associate(t, persons, features)
        if len(tracked) == 0:
            return
        with timer.stage("attributes"):
            tracked.data[ATTRIBUTES] = _objects_array(
                self._observe_attributes(t, frame, fg, persons, found.objects, tracked))
        with timer.stage("track"):
            self.tracker.record(t, index, tracked)
        with timer.stage("describe"):
            for i in range(len(tracked)):
                box, tid = tracked.xyxy[i], int(tracked.tracker_id[i])
                score = float(tracked.confidence[i])
                self.track_t0.setdefault(tid, t)
                others = np.delete(persons.xyxy, int(tracked.data[ROW][i]), axis=0)
                q = crop_quality(box, score, self.frame_wh, others)
                pool = self.candidates[(tid, _segment_index(t, self.track_t0[tid], icfg.max_segment_s))]
                if len(pool) < CANDIDATES_PER_SEGMENT or q > min(c.quality for c in pool):
                    pool.append(_Candidate(q, t, box.copy(), crop_with_margin(frame, box)))
                    if len(pool) > CANDIDATES_PER_SEGMENT:
                        pool.pop(int(np.argmin([c.quality for c in pool])))


    def _observe_attributes(self, t: float, frame: np.ndarray, fg: np.ndarray | None, persons: sv.Detections,
                            objects: sv.Detections, tracked: sv.Detections) -> list[PointAttributes]:
        """Hair, garment texture and carried objects of each tracked person in this frame."""
        namer = self.models.colours
        small = self.foreground.small_frame if self.foreground is not None else None
        if small is not None and (self.reliability_t is None or t - self.reliability_t >= RELIABILITY_EVERY_S):
            self.reliability, self.reliability_t = colour_reliability(small), t
        background = self.foreground.background if self.foreground is not None else None
        carried = associate(persons.xyxy, objects)
        out = []
        for i in range(len(tracked)):
            box = tracked.xyxy[i]
            seen = []
            for k, name, affinity in carried[int(tracked.data[ROW][i])]:
                obj_box = objects.xyxy[k] if k >= 0 else persons.xyxy[-1 - k]
                score = float(objects.confidence[k] if k >= 0 else persons.confidence[-1 - k])
                colour = object_colour(namer, frame, obj_box) if namer is not None and k >= 0 else None
                seen.append(ObjectSeen(name, score * affinity, obj_box.copy(), colour))
            head = head_colour(namer, frame, box, background) if namer is not None else NO_HEAD
            out.append(PointAttributes(box=box.copy(), head=head, texture=garment_texture(frame, box, fg),
                                       objects=tuple(seen), reliability=self.reliability))
        return out


def _segments(track: Track, max_segment_s: float) -> list[list[TrackPoint]]:
    groups: dict[int, list[TrackPoint]] = defaultdict(list)
    for p in track.points:
        groups[_segment_index(p.t, track.t_start, max_segment_s)].append(p)
    return [groups[k] for k in sorted(groups)]


def _segment_index(t: float, t0: float, max_segment_s: float) -> int:
    return int((t - t0) // max_segment_s) if max_segment_s > 0 else 0


def _pick_crops(cands: list[_Candidate], k: int) -> list[_Candidate]:
    ranked = sorted(cands, key=lambda c: -c.quality)
    chosen: list[_Candidate] = []
    for c in ranked:
        if len(chosen) >= k:
            break
        if all(abs(c.t - o.t) >= MIN_CROP_SPACING_S for o in chosen):
            chosen.append(c)
    return chosen or ranked[:1]


def _thumbnail(crop: np.ndarray, height: int) -> bytes:
    h, w = crop.shape[:2]
    scale = height / max(h, 1)
    small = cv2.resize(crop, (max(1, round(w * scale)), height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else b""


def local_day(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d")


def index_video(video: VideoFile, camera: Camera, models: Models, cfg: Config) -> VideoResult:
    """Run the whole per-video pipeline; decoding errors come back as ``VideoResult.error``."""
    from indexer.decode import DecodeError

    timer = StageTimer()
    icfg = cfg.index
    try:
        with timer.stage("decode"):
            info = probe(video.path)
            decoder = choose_decoder(icfg.decoder, info, icfg.sample_fps)
    except (DecodeError, OSError) as exc:
        return VideoResult(video, None, icfg.decoder, None, None, timer.seconds, error=str(exc))

    models.detector.reset()
    state = _VideoState(models, cfg, PersonTracker(icfg.sample_fps), (info.width, info.height))
    frames = decoder.frames(video.path, icfg.sample_fps)
    try:
        while True:
            with timer.stage("decode"):
                sampled = next(frames, None)
            if sampled is None:
                break
            state.observe(sampled.t, sampled.image, timer)
    except DecodeError as exc:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, state.n_sampled, error=str(exc))
    n_sampled, last_t, frame_wh = state.n_sampled, state.last_t, state.frame_wh
    tracker, candidates = state.tracker, state.candidates
    scene_frames = state.scene_frames

    if n_sampled == 0:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, 0,
                           error="no frame could be decoded")
    # A cut-off file often decodes "cleanly" up to where the data stops; the container still
    # declares the full duration, so the gap gives it away.
    slack = max(TRUNCATION_SLACK_S, 2.0 / icfg.sample_fps, info.keyframe_gap_s if math.isfinite(info.keyframe_gap_s)
                else 0.0)
    if info.duration_s > 0 and last_t < info.duration_s - slack:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, n_sampled,
                           error=f"truncated: frames stop at {last_t:.1f}s of a declared {info.duration_s:.1f}s")

    tz = ZoneInfo(icfg.timezone)
    rows: list[SightingRecord] = []
    crops_to_embed: list[np.ndarray] = []
    crop_owner: list[int] = []
    row_points: list[list[TrackPoint]] = []
    with timer.stage("describe"):
        for track in tracker.tracks():
            if len(track.points) < icfg.min_track_detections:
                continue
            for seg_points in _segments(track, icfg.max_segment_s):
                seg = _segment_index(seg_points[0].t, track.t_start, icfg.max_segment_s)
                pool = candidates.get((track.track_id, seg), [])
                if not pool:
                    continue
                # A short sighting barely changes view: one crop says it all, and embedding is the
                # indexer's biggest CPU cost. Longer ones get more views, up to crops_per_track.
                n_crops = min(max(1, icfg.crops_per_track), 1 + len(seg_points) // DETECTIONS_PER_EXTRA_CROP)
                chosen = _pick_crops(pool, n_crops)
                best = chosen[0]
                row = _sighting_row(video, camera, seg_points, track, seg, best, frame_wh, tz, models, cfg)
                row_points.append(seg_points)
                for c in chosen:
                    crops_to_embed.append(c.crop)
                    crop_owner.append(len(rows))
                rows.append(row)

    with timer.stage("attributes"):
        for row, points in zip(rows, row_points, strict=True):
            summarise([p.data.get(ATTRIBUTES) for p in points]).fill(row)

    with timer.stage("embed"):
        vectors = np.zeros((len(rows), models.clip_dim), dtype=np.float32)
        has_vector = np.zeros(len(rows), dtype=bool)
        if models.embedder is not None and crops_to_embed:
            emb = models.embedder.embed_images(crops_to_embed, batch_size=icfg.clip_batch_size)
            owner = np.asarray(crop_owner)
            for r in range(len(rows)):
                v = emb[owner == r].mean(axis=0)
                vectors[r] = v / max(np.linalg.norm(v), 1e-12)
                has_vector[r] = True
        identity = models.embedder.identity if models.embedder is not None else ""
        for r, row in enumerate(rows):
            row.vector = vectors[r]
            row.has_vector = bool(has_vector[r])
            row.clip_model = identity if has_vector[r] else ""
        frames_table = _frame_rows(video, camera, scene_frames, models, cfg, tz)

    table = pa.Table.from_pylist([r.to_row() for r in rows], schema=sightings_schema(models.clip_dim)) if rows else \
        sightings_schema(models.clip_dim).empty_table()
    return VideoResult(video, info, decoder.name, table, frames_table, timer.seconds, n_sampled,
                       n_gated=state.n_gated)


def _objects_array(items: list) -> np.ndarray:
    """A 1-d object array (a ``Detections.data`` column) of per-detection Python objects."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _sighting_row(video: VideoFile, camera: Camera, points: list[TrackPoint], track: Track, seg: int,
                  best: _Candidate, frame_wh: tuple[int, int], tz: ZoneInfo, models: Models,
                  cfg: Config) -> SightingRecord:
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
        detector=models.detector.name,
        thumbnail=_thumbnail(best.crop, cfg.index.thumbnail_height),
        indexed_at=time.time(),
    )


def _frame_rows(video: VideoFile, camera: Camera, scene_frames: list[tuple[float, np.ndarray]],
                models: Models, cfg: Config, tz: ZoneInfo) -> pa.Table | None:
    if not scene_frames or models.embedder is None:
        return None
    vecs = models.embedder.embed_images([f for _, f in scene_frames], batch_size=cfg.index.clip_batch_size)
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
            "clip_model": models.embedder.identity,
            "thumbnail": _thumbnail(frame, cfg.index.thumbnail_height),
        })
    return pa.Table.from_pylist(rows, schema=frames_schema(models.clip_dim))

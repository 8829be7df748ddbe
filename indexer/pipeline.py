"""Indexing one video: decode -> detect -> track -> describe -> embed, producing sighting rows.

This module holds no storage code and no process management: :func:`index_video` takes a video,
its camera and loaded models, and returns Arrow rows plus per-stage timings. Per sampled frame
(:class:`_VideoState`): motion gate (:mod:`indexer.foreground`), detect, colours, track, attributes,
crop candidates; the per-detection measurements travel with the detections through the tracker
(``Detections.data``). After the last frame, tracks become sighting records
(:mod:`indexer.sighting_rows`), get their attributes summarised and their crops embedded. The run plan
(:mod:`indexer.run_plan`) decides what to index, an engine (:mod:`indexer.batch`) runs this in worker
processes, and the results are written by :mod:`indexer.store`.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import supervision as sv

from core.config import Config
from core.loading import ImageEmbedder
from core.registry import Camera
from core.schema import SightingRecord, sighting_id, sightings_schema
from core.timing import StageTimer
from core.vision.attributes import garment_texture, head_colour, object_colour
from core.vision.colours import ColourNamer
from core.vision.crops import crop_with_margin
from core.vision.detector import Detector, FrameDetections, detect_frame
from core.vision.night import colour_reliability
from core.vision.parts import grey_world_gains
from indexer.archive import VideoFile
from indexer.attributes import NO_HEAD, CloseLook, ObjectSeen, PointAttributes, associate, summarise
from indexer.decode import VideoInfo, probe, resolve_hwaccel
from indexer.embedding import PendingCrops, embed_pending
from indexer.foreground import Foreground
from indexer.sampling import (
    AdaptiveSampler,
    SamplingPlan,
    base_periods,
    busy_region,
    busy_track_ids,
    choose_sampling_decoder,
    sampled_frames,
)
from indexer.sighting_rows import (
    ATTRIBUTES,
    COLOURS,
    ROW,
    Candidate,
    crop_part_colours,
    crop_quality,
    pick_crops,
    segment_index,
    segments,
    sighting_record,
)
from indexer.tracking import LOST_TRACK_S, PersonTracker, Track, TrackPoint, nested_duplicates

log = logging.getLogger(__name__)

STAGES = ("decode", "detect", "track", "describe", "attributes", "embed")
CANDIDATES_PER_SEGMENT = 4  # crops kept in memory per track segment while the video streams by
DETECTIONS_PER_EXTRA_CROP = 8
TRUNCATION_SLACK_S = 2.0
# Motion gating: below this share of moving pixels (at indexer.foreground.FOREGROUND_LONG_SIDE) with no
# live track, the detector is skipped. A distant person is ~250 such pixels of ~57,600; the gate sits at ~60.
MIN_MOTION_FRACTION = 0.001
GATE_WARMUP_FRAMES = 3  # the background model needs a few frames before "no motion" means anything
# A window decodes on past its end while a track it owns is still followed, at most this long (a person
# standing longer across the edge is cut there: the next window saw them first in its warm-up, so drops them).
WINDOW_RUN_OUT_S = 120.0
RELIABILITY_EVERY_S = 5.0  # day turns to night (and the camera to IR) over minutes: measure every 5 s


@dataclass
class Models:
    """Everything loaded once per worker."""

    detector: Detector
    colours: ColourNamer | None
    embedder: ImageEmbedder | None
    clip_dim: int
    close_look: CloseLook | None = None  # built on first use (indexer.attributes.CloseLook)
    # Leave the embed step to another worker: results carry their crops (indexer.embedding)
    defer_embedding: bool = False


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
    window: tuple[float, float] | None = None  # [t0, t1) file offsets of a windowed run; None: the whole file
    decoded_s: float = 0.0  # footage seconds decoded (for a window, its warm-up and track run-out too)
    n_busy: int = 0  # sampled frames between the base-rate ones, taken while someone new was in view
    pending: PendingCrops | None = None  # crops still to embed (a worker without CLIP; indexer.embedding)

    @property
    def ok(self) -> bool:
        return not self.error


class _VideoState:
    """Everything one video's pass accumulates, frame by frame."""

    def __init__(self, models: Models, cfg: Config, tracker: PersonTracker, frame_wh: tuple[int, int]):
        self.models, self.icfg, self.tracker = models, cfg.index, tracker
        self.foreground = Foreground() if models.colours is not None or cfg.index.motion_gating else None
        self.reliability, self.reliability_t = 1.0, None  # colour reliability of the light, and when measured
        self.candidates: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
        self.track_t0: dict[int, float] = {}
        self.scene_frames: list[tuple[float, np.ndarray]] = []
        self.next_scene_t = 0.0
        self.frame_wh = frame_wh
        if models.close_look is None:  # bags on small people; its own network session, once per worker
            models.close_look = CloseLook.of(models.detector)
        if models.close_look is not None:
            models.close_look.reset()
        self.n_sampled = 0
        self.n_gated = 0
        self.n_reused = 0  # frames whose detections were the previous frame's (nothing moved; see _still)
        self.last_found: FrameDetections | None = None
        self.last_t = 0.0
        self.busy_ids: set[int] = set()  # the tracks that kept the scene busy after the last frame

    def _gated(self, t: float) -> bool:
        """Nothing moves and nobody is being followed: no new person can have appeared."""
        return (self.icfg.motion_gating and self.foreground is not None and self.n_sampled >= GATE_WARMUP_FRAMES
                and self.foreground.fraction < MIN_MOTION_FRACTION and not self.tracker.active(t))

    def _still(self, t: float) -> bool:
        """Nothing moves while people are followed: they stand where the last detection saw them, so its
        boxes stand for this frame too (``index.reuse_still_detections``; colours are measured afresh)."""
        return (self.icfg.reuse_still_detections and self.last_found is not None and self.foreground is not None
                and self.n_sampled > GATE_WARMUP_FRAMES and self.foreground.fraction < MIN_MOTION_FRACTION
                and self.tracker.active(t))

    def _busy_region(self) -> tuple[int, int, int, int] | None:
        """Where an in-between frame's detector looks (``index.busy_region_detect``): around the new people
        who made the scene busy, the ones the frame is there for. The others are followed on the base frames,
        as at the flat rate; missing them here only leaves a confirmed ByteTrack track unmatched for half a
        second, well inside its lost-track budget. None: the whole frame."""
        detector = self.models.detector
        if not self.icfg.busy_region_detect or not self.busy_ids or not hasattr(detector, "detect_region"):
            return None
        boxes = [tr.points[-1].box for tr in self.tracker.tracks() if tr.track_id in self.busy_ids]
        return busy_region(boxes, self.frame_wh, getattr(detector, "long_side", 640) / max(self.frame_wh))

    def observe(self, t: float, frame: np.ndarray, timer: StageTimer, extra: bool = False) -> None:
        """Analyse one sampled frame; ``extra``: an in-between frame of the busy rate, not a base frame."""
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
            if self._still(t):
                found = self.last_found
                self.n_reused += 1
            else:
                region = self._busy_region() if extra else None
                if region is None:
                    found = self.last_found = detect_frame(models.detector, frame)
                else:  # not kept as last_found: a still frame later must reuse a whole frame's people
                    found = models.detector.detect_region(frame, region)  # type: ignore[attr-defined]
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
                self._observe_attributes(t, frame, fg, persons, found.objects, tracked, extra))
        with timer.stage("track"):
            self.tracker.record(t, index, tracked)
        with timer.stage("describe"):
            gains = grey_world_gains(frame) if models.colours is not None else None  # for part colours
            for i in range(len(tracked)):
                box, tid = tracked.xyxy[i], int(tracked.tracker_id[i])
                score = float(tracked.confidence[i])
                self.track_t0.setdefault(tid, t)
                others = np.delete(persons.xyxy, int(tracked.data[ROW][i]), axis=0)
                q = crop_quality(box, score, self.frame_wh, others)
                pool = self.candidates[(tid, segment_index(t, self.track_t0[tid], icfg.max_segment_s))]
                if len(pool) < CANDIDATES_PER_SEGMENT or q > min(c.quality for c in pool):
                    pool.append(Candidate(q, t, box.copy(), crop_with_margin(frame, box), gains))
                    if len(pool) > CANDIDATES_PER_SEGMENT:
                        pool.pop(int(np.argmin([c.quality for c in pool])))


    def _observe_attributes(self, t: float, frame: np.ndarray, fg: np.ndarray | None, persons: sv.Detections,
                            objects: sv.Detections, tracked: sv.Detections,
                            extra: bool = False) -> list[PointAttributes]:
        """Hair, garment texture and carried objects of each tracked person in this frame.

        An in-between frame of the busy rate is there for the new people who made the scene busy: the close
        look (a network run per small person, the bulk of this stage) looks only at them and at anyone first
        seen now, unless ``index.busy_close_looks_all``. The others get their close looks on the base
        frames, as at the flat rate, so a crowd does not double its cost."""
        namer = self.models.colours
        small = self.foreground.small_frame if self.foreground is not None else None
        if small is not None and (self.reliability_t is None or t - self.reliability_t >= RELIABILITY_EVERY_S):
            self.reliability, self.reliability_t = colour_reliability(small), t
        background = self.foreground.background if self.foreground is not None else None
        carried = associate(persons.xyxy, objects)
        ids = [int(tid) for tid in tracked.tracker_id]
        look_at = [i for i in range(len(tracked)) if not extra or self.icfg.busy_close_looks_all
                   or ids[i] in self.busy_ids or ids[i] not in self.track_t0]
        close = self.models.close_look
        looks: list = [None] * len(tracked)
        if close is not None and look_at:
            found = close.look(t, frame, tracked.xyxy[look_at], tracked.tracker_id[look_at],
                               getattr(self.models.detector, "long_side", 640), namer)
            for i, look in zip(look_at, found, strict=True):
                looks[i] = look
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
                                       objects=tuple(seen), reliability=self.reliability, close=looks[i],
                                       t=t))
        return out


@dataclass(frozen=True)
class _Window:
    """Which frames a run decodes and which tracks it keeps (see :mod:`indexer.windows` for why).

    A whole-file run is the window [0, inf) with no warm-up. A window [t0, t1) decodes from
    ``t0 - warmup`` and keeps the tracks first seen before t1 and still in view at t0, from t0 on (the
    warm-up only primes the tracker); past t1 it decodes on while one of those is still followed, up to
    ``run_out_s`` beyond t1."""

    t0: float
    t1: float
    decode_from: float
    run_out_s: float

    @classmethod
    def of(cls, window: tuple[float, float] | None, cfg: Config) -> _Window:
        if window is None:
            return cls(0.0, math.inf, 0.0, 0.0)
        t0, t1 = window
        return cls(t0, t1, max(0.0, t0 - cfg.index.window_warmup_s), max(cfg.index.max_segment_s, WINDOW_RUN_OUT_S))

    def owns(self, track: Track) -> bool:
        return track.t_start + 1e-6 < self.t1 and track.t_end + 1e-6 >= self.t0

    def clip(self, points: list[TrackPoint]) -> list[TrackPoint]:
        """The points of a track seen inside the window: a track first seen in the warm-up counts from t0."""
        return [p for p in points if p.t + 1e-6 >= self.t0]

    def done(self, t: float, tracker: PersonTracker) -> bool:
        """Past the window's end with none of its tracks still followed."""
        return t + 1e-6 >= self.t1 and not any(
            self.owns(tr) and t - tr.t_end <= LOST_TRACK_S for tr in tracker.tracks())


def index_video(video: VideoFile, camera: Camera, models: Models, cfg: Config,
                window: tuple[float, float] | None = None) -> VideoResult:
    """Run the per-video pipeline over the whole file or over ``window`` ([t0, t1) file offsets; its
    sighting ids then carry t0); decoding errors come back as ``VideoResult.error``."""
    from indexer.decode import DecodeError

    timer = StageTimer(STAGES)
    icfg = cfg.index
    span = _Window.of(window, cfg)
    plan = SamplingPlan.of(icfg)
    try:
        with timer.stage("decode"):
            info = probe(video.path)
            decoder = choose_sampling_decoder(icfg.decoder, info, plan)
            hwaccel = resolve_hwaccel(icfg.hwaccel, getattr(getattr(models.detector, "runtime", None), "device", "cpu"))
            if hwaccel and hasattr(decoder, "hwaccel"):  # the PyAV decoders; they fall back to the CPU per file
                decoder.hwaccel = hwaccel
            elif hwaccel:  # the summary says so rather than a GPU run decoding on the CPU unnoticed
                decoder.name = f"{decoder.name} (cpu: {hwaccel} decode not wired into the {decoder.name} decoder)"
    except (DecodeError, OSError) as exc:
        return VideoResult(video, None, icfg.decoder, None, None, timer.seconds, error=str(exc), window=window)

    models.detector.reset()
    state = _VideoState(models, cfg, PersonTracker(icfg.sample_fps), (info.width, info.height))
    sampler = AdaptiveSampler(plan, span.decode_from, span.t1 + span.run_out_s)
    frames = sampled_frames(decoder, video.path, sampler)
    first_t = None
    try:
        while True:
            with timer.stage("decode"):
                sampled = next(frames, None)
            if sampled is None:
                break
            first_t = sampled.t if first_t is None else first_t
            state.observe(sampled.t, sampled.image, timer, extra=sampler.extra)
            state.busy_ids = busy_track_ids(state.tracker, sampled.t, plan, state.frame_wh)
            sampler.busy = bool(state.busy_ids)
            if span.done(sampled.t, state.tracker):
                break
    except DecodeError as exc:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, state.n_sampled, error=str(exc),
                           window=window)
    finally:
        frames.close()  # type: ignore[attr-defined]  # a window stops early: close the container now
    n_sampled, last_t, frame_wh = state.n_sampled, state.last_t, state.frame_wh
    tracker, candidates = state.tracker, state.candidates
    scene_frames = [(t, f) for t, f in state.scene_frames if span.t0 <= t + 1e-6 < span.t1]
    decoded_s = last_t - first_t + 1.0 / icfg.sample_fps if first_t is not None else 0.0

    if n_sampled == 0:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, 0,
                           error="no frame could be decoded", window=window)
    # A cut-off file often decodes "cleanly" up to where the data stops; the container still
    # declares the full duration, so the gap gives it away. (A window ending early only looks that far.)
    slack = max(TRUNCATION_SLACK_S, 2.0 / icfg.sample_fps, info.keyframe_gap_s if math.isfinite(info.keyframe_gap_s)
                else 0.0)
    expected_end = min(info.duration_s, span.t1)
    if info.duration_s > 0 and last_t < expected_end - slack:
        return VideoResult(video, info, decoder.name, None, None, timer.seconds, n_sampled, window=window,
                           error=f"truncated: frames stop at {last_t:.1f}s of a declared {info.duration_s:.1f}s")

    tz = ZoneInfo(icfg.timezone)
    rows: list[SightingRecord] = []
    crops_to_embed: list[np.ndarray] = []
    crop_owner: list[int] = []
    row_points: list[list[TrackPoint]] = []
    with timer.stage("describe"):
        duplicates = nested_duplicates(tracker.tracks())  # a second box on someone already tracked
        for track in tracker.tracks():
            # Counted in base-rate periods, so the frames adaptive sampling adds do not turn a blip into a
            # sighting or add crops to embed (the indexer's biggest cost).
            if base_periods([p.t for p in track.points], plan) < icfg.min_track_detections \
                    or not span.owns(track) or track.track_id in duplicates:
                continue
            for seg_points in segments(track, icfg.max_segment_s):
                seg = segment_index(seg_points[0].t, track.t_start, icfg.max_segment_s)
                pool = candidates.get((track.track_id, seg), [])
                if seg_points[0].t + 1e-6 < span.t0:  # in view at t0 since the warm-up: what the window saw
                    seg_points = span.clip(seg_points)
                    if base_periods([p.t for p in seg_points], plan) < icfg.min_track_detections:
                        continue
                    pool = [c for c in pool if c.t + 1e-6 >= span.t0] or pool
                if not pool:
                    continue
                # A short sighting barely changes view: one crop says it all, and embedding is the
                # indexer's biggest CPU cost. Longer ones get more views, up to crops_per_track.
                n_crops = min(max(1, icfg.crops_per_track),
                              1 + base_periods([p.t for p in seg_points], plan) // DETECTIONS_PER_EXTRA_CROP)
                chosen = pick_crops(pool, n_crops)
                best = chosen[0]
                row = sighting_record(video, camera, seg_points, track, seg, best, frame_wh, tz,
                                      models.detector.name, icfg.thumbnail_height)
                row.part_colours = crop_part_colours(pool, models.colours)
                if window is not None:
                    row.sighting_id = sighting_id(video.video_id, track.track_id, seg, window[0])
                row_points.append(seg_points)
                for c in chosen:
                    crops_to_embed.append(c.crop)
                    crop_owner.append(len(rows))
                rows.append(row)

    with timer.stage("attributes"):
        for row, points in zip(rows, row_points, strict=True):
            summarise([p.data.get(ATTRIBUTES) for p in points]).fill(row)

    for row in rows:  # filled in by the embed step
        row.vector = np.zeros(models.clip_dim, dtype=np.float32)
    table = pa.Table.from_pylist([r.to_row() for r in rows], schema=sightings_schema(models.clip_dim)) if rows else \
        sightings_schema(models.clip_dim).empty_table()
    pending = PendingCrops(crops_to_embed, np.asarray(crop_owner, dtype=np.int64), scene_frames, video, camera, tz)
    result = VideoResult(video, info, decoder.name, table, None, timer.seconds, n_sampled, n_gated=state.n_gated,
                         window=window, decoded_s=decoded_s, n_busy=sampler.n_busy)
    if models.defer_embedding:
        result.pending = pending
        return result
    with timer.stage("embed"):
        result.sightings, result.frames = embed_pending(table, pending, models.embedder, models.clip_dim, icfg)
    return result


def _objects_array(items: list) -> np.ndarray:
    """A 1-d object array (a ``Detections.data`` column) of per-detection Python objects."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out

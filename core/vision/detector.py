"""Person (and carried-object) detection on single frames.

Two detectors share one small interface:

* :class:`YoloxDetector` - the COCO-trained YOLOX-Nano ONNX model run with onnxruntime. This is the
  real detector and the default whenever its weights can be found.
* :class:`MotionBlobDetector` - OpenCV background subtraction, used only when no detector weights are
  available. It finds moving blobs, not people, and says so loudly when it is constructed.

Both return :class:`supervision.Detections` in original-frame pixels, so the tracker and the rest of
the pipeline never care which one ran. :meth:`YoloxDetector.detect` gives people only;
:meth:`YoloxDetector.detect_all` also gives the COCO classes people carry or walk with (bags,
bicycles, dogs...) from the same network pass, at a lower threshold: YOLOX-Nano scores small objects
low, and the indexer only trusts them once they recur with the same person across a tracklet
(:mod:`indexer.attributes`). Person results are the same whichever method is called.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import supervision as sv

from core.errors import MissingFileError
from core.vision.detector_input import InputSizer, batch_capable

log = logging.getLogger(__name__)

PERSON_CLASS = 0
LETTERBOX_FILL = 114
STRIDES = (8, 16, 32)
# COCO classes (0-based, coco_classes.txt) that say something about a person: what they carry, push or
# walk with. Pushchairs have no COCO class (see indexer.attributes for what stands in for them).
CARRIED_OBJECTS: dict[int, str] = {
    1: "bicycle", 16: "dog", 24: "backpack", 25: "umbrella", 26: "handbag", 28: "suitcase", 36: "skateboard",
}
# Objects are kept from this score (obj * cls) on; a single frame at this level means little, but a bag
# that recurs beside the same person over a tracklet does (indexer.attributes aggregates).
OBJECT_THRESHOLD = 0.1
# People scored below the tracking threshold are kept as weak "person" objects: a child sitting in a
# pushchair is often one (see indexer.attributes).
WEAK_PERSON_THRESHOLD = 0.1


# Network rows (N, 85), their grid cells and strides, the letterbox scale.
_Raw = tuple[np.ndarray, np.ndarray, np.ndarray, float]


@dataclass(frozen=True)
class FrameDetections:
    """One frame's people (tracked) and objects (COCO class ids in ``class_id``, incl. weak people)."""

    persons: sv.Detections
    objects: sv.Detections


class Detector(Protocol):
    """What the pipeline needs from a detector."""

    name: str

    def detect(self, frame_bgr: np.ndarray) -> sv.Detections: ...

    def reset(self) -> None:
        """Forget per-video state (a new video, possibly another camera, starts)."""


def detect_frame(detector: Detector, frame_bgr: np.ndarray) -> FrameDetections:
    """People and objects of one frame; detectors (or wrappers) without objects give none."""
    detect_all = getattr(detector, "detect_all", None)
    if detect_all is not None:
        return detect_all(frame_bgr)
    return FrameDetections(detector.detect(frame_bgr), sv.Detections.empty())


def _input_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """Network input (H, W): the frame's aspect kept, long side fixed, both multiples of 32."""
    scale = long_side / max(height, width)
    in_h = int(np.ceil(height * scale / 32) * 32)
    in_w = int(np.ceil(width * scale / 32) * 32)
    return in_h, in_w


def _canvas(image: np.ndarray, size: tuple[int, int], in_hw: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` (w, h) in the top-left corner of an (H, W) network input, the rest
    letterbox grey; channels first."""
    canvas = np.full((*in_hw, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[: size[1], : size[0]] = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return canvas.transpose(2, 0, 1)


def _grid(in_h: int, in_w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-anchor (gx, gy) and stride, in the row order YOLOX emits (stride 8, 16, 32; y outer)."""
    cells, strides = [], []
    for s in STRIDES:
        gy, gx = np.meshgrid(np.arange(in_h // s), np.arange(in_w // s), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides.append(np.full(gx.size, s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


@dataclass
class YoloxDetector:
    """YOLOX-Nano (COCO, 80 classes) through onnxruntime, pre/post-processing per the model manifest."""

    model_path: Path
    input_long_side: int = 640
    score_threshold: float = 0.3
    nms_iou: float = 0.45
    classes: tuple[int, ...] = (PERSON_CLASS,)
    threads: int = 1
    object_classes: tuple[int, ...] = tuple(CARRIED_OBJECTS)
    object_threshold: float = OBJECT_THRESHOLD
    weak_person_threshold: float = WEAK_PERSON_THRESHOLD
    device: str = "cpu"  # models.device: cpu | cuda | cuda:N | auto (core.vision.onnx_device)
    # Per-video input size from the people the camera shows (None: always input_long_side).
    sizer: InputSizer | None = None

    def __post_init__(self) -> None:
        from core.vision.onnx_device import open_session

        self.model_path = Path(self.model_path)
        if not self.model_path.is_file():
            raise MissingFileError(f"detector weights not found: {self.model_path}")
        model, self.max_batch = batch_capable(self.model_path)
        self._session, self.runtime = open_session(model, self.device, self.threads)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        h, w = inp.shape[2], inp.shape[3]
        # The published file is fixed 416x416; the re-declared one takes any multiple of 32.
        self._fixed = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        if self._fixed is not None:
            self.sizer = None
        self._in_video = False
        self.name = f"yolox-nano:{self.model_path.name}"
        if self.runtime.label != "cpu-fp32":  # the index records where its boxes came from
            self.name += f"@{self.runtime.label}"

    def reset(self) -> None:
        """A new video starts: its people's sizes are measured afresh. Only frames of a video (after a
        reset) get a sized input; single pictures (a reference photo, an export) always get the full size."""
        if self.sizer is not None:
            self.sizer.reset()
            self._in_video = True

    @property
    def long_side(self) -> int:
        """The input's long side the next frame will get."""
        if self.sizer is not None and self._in_video:
            return self.sizer.next_size()
        return self.input_long_side

    def _letterbox(self, frame: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
        h, w = frame.shape[:2]
        in_h, in_w = self._fixed or _input_size(h, w, long_side)
        r = min(in_h / h, in_w / w)
        return _canvas(frame, (int(w * r), int(h * r)), (in_h, in_w)), r

    def _run(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One session run over a batch of canvases (B, 3, H, W): the rows, and the grid cells and strides
        of that input size."""
        rows = self._session.run(None, {self._input_name: blob.astype(np.float32)})[0]
        in_h, in_w = blob.shape[2], blob.shape[3]
        if (in_h, in_w) not in self._grids:
            self._grids[(in_h, in_w)] = _grid(in_h, in_w)
        cells, strides = self._grids[(in_h, in_w)]
        return rows, cells, strides

    def _raw_batch(self, frames: list[np.ndarray]) -> list[_Raw]:
        """Network rows (N, 85) with their grid cells and strides, and the letterbox scale, per frame;
        one session run for all of them (frames of one video share a size)."""
        long_side = self.long_side
        boxes = [self._letterbox(f, long_side) for f in frames]
        out: list[_Raw] = []
        for lo in range(0, len(boxes), self.max_batch):
            chunk = boxes[lo: lo + self.max_batch]
            rows, cells, strides = self._run(np.stack([b for b, _ in chunk]))
            out.extend((rows[i], cells, strides, r) for i, (_, r) in enumerate(chunk))
        return out

    def _raw(self, frame_bgr: np.ndarray) -> _Raw:
        return self._raw_batch([frame_bgr])[0]

    def _decode(self, raw: _Raw, classes: tuple[int, ...],
                threshold: float, frame_hw: tuple[int, int]) -> sv.Detections:
        """Boxes of ``classes`` scoring at least ``threshold``, class-wise NMS."""
        out, cells, strides, r = raw
        cls = np.asarray(classes)
        scores = out[:, 4:5] * out[:, 5 + cls]  # obj * cls, both already sigmoided
        best = scores.argmax(axis=1)
        score = scores[np.arange(len(scores)), best]
        keep = score >= threshold
        if not keep.any():
            return sv.Detections.empty()
        out, score, class_id = out[keep], score[keep], cls[best[keep]]
        cells, strides = cells[keep], strides[keep]
        cx = (out[:, 0] + cells[:, 0]) * strides
        cy = (out[:, 1] + cells[:, 1]) * strides
        bw = np.exp(out[:, 2]) * strides
        bh = np.exp(out[:, 3]) * strides
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1) / r
        h, w = frame_hw
        xyxy = sv.clip_boxes(xyxy, (w, h)).astype(np.float32)
        dets = sv.Detections(xyxy=xyxy, confidence=score.astype(np.float32), class_id=class_id)
        return dets.with_nms(threshold=self.nms_iou, class_agnostic=False)

    def detect(self, frame_bgr: np.ndarray) -> sv.Detections:
        return self.detect_all(frame_bgr).persons

    def detect_all(self, frame_bgr: np.ndarray) -> FrameDetections:
        """People, plus carried objects and weak people from the same pass (see :meth:`detect_all_batch`)."""
        return self.detect_all_batch([frame_bgr])[0]

    def detect_all_batch(self, frames: list[np.ndarray]) -> list[FrameDetections]:
        """Per frame, people exactly as :meth:`detect`, plus carried objects and weak people from the same
        network pass; the frames (of one video) go through the network together.

        Weak people come out of the same greedy NMS run down to the lower threshold: boxes are taken in
        score order, so the confident ones (the people) suppress each other exactly as before, and a weak
        box that survives does not duplicate a person.
        """
        long_side = self.long_side
        out = []
        for frame, raw in zip(frames, self._raw_batch(frames), strict=True):
            found = self._frame_detections(raw, frame.shape[:2])
            if self.sizer is not None and self._in_video:
                heights = found.persons.xyxy[:, 3] - found.persons.xyxy[:, 1]
                self.sizer.observe(long_side, heights, max(frame.shape[:2]))
            out.append(found)
        return out

    def detect_region(self, frame_bgr: np.ndarray, region: tuple[int, int, int, int]) -> FrameDetections:
        """People and objects inside ``region`` (x0, y0, x1, y1 in frame pixels), in frame pixels.

        The region goes through the network at the scale the whole frame would (so a person is as many
        network pixels high either way), which makes a small region a small input: that, not a sharper
        view, is the point. A box the region's inner edge cuts is dropped rather than returned cut short;
        a region's edge on the frame's edge cuts nothing. A fixed-size network (the published 416x416
        file) cannot take a region, so it detects on the whole frame.
        """
        h, w = frame_bgr.shape[:2]
        x0, y0, x1, y1 = (max(0, int(region[0])), max(0, int(region[1])), min(w, int(region[2])),
                          min(h, int(region[3])))
        if self._fixed is not None or (x0, y0, x1, y1) == (0, 0, w, h):
            return self.detect_all(frame_bgr)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return FrameDetections(sv.Detections.empty(), sv.Detections.empty())
        in_h, in_w = _input_size(h, w, self.long_side)
        r = min(in_h / h, in_w / w)  # the whole frame's scale
        size = (max(1, round((x1 - x0) * r)), max(1, round((y1 - y0) * r)))
        canvas = _canvas(frame_bgr[y0:y1, x0:x1], size, (math.ceil(size[1] / 32) * 32, math.ceil(size[0] / 32) * 32))
        rows, cells, strides = self._run(canvas[None])
        found = self._frame_detections((rows[0], cells, strides, size[0] / (x1 - x0)), (y1 - y0, x1 - x0))
        return FrameDetections(*(_shift_inside(d, (x0, y0, x1, y1), (w, h)) for d in (found.persons, found.objects)))

    def _frame_detections(self, raw: _Raw, hw: tuple[int, int]) -> FrameDetections:
        people = self._decode(raw, self.classes, min(self.score_threshold, self.weak_person_threshold), hw)
        if len(people):
            strong = people.confidence >= self.score_threshold
            persons, parts = people[strong], [people[~strong]]
        else:
            persons, parts = people, []
        if self.object_classes:
            parts.append(self._decode(raw, self.object_classes, self.object_threshold, hw))
        parts = [p for p in parts if len(p)]
        objects = sv.Detections.merge(parts) if parts else sv.Detections.empty()
        return FrameDetections(persons, objects)


# A box within this many pixels of a region's inner edge is taken to be cut by it (the network's boxes wobble
# by a pixel or two at the crop's border).
REGION_EDGE_PX = 2.0


def _shift_inside(dets: sv.Detections, region: tuple[int, int, int, int], frame_wh: tuple[int, int]) -> sv.Detections:
    """Region-pixel boxes moved into frame pixels, less those the region's inner edges cut."""
    if len(dets) == 0:
        return dets
    x0, y0, x1, y1 = region
    xyxy = dets.xyxy + np.asarray([x0, y0, x0, y0], np.float32)
    cut = np.zeros(len(dets), bool)
    if x0 > 0:
        cut |= xyxy[:, 0] <= x0 + REGION_EDGE_PX
    if y0 > 0:
        cut |= xyxy[:, 1] <= y0 + REGION_EDGE_PX
    if x1 < frame_wh[0]:
        cut |= xyxy[:, 2] >= x1 - REGION_EDGE_PX
    if y1 < frame_wh[1]:
        cut |= xyxy[:, 3] >= y1 - REGION_EDGE_PX
    dets = dets[~cut]
    dets.xyxy = xyxy[~cut]
    return dets


@dataclass
class MotionBlobDetector:
    """Fallback when no detector weights exist: moving, upright blobs from background subtraction.

    This is not a person detector. Parked cars that move, shadows and swaying trees all pass;
    people standing still vanish into the background. The indexer records its name on every
    sighting so nobody mistakes its output for the real model's.
    """

    min_area_fraction: float = 0.0015
    min_aspect: float = 1.1  # height / width; people are taller than wide

    name: str = "motion-blobs"

    def __post_init__(self) -> None:
        log.warning(
            "NO PERSON DETECTOR WEIGHTS: falling back to background subtraction (moving blobs). "
            "Sightings will include non-people and miss people standing still. "
            "Set models.detector_path or allow the download to index properly."
        )
        self.reset()

    def reset(self) -> None:
        # Sampled frames are seconds apart, so a short history adapts to lighting quickly.
        self._bg = cv2.createBackgroundSubtractorMOG2(history=30, varThreshold=25, detectShadows=True)
        self._seen = 0

    def detect(self, frame_bgr: np.ndarray) -> sv.Detections:
        mask = self._bg.apply(frame_bgr)
        self._seen += 1
        if self._seen < 3:  # no background model yet: everything looks like foreground
            return sv.Detections.empty()
        mask = np.where(mask == 255, 255, 0).astype(np.uint8)  # drop shadow label (127)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 5), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        h, w = frame_bgr.shape[:2]
        min_area = self.min_area_fraction * h * w
        boxes, scores = [], []
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            area = cv2.contourArea(c)
            if area < min_area or bh < self.min_aspect * bw:
                continue
            boxes.append([x, y, x + bw, y + bh])
            scores.append(min(1.0, area / (bw * bh)))  # fill ratio: a weak "person-ness" proxy
        if not boxes:
            return sv.Detections.empty()
        return sv.Detections(
            xyxy=np.asarray(boxes, dtype=np.float32),
            confidence=np.asarray(scores, dtype=np.float32),
            class_id=np.zeros(len(boxes), dtype=int),
        )

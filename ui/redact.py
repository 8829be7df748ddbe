"""Blurring bystanders out of exported pictures: only the confirmed person stays recognisable.

For every sighting in a case report the frame at its best moment is read from the source video, the
person detector finds everyone in it, and every person box except the confirmed one (the detection
that best overlaps the sighting's box, IoU >= ``MATCH_IOU``) is pixelated with coarse blocks. The
report's thumbnail is then cut from the redacted frame, never taken from the index (whose stored
thumbnail may show a neighbour).

Finding everyone matters more here than in indexing, so the detector is run to its weak-person
threshold (``core.vision.detector.WEAK_PERSON_THRESHOLD``) and in four passes whose people are merged:

* the frame as the indexer sees it;
* the frame inside a grey border (each of ``BORDERS``, a share of its long side on every side): a person
  cut by the frame edge is no longer at the edge of the network's view, and close-ups are seen smaller;
* the frame at twice the network resolution (at most ``MAX_LONG_SIDE``): small, far-away people.

Measured on edge-cut people (real frames of the shared clips cropped through a confidently detected
person, 175 cases): the share whose visible part ended up at least 90 % pixelated went from 0.59 (one
pass, score >= 0.3, the old export) to 0.78 with weak people and 0.82 with the 10 % border and 2x passes.
The partly visible man at the edge of the pushchair reference photo is found only with the 25 % border
(or a smaller network input). Every box is padded (``PAD_FRACTION`` of its size, at least ``PAD_MIN_PX``)
and clamped to the frame, so a box that touches or crosses the frame edge is pixelated up to the edge.

* The confirmed sighting's own box is always left as it is, even where the detector missed that
  person; parts of someone else that fall inside it stay visible (the box is the evidence).
* Without detector weights nobody can be found, so everything outside the confirmed box is pixelated,
  and the reference photo (whose person is not known then) is left out of the report.
* When the source video cannot be read, the picture is withheld rather than exported unredacted.

The console's own screens are not redacted: operators must see who is there to confirm anyone.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from core.config import Config
from core.video_frames import FrameReadError, read_frames_at
from core.vision.detector import LETTERBOX_FILL, PERSON_CLASS, YoloxDetector
from ui.report import ReportSighting
from ui.thumbnails import _crop_around, _fit_width, draw_box, encode_jpeg

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

MATCH_IOU = 0.3  # the detector's box of the confirmed person vs the index's box of the same moment
PAD_FRACTION = 0.15  # of a box's width / height on each side: detector boxes hug the body; hair and bags stick out
PAD_MIN_PX = 6  # a small or edge-cut box still gets a block of its own around it
BORDERS = (0.1, 0.25)  # grey borders of the bordered passes, of the image's long side
UPSCALE = 2.0  # third pass: network input this many times the image's long side...
MAX_LONG_SIDE = 1280  # ...at most (1280x720 frames are then read at their own resolution)
SAME_PERSON_INSIDE = 0.9  # reference photo: a box this much inside the subject's (padded)...
SAME_HEAD = 0.15  # ...with its top this near the subject's top (share of its height) is the subject again
MERGE_IOU = 0.45  # the passes' boxes of one person merged (the detector's own NMS overlap)
THUMB_HEIGHT = 160
FRAME_WIDTH = 640


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def padded_box(box: Box, w: int, h: int, fraction: float = PAD_FRACTION,
               min_px: float = PAD_MIN_PX) -> tuple[int, int, int, int]:
    """The pixel rectangle blurred for ``box``: grown on every side, clamped to the ``w`` x ``h`` frame."""
    x1, y1, x2, y2 = box
    mx, my = max((x2 - x1) * fraction, min_px), max((y2 - y1) * fraction, min_px)
    return (max(0, math.floor(x1 - mx)), max(0, math.floor(y1 - my)),
            min(w, math.ceil(x2 + mx)), min(h, math.ceil(y2 + my)))


def pixelate(image: np.ndarray, box: Box, *, fraction: float = PAD_FRACTION, min_px: float = PAD_MIN_PX,
             cells: int = 4) -> None:
    """Replace the padded box by about ``cells`` blocks across its narrow side, in place.

    A region narrower than one block (a sliver at the frame edge) becomes flat colour.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = padded_box(box, w, h, fraction, min_px)
    if x2 <= x1 or y2 <= y1:
        return
    region = image[y1:y2, x1:x2]
    block = max(4, round(min(x2 - x1, y2 - y1) / cells))
    small = cv2.resize(region, (max(1, (x2 - x1) // block), max(1, (y2 - y1) // block)), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class Redaction:
    image: np.ndarray
    blurred: int  # people pixelated
    matched_iou: float  # best IoU of a detection with the confirmed box (0: the detector missed them)
    method: str  # "detector" | "all-but-confirmed"


def redact_people(frame: np.ndarray, keep: Box, people: list[Box], *, match_iou: float = MATCH_IOU) -> Redaction:
    """Pixelate every box in ``people`` except the one matching ``keep``; ``keep`` itself stays as it is."""
    out = frame.copy()
    scores = [iou(b, keep) for b in people]
    best = int(np.argmax(scores)) if scores and max(scores) >= match_iou else None
    blurred = 0
    for i, b in enumerate(people):
        if i != best:
            pixelate(out, b)
            blurred += 1
    _restore(out, frame, keep)
    return Redaction(out, blurred, max(scores, default=0.0), "detector")


def redact_all_but(frame: np.ndarray, keep: Box) -> Redaction:
    """No detector: pixelate the whole frame except the confirmed person's box."""
    out = frame.copy()
    pixelate(out, (0, 0, frame.shape[1], frame.shape[0]), fraction=0.0, min_px=0, cells=24)
    _restore(out, frame, keep)
    return Redaction(out, 0, 0.0, "all-but-confirmed")


def redact_others(image: np.ndarray, keep: Box, people: list[Box]) -> Redaction:
    """Reference photo: pixelate everyone but ``keep`` in full, also where they overlap ``keep``.

    Unlike a frame, the photo's box is no evidence to keep intact: a child in a pushchair in front of the
    missing person is blurred too. A box lying almost wholly inside ``keep`` (padded) whose top is at
    ``keep``'s top is that person seen by another pass (a head-and-shoulders box, say): same head, not
    someone else, and it is left alone.
    """
    out = image.copy()
    kx1, ky1, kx2, ky2 = padded_box(keep, image.shape[1], image.shape[0])
    blurred = 0
    for b in people:
        inside = max(0.0, min(b[2], kx2) - max(b[0], kx1)) * max(0.0, min(b[3], ky2) - max(b[1], ky1))
        area = (b[2] - b[0]) * (b[3] - b[1])
        same_head = abs(b[1] - keep[1]) <= SAME_HEAD * (keep[3] - keep[1])
        if b == keep or (same_head and area > 0 and inside / area >= SAME_PERSON_INSIDE):
            continue
        pixelate(out, b)
        blurred += 1
    return Redaction(out, blurred, 1.0, "detector")


def _restore(out: np.ndarray, original: np.ndarray, keep: Box) -> None:
    x1, y1, x2, y2 = padded_box(keep, original.shape[1], original.shape[0], 0.0, 0)
    out[y1:y2, x1:x2] = original[y1:y2, x1:x2]


def photo_subject(people: list[Box], scores: list[float], w: int, h: int, strong: float) -> int:
    """Index of a reference photo's own person: the largest, most central confident detection.

    Weak detections only count when nothing is confident, so a faint box over half the photo cannot
    take the place of the person the photo is of.
    """
    pool = [i for i, s in enumerate(scores) if s >= strong] or list(range(len(people)))
    half_diag = math.hypot(w, h) / 2

    def weight(i: int) -> float:
        x1, y1, x2, y2 = people[i]
        off = math.hypot((x1 + x2 - w) / 2, (y1 + y2 - h) / 2) / half_diag
        return (x2 - x1) * (y2 - y1) * (1.0 - 0.5 * off)

    return max(pool, key=weight)


class ExportRedactor:
    """Loads the person detector on first use and redacts the pictures of one export at a time."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._lock = threading.Lock()
        self._detector: YoloxDetector | None = None
        self._loaded = False
        self.detector_note = ""

    def _load(self) -> YoloxDetector | None:
        from core.loading import load_detector
        from core.model_files import ModelFileError

        if not self._loaded:
            self._loaded = True
            try:
                det = load_detector(self.cfg, threads=2, allow_fallback=False)
                # the motion-blob fallback needs a video's history: it finds nobody in one frame
                self._detector = det if isinstance(det, YoloxDetector) else None
            except ModelFileError as exc:
                self.detector_note = str(exc)
            if self._detector is None:
                log.warning("no person detector for redacting exports (%s): everything outside the "
                            "confirmed person is blurred", self.detector_note or "fallback detector only")
        return self._detector

    def people(self, image: np.ndarray) -> tuple[list[Box], list[float]] | None:
        """Everyone the detector finds in any pass (boxes and scores), or None when there is no detector."""
        with self._lock:  # one export at a time runs the detector (it is reconfigured per pass); exports are rare
            det = self._load()
            if det is None:
                return None
            h, w = image.shape[:2]
            passes = [_pass(det, image, det.input_long_side, 0)]
            for share in BORDERS:
                border = round(share * max(h, w))
                bordered = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT,
                                              value=(LETTERBOX_FILL,) * 3)
                passes.append(_pass(det, bordered, det.input_long_side, border))
            up = min(MAX_LONG_SIDE, math.ceil(UPSCALE * max(h, w) / 32) * 32)
            if up > det.input_long_side:
                passes.append(_pass(det, image, up, 0))
        found = sv.Detections.merge([p for p in passes if len(p)])
        if not len(found):
            return [], []
        found.xyxy = sv.clip_boxes(found.xyxy, (w, h))
        found = found[(found.xyxy[:, 2] - found.xyxy[:, 0] >= 1) & (found.xyxy[:, 3] - found.xyxy[:, 1] >= 1)]
        found = found.with_nms(threshold=MERGE_IOU, class_agnostic=True)
        boxes = [tuple(float(v) for v in b) for b in found.xyxy]
        return boxes, [float(s) for s in found.confidence]  # type: ignore[misc]

    @property
    def strong_score(self) -> float:
        return self._detector.score_threshold if self._detector is not None else 0.0

    def redact_frame(self, frame: np.ndarray, keep: Box) -> Redaction:
        found = self.people(frame)
        return redact_all_but(frame, keep) if found is None else redact_people(frame, keep, found[0])

    def redact_sighting(self, s: ReportSighting) -> ReportSighting:
        """The report entry with its thumbnail and frame cut from a redacted frame (or withheld)."""
        sg = s.sighting
        withheld = replace(s, thumbnail=b"", frame=b"", people_blurred=0)
        if not Path(sg.video_path).is_file():
            return replace(withheld, redaction="picture withheld: the source video is not available to blur "
                                                "the other people in it")
        try:
            frame = read_frames_at(sg.video_path, [sg.offset_best_s])[0]
        except FrameReadError as exc:
            frame = None
            log.warning("cannot read %s for the report: %s", sg.video_path, exc)
        if frame is None:
            return replace(withheld, redaction="picture withheld: the frame could not be read to blur the other "
                                                "people in it")
        red = self.redact_frame(frame, sg.box)
        thumb, _ = _crop_around(red.image, sg.box, THUMB_HEIGHT)
        framed = _fit_width(draw_box(red.image, sg.box, thickness=2), FRAME_WIDTH)
        note = (f"{red.blurred} other people blurred" if red.method == "detector" else
                "no person detector: everything outside the confirmed person is blurred")
        return replace(s, thumbnail=encode_jpeg(thumb), frame=encode_jpeg(framed), people_blurred=red.blurred,
                       redaction=note)

    def redact_photo_image(self, image: np.ndarray) -> Redaction | None:
        """The reference photo with everyone but its own person pixelated; None without a detector."""
        found = self.people(image)
        if found is None:
            return None
        people, scores = found
        if len(people) < 2:
            return Redaction(image, 0, 1.0, "detector")
        keep = people[photo_subject(people, scores, image.shape[1], image.shape[0], self.strong_score)]
        return redact_others(image, keep, people)

    def redact_photo(self, jpeg: bytes) -> bytes:
        """The reference photo as exported: as given when nobody else is in it, else redacted (JPEG).

        b"" when it cannot be made safe: without a detector nobody, not even the photo's own person, can
        be located, so the photo is left out rather than exported with bystanders in it.
        """
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        red = None if image is None else self.redact_photo_image(image)
        if red is None:
            return b""
        return jpeg if red.blurred == 0 else encode_jpeg(red.image)


def _pass(det: YoloxDetector, image: np.ndarray, long_side: int, border: int) -> sv.Detections:
    """People (confident and weak) found in ``image`` at ``long_side``, moved back by ``border`` pixels."""
    saved = det.input_long_side
    det.input_long_side = long_side
    try:
        fd = det.detect_all(image)
    finally:
        det.input_long_side = saved
    weak = fd.objects[fd.objects.class_id == PERSON_CLASS] if len(fd.objects) else fd.objects
    parts = [p for p in (fd.persons, weak) if len(p)]
    found = sv.Detections.merge(parts) if parts else sv.Detections.empty()
    if border and len(found):
        found.xyxy = found.xyxy - float(border)
    return found

"""Blurring bystanders out of exported pictures: only the confirmed person stays recognisable.

For every sighting in a case report the frame at its best moment is read from the source video, the
person detector finds everyone in it, and every person box except the confirmed one (the detection
that best overlaps the sighting's box, IoU >= ``MATCH_IOU``) is pixelated with coarse blocks. The
report's thumbnail is then cut from the redacted frame, never taken from the index (whose stored
thumbnail may show a neighbour).

* The confirmed sighting's own box is always left as it is, even where the detector missed that
  person; parts of someone else that fall inside it stay visible (the box is the evidence).
* Without detector weights nobody can be found, so everything outside the confirmed box is pixelated.
* When the source video cannot be read, the picture is withheld rather than exported unredacted.

The console's own screens are not redacted: operators must see who is there to confirm anyone.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from core.config import Config
from core.video_frames import FrameReadError, read_frames_at
from ui.report import ReportSighting
from ui.thumbnails import _crop_around, _fit_width, draw_box, encode_jpeg

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

MATCH_IOU = 0.3  # the detector's box of the confirmed person vs the index's box of the same moment
MARGIN = 0.08  # detector boxes hug the body; hair and bags stick out
THUMB_HEIGHT = 160
FRAME_WIDTH = 640


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _clip_box(box: Box, w: int, h: int, margin: float = 0.0) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return (max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my))),
            min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my))))


def pixelate(image: np.ndarray, box: Box, *, margin: float = MARGIN, cells: int = 4) -> None:
    """Replace the box (plus a margin) by about ``cells`` blocks across its narrow side, in place."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = _clip_box(box, w, h, margin)
    if x2 - x1 < 2 or y2 - y1 < 2:
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
    pixelate(out, (0, 0, frame.shape[1], frame.shape[0]), margin=0.0, cells=24)
    _restore(out, frame, keep)
    return Redaction(out, 0, 0.0, "all-but-confirmed")


def _restore(out: np.ndarray, original: np.ndarray, keep: Box) -> None:
    x1, y1, x2, y2 = _clip_box(keep, original.shape[1], original.shape[0])
    out[y1:y2, x1:x2] = original[y1:y2, x1:x2]


class ExportRedactor:
    """Loads the person detector on first use and redacts the pictures of one export at a time."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._lock = threading.Lock()
        self._detector: object | None = None
        self._loaded = False
        self.detector_note = ""

    def _people(self, image: np.ndarray) -> list[Box] | None:
        """Person boxes in the image, or None when there is no detector to find them."""
        from core.loading import load_detector
        from core.model_files import ModelFileError
        from core.vision.detector import YoloxDetector

        with self._lock:  # one export at a time runs the detector; exports are rare
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
            if self._detector is None:
                return None
            dets = self._detector.detect(image)  # type: ignore[attr-defined]
        return [tuple(float(v) for v in b) for b in np.asarray(dets.xyxy).reshape(-1, 4)]  # type: ignore[misc]

    def redact_frame(self, frame: np.ndarray, keep: Box) -> Redaction:
        people = self._people(frame)
        return redact_all_but(frame, keep) if people is None else redact_people(frame, keep, people)

    def redact_sighting(self, s: ReportSighting) -> ReportSighting:
        """The sighting with its thumbnail and frame cut from a redacted frame (or withheld)."""
        withheld = replace(s, thumbnail=b"", frame=b"", people_blurred=0)
        if not Path(s.video_path).is_file():
            return replace(withheld, redaction="picture withheld: the source video is not available to blur "
                                                "the other people in it")
        try:
            frame = read_frames_at(s.video_path, [s.offset_best_s])[0]
        except FrameReadError as exc:
            frame = None
            log.warning("cannot read %s for the report: %s", s.video_path, exc)
        if frame is None:
            return replace(withheld, redaction="picture withheld: the frame could not be read to blur the other "
                                                "people in it")
        red = self.redact_frame(frame, s.box)
        thumb, _ = _crop_around(red.image, s.box, THUMB_HEIGHT)
        framed = _fit_width(draw_box(red.image, s.box, thickness=2), FRAME_WIDTH)
        note = (f"{red.blurred} other people blurred" if red.method == "detector" else
                "no person detector: everything outside the confirmed person is blurred")
        return replace(s, thumbnail=encode_jpeg(thumb), frame=encode_jpeg(framed), people_blurred=red.blurred,
                       redaction=note)

    def redact_photo(self, jpeg: bytes) -> bytes:
        """The reference photo with everyone but its largest person blurred (as is without a detector)."""
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return b""
        people = self._people(image)
        if not people or len(people) < 2:
            return jpeg
        keep = max(people, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        return encode_jpeg(redact_people(image, keep, people).image)

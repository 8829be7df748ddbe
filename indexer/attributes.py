"""Appearance attributes of a sighting beyond clothing colour: what a person carries or pushes, hair
colour, garment pattern, and whether the footage shows colour at all (night/IR).

Per sampled frame (:func:`observe_person`, called for every tracked person), cheap measurements only:

* **objects**: the detector's own COCO boxes (:data:`core.vision.detector.CARRIED_OBJECTS`)
  are given to the person whose *zone* for that class they fall in (a backpack on the back, a handbag
  at the side down to the knees, a bicycle beside and below, a dog at the feet...), one person per
  object, the one it sits best with (:func:`associate`). Each gets the colour names of its middle.
* **pushchair** (no COCO class): a child seated in front of the adult is usually detected as a small
  person, often below the tracking threshold, so the detector returns weak people too. A small person
  box (20-70 % of the adult's height) in the adult's lower front counts as a pushchair sighting.
* **hair** and **garment texture**: :mod:`core.vision.attributes`, on the decoded frame at its full
  resolution (the detector only sees a downscaled copy; its boxes are mapped back to full-frame pixels);
* **a close look for bags** (:class:`CloseLook`): the frame pass runs the detector on the whole frame
  scaled to 640 px or less, where a small person's handbag is a few pixels and YOLOX-Nano finds 2 of 12.
  For people that small in the detector's input, the region around them (their handbag zone) is cut from
  the full-resolution frame and detected again at 192 px, about 2-3x the frame pass's scale: handbags
  only (the other classes' boxes at that scale were mostly false), a few people per frame, each at most
  once a second. Its own presence (frames with a bag among the frames looked at) stands beside the frame
  pass's;
* **colour reliability** of the frame: :mod:`core.vision.night`.

Per sighting (:func:`summarise`), over all its frames: an object is trusted for recurring with the
same person (presence across the frames where the person is seen) and for moving with them (its
offset from the person stays put while the person walks; a parked bicycle or a bin read as a suitcase
does not). Single-frame hits at YOLOX-Nano's low object scores are mostly noise; the figures are in
``tests/test_attributes_real.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv

from core.schema import SightingRecord
from core.vision.attributes import HeadColour, Texture, object_colour
from core.vision.colours import N_COLOURS, ColourNamer
from core.vision.detector import CARRIED_OBJECTS, LETTERBOX_FILL, PERSON_CLASS, Detector, YoloxDetector
from core.vision.night import NIGHT_RELIABILITY

PUSHCHAIR = "pushchair"
OBJECT_NAMES: tuple[str, ...] = (*CARRIED_OBJECTS.values(), PUSHCHAIR)
PATTERNS = ("plain", "striped", "patterned")


@dataclass(frozen=True)
class Zone:
    """Where an object of one class sits relative to its person's box, in box widths (sideways from the
    box edges) and heights (down from the box top), and how tall it may be relative to the person."""

    left: float
    right: float
    top: float
    bottom: float
    min_height: float
    max_height: float
    anchor: tuple[float, float]  # where it typically sits (fraction of width, of height) for tie-breaks


ZONES: dict[str, Zone] = {
    "backpack": Zone(0.35, 0.35, 0.0, 0.75, 0.10, 0.60, (0.5, 0.35)),
    "handbag": Zone(0.6, 0.6, 0.15, 1.0, 0.06, 0.60, (0.5, 0.55)),
    "suitcase": Zone(1.0, 1.0, 0.3, 1.15, 0.15, 0.80, (0.5, 0.8)),
    "umbrella": Zone(0.8, 0.8, -0.7, 0.7, 0.10, 1.00, (0.5, 0.0)),
    "bicycle": Zone(1.2, 1.2, 0.1, 1.3, 0.30, 1.40, (0.5, 0.75)),
    "dog": Zone(1.5, 1.5, 0.4, 1.2, 0.10, 0.80, (0.5, 0.9)),
    "skateboard": Zone(0.5, 0.5, 0.65, 1.2, 0.03, 0.50, (0.5, 1.0)),
    PUSHCHAIR: Zone(1.0, 1.0, 0.3, 1.5, 0.20, 0.70, (0.5, 0.9)),  # the seated child
}
HAIR_FULL_PIXELS = 200  # head pixels from which a head's colour counts fully (~14 x 14)
STRIPED_MIN = 0.5  # median periodicity of the torso over a sighting's frames that makes it "striped"
PATTERN_FULL_FRAMES = 3
NO_HEAD = HeadColour(np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32), 0.0)  # no colour table
MIN_AFFINITY = 0.3
CHILD_MAX_ASPECT = 2.25  # height / width of a seated child with its pushchair
TRUNCATED_ADULT_ASPECT = 1.9  # an adult box this squat has lost its legs (behind a pushchair)
MIN_FRAMES = {PUSHCHAIR: 2}  # frames an object must be seen in before it counts (default 1)
# The close look (see the module docstring). Sizes were compared frame by frame on the labelled real clips'
# people (160/192/224/256 px; tests/test_attributes_close.py keeps the check): 192 found handbags on most
# carriers' frames with a few single weak (<= 0.17) hits on others; backpack and suitcase boxes at these
# scales fired on people without one, so only handbags are taken.
CLOSE_LOOK_PX = 192
CLOSE_LOOK_CLASSES: dict[int, str] = {26: "handbag"}
CLOSE_LOOK_BELOW_PX = 128.0  # person height in the frame pass's input under which bags are looked for closely
CLOSE_LOOK_EVERY_S = 1.0  # per person: busy-rate frames add no looks
CLOSE_LOOKS_PER_FRAME = 4  # the people looked at least recently go first
CLOSE_LOOK_MARGIN = (0.6, 0.1)  # of the person's width sideways, of their height above and below


@dataclass(frozen=True)
class ObjectSeen:
    """One object next to one person in one frame."""

    name: str
    score: float  # detector score times how well it sits in the person's zone
    box: np.ndarray  # (4,) frame pixels
    colour: np.ndarray | None  # (11,) colour names of its middle; None for the pushchair cue


@dataclass(frozen=True)
class PointAttributes:
    """What one frame shows of one tracked person, beyond clothing colour."""

    box: np.ndarray
    head: HeadColour
    texture: Texture
    objects: tuple[ObjectSeen, ...]
    reliability: float  # colour reliability of the frame (night/IR -> 0)
    close: tuple[ObjectSeen, ...] | None = None  # what a close look found; None: not looked at in this frame
    t: float | None = None  # seconds from the file's start (None: unknown, each point its own second)


@dataclass
class SightingAttributes:
    """The schema's attribute columns for one sighting."""

    objects: list[dict] = field(default_factory=list)  # {"name", "confidence", "colour"}, most confident first
    hair_colour: np.ndarray = field(default_factory=lambda: np.full(N_COLOURS, 1.0 / N_COLOURS, np.float32))
    hair_confidence: float = 0.0
    pattern: str = "plain"
    pattern_confidence: float = 0.0
    night: bool = False
    colour_reliability: float = 1.0

    def row(self) -> dict:
        return {
            "objects": [{"name": o["name"], "confidence": float(o["confidence"]),
                         "colour": np.asarray(o["colour"], dtype=np.float32)} for o in self.objects],
            "hair_colour": self.hair_colour.astype(np.float32),
            "hair_confidence": float(self.hair_confidence),
            "pattern": self.pattern,
            "pattern_confidence": float(self.pattern_confidence),
            "night": bool(self.night),
            "colour_reliability": float(self.colour_reliability),
        }

    def fill(self, record: SightingRecord) -> None:
        """Set the record's attribute columns (null there until now: not measured)."""
        for name, value in self.row().items():
            setattr(record, name, value)


# ------------------------------------------------------------------------------------------ per frame


def _affinity(zone: Zone, person: np.ndarray, obj: np.ndarray) -> float:
    """How well ``obj`` sits in ``person``'s zone: the share of its area inside, times closeness to the
    zone's anchor (so an object between two people goes to the one it is carried by), 0 if out of size."""
    x1, y1, x2, y2 = (float(v) for v in person[:4])
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    ox1, oy1, ox2, oy2 = (float(v) for v in obj[:4])
    oh = oy2 - oy1
    if not zone.min_height * h <= oh <= zone.max_height * h:
        return 0.0
    zx1, zx2 = x1 - zone.left * w, x2 + zone.right * w
    zy1, zy2 = y1 + zone.top * h, y1 + zone.bottom * h
    iw = max(0.0, min(ox2, zx2) - max(ox1, zx1))
    ih = max(0.0, min(oy2, zy2) - max(oy1, zy1))
    inside = iw * ih / max((ox2 - ox1) * oh, 1e-6)
    ax, ay = x1 + zone.anchor[0] * w, y1 + zone.anchor[1] * h
    d = np.hypot(((ox1 + ox2) / 2 - ax) / h, ((oy1 + oy2) / 2 - ay) / h)
    return float(inside * np.exp(-d * d))


def _child_affinity(adult: np.ndarray, child: np.ndarray) -> float:
    """How well ``child`` fits a child seated in a pushchair pushed in front of ``adult`` (0 or 1).

    A pushchair hides the adult's legs, so the detector boxes the adult in one of two ways, and each
    leaves the seated child (boxed with its pushchair: squat, at most ~2x as tall as wide, where a
    walking person is 2.2-3.5x) in a telling place:

    * the adult's box stops at the handle (a squat box, under 1.9x as tall as wide): the child starts
      in the adult's lower half or just below it, overlapping it sideways;
    * the adult's box takes the pushchair in: the child lies inside it, in its lower half.

    A pedestrian walking just in front of someone fits neither: the one behind keeps a tall box. The
    cue must also recur (:data:`MIN_FRAMES`): one frame's coincidence is not a pushchair.
    """
    ax1, ay1, ax2, ay2 = (float(v) for v in adult[:4])
    cx1, cy1, cx2, cy2 = (float(v) for v in child[:4])
    w, h, cw, ch = ax2 - ax1, ay2 - ay1, cx2 - cx1, cy2 - cy1
    if h <= 0 or w <= 0 or ch <= 0 or cw <= 0 or ch > CHILD_MAX_ASPECT * cw:
        return 0.0
    inter = max(0.0, min(cx2, ax2) - max(cx1, ax1)) * max(0.0, min(cy2, ay2) - max(cy1, ay1))
    if inter >= 0.8 * cw * ch:  # inside the adult's box: the box took the pushchair in
        ok = cy1 >= ay1 + 0.35 * h and 0.3 * h <= ch <= 0.6 * h
    else:
        sideways = max(0.0, min(cx2, ax2 + 0.3 * w) - max(cx1, ax1 - 0.3 * w)) / cw
        ok = (h <= TRUNCATED_ADULT_ASPECT * w and ay1 + 0.3 * h <= cy1 <= ay2 + 0.3 * h and cy2 >= ay2
              and 0.3 * h <= ch <= 1.6 * h and sideways >= 0.5)
    return 1.0 if ok else 0.0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / max(union, 1e-6))


def associate(persons: np.ndarray, objects: sv.Detections) -> list[list[tuple[int, str, float]]]:
    """For each person box, the objects it carries: ``(object index, name, affinity)``.

    Objects are carried classes, and people (strong ones from ``persons``, weak ones from ``objects``)
    small enough to be a child seated in front of an adult (the pushchair cue). Each object goes to at
    most one person: the one with the highest affinity, if it reaches :data:`MIN_AFFINITY`.
    """
    out: list[list[tuple[int, str, float]]] = [[] for _ in range(len(persons))]
    if len(persons) == 0:
        return out
    candidates: list[tuple[np.ndarray, str, int]] = []
    for k in range(len(objects)):
        cid = int(objects.class_id[k])
        name = PUSHCHAIR if cid == PERSON_CLASS else CARRIED_OBJECTS.get(cid)
        if name is not None:
            candidates.append((objects.xyxy[k], name, k))
    for k in range(len(persons)):  # a detected person can be a seated child too, if squat enough
        x1, y1, x2, y2 = persons[k][:4]
        if y2 - y1 <= CHILD_MAX_ASPECT * (x2 - x1):
            candidates.append((persons[k], PUSHCHAIR, -1 - k))
    for box, name, k in candidates:
        zone = ZONES[name]
        best, best_aff = -1, MIN_AFFINITY
        for i, person in enumerate(persons):
            if k == -1 - i:
                continue
            aff = _child_affinity(person, box) if name == PUSHCHAIR else _affinity(zone, person, box)
            if aff >= best_aff:
                best, best_aff = i, aff
        if best >= 0:
            out[best].append((k, name, best_aff))
    return out


class CloseLook:
    """Bags on people too small for the frame pass: their zone cut from the full-resolution frame and
    detected again at :data:`CLOSE_LOOK_PX` (one batched network run per frame)."""

    def __init__(self, detector: YoloxDetector):
        self.detector = YoloxDetector(detector.model_path, input_long_side=CLOSE_LOOK_PX,
                                      object_classes=tuple(CLOSE_LOOK_CLASSES), threads=detector.threads,
                                      device=detector.device)
        self.last: dict[int, float] = {}  # track id -> when it was last looked at (this video)

    @classmethod
    def of(cls, detector: Detector) -> CloseLook | None:
        """A close look with ``detector``'s weights (a network session of its own: build it once per
        worker, :meth:`reset` per video); None for detectors without carried objects."""
        return cls(detector) if isinstance(detector, YoloxDetector) else None

    def reset(self) -> None:
        self.last.clear()

    def _region(self, box: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        mx, my = CLOSE_LOOK_MARGIN[0] * (x2 - x1), CLOSE_LOOK_MARGIN[1] * (y2 - y1)
        return (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(hw[1], math.ceil(x2 + mx)),
                min(hw[0], math.ceil(y2 + my)))

    def look(self, t: float, frame: np.ndarray, boxes: np.ndarray, track_ids: np.ndarray, frame_pass_px: int,
             namer: ColourNamer | None) -> list[tuple[ObjectSeen, ...] | None]:
        """Per tracked person, the bags a close look found in their zone (None: not looked at now);
        ``frame_pass_px``: the long side of the frame pass's input."""
        out: list[tuple[ObjectSeen, ...] | None] = [None] * len(boxes)
        scale = frame_pass_px / max(frame.shape[:2])
        due = [i for i in range(len(boxes)) if (boxes[i][3] - boxes[i][1]) * scale < CLOSE_LOOK_BELOW_PX
               and t - self.last.get(int(track_ids[i]), -math.inf) >= CLOSE_LOOK_EVERY_S - 1e-6]
        due = sorted(due, key=lambda i: self.last.get(int(track_ids[i]), -math.inf))[:CLOSE_LOOKS_PER_FRAME]
        if not due:
            return out
        canvases, placed = [], []
        for i in due:
            xa, ya, xb, yb = self._region(boxes[i], frame.shape[:2])
            f = CLOSE_LOOK_PX / max(xb - xa, yb - ya, 1)
            crop = cv2.resize(frame[ya:yb, xa:xb], (max(1, round((xb - xa) * f)), max(1, round((yb - ya) * f))),
                              interpolation=cv2.INTER_LINEAR if f > 1 else cv2.INTER_AREA)
            canvas = np.full((CLOSE_LOOK_PX, CLOSE_LOOK_PX, 3), LETTERBOX_FILL, dtype=np.uint8)
            canvas[: crop.shape[0], : crop.shape[1]] = crop  # one shape for all: one batch
            canvases.append(canvas)
            placed.append((xa, ya, f))
        for i, (xa, ya, f), found in zip(due, placed, self.detector.detect_all_batch(canvases), strict=True):
            self.last[int(track_ids[i])] = t
            seen = []
            for obj, cid, score in zip(found.objects.xyxy, found.objects.class_id, found.objects.confidence,
                                       strict=True):
                name = CLOSE_LOOK_CLASSES.get(int(cid))
                if name is None:
                    continue
                in_frame = (obj / f + np.array([xa, ya, xa, ya])).astype(np.float32)
                aff = _affinity(ZONES[name], boxes[i], in_frame)
                if aff >= MIN_AFFINITY:
                    colour = object_colour(namer, frame, in_frame) if namer is not None else None
                    seen.append(ObjectSeen(name, float(score) * aff, in_frame, colour))
            out[i] = tuple(seen)
        return out


# --------------------------------------------------------------------------------------- per sighting


def summarise(points: list[PointAttributes | None]) -> SightingAttributes:
    """Aggregate a sighting's per-frame attributes (``None`` where a frame has none)."""
    seen = [p for p in points if p is not None]
    if not seen:
        return SightingAttributes()
    reliability = float(np.mean([p.reliability for p in seen]))
    hair, hair_conf = _hair(seen)
    pattern, pattern_conf = _pattern(seen)
    return SightingAttributes(
        objects=_objects(seen), hair_colour=hair, hair_confidence=hair_conf, pattern=pattern,
        pattern_confidence=pattern_conf, night=reliability < NIGHT_RELIABILITY, colour_reliability=reliability,
    )


def _objects(seen: list[PointAttributes]) -> list[dict]:
    out = []
    n = len(seen)
    for name in OBJECT_NAMES:
        best: list[ObjectSeen | None] = []
        for p in seen:
            hits = [o for o in p.objects if o.name == name]
            best.append(max(hits, key=lambda o: o.score) if hits else None)
        present = [(p, o) for p, o in zip(seen, best, strict=True) if o is not None]
        conf = 0.0
        if len(present) >= MIN_FRAMES.get(name, 1):
            conf = len(present) / n * float(np.mean([o.score for _, o in present])) * _comotion(present)
        # The close look's own presence, over the frames it looked at; the better of the two counts.
        looked = [p for p in seen if p.close is not None]
        close = [(p, max(hits, key=lambda o: o.score)) for p in looked
                 if (hits := [o for o in p.close or () if o.name == name])]
        if close:
            close_conf = len(close) / len(looked) * float(np.mean([o.score for _, o in close])) * _comotion(close)
            if close_conf > conf:
                conf, present = close_conf, close
        if conf <= 0.0:
            continue
        colours = [(o.colour, o.score) for _, o in present if o.colour is not None]
        colour = (np.average(np.stack([c for c, _ in colours]), axis=0, weights=[w for _, w in colours])
                  if colours else np.full(N_COLOURS, 1.0 / N_COLOURS))
        out.append({"name": name, "confidence": conf, "colour": colour.astype(np.float32)})
    return sorted(out, key=lambda o: -o["confidence"])


def _comotion(present: list[tuple[PointAttributes, ObjectSeen]]) -> float:
    """1 when an object keeps its place relative to a walking person, down to 0.3 when it stays put in the
    frame while the person walks on; 1 when the person does not move enough to tell."""
    if len(present) < 2:
        return 1.0
    feet = np.array([[(p.box[0] + p.box[2]) / 2, p.box[3]] for p, _ in present])
    centre = np.array([[(o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2] for _, o in present])
    h = float(np.median([p.box[3] - p.box[1] for p, _ in present]))
    walked = float(np.linalg.norm(feet[-1] - feet[0]))
    if walked < 0.5 * h:
        return 1.0
    relative = float(np.linalg.norm((centre[-1] - feet[-1]) - (centre[0] - feet[0])))
    return float(np.clip(1.0 - relative / walked, 0.3, 1.0))


def _hair(seen: list[PointAttributes]) -> tuple[np.ndarray, float]:
    """Pixel-weighted mean head colour; confidence = share of frames with a usable head x how many
    pixels a head has (PETS' 8-pixel heads count for less than Oxford's 15 or Intel's 40) x agreement
    between frames."""
    usable = [p.head for p in seen if p.head.weight > 0]
    if not usable:
        return np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32), 0.0
    w = np.array([h.weight for h in usable])
    dists = np.stack([h.dist for h in usable])
    mean = (dists * w[:, None]).sum(axis=0) / w.sum()
    mean = mean / mean.sum()
    agreement = float(np.average(np.sqrt(dists * mean).sum(axis=1), weights=w))  # Bhattacharyya
    coverage = len(usable) / len(seen)
    size = min(1.0, float(np.median(w)) / HAIR_FULL_PIXELS)
    return mean.astype(np.float32), float(np.clip(coverage * size * agreement, 0.0, 1.0))


def _pattern(seen: list[PointAttributes]) -> tuple[str, float]:
    """"striped" when the torso's profile is periodic in most measurable frames, else "plain"; the
    confidence grows with the number of frames measured (none: "plain" at confidence 0, no claim)."""
    usable = [p for p in seen if p.texture.weight > 0]
    if not usable:
        return "plain", 0.0
    stripes = float(np.median([p.texture.stripes for p in usable]))
    # counted in seconds, not frames: adaptive sampling's extra frames of the same moment add no certainty
    seconds = len({math.floor(p.t) if p.t is not None else i for i, p in enumerate(usable)})
    coverage = min(1.0, seconds / PATTERN_FULL_FRAMES)
    if stripes >= STRIPED_MIN:
        return "striped", stripes * coverage
    return "plain", (1.0 - stripes) * coverage

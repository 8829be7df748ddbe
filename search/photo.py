"""Reference photos: validate the upload, find the person in it, describe them like an indexed sighting.

A police upload can be anything: a phone photo of a whole street, a tight crop, a screenshot, a PDF
renamed to .jpg, or a 30,000 x 30,000 PNG made to exhaust memory. The checks run in this order, each
with a message an operator can act on:

1. size of the bytes (``MAX_PHOTO_BYTES``) - before anything is parsed;
2. the image header, read by Pillow without decoding pixels: not an image -> error; more than
   ``MAX_PHOTO_PIXELS`` pixels -> error (a decompression bomb never gets decoded);
3. decode, apply EXIF rotation, convert to 8-bit BGR, shrink to ``WORK_LONG_SIDE``;
4. the person: the same detector as the indexer; the largest confident person wins. A tight crop
   in which the detector finds nobody is used whole when its aspect is person-like (taller than
   wide); otherwise "no person found".

The person's colours come from the same :class:`ColourNamer` the indexer uses (also per part: head,
torso, legs, after the same grey-world correction, :mod:`core.vision.parts`), and the crop is
embedded with CLIP when it is available, so photo queries compare like with like.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.vision.colours import ColourNamer
from core.vision.crops import crop_with_margin  # the indexer's crop: photo and sighting vectors compare
from core.vision.detector import LETTERBOX_FILL
from core.vision.parts import as_crops, grey_world_gains, part_colours
from search.errors import SearchInputError

MIB = 1024 * 1024
MAX_PHOTO_BYTES = 20 * MIB
MAX_PHOTO_PIXELS = 40_000_000
WORK_LONG_SIDE = 2048  # larger photos are shrunk before detection: people stay far above detector size
PERSON_ASPECT = (1.2, 5.0)  # height / width of a tight crop of a standing person
MIN_PERSON_CONFIDENCE = 0.3
# A small photo is detected at no more than this magnification, as the indexer's frames are (a frame is
# shrunk to the detector's input, never blown up). Blown up 5.5x, a 50 x 116 px crop of a person was cut
# off at the hips; at 2x the boxes started at the crown where the index's start lower (bench/photo_levers.py).
MAX_PHOTO_UPSCALE = 1.0
MIN_PHOTO_SIDE = 16


def size_mib(n_bytes: int) -> str:
    """``n_bytes`` in MiB, rounded up to 0.1 (a file over the limit never reads as equal to it)."""
    tenths = math.ceil(n_bytes * 10 / MIB)
    return f"{tenths // 10} MiB" if tenths % 10 == 0 else f"{tenths / 10:.1f} MiB"


@dataclass(frozen=True)
class PhotoPerson:
    """The person found in a reference photo, described like an indexed sighting."""

    box: tuple[float, float, float, float]  # in the decoded (oriented, possibly shrunk) photo
    photo_size: tuple[int, int]  # (width, height) of that image
    source: str  # "detector" | "whole-image" | "operator-box"
    people_found: int
    confidence: float
    upper: np.ndarray | None = field(default=None, repr=False)
    lower: np.ndarray | None = field(default=None, repr=False)
    layout: np.ndarray | None = field(default=None, repr=False)
    vector: np.ndarray | None = field(default=None, repr=False)
    crop: np.ndarray | None = field(default=None, repr=False)
    parts: np.ndarray | None = field(default=None, repr=False)  # (1, 3, 11) head / torso / legs colours
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        from core.vision.colours import dominant

        out: dict = {"box": [round(v, 1) for v in self.box], "photo_size": list(self.photo_size),
                     "source": self.source, "people_found": self.people_found,
                     "confidence": round(self.confidence, 3), "notes": list(self.notes),
                     "has_vector": self.vector is not None}
        if self.upper is not None and self.lower is not None:
            out["upper_colours"] = [[n, round(p, 3)] for n, p in dominant(self.upper, 3)]
            out["lower_colours"] = [[n, round(p, 3)] for n, p in dominant(self.lower, 3)]
        return out


def decode_photo(data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS) -> np.ndarray:
    """Validated, oriented BGR image (long side at most ``WORK_LONG_SIDE``) from uploaded bytes."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(data, bytes | bytearray | memoryview):
        raise SearchInputError(f"the photo must be the file's bytes, not {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise SearchInputError("the photo is empty (0 bytes)")
    if size > max_bytes:
        raise SearchInputError(
            f"the photo is {size_mib(size)}; the limit is {size_mib(max_bytes)}: "
            "upload a smaller export or a crop"
        )
    with warnings.catch_warnings():
        # Pillow warns (and past 2x its limit raises) on huge images; we check the size ourselves below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(bytes(data)))
        except Image.DecompressionBombError:
            raise SearchInputError(
                f"the photo's declared size is over {max_pixels / 1e6:.0f} megapixels; refusing to decode it"
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise SearchInputError(
                "the file is not an image Pillow can read (use JPEG, PNG, WebP, BMP or TIFF)") from None
        with img:
            width, height = img.size
            if width * height > max_pixels:
                raise SearchInputError(
                    f"the photo is {width}x{height} = {width * height / 1e6:.0f} megapixels; the limit is "
                    f"{max_pixels / 1e6:.0f} (a larger image could exhaust memory): resize or crop it first"
                )
            if min(width, height) < MIN_PHOTO_SIDE:
                raise SearchInputError(f"the photo is only {width}x{height} pixels: too small to show a person")
            try:
                img.draft("RGB", (WORK_LONG_SIDE, WORK_LONG_SIDE))  # JPEG: decode at reduced scale directly
                img.load()
                img = ImageOps.exif_transpose(img) or img
                rgb = img.convert("RGB")
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise SearchInputError(f"the image is damaged or truncated ({type(exc).__name__})") from None
    arr = np.asarray(rgb)[:, :, ::-1]
    h, w = arr.shape[:2]
    scale = WORK_LONG_SIDE / max(h, w)
    if scale < 1.0:
        arr = cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)


def _validate_box(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SearchInputError("photo box: expected four numbers x1, y1, x2, y2") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise SearchInputError("photo box: not finite numbers")
    x1, x2 = sorted((max(0.0, min(x1, w)), max(0.0, min(x2, w))))
    y1, y2 = sorted((max(0.0, min(y1, h)), max(0.0, min(y2, h))))
    if x2 - x1 < 4 or y2 - y1 < 8:
        raise SearchInputError("photo box: too small or outside the photo")
    return x1, y1, x2, y2


def find_person(image: np.ndarray, detector, box: tuple[float, float, float, float] | None = None
                ) -> tuple[tuple[float, float, float, float], str, int, float, list[str]]:
    """(box, source, people found, confidence, notes) for the person to search for."""
    h, w = image.shape[:2]
    notes: list[str] = []
    if box is not None:
        return _validate_box(box, w, h), "operator-box", 0, 1.0, notes
    dets = _detect(detector, image) if detector is not None else None
    boxes = np.zeros((0, 4), dtype=np.float32)
    conf = np.zeros(0, dtype=np.float32)
    if dets is not None and len(dets):
        keep = (dets.class_id == 0) & (dets.confidence >= MIN_PERSON_CONFIDENCE)
        boxes, conf = dets.xyxy[keep], dets.confidence[keep]
    if len(boxes):
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        best = int(np.argmax(area * conf))
        if len(boxes) > 1:
            notes.append(f"{len(boxes)} people in the photo; searching for the largest (box "
                         f"{', '.join(str(round(float(v))) for v in boxes[best])}); draw a box to pick another")
        x1, y1, x2, y2 = (float(v) for v in boxes[best])
        return (x1, y1, x2, y2), "detector", len(boxes), float(conf[best]), notes
    aspect = h / max(w, 1)
    if PERSON_ASPECT[0] <= aspect <= PERSON_ASPECT[1]:
        notes.append("the detector found nobody; the photo looks like a tight crop of a person, so all of it is used")
        return (0.0, 0.0, float(w), float(h)), "whole-image", 0, 0.0, notes
    blind = detector is None or getattr(detector, "name", "") == "motion-blobs"
    raise SearchInputError(
        "no person found in the photo: upload a photo in which the person's whole body is visible, "
        "or crop it to the person (or draw a box around them)"
        + (" - no person detector weights are installed, so only tight crops work" if blind else "")
    )


def _detect(detector, image: np.ndarray):
    """``detector``'s people in ``image``; a photo smaller than the detector's input is placed on a canvas,
    so that it is magnified at most :data:`MAX_PHOTO_UPSCALE` times (boxes stay in the photo's pixels)."""
    long_side = getattr(detector, "long_side", None)
    h, w = image.shape[:2]
    if not isinstance(long_side, int) or max(h, w) * MAX_PHOTO_UPSCALE >= long_side:
        return detector.detect(image)
    side = math.ceil(long_side / MAX_PHOTO_UPSCALE)
    canvas = np.full((side, side, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[:h, :w] = image
    dets = detector.detect(canvas)
    if len(dets):
        dets.xyxy = np.clip(dets.xyxy, 0, [w, h, w, h]).astype(np.float32)
    return dets


def describe_person(image: np.ndarray, detector, colours: ColourNamer | None, embedder,
                    box: tuple[float, float, float, float] | None = None) -> PhotoPerson:
    """Find the person and compute what search compares: colours, colour layout and (if possible) a CLIP vector."""
    found_box, source, n, conf, notes = find_person(image, detector, box)
    upper = lower = layout = vector = parts = None
    if colours is not None:
        bc = colours.body_colours(image, np.asarray(found_box, dtype=np.float32))
        upper, lower, layout = bc.upper, bc.lower, bc.layout
        # Like the indexer: the photo's own grey-world correction, so its light's cast is taken out too.
        parts = as_crops(part_colours(colours, image, found_box, grey_world_gains(image)))
    else:
        notes.append("no colour-name table: the photo's colours cannot be compared")
    crop = crop_with_margin(image, found_box)
    if embedder is not None and crop.size:
        vector = embedder.embed_images([crop])[0]
    h, w = image.shape[:2]
    return PhotoPerson(box=found_box, photo_size=(w, h), source=source, people_found=n, confidence=conf,
                       upper=upper, lower=lower, layout=layout, vector=vector, crop=crop, parts=parts,
                       notes=tuple(notes))

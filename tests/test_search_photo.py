"""Reference photo uploads: validation with bounded memory, finding the person, tight-crop fallback."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import supervision as sv
from PIL import Image

from search.errors import SearchInputError
from search.photo import MAX_PHOTO_BYTES, decode_photo, describe_person, find_person
from tests.conftest import FOOTAGE


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds one tiny compressed row: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encode(img: np.ndarray, fmt: str = ".png") -> bytes:
    ok, buf = cv2.imencode(fmt, img)
    assert ok
    return buf.tobytes()


class NoDetections:
    name = "none"

    def detect(self, frame):
        return sv.Detections.empty()

    def reset(self):
        return None


class FixedDetections:
    name = "fixed"

    def __init__(self, boxes, conf):
        self.dets = sv.Detections(xyxy=np.asarray(boxes, dtype=np.float32),
                                  confidence=np.asarray(conf, dtype=np.float32),
                                  class_id=np.zeros(len(boxes), dtype=int))

    def detect(self, frame):
        return self.dets

    def reset(self):
        return None


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"%PDF-1.7 not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
    (png_header_only(12_000, 9_000), "megapixels"),
    (png_header_only(100_000, 100_000), "megapixels"),
    (png_header_only(8, 8), "too small"),
])
def test_bad_uploads_are_refused_with_a_clear_message(data, words):
    with pytest.raises(SearchInputError, match=words):
        decode_photo(data)


def test_oversized_file_is_refused_before_parsing():
    with pytest.raises(SearchInputError, match=r"20\.1 MiB; the limit is 20 MiB"):
        decode_photo(b"\xff" * (MAX_PHOTO_BYTES + 1))


def test_truncated_jpeg_is_refused():
    img = np.full((200, 100, 3), 128, np.uint8)
    data = encode(img, ".jpg")
    with pytest.raises(SearchInputError):
        decode_photo(data[: len(data) // 3] + b"\x00" * 10)


def test_formats_orientation_and_downscale():
    rgba = Image.new("RGBA", (300, 600), (200, 30, 30, 128))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    img = decode_photo(buf.getvalue())
    assert img.shape == (600, 300, 3) and img.dtype == np.uint8
    # EXIF orientation 6 (rotate 90° clockwise): a landscape file shows a portrait photo
    land = Image.new("RGB", (600, 300), (10, 200, 10))
    exif = land.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    land.save(buf, format="JPEG", exif=exif)
    assert decode_photo(buf.getvalue()).shape[:2] == (600, 300)
    big = Image.new("RGB", (5000, 3000), (0, 0, 0))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    assert max(decode_photo(buf.getvalue()).shape[:2]) == 2048


def test_tight_crop_without_detection_is_used_whole():
    crop = np.full((300, 120, 3), 90, np.uint8)
    box, source, n, _, notes = find_person(crop, NoDetections())
    assert source == "whole-image" and box == (0.0, 0.0, 120.0, 300.0) and n == 0 and notes


def test_landscape_without_a_person_is_refused():
    with pytest.raises(SearchInputError, match="no person found"):
        find_person(np.zeros((300, 600, 3), np.uint8), NoDetections())


def test_largest_person_wins_and_operator_box_overrides():
    img = np.zeros((400, 600, 3), np.uint8)
    det = FixedDetections([[10, 10, 40, 100], [200, 50, 300, 350]], [0.9, 0.8])
    box, source, n, _conf, notes = find_person(img, det)
    assert source == "detector" and n == 2 and box == (200.0, 50.0, 300.0, 350.0) and "2 people" in notes[0]
    box, source, *_ = find_person(img, det, box=(5, 5, 50, 120))
    assert source == "operator-box" and box == (5.0, 5.0, 50.0, 120.0)
    with pytest.raises(SearchInputError, match="box"):
        find_person(img, det, box=(5, 5, 6, 6))


def test_describe_person_uses_the_real_colour_table(colour_table_path):
    from core.vision.colours import COLOUR_NAMES, ColourNamer

    img = np.full((400, 200, 3), 200, np.uint8)
    img[80:200, 50:150] = (40, 40, 200)  # red top (BGR)
    img[220:360, 60:140] = (30, 30, 30)  # black trousers
    person = describe_person(img, NoDetections(), ColourNamer(colour_table_path), None)
    assert COLOUR_NAMES[int(np.argmax(person.upper))] == "red"
    assert COLOUR_NAMES[int(np.argmax(person.lower))] == "black"
    assert person.layout is not None and abs(np.linalg.norm(person.layout) - 1) < 1e-5 and person.vector is None


def test_real_detector_finds_the_person_in_reference_photos(detector_path):
    from core.vision.detector import YoloxDetector

    photos = sorted((FOOTAGE / "reference_photos").glob("*.png"))
    if not photos:
        pytest.skip("no reference photos")
    det = YoloxDetector(detector_path)
    for p in photos:
        img = decode_photo(p.read_bytes())
        box, source, *_ = find_person(img, det)
        _x1, y1, _x2, y2 = box
        assert source == "detector", p.name
        assert (y2 - y1) > 0.5 * img.shape[0], p.name  # the tall person, not something small in a corner

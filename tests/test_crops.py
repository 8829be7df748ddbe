"""The one person crop that index-time and query-time CLIP vectors are made from."""

from __future__ import annotations

import numpy as np

from core.vision.crops import CROP_MARGIN, crop_with_margin
from search.photo import describe_person


def _frame() -> np.ndarray:
    h, w = 200, 300
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([yy % 256, xx % 256, (yy + xx) % 256], axis=-1).astype(np.uint8)


def test_crop_grows_the_box_by_the_margin_and_is_a_copy():
    frame = _frame()
    crop = crop_with_margin(frame, (100.0, 50.0, 150.0, 150.0))
    # 50 x 100 box, 8 % each side: x 96..154, y 42..158
    assert CROP_MARGIN == 0.08 and crop.shape == (116, 58, 3)
    assert (crop[0, 0] == frame[42, 96]).all() and (crop[-1, -1] == frame[157, 153]).all()
    crop[:] = 0
    assert frame[100, 120].any()


def test_crop_is_clipped_at_the_frame_edge():
    frame = _frame()
    crop = crop_with_margin(frame, np.array([0.0, 0.0, 300.0, 200.0], dtype=np.float32))
    assert crop.shape == frame.shape and (crop == frame).all()
    assert crop_with_margin(frame, (280.0, 180.0, 310.0, 220.0), margin=0.0).shape == (20, 20, 3)


def test_a_reference_photo_is_cropped_as_the_indexer_crops_a_sighting():
    frame = _frame()
    box = (60.0, 20.0, 110.0, 170.0)
    person = describe_person(frame, None, None, None, box=box)
    assert person.crop is not None and np.array_equal(person.crop, crop_with_margin(frame, box))

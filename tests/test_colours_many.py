"""The vectorised colour path (``ColourNamer.body_colours_many``) against the per-box one, on real crops.

The describe stage names clothing colours with ``body_colours_many``; the names a search matches must
stay those of the per-box path (``body_colours``) it replaced.
"""

import copy

import numpy as np
import pytest

from bench.real_boxes import frames_with_people
from core.loading import load_detector
from core.vision.colours import COLOUR_NAMES, ColourNamer
from tests.conftest import FOOTAGE, REAL_CLIPS, make_config, requires


@pytest.fixture(scope="module")
def real_frames(tmp_path_factory, detector_path, colour_table_path):
    requires(*(FOOTAGE / c for c in REAL_CLIPS))
    detector = load_detector(make_config(tmp_path_factory.mktemp("idx")))
    return [f for clip in REAL_CLIPS for f in frames_with_people(FOOTAGE / clip, detector, every_s=1.0,
                                                                 max_frames=6, warmup=2)]


def _exact(namer: ColourNamer) -> ColourNamer:
    """The per-box path summing in float64: the figures both paths approximate."""
    exact = copy.copy(namer)
    exact.table = namer.table.astype(np.float64)
    return exact


def _assert_same(old, new, exact) -> None:
    """Same names as the per-box path, and figures at least as close to the exact ones: the per-box path
    averages thousands of float32 values in float32 (off by up to ~1e-4), the vectorised one in float64."""
    for a, b, e in ((old.upper, new.upper, exact.upper), (old.lower, new.lower, exact.lower),
                    (old.layout, new.layout, exact.layout)):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float32
        assert np.abs(b - e).max() < 1e-6
        assert np.abs(a - b).max() < 1e-4
    for a, b in ((old.upper, new.upper), (old.lower, new.lower)):
        top = np.sort(a)[::-1]
        if top[0] - top[1] > 2e-4:  # a clear winner must stay the winner (a near-tie is rounding's to call)
            assert COLOUR_NAMES[int(np.argmax(a))] == COLOUR_NAMES[int(np.argmax(b))]
    assert old.weight == new.weight


def test_vectorised_colours_equal_the_per_box_path_on_real_people(real_frames, colour_table_path):
    namer = ColourNamer(colour_table_path)
    exact = _exact(namer)
    n_boxes = 0
    for f in real_frames:
        for fg in (f.foreground, None):
            new = namer.body_colours_many(f.frame, f.boxes, fg)
            assert len(new) == len(f.boxes)
            for box, b in zip(f.boxes, new, strict=True):
                _assert_same(namer.body_colours(f.frame, box, fg), b, exact.body_colours(f.frame, box, fg))
                n_boxes += 1
    assert n_boxes >= 100  # people from all five clips, with and without the foreground mask
    assert {f.clip for f in real_frames} == set(REAL_CLIPS)  # the Oxford clips are 8 s long


def test_boxes_cut_by_or_outside_the_frame(real_frames, colour_table_path):
    namer = ColourNamer(colour_table_path)
    exact = _exact(namer)
    f = real_frames[0]
    H, W = f.frame.shape[:2]
    boxes = np.array([[W - 20, H - 50, W + 40, H + 90], [10, 10, 11, 12], [W + 5, H + 5, W + 50, H + 150],
                      [5, H - 3, 40, H + 200], [-40, -10, 30, 200]], dtype=np.float32)
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[: H // 2] = 255  # half the frame "moving": some regions pass the masked-fraction rule, some not
    for fg in (None, f.foreground, mask):
        for box, b in zip(boxes, namer.body_colours_many(f.frame, boxes, fg), strict=True):
            _assert_same(namer.body_colours(f.frame, box, fg), b, exact.body_colours(f.frame, box, fg))
    assert namer.body_colours_many(f.frame, np.zeros((0, 4), dtype=np.float32)) == []


def test_a_stripe_above_the_frame_has_no_pixels(real_frames, colour_table_path):
    """The per-box path sliced a region ending above the frame with a negative index (rows 0..H-42: most
    of the frame); the vectorised one finds no pixels there, so the stripe is uniform."""
    namer = ColourNamer(colour_table_path)
    f = real_frames[0]
    box = np.array([-40, -60, 30, 80], dtype=np.float32)  # the top stripe spans rows -60..-42
    (new,) = namer.body_colours_many(f.frame, box[None])
    top = (new.layout[:11] / np.linalg.norm(new.layout[:11])) ** 2
    assert np.allclose(top, 1 / 11, atol=1e-6)
    old = namer.body_colours(f.frame, box)
    assert not np.allclose(old.layout[:11], new.layout[:11], atol=1e-3)  # the old path read wrapped-round rows
    assert np.abs(old.upper - new.upper).max() < 1e-4 and np.abs(old.lower - new.lower).max() < 1e-4

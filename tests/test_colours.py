"""Colour names from the real w2c table: prototypes, reference crops, and indexed sightings."""

import cv2
import numpy as np
import pytest

from core.vision.colours import COLOUR_NAMES, LAYOUT_DIM, ColourNamer, ColourTableError, dominant
from tests.conftest import FOOTAGE, requires

PROTOTYPES = {  # RGB
    "red": (200, 20, 20), "green": (34, 139, 34), "blue": (21, 96, 189), "yellow": (255, 255, 0),
    "purple": (128, 0, 128), "black": (10, 10, 10), "white": (250, 250, 250), "grey": (128, 128, 128),
    "orange": (255, 140, 0), "pink": (255, 182, 193), "brown": (101, 67, 33),
}


@pytest.fixture(scope="module")
def namer(colour_table_path):
    return ColourNamer(colour_table_path)


@pytest.mark.parametrize("name", sorted(PROTOTYPES))
def test_prototype_colours_get_their_name(namer, name):
    r, g, b = PROTOTYPES[name]
    patch = np.zeros((10, 10, 3), np.uint8)
    patch[:] = (b, g, r)  # BGR
    dist, n = namer.distribution(patch)
    assert n == 100 and dist.sum() == pytest.approx(1.0, abs=1e-5)
    assert COLOUR_NAMES[int(np.argmax(dist))] == name


def test_person_box_splits_upper_and_lower_and_mask_excludes_background(namer):
    frame = np.zeros((200, 100, 3), np.uint8)
    frame[:] = (34, 139, 34)[::-1]  # green grass everywhere
    frame[40:100, 42:58] = (20, 20, 200)  # narrow red torso (BGR): the upper region also sees grass
    frame[110:180, 32:68] = (189, 96, 21)  # blue legs
    box = np.array([20, 10, 80, 190], dtype=float)
    fg = np.zeros(frame.shape[:2], np.uint8)
    fg[40:100, 42:58] = fg[110:180, 32:68] = 255
    masked = namer.body_colours(frame, box, fg)
    assert dominant(masked.upper, 1)[0][0] == "red" and dominant(masked.lower, 1)[0][0] == "blue"
    assert masked.layout.shape == (LAYOUT_DIM,) and np.linalg.norm(masked.layout) == pytest.approx(1.0, abs=1e-5)
    unmasked = namer.body_colours(frame, box, None)
    assert unmasked.upper[COLOUR_NAMES.index("green")] > masked.upper[COLOUR_NAMES.index("green")]


@pytest.mark.parametrize(
    ("photo", "upper"),
    [("pets_f0497_woman_red_jacket.png", "red"),
     ("intel_onebyone_t100_woman_grey_cardigan.png", "grey"),
     ("towncentreA_t5.0_woman_black_coat_red_bag.png", "black")],
)
def test_reference_crops_read_as_their_described_colour(namer, photo, upper):
    path = FOOTAGE / "reference_photos" / photo
    requires(path)
    img = cv2.imread(str(path))
    h, w = img.shape[:2]
    bc = namer.body_colours(img, np.array([0, 0, w, h], dtype=float))
    assert upper in [n for n, _ in dominant(bc.upper, 2)], dominant(bc.upper, 3)


def test_bad_table_is_refused(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((10, 11), np.float32))
    with pytest.raises(ColourTableError, match="expected shape"):
        ColourNamer(tmp_path / "w.npy")
    with pytest.raises(ColourTableError, match="not found"):
        ColourNamer(tmp_path / "absent.npy")

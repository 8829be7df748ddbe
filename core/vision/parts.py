"""Part-based colour of a person crop: head, torso and legs, each a colour-name distribution.

A single upper/lower histogram mixes hair with collar and shoes with trousers, and a person's
look changes with each camera's light. So each crop of a sighting is described by three parts, read
from the central columns of the box (less background than the full width), after a grey-world
correction of the frame the crop came from: the scene's mean colour is pulled towards grey, so a
camera with a warm cast and one with a cold cast name the same coat alike. The correction is
clipped (:data:`MAX_GAIN`): a scene that really is mostly green grass or red brick is not grey on
average, and a full correction would repaint everyone in it.

A sighting keeps up to :data:`MAX_CROPS` crops' parts (index column ``part_colours``, K x 33 floats),
so a photo can be matched against the closest of several views rather than one averaged view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.vision.colours import N_COLOURS, bhattacharyya

if TYPE_CHECKING:
    from core.vision.colours import ColourNamer

# (top, bottom, left, right) as fractions of the person's box: the head (hair, face, hat), the torso
# (coat, shirt, scarf) and the legs (trousers, skirt); the columns keep to the middle of the box.
PARTS: dict[str, tuple[float, float, float, float]] = {
    "head": (0.00, 0.16, 0.30, 0.70),
    "torso": (0.18, 0.52, 0.25, 0.75),
    "legs": (0.56, 0.92, 0.28, 0.72),
}
N_PARTS = len(PARTS)
PART_INDEX = {name: i for i, name in enumerate(PARTS)}  # a part's row in a crop's descriptor
PART_DIM = N_PARTS * N_COLOURS  # one crop's descriptor: the parts' distributions, concatenated
# Where the torso's two bands meet: above it, long hair can cover the back and shoulders (a standing
# person's shoulder blades are at about a third of their height).
TORSO_SPLIT = 0.35
MAX_CROPS = 4
MAX_GAIN = 1.35  # a channel is scaled by at most this (or at least its inverse)
MIN_PART_PIXELS = 4  # a part smaller than this (a 20-pixel person's head) is unmeasured: uniform
GAIN_STRIDE = 8  # the frame's mean colour is taken on every 8th pixel: plenty for a mean


def grey_world_gains(image: np.ndarray) -> np.ndarray:
    """(3,) per-channel gains (BGR) that move ``image``'s mean colour towards grey, clipped to
    [1 / MAX_GAIN, MAX_GAIN]; ones for an empty or black image."""
    sample = np.asarray(image)[::GAIN_STRIDE, ::GAIN_STRIDE].reshape(-1, 3).astype(np.float64)
    if not len(sample):
        return np.ones(3, dtype=np.float32)
    mean = sample.mean(axis=0)
    if mean.min() < 1.0:
        return np.ones(3, dtype=np.float32)
    gains = mean.mean() / mean
    return np.clip(gains, 1.0 / MAX_GAIN, MAX_GAIN).astype(np.float32)


def apply_gains(image: np.ndarray, gains: np.ndarray | None) -> np.ndarray:
    if gains is None or np.allclose(gains, 1.0):
        return image
    return np.clip(image.astype(np.float32) * gains.reshape(1, 1, 3), 0, 255).astype(np.uint8)


def part_colours(namer: ColourNamer, image: np.ndarray, box: Sequence[float] | np.ndarray,
                 gains: np.ndarray | None = None) -> np.ndarray:
    """(PART_DIM,) head, torso and legs colour names of the person in ``box`` (x1, y1, x2, y2 pixels
    of ``image``), after the illumination ``gains`` (:func:`grey_world_gains` of the whole frame).

    The torso is read in two bands split at :data:`TORSO_SPLIT`. Long hair falls over the upper back
    and shoulders: where the top band reads more like the head than like the band below it, the torso
    is the lower band alone (:func:`torso_without_hair`)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    H, W = image.shape[:2]

    def read(top: float, bottom: float, left: float, right: float) -> tuple[np.ndarray, int]:
        ya, yb = max(0, round(y1 + top * h)), min(H, round(y1 + bottom * h))
        xa, xb = max(0, round(x1 + left * w)), min(W, round(x1 + right * w))
        region = image[ya:yb, xa:xb] if yb > ya and xb > xa else image[:0, :0]
        n = region.shape[0] * region.shape[1]
        if n < MIN_PART_PIXELS:
            return np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32), 0
        return namer.distribution(apply_gains(region, gains))[0], n

    head, n_head = read(*PARTS["head"])
    top, bottom, left, right = PARTS["torso"]
    upper_band, n_upper = read(top, TORSO_SPLIT, left, right)
    lower_band, n_lower = read(TORSO_SPLIT, bottom, left, right)
    torso = torso_without_hair(head, n_head, upper_band, n_upper, lower_band, n_lower)
    legs, _ = read(*PARTS["legs"])
    return np.concatenate([head, torso, legs]).astype(np.float32)


def torso_without_hair(head: np.ndarray, n_head: int, upper_band: np.ndarray, n_upper: int,
                       lower_band: np.ndarray, n_lower: int) -> np.ndarray:
    """The torso's colour names from its two bands: their pixel-weighted mean (the whole torso), or the
    lower band alone where the upper band is closer to the head (Bhattacharyya coefficient) than to the
    lower band - hair over the back, not the garment. Bands or a head too small to read are not judged."""
    if n_head and n_upper and n_lower and bhattacharyya(upper_band, head) > bhattacharyya(upper_band, lower_band):
        return lower_band
    return bands_mean(upper_band, n_upper, lower_band, n_lower)


def bands_mean(upper_band: np.ndarray, n_upper: int, lower_band: np.ndarray, n_lower: int) -> np.ndarray:
    """Two bands' colour names as the region they make up reads them (pixel-weighted); one band alone where
    the other holds no pixels."""
    if n_upper == 0 or n_lower == 0:
        return lower_band if n_lower else upper_band
    mixed = (n_upper * upper_band.astype(np.float64) + n_lower * lower_band) / (n_upper + n_lower)
    return (mixed / mixed.sum()).astype(np.float32)


def box_in_crop(box: Sequence[float] | np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """Where ``box`` (frame pixels) lies inside ``core.vision.crops.crop_with_margin(frame, box, margin)``."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    xa, ya = max(0, int(x1 - (x2 - x1) * margin)), max(0, int(y1 - (y2 - y1) * margin))
    return x1 - xa, y1 - ya, x2 - xa, y2 - ya


def crops_part_colours(namer: ColourNamer, crops: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
                       margin: float) -> np.ndarray:
    """(K * PART_DIM,) parts of up to :data:`MAX_CROPS` crops, each ``(crop, box in the frame, gains)``
    with the crop cut by ``crop_with_margin(frame, box, margin)``: the index's ``part_colours`` value."""
    rows = [part_colours(namer, crop, box_in_crop(box, margin), gains) for crop, box, gains in crops[:MAX_CROPS]]
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros(0, dtype=np.float32)


def as_crops(values: np.ndarray | Sequence[float] | None) -> np.ndarray | None:
    """A ``part_colours`` value as (K, N_PARTS, N_COLOURS); None when empty or malformed."""
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float32)
    if v.size == 0 or v.size % PART_DIM:
        return None
    return v.reshape(-1, N_PARTS, N_COLOURS)

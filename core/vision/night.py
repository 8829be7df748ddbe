"""Night and infrared frames: when the colours a camera records say nothing about clothes.

At night a camera either switches to infrared, which records one channel (every pixel grey, or grey
with one tint), or keeps colour in light too dim to show it. Colour-name measurements on such frames
are not wrong so much as meaningless: everything dark reads "black", everything lit "white/grey".
:func:`colour_reliability` gives each frame a number in [0, 1] that the indexer averages over a
sighting and search uses to down-weight colour evidence (hair and object colours included).

Monochrome is told by the spread of chroma around the frame's median chroma (a uniform tint does not
count as colour): the 99th percentile of ``|(a, b) - median(a, b)|`` in CIE Lab (float), on every other
pixel of the indexer's 320-pixel working frame. On the shared real footage (daylight, 1 frame/s) it is
21-33 for PETS and Oxford, 46-49 for the Intel room and 2.6-2.8 for the Intel car park (grey asphalt,
white lines, a person in black: a colour camera whose frames carry next to no colour). Grey frames stored
as H.264, which is what an IR camera's stream is, give at most 0.55 (the codec's rounding); 0.06 before
encoding. The ramp sits between.
"""

from __future__ import annotations

import cv2
import numpy as np

MONOCHROME_CHROMA = 1.0  # at or below: no colour at all (IR); reliability 0
COLOUR_CHROMA = 2.0  # at or above: a colour camera in colour mode; reliability 1
SPREAD_PERCENTILE = 0.99
DARK_LIGHTNESS = 10.0  # mean Lab L (0-100) at or below which colours drown in noise
LIT_LIGHTNESS = 24.0  # mean lightness from which the light is enough for colours
NIGHT_RELIABILITY = 0.5  # a sighting is flagged night/IR when its mean reliability is below this


def chroma_spread(small_bgr: np.ndarray) -> tuple[float, float]:
    """(99th percentile of chroma around the median chroma, mean Lab lightness) of a small frame."""
    # float Lab: 8-bit Lab rounds a grey pixel's chroma to 1-1.4, the size of what is being measured
    bgr = np.ascontiguousarray(small_bgr[::2, ::2]).astype(np.float32) / 255.0
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).reshape(-1, 3)
    a = lab[:, 1] - np.median(lab[:, 1])
    b = lab[:, 2] - np.median(lab[:, 2])
    spread = np.sqrt(a * a + b * b)
    k = int(SPREAD_PERCENTILE * (len(spread) - 1))
    return float(np.partition(spread, k)[k]), float(lab[:, 0].mean())


def colour_reliability(small_bgr: np.ndarray) -> float:
    """How far colour names measured on this frame can be trusted: 0 (IR, or too dark) to 1."""
    spread, lightness = chroma_spread(small_bgr)
    colour = np.clip((spread - MONOCHROME_CHROMA) / (COLOUR_CHROMA - MONOCHROME_CHROMA), 0.0, 1.0)
    light = np.clip((lightness - DARK_LIGHTNESS) / (LIT_LIGHTNESS - DARK_LIGHTNESS), 0.0, 1.0)
    return float(colour * light)

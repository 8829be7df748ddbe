"""The person crop that CLIP embeds, one definition for index time and query time.

A sighting's vector (indexer) and a reference photo's vector (search) are only comparable when both
crops frame the person the same way, so both go through :func:`crop_with_margin`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CROP_MARGIN = 0.08  # of the box's width/height on each side: keeps the outline, adds little background


def crop_with_margin(image: np.ndarray, box: Sequence[float] | np.ndarray, margin: float = CROP_MARGIN) -> np.ndarray:
    """A copy of ``image`` inside ``box`` (x1, y1, x2, y2 pixels) grown by ``margin``, clipped to the image."""
    x1, y1, x2, y2 = box
    mw, mh = (x2 - x1) * margin, (y2 - y1) * margin
    H, W = image.shape[:2]
    xa, ya = max(0, int(x1 - mw)), max(0, int(y1 - mh))
    xb, yb = min(W, math.ceil(x2 + mw)), min(H, math.ceil(y2 + mh))
    return image[ya:yb, xa:xb].copy()

"""Compass bearings shared by the indexer (direction of movement) and search (direction filters)."""

from __future__ import annotations

import math

COMPASS_8 = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
COMPASS_DEG = {name: i * 45.0 for i, name in enumerate(COMPASS_8)}


def compass_name(bearing_deg: float) -> str:
    """8-way compass name of a bearing; '-' for NaN (not moving)."""
    if math.isnan(bearing_deg):
        return "-"
    return COMPASS_8[int(((bearing_deg % 360) + 22.5) // 45) % 8]


def angle_diff_deg(a: float, b: float) -> float:
    """Smallest absolute difference between two bearings, in [0, 180]."""
    d = abs((a - b) % 360.0)
    return min(d, 360.0 - d)

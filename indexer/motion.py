"""Direction of movement (compass bearing) and speed of a track, from image motion.

No calibration is assumed beyond what the camera registry says: the camera's heading (where it looks)
and its tilt (how far down). A person's own box height serves as the scale (people are ~1.7 m), and
for a camera tilted down by ``tilt``:

* sideways ground motion of 1 m moves the feet ``f/D`` pixels, and ``f/D = h_px / (H cos(tilt))``;
* motion of 1 m away from the camera moves the feet up by ``(f/D) * sin(tilt)`` pixels,

where ``h_px`` is the box height, ``H`` the person's height and ``D`` the distance along the view ray.
So image motion right/up maps to metres sideways/away, and the bearing is
``heading + atan2(sideways, away)``. It is an approximation near the image centre; it gets the
8-way compass direction right, which is what operators ask for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PERSON_HEIGHT_M = 1.7
MIN_MOVE_M = 1.0  # less ground displacement than this over a track: standing, no direction
# Two boxes a second apart give a direction dominated by box jitter; from three on it is reliable
# (bench/tracking_quality.py: median error 5 deg, 97% within 45 deg on the sample city).
MIN_POINTS = 3


@dataclass(frozen=True)
class Motion:
    bearing_deg: float  # compass bearing of movement, [0, 360); NaN when not moving
    speed_mps: float
    displacement_m: float

    @property
    def moving(self) -> bool:
        return not math.isnan(self.bearing_deg)


def estimate_motion(times: Sequence[float], boxes: np.ndarray, heading_deg: float,
                    tilt_deg: float) -> Motion:
    """Bearing and speed from a track's boxes (N x 4, x1 y1 x2 y2) at ``times`` (seconds)."""
    t = np.asarray(times, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    if len(t) < MIN_POINTS or t[-1] - t[0] <= 0:
        return Motion(math.nan, 0.0, 0.0)
    foot_x = (boxes[:, 0] + boxes[:, 2]) / 2
    foot_y = boxes[:, 3]
    h = np.median(boxes[:, 3] - boxes[:, 1])
    # Least-squares velocity: robust to one jittery box, unlike first-to-last differences.
    vx = np.polyfit(t, foot_x, 1)[0]
    vy = np.polyfit(t, foot_y, 1)[0]
    tilt = math.radians(min(max(tilt_deg, 5.0), 85.0))
    m_per_px = PERSON_HEIGHT_M * math.cos(tilt) / max(h, 1.0)
    side_mps = vx * m_per_px
    away_mps = -vy * m_per_px / math.sin(tilt)
    speed = math.hypot(side_mps, away_mps)
    displacement = speed * (t[-1] - t[0])
    if displacement < MIN_MOVE_M:
        return Motion(math.nan, float(speed), float(displacement))
    bearing = (heading_deg + math.degrees(math.atan2(side_mps, away_mps))) % 360.0
    return Motion(float(bearing), float(speed), float(displacement))

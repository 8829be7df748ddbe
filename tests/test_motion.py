"""Direction of movement from image motion, checked against an honest pinhole projection."""

import math

import numpy as np
import pytest

from core.compass import angle_diff_deg, compass_name
from indexer.motion import estimate_motion


def _project(east: float, north: float, heading: float, tilt: float, height_m: float = 1.7,
             cam_h: float = 6.0, f: float = 500.0, size=(640, 360)) -> np.ndarray:
    """Box of a standing person at ground point (east, north) metres seen by a camera at the origin."""
    h = math.radians(heading)
    fwd = np.array([math.sin(h), math.cos(h)])
    right = np.array([math.cos(h), -math.sin(h)])
    p = np.array([east, north])
    d, x = float(p @ fwd), float(p @ right)
    t = math.radians(tilt)

    def img(z: float) -> tuple[float, float]:
        # camera frame: forward along the tilted optical axis, down positive
        yc = (cam_h - z) * math.cos(t) - d * math.sin(t)
        zc = d * math.cos(t) + (cam_h - z) * math.sin(t)
        return size[0] / 2 + f * x / zc, size[1] / 2 + f * yc / zc

    (fx, fy), (_, hy) = img(0.0), img(height_m)
    w = 0.4 * (fy - hy)
    return np.array([fx - w / 2, hy, fx + w / 2, fy])


@pytest.mark.parametrize("heading", [0, 90, 200, 315])
@pytest.mark.parametrize("walk", [0, 45, 90, 135, 180, 225, 270, 315])
@pytest.mark.parametrize("tilt", [25, 40])
def test_bearing_recovered_within_tolerance(heading, walk, tilt):
    speed = 1.3
    times = np.arange(0, 8.0, 1.0)
    h = math.radians(heading)
    start = np.array([math.sin(h), math.cos(h)]) * 14.0  # 14 m in front of the camera
    step = np.array([math.sin(math.radians(walk)), math.cos(math.radians(walk))]) * speed
    boxes = np.stack([_project(*(start + step * (t - 4.0)), heading, tilt) for t in times])
    m = estimate_motion(times, boxes, heading, tilt)
    assert m.moving
    assert angle_diff_deg(m.bearing_deg, walk) < 25, (m, walk)
    assert compass_name(m.bearing_deg) in {compass_name(walk), compass_name(walk - 20), compass_name(walk + 20)}
    assert 0.6 < m.speed_mps < 2.6


def test_standing_person_has_no_direction():
    times = np.arange(0, 10.0, 1.0)
    rng = np.random.default_rng(0)
    boxes = np.tile([300, 100, 340, 200], (10, 1)) + rng.normal(0, 1.5, (10, 4))
    m = estimate_motion(times, boxes, 0, 30)
    assert not m.moving and math.isnan(m.bearing_deg)
    assert compass_name(m.bearing_deg) == "-"


def test_compass_helpers():
    assert [compass_name(b) for b in (0, 22, 23, 90, 180, 270, 337.4, 337.6, 359)] == \
        ["N", "N", "NE", "E", "S", "W", "NW", "N", "N"]
    assert angle_diff_deg(350, 10) == 20 and angle_diff_deg(90, 270) == 180

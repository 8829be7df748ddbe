"""Pinhole camera over a flat ground plane, in local metres around the camera.

World frame: x = east, y = north, z = up, origin on the ground directly below the camera. A camera looks
toward compass bearing ``heading_deg`` and is tilted down by ``tilt_deg``; image u grows to the right and
v grows downward. Nothing here knows about latitude/longitude: each camera is its own little world,
because the product only ever relates cameras through the registry's coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def bearing_vector(bearing_deg: float) -> np.ndarray:
    """Unit (east, north) vector for a compass bearing."""
    b = math.radians(bearing_deg)
    return np.array([math.sin(b), math.cos(b)])


def bearing_of(east: float, north: float) -> float:
    """Compass bearing of a ground vector, in [0, 360)."""
    return math.degrees(math.atan2(east, north)) % 360.0


def angle_diff(a: float, b: float) -> float:
    """Signed smallest difference a - b in degrees, in (-180, 180]."""
    d = (a - b + 180.0) % 360.0 - 180.0
    return 180.0 if d == -180.0 else d


@dataclass(frozen=True)
class PinholeCamera:
    heading_deg: float
    tilt_deg: float
    height_m: float
    hfov_deg: float
    width: int = 640
    height: int = 360
    # Orthonormal camera axes in world coordinates, derived once.
    forward: np.ndarray = field(init=False, repr=False, compare=False)
    right: np.ndarray = field(init=False, repr=False, compare=False)
    up: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h, t = math.radians(self.heading_deg), math.radians(self.tilt_deg)
        fwd = np.array([math.sin(h) * math.cos(t), math.cos(h) * math.cos(t), -math.sin(t)])
        right = np.array([math.cos(h), -math.sin(h), 0.0])
        object.__setattr__(self, "forward", fwd)
        object.__setattr__(self, "right", right)
        object.__setattr__(self, "up", np.cross(right, fwd))

    @property
    def focal_px(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def centre(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.height_m])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> image (u, v) (..., 2) and depth along the optical axis (...)."""
        p = np.asarray(points, dtype=np.float64) - self.centre
        x, y, z = p @ self.right, p @ self.up, p @ self.forward
        f = self.focal_px
        safe = np.where(z > 1e-6, z, 1e-6)
        u = self.width / 2 + f * x / safe
        v = self.height / 2 - f * y / safe
        return np.stack([u, v], axis=-1), z

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """World-space (unnormalised) ray directions through pixel positions u, v."""
        f = self.focal_px
        du = (np.asarray(u, dtype=np.float64) - self.width / 2) / f
        dv = (np.asarray(v, dtype=np.float64) - self.height / 2) / f
        return (self.forward + du[..., None] * self.right - dv[..., None] * self.up)

    def ground_point(self, u: float, v: float) -> tuple[float, float] | None:
        """Where the ray through (u, v) meets the ground, or None above the horizon."""
        d = self.rays(np.array(u), np.array(v))
        if d[2] >= -1e-9:
            return None
        t = self.height_m / -d[2]
        return float(d[0] * t), float(d[1] * t)

    def person_boxes(self, east: np.ndarray, north: np.ndarray, height_m: float, width_m: float = 0.5
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Nominal image boxes (N, 4) of upright bodies standing at (east, north), and feet depths.

        Planning only: rendering reports the tight box of the drawn figure; this cylinder approximation
        is what the scenario uses to decide when somebody is in view before anything is drawn.
        """
        east, north = np.atleast_1d(east).astype(float), np.atleast_1d(north).astype(float)
        zeros = np.zeros_like(east)
        feet, depth = self.project(np.stack([east, north, zeros], axis=-1))
        head, _ = self.project(np.stack([east, north, zeros + height_m], axis=-1))
        half_w = self.focal_px * width_m / 2 / np.maximum(depth, 1e-3)
        boxes = np.stack([feet[:, 0] - half_w, head[:, 1], feet[:, 0] + half_w, feet[:, 1]], axis=-1)
        return boxes, depth

    def person_box(self, east: float, north: float, height_m: float, width_m: float = 0.5
                   ) -> tuple[float, float, float, float]:
        boxes, _ = self.person_boxes(np.array([east]), np.array([north]), height_m, width_m)
        return tuple(float(x) for x in boxes[0])  # type: ignore[return-value]

    def view_angles(self, east: float, north: float, bearing_deg: float) -> tuple[float, float]:
        """(yaw, elevation) in degrees under which this camera sees a person facing ``bearing_deg``.

        yaw 0 = the person faces the camera, 180 = their back is to it, +90 = they face image-right.
        elevation = how far below horizontal the camera is, seen from the person's chest.
        """
        to_cam = bearing_of(-east, -north)
        yaw = angle_diff(to_cam, bearing_deg)
        dist = math.hypot(east, north)
        elev = math.degrees(math.atan2(self.height_m - 1.2, max(dist, 0.5)))
        return yaw, elev


def inside_fractions(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Share of each box's (N, 4) area that lies inside the image."""
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    ix = np.clip(np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0), 0, None)
    return np.where(area > 0, ix * iy / np.where(area > 0, area, 1.0), 0.0)


def box_inside_fraction(box: tuple[float, float, float, float], width: int, height: int) -> float:
    """Share of a box's area that lies inside the image."""
    x1, y1, x2, y2 = box
    area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    if area <= 0:
        return 0.0
    ix = max(0.0, min(x2, width) - max(x1, 0.0))
    iy = max(0.0, min(y2, height) - max(y1, 0.0))
    return ix * iy / area

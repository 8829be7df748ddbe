"""Static street backgrounds, ray-cast per pixel through the camera's pinhole model.

Each camera sees a straight street: a sidewalk (paving, a yellow tactile strip, tree pits), a kerb, an
asphalt road with lane markings and sometimes a zebra crossing, a far sidewalk and a row of shopfronts
behind it. The near building line lies behind or beside the camera. Everything is a function of ground
or facade coordinates in metres, so perspective, foreshortening and texture scale are right by
construction; pattern edges are filtered by each pixel's ground footprint so distant tiles fade to their
average instead of aliasing. Props (lamp posts, bare trees, bins, benches, bollards) are projected 3-D
primitives drawn on top. Rendering happens at 2x and is area-downsampled.

Street frame: u runs along ``axis_deg`` (compass bearing), w runs to the right of it; the camera stands
at u = w = 0. The road is always on the +w side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import PinholeCamera

BGR = tuple[int, int, int]
SS = 2  # supersampling factor


@dataclass(frozen=True)
class StreetLayout:
    axis_deg: float
    facade_w: float  # near building line (<= 0: behind / beside the camera)
    kerb_w: float  # the sidewalk ends and the kerb starts here
    road_w: float
    far_walk_w: float
    paving: str  # "tiles" | "bricks" | "slabs"
    paving_bgr: BGR
    far_wall_bgr: BGR
    near_wall_bgr: BGR
    far_height_m: float
    near_height_m: float
    crosswalk_u: float | None
    shadow_w: float  # the building's shade covers the sidewalk up to this w (<= facade_w: none)
    gain: float  # overall exposure of this camera
    tint: tuple[float, float, float]  # white balance multipliers, B G R
    seed: int

    @property
    def far_kerb_w(self) -> float:
        return self.kerb_w + 0.2 + self.road_w

    @property
    def far_facade_w(self) -> float:
        return self.far_kerb_w + 0.2 + self.far_walk_w

    def to_street(self, east: np.ndarray, north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = math.radians(self.axis_deg)
        return east * math.sin(a) + north * math.cos(a), east * math.cos(a) - north * math.sin(a)

    def to_world(self, u: float, w: float) -> tuple[float, float]:
        a = math.radians(self.axis_deg)
        return u * math.sin(a) + w * math.cos(a), u * math.cos(a) - w * math.sin(a)


# ------------------------------------------------------------------------------------------ noise


def _hash(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic per-cell random numbers in [0, 1) (integer hash; no RNG state)."""
    m = np.uint64(0xFFFFFFFF)
    h = (i.astype(np.int64).astype(np.uint64) * np.uint64(374761393)
         + j.astype(np.int64).astype(np.uint64) * np.uint64(668265263)
         + np.uint64(seed * 2654435761 & 0xFFFFFFFF)) & m
    h = ((h ^ (h >> np.uint64(13))) * np.uint64(1274126177)) & m
    h = h ^ (h >> np.uint64(16))
    return ((h & m).astype(np.float64) / 4294967296.0).astype(np.float32)


def _value_noise(x: np.ndarray, y: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1) with features about ``scale`` metres across."""
    xs, ys = x / scale, y / scale
    i, j = np.floor(xs), np.floor(ys)
    fx, fy = xs - i, ys - j
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a, b = _hash(i, j, seed), _hash(i + 1, j, seed)
    c, d = _hash(i, j + 1, seed), _hash(i + 1, j + 1, seed)
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _lines(coord: np.ndarray, period: float, width: float, fp: np.ndarray) -> np.ndarray:
    """Coverage of thin lines at multiples of ``period``, box-filtered by the pixel footprint ``fp``."""
    x = np.mod(coord, period)
    dist = np.minimum(x, period - x)
    sharp = np.clip((width / 2 - dist) / np.maximum(fp, 1e-6) + 0.5, 0.0, 1.0)
    mix = np.clip(fp / period * 1.5 - 0.25, 0.0, 1.0)
    return sharp * (1 - mix) + (width / period) * mix


def _band(coord: np.ndarray, lo: float, hi: float, fp: np.ndarray) -> np.ndarray:
    """Soft indicator of lo <= coord < hi, anti-aliased over the footprint."""
    f = np.maximum(fp, 1e-6)
    return np.clip((coord - lo) / f + 0.5, 0, 1) * np.clip((hi - coord) / f + 0.5, 0, 1)


def _f32(*v: float) -> np.ndarray:
    return np.array(v, np.float32)


def _mix(base: np.ndarray, colour: BGR | np.ndarray, amount: np.ndarray) -> np.ndarray:
    c = np.asarray(colour, dtype=np.float32)
    a = amount.astype(np.float32, copy=False)[..., None]
    return base * (1 - a) + c * a


# ------------------------------------------------------------------------------------------ materials


def _paving(u: np.ndarray, w: np.ndarray, fu: np.ndarray, fw: np.ndarray, lay: StreetLayout) -> np.ndarray:
    base = np.asarray(lay.paving_bgr, dtype=np.float32)
    if lay.paving == "bricks":
        pu, pw, grout = 0.2, 0.1, 0.008
    elif lay.paving == "slabs":
        pu, pw, grout = 0.6, 0.6, 0.01
    else:
        pu, pw, grout = 0.3, 0.3, 0.008
    row = np.floor(w / pw)
    uu = u + np.where(np.mod(row, 2) == 1, pu / 2, 0.0)  # running bond
    col = np.floor(uu / pu)
    detail = np.clip(1.0 - np.maximum(fu / pu, fw / pw), 0.0, 1.0)
    var = (_hash(col, row, lay.seed) - 0.5) * 0.15 * detail
    stain = (_value_noise(u, w, 2.5, lay.seed + 1) - 0.5) * 0.16
    img = base * (1 + var + stain)[..., None]
    g = np.maximum(_lines(uu, pu, grout, fu), _lines(w, pw, grout, fw))
    img = _mix(img, base * 0.62, g * 0.8)
    # Korean sidewalks carry a yellow tactile guide strip; it also gives the ground a recognisable scale.
    t0 = lay.kerb_w - 1.2
    strip = _band(w, t0, t0 + 0.3, fw)
    dots = np.maximum(_lines(u, 0.075, 0.025, fu), _lines(w - t0, 0.075, 0.025, fw)) * 0.25
    img = _mix(img, _f32(40, 175, 215) * (1 - dots)[..., None], strip)
    return img


def _tree_pits(u: np.ndarray, w: np.ndarray, fu: np.ndarray, fw: np.ndarray, lay: StreetLayout,
               trees_u: list[float]) -> tuple[np.ndarray, np.ndarray]:
    amount = np.zeros_like(u)
    wc = lay.kerb_w - 0.7
    for tu in trees_u:
        amount = np.maximum(amount, _band(u, tu - 0.6, tu + 0.6, fu) * _band(w, wc - 0.6, wc + 0.6, fw))
    grate = 0.55 + 0.45 * (1 - _lines(u, 0.1, 0.03, fu))
    return amount, grate


def _road(u: np.ndarray, w: np.ndarray, fu: np.ndarray, fw: np.ndarray, lay: StreetLayout) -> np.ndarray:
    grain = (_value_noise(u, w, 0.35, lay.seed + 5) - 0.5) * 0.14
    patch = (_value_noise(u, w, 4.0, lay.seed + 6) - 0.5) * 0.18
    img = _f32(78.0, 80.0, 82.0) * (1 + grain + patch)[..., None]
    r0 = lay.kerb_w + 0.2
    img = _mix(img, (52, 54, 56), _band(w, r0, r0 + 0.35, fw) * 0.7)  # gutter
    lane = r0 + 3.3
    if lay.road_w > 5:
        dash = _band(np.mod(u, 8.0), 0.0, 3.0, fu)
        img = _mix(img, (205, 208, 210), _band(w, lane - 0.075, lane + 0.075, fw) * dash * 0.9)
    if lay.road_w > 9:
        mid = r0 + lay.road_w / 2
        for off in (-0.15, 0.15):
            img = _mix(img, (40, 170, 215), _band(w, mid + off - 0.06, mid + off + 0.06, fw) * 0.9)
    if lay.crosswalk_u is not None:
        zone = (_band(u, lay.crosswalk_u - 2.0, lay.crosswalk_u + 2.0, fu)
                * _band(w, r0 + 0.3, r0 + lay.road_w - 0.3, fw))
        bars = _lines(w - r0 + 0.225, 0.9, 0.45, fw)
        wear = 0.75 + 0.25 * _value_noise(u, w, 0.5, lay.seed + 7)
        img = _mix(img, (215, 218, 220), zone * bars * wear)
    return img


def _facade(s: np.ndarray, z: np.ndarray, fs: np.ndarray, wall: BGR, seed: int) -> np.ndarray:
    """Shop fronts on the ground floor, windows above; s runs along the building, z is height."""
    bay = 5.0
    b = np.floor(s / bay)
    x = s - b * bay
    rnd = _hash(b, np.zeros_like(b), seed)
    rnd2 = _hash(b, np.ones_like(b), seed)
    wall_c = np.asarray(wall, dtype=np.float32)
    stain = (_value_noise(s, z, 1.5, seed + 3) - 0.5) * 0.12
    img = wall_c * (1 + stain)[..., None]
    floor_h = 3.0
    # Upper floors: two windows per bay, framed, glass reflecting a pale sky.
    fz = np.mod(z - 3.6, floor_h)
    upper = z >= 3.6
    for wx in (0.9, 3.0):
        win = _band(x, wx, wx + 1.2, fs) * _band(fz, 0.9, 2.4, fs) * upper
        frame = _band(x, wx - 0.08, wx + 1.28, fs) * _band(fz, 0.82, 2.48, fs) * upper
        img = _mix(img, wall_c * 0.55, frame)
        glass = _f32(110, 100, 90) + (fz - 0.9)[..., None] * _f32(25, 22, 18)
        img = _mix(img, glass * (0.8 + 0.4 * rnd2[..., None]), win)
    # Ground floor: pillar, big shop window (some lit), door, signboard band.
    ground = (z < 3.6).astype(np.float32)
    pillar = _band(x, 0.0, 0.45, fs)
    glass_zone = _band(z, 0.35, 2.65, fs) * (1 - pillar) * ground
    lit = (rnd > 0.45)[..., None]
    interior = np.where(lit, _f32(120, 160, 190), _f32(70, 68, 66))
    interior = interior * (0.75 + 0.35 * _value_noise(s, z, 0.7, seed + 9))[..., None]
    reflect = np.clip(_lines(s + z * 0.8, 2.3, 0.25, fs) * 0.6, 0, 1)
    shop = _mix(interior, (190, 190, 185), reflect * 0.5)
    img = _mix(img, shop, glass_zone)
    mullion = _lines(x, 1.5, 0.06, fs) * glass_zone
    img = _mix(img, (45, 45, 48), mullion)
    door = _band(x, 3.3, 4.4, fs) * _band(z, 0.0, 2.4, fs) * (rnd2 > 0.5)
    img = _mix(img, (50, 52, 55), door * 0.85)
    sign_zone = _band(z, 2.8, 3.5, fs) * _band(x, 0.5, 4.9, fs)
    palette = np.array([[60, 60, 170], [150, 90, 40], [230, 230, 230], [60, 130, 60], [40, 40, 45],
                        [200, 160, 60], [70, 140, 200]], dtype=np.float32)
    sign = palette[(rnd2 * len(palette)).astype(int) % len(palette)]
    img = _mix(img, sign, sign_zone)
    # Lettering: light blocks on the sign, sized like characters seen from across the street.
    glyph = _band(np.mod(x - 0.9, 0.42), 0.0, 0.3, fs) * _band(z, 2.95, 3.35, fs) * _band(x, 0.9, 3.8, fs)
    glyph *= _hash(np.floor((s - 0.9) / 0.42), np.full_like(s, 7.0), seed) > 0.2
    text_c = np.where((sign.sum(-1) > 450)[..., None], 40.0, 235.0)
    img = _mix(img, np.broadcast_to(text_c, img.shape), glyph * 0.9)
    return img


# ------------------------------------------------------------------------------------------ props


@dataclass(frozen=True)
class Prop:
    kind: str  # "lamp" | "tree" | "bin" | "bench" | "bollard"
    u: float
    w: float


def props_for(lay: StreetLayout) -> list[Prop]:
    """Street furniture along the kerb (and benches by the building), deterministic per layout."""
    rng = np.random.default_rng(lay.seed + 11)
    props: list[Prop] = []
    lamp0 = rng.uniform(0, 20)
    for k in range(-4, 5):
        props.append(Prop("lamp", lamp0 + 20 * k, lay.kerb_w - 0.35))
    tree0 = lamp0 + rng.uniform(4, 8)
    for k in range(-10, 11):
        tu = tree0 + 9 * k
        if rng.random() < 0.8:
            props.append(Prop("tree", tu, lay.kerb_w - 0.7))
        if rng.random() < 0.25:
            props.append(Prop("bin", tu + 1.6, lay.kerb_w - 0.55))
    if lay.facade_w > -6:
        for k in range(-3, 4):
            if rng.random() < 0.35:
                props.append(Prop("bench", rng.uniform(-8, 8) + 14 * k, lay.facade_w + 0.55))
    if lay.crosswalk_u is not None:
        for d in (-2.6, -1.3, 1.3, 2.6):
            props.append(Prop("bollard", lay.crosswalk_u + d, lay.kerb_w - 0.25))
    return props


def tree_positions(lay: StreetLayout) -> list[float]:
    return [p.u for p in props_for(lay) if p.kind == "tree"]


class _Projector:
    def __init__(self, cam: PinholeCamera, lay: StreetLayout) -> None:
        self.cam, self.lay = cam, lay

    def pt(self, u: float, w: float, z: float) -> tuple[np.ndarray, float]:
        e, n = self.lay.to_world(u, w)
        uv, depth = self.cam.project(np.array([e, n, z]))
        return uv * SS, float(depth)

    def scale(self, depth: float) -> float:
        return self.cam.focal_px * SS / max(depth, 1e-3)


def _shaded_column(img: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, colour: BGR) -> None:
    """A vertical cylinder from a (bottom) to b (top), lit from the left."""
    for scale, gain, off in ((1.0, 0.6, 0.0), (0.7, 0.85, -0.15), (0.35, 1.05, -0.3)):
        d = np.array([ra * off, 0.0])
        pts = np.array([a + d + [-ra * scale, 0], a + d + [ra * scale, 0],
                        b + d + [rb * scale, 0], b + d + [-rb * scale, 0]])
        c = tuple(int(min(255, x * gain)) for x in colour)
        cv2.fillConvexPoly(img, np.round(pts * 16).astype(np.int32), c, cv2.LINE_AA, 4)


def _draw_props(img: np.ndarray, cam: PinholeCamera, lay: StreetLayout) -> None:
    pj = _Projector(cam, lay)
    rng = np.random.default_rng(lay.seed + 21)
    items = []
    for p in props_for(lay):
        _, depth = pj.pt(p.u, p.w, 0.0)
        if depth > 0.8:
            items.append((depth, p))
    for _, p in sorted(items, key=lambda t: -t[0]):
        base, d0 = pj.pt(p.u, p.w, 0.0)
        k = pj.scale(d0)
        if not (-200 < base[0] < img.shape[1] + 200 and base[1] > -50):
            continue
        if p.kind == "lamp":
            top, d1 = pj.pt(p.u, p.w, 7.5)
            if d1 <= 0.5:
                continue
            _shaded_column(img, base, top, 0.08 * k, 0.05 * pj.scale(d1), (70, 72, 70))
            arm, _ = pj.pt(p.u, p.w + 1.2, 7.3)
            cv2.line(img, (int(top[0] * 16), int(top[1] * 16)), (int(arm[0] * 16), int(arm[1] * 16)),
                     (60, 62, 60), max(1, int(0.06 * pj.scale(d1))), cv2.LINE_AA, 4)
        elif p.kind == "tree":
            top, d1 = pj.pt(p.u, p.w, 2.6)
            _shaded_column(img, base, top, 0.13 * k, 0.1 * pj.scale(d1), (55, 68, 80))
            # Bare March branches: a few tapering limbs with twigs.
            for _ in range(7):
                az = rng.uniform(0, 2 * math.pi)
                length = rng.uniform(1.6, 3.0)
                z0 = rng.uniform(2.2, 2.6)
                end_u, end_w, end_z = (p.u + length * 0.6 * math.cos(az), p.w + length * 0.6 * math.sin(az),
                                       z0 + length * 0.8)
                a, _ = pj.pt(p.u, p.w, z0)
                b, db = pj.pt(end_u, end_w, end_z)
                if db <= 0.5:
                    continue
                cv2.line(img, (int(a[0] * 16), int(a[1] * 16)), (int(b[0] * 16), int(b[1] * 16)),
                         (60, 72, 85), max(1, int(0.05 * pj.scale(db))), cv2.LINE_AA, 4)
                for _ in range(3):
                    tw, dt = pj.pt(end_u + rng.uniform(-0.8, 0.8), end_w + rng.uniform(-0.8, 0.8),
                                   end_z + rng.uniform(0.2, 1.0))
                    if dt > 0.5:
                        cv2.line(img, (int(b[0] * 16), int(b[1] * 16)), (int(tw[0] * 16), int(tw[1] * 16)),
                                 (75, 85, 95), 1, cv2.LINE_AA, 4)
        elif p.kind == "bin":
            top, d1 = pj.pt(p.u, p.w, 0.85)
            _shaded_column(img, base, top, 0.24 * k, 0.26 * pj.scale(d1), (60, 85, 55))
            cv2.ellipse(img, (int(top[0] * 16), int(top[1] * 16)),
                        (int(0.26 * pj.scale(d1) * 16), int(0.08 * pj.scale(d1) * 16)), 0, 0, 360,
                        (40, 55, 38), -1, cv2.LINE_AA, 4)
        elif p.kind == "bollard":
            top, d1 = pj.pt(p.u, p.w, 0.8)
            _shaded_column(img, base, top, 0.09 * k, 0.08 * pj.scale(d1), (120, 120, 118))
        elif p.kind == "bench":
            corners = []
            for du, dw in ((-0.9, -0.22), (0.9, -0.22), (0.9, 0.22), (-0.9, 0.22)):
                corners.append(pj.pt(p.u + du, p.w + dw, 0.45)[0])
            if min(pj.pt(p.u + du, p.w, 0.45)[1] for du in (-0.9, 0.9)) <= 0.5:
                continue
            for du in (-0.75, 0.75):
                for dw in (-0.18, 0.18):
                    a, _ = pj.pt(p.u + du, p.w + dw, 0.0)
                    b, _ = pj.pt(p.u + du, p.w + dw, 0.45)
                    cv2.line(img, (int(a[0] * 16), int(a[1] * 16)), (int(b[0] * 16), int(b[1] * 16)),
                             (40, 40, 42), max(1, int(0.05 * k)), cv2.LINE_AA, 4)
            cv2.fillConvexPoly(img, np.round(np.array(corners) * 16).astype(np.int32), (70, 100, 130),
                               cv2.LINE_AA, 4)
            back = [pj.pt(p.u + du, p.w - 0.22, z)[0] for du, z in ((-0.9, 0.5), (0.9, 0.5), (0.9, 0.85),
                                                                     (-0.9, 0.85))]
            cv2.fillConvexPoly(img, np.round(np.array(back) * 16).astype(np.int32), (60, 88, 115),
                               cv2.LINE_AA, 4)


# ------------------------------------------------------------------------------------------ render


def _footprint(a: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(a)
    return np.abs(gx) + np.abs(gy)


def render_background(cam: PinholeCamera, lay: StreetLayout) -> np.ndarray:
    """The empty street as this camera sees it (BGR uint8, camera exposure and tint applied)."""
    W, H = cam.width * SS, cam.height * SS
    xs = (np.arange(W) + 0.5) / SS
    ys = (np.arange(H) + 0.5) / SS
    uu, vv = np.meshgrid(xs, ys)
    d = cam.rays(uu, vv)
    ch = cam.height_m
    du, dw = lay.to_street(d[..., 0], d[..., 1])
    dz = d[..., 2]
    inf = np.full(dz.shape, np.inf)
    t_ground = np.where(dz < -1e-9, ch / np.where(dz < -1e-9, -dz, 1.0), inf)
    t_near = np.where(dw < -1e-9, lay.facade_w / np.where(dw < -1e-9, dw, -1.0), inf)
    t_far = np.where(dw > 1e-9, lay.far_facade_w / np.where(dw > 1e-9, dw, 1.0), inf)
    # Sky first, then whatever surface each ray hits first; textures are evaluated only where seen.
    sky = _f32(205, 195, 185) + (vv / cam.height)[..., None].astype(np.float32) * _f32(-20, -10, 0)
    img = sky.reshape(-1, 3).copy()

    def facade_hit(t: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
        z = np.where(np.isfinite(t), ch + np.where(np.isfinite(t), t, 0.0) * dz, -1.0)
        hit = (z >= 0) & (z <= height)
        return hit, np.where(hit, t, inf)

    far_hit, t_far = facade_hit(t_far, lay.far_height_m)
    near_hit, t_near = facade_hit(t_near, lay.near_height_m)
    t_min = np.minimum(t_far, t_near)
    g_hit = np.isfinite(t_ground) & (t_ground <= t_min)
    for hit, t, _height, wall, seed in (
        (far_hit & (t_far <= t_near) & ~g_hit, t_far, lay.far_height_m, lay.far_wall_bgr, lay.seed + 100),
        (near_hit & (t_near < t_far) & ~g_hit, t_near, lay.near_height_m, lay.near_wall_bgr, lay.seed + 200),
    ):
        if not hit.any():
            continue
        tt = np.where(hit, t, 0.0)
        s_full, z_full = tt * du, ch + tt * dz
        fs_full = _footprint(s_full) + _footprint(z_full)
        sel = hit.ravel()
        s_, z_ = s_full.ravel()[sel].astype(np.float32), z_full.ravel()[sel].astype(np.float32)
        tex = _facade(s_, z_, fs_full.ravel()[sel].astype(np.float32), wall, seed)
        # Buildings get darker toward street level, where the street itself blocks the sky.
        img[sel] = tex * (0.8 + 0.2 * np.clip(z_ / 8.0, 0, 1))[:, None]

    tg = np.where(g_hit, t_ground, 0.0)
    gu_full, gw_full = tg * du, tg * dw
    sel = g_hit.ravel()
    # Materials in float32: half the memory traffic, and centimetre precision is plenty.
    gu, gw = gu_full.ravel()[sel].astype(np.float32), gw_full.ravel()[sel].astype(np.float32)
    fu = _footprint(gu_full).ravel()[sel].astype(np.float32)
    fw = _footprint(gw_full).ravel()[sel].astype(np.float32)
    walk = _paving(gu, gw, fu, fw, lay)
    pit, grate = _tree_pits(gu, gw, fu, fw, lay, tree_positions(lay))
    walk = _mix(walk, _f32(55.0, 58.0, 60.0) * grate[..., None], pit)
    road_zone = _band(gw, lay.kerb_w + 0.2, lay.far_kerb_w, fw)
    road = np.zeros_like(walk)
    on_road = road_zone > 0
    road[on_road] = _road(gu[on_road], gw[on_road], fu[on_road], fw[on_road], lay)
    kerb_c = _f32(168.0, 170.0, 172.0) * (1 - 0.25 * _lines(gu, 1.0, 0.02, fu))[..., None]
    ground = walk
    ground = _mix(ground, kerb_c, _band(gw, lay.kerb_w, lay.kerb_w + 0.2, fw))
    ground = _mix(ground, road, road_zone)
    ground = _mix(ground, kerb_c, _band(gw, lay.far_kerb_w, lay.far_kerb_w + 0.2, fw))
    # Shade from the near building, a little blue like real open shade.
    if lay.shadow_w > lay.facade_w:
        shade = np.clip((lay.shadow_w - gw) / 0.6 + 0.5, 0, 1)
        ground = ground * (1 - shade[..., None] * _f32(0.22, 0.3, 0.34))
    # Ground further away looks hazier and flatter.
    haze = np.clip((tg.ravel()[sel].astype(np.float32) - 15.0) / 60.0, 0, 0.35)[..., None]
    img[sel] = ground * (1 - haze) + _f32(170.0, 170.0, 168.0) * haze
    img = img.reshape(H, W, 3)

    img = np.clip(img, 0, 255).astype(np.uint8)
    _draw_props(img, cam, lay)
    small = cv2.resize(img, (cam.width, cam.height), interpolation=cv2.INTER_AREA)
    # Exposure, white balance and lens vignetting, as a real camera would put on everything.
    yy, xx = np.mgrid[0:cam.height, 0:cam.width]
    r2 = ((xx - cam.width / 2) / (cam.width / 2)) ** 2 + ((yy - cam.height / 2) / (cam.height / 2)) ** 2
    vignette = 1 - 0.12 * r2
    out = small.astype(np.float64) * vignette[..., None] * lay.gain * np.asarray(lay.tint)
    return np.clip(out, 0, 255).astype(np.uint8)

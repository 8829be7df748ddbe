"""Drawing one walking person as a shaded, articulated figure (a sprite with alpha).

The body is a small 3-D skeleton (proportions after Drillis & Contini's segment lengths, head 1/7.5 of
height) posed by a simple walking-gait cycle, seen from the yaw and elevation the camera sees it from,
and projected orthographically. Each body part is drawn as a tapered capsule or a polygon in several
concentric layers, darker at the rim, so limbs and clothes read as rounded volumes rather than flat
fills: the COCO-trained detector does not fire on flat stick figures.

Sprites are drawn at a fixed canonical size and scaled into the frame by the renderer, so one sprite
(per look, yaw bucket, elevation bucket and gait phase) serves every frame that needs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

BGR = tuple[int, int, int]

CANON_PX = 160  # sprite pixels from the soles to the top of the head (upright, side-on)
GAIT_PHASES = 8  # distinct walking poses per stride
SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << SHIFT
_LIGHT = np.array([-0.45, 0.6])  # screen direction the light comes from (x right, y up): upper left
_LAYERS = ((1.0, 0.6), (0.76, 0.86), (0.44, 1.08))  # (radius scale, brightness) rim->core


@dataclass(frozen=True)
class Look:
    """What a person looks like. Colours are BGR."""

    height_m: float
    build: float  # width factor around 1.0
    female: bool
    skin: BGR
    hair: BGR
    hair_style: str  # "short" | "long" | "bob"
    upper: BGR
    upper_kind: str  # "coat_long" | "coat" | "jacket" | "sweater" | "tshirt"
    lower: BGR
    lower_kind: str  # "trousers" | "skirt"
    legwear: BGR  # tights or skin below a skirt
    shoes: BGR
    bag: str = ""  # "" | "backpack" | "shoulder"
    bag_colour: BGR = (40, 40, 40)


@dataclass(frozen=True)
class Sprite:
    bgra: np.ndarray  # (h, w, 4) uint8: colour and coverage, resized together
    anchor: tuple[float, float]  # pixel (x, y) of the ground point under the body
    head_px: float  # pixels from the anchor up to the nominal head top (height_m)
    bbox: tuple[int, int, int, int]  # tight box of alpha >= 128: x1, y1, x2, y2 (exclusive)


# ---------------------------------------------------------------------------------------------- pose


def _gait_angles(phase: float, walking: bool) -> dict[str, float]:
    """Joint angles in radians for one side-symmetric walking cycle (phase in [0, 1))."""
    if not walking:
        return {"hip_l": 0.02, "hip_r": -0.02, "knee_l": 0.06, "knee_r": 0.08,
                "sh_l": 0.03, "sh_r": -0.02, "el_l": 0.22, "el_r": 0.2}
    w = 2 * math.pi * phase
    out: dict[str, float] = {}
    for side, off in (("l", 0.0), ("r", math.pi)):
        ws = w + off
        out[f"hip_{side}"] = math.radians(17) * math.sin(ws)
        # Knee flexes most in early swing (thigh just behind, moving forward), straight at heel strike.
        swing = max(0.0, math.cos(ws + 1.0)) ** 2
        stance = max(0.0, math.sin(ws - 1.4)) * 0.12
        out[f"knee_{side}"] = math.radians(5) + math.radians(38) * swing + stance
        # Arms swing against the same-side leg.
        out[f"sh_{side}"] = -math.radians(19) * math.sin(ws)
        out[f"el_{side}"] = math.radians(14) + math.radians(22) * max(0.0, -math.sin(ws))
    return out


def skeleton(look: Look, phase: float, walking: bool) -> dict[str, np.ndarray]:
    """Joint positions in the body frame (x right, y forward, z up), metres."""
    h = look.height_m
    a = _gait_angles(phase, walking)
    thigh, shin, ankle_z = 0.245 * h, 0.246 * h, 0.039 * h
    hip_half = (0.058 if look.female else 0.052) * h
    sh_half = (0.112 if look.female else 0.124) * h * look.build
    # Pelvis height follows the stance leg, which gives the natural bob of a walk.
    reach = max(thigh * math.cos(a[f"hip_{s}"]) + shin * math.cos(a[f"hip_{s}"] - a[f"knee_{s}"])
                for s in "lr")
    pz = reach + ankle_z
    lean = 0.025 * h if walking else 0.0
    j: dict[str, np.ndarray] = {"pelvis": np.array([0.0, 0.0, pz])}
    foot = 0.152 * h
    for s, sx in (("l", -1.0), ("r", 1.0)):
        hip = np.array([sx * hip_half, 0.0, pz])
        th, kn = a[f"hip_{s}"], a[f"knee_{s}"]
        knee = hip + thigh * np.array([0.0, math.sin(th), -math.cos(th)])
        ankle = knee + shin * np.array([0.0, math.sin(th - kn), -math.cos(th - kn)])
        # Feet stay roughly level; the swinging foot's toe drops a little.
        pitch = max(0.0, kn - 0.5) * 0.5
        toe_dir = np.array([0.0, math.cos(pitch), -math.sin(pitch)])
        j[f"hip_{s}"], j[f"knee_{s}"], j[f"ankle_{s}"] = hip, knee, ankle
        j[f"heel_{s}"] = ankle + np.array([0.0, -0.22 * foot, -0.75 * ankle_z])
        j[f"toe_{s}"] = ankle + 0.78 * foot * toe_dir + np.array([0.0, 0.0, -0.6 * ankle_z])
    sz = pz + (0.818 - 0.53) * h
    chest = np.array([0.0, lean, sz])
    j["neck_base"] = chest + np.array([0.0, 0.0, 0.01 * h])
    for s, sx in (("l", -1.0), ("r", 1.0)):
        # The joint sits below the top of the shoulder so the sleeve grows out of the trunk's outline.
        sh = chest + np.array([sx * sh_half * 0.96, -0.01 * h, -0.032 * h])
        fl, el = a[f"sh_{s}"], a[f"el_{s}"]
        abd = 0.12 + (0.04 if look.upper_kind.startswith("coat") else 0.0)
        up_dir = np.array([sx * math.sin(abd), math.sin(fl), -math.cos(fl)])
        up_dir /= np.linalg.norm(up_dir)
        fore_dir = np.array([sx * math.sin(abd) * 0.6, math.sin(fl + el), -math.cos(fl + el)])
        fore_dir /= np.linalg.norm(fore_dir)
        elbow = sh + 0.186 * h * up_dir
        wrist = elbow + 0.146 * h * fore_dir
        j[f"sh_{s}"], j[f"elbow_{s}"], j[f"wrist_{s}"] = sh, elbow, wrist
        j[f"hand_{s}"] = wrist + 0.05 * h * fore_dir
    head_h = h / 7.5
    top = pz + (h - 0.53 * h)  # the head rides on the pelvis, so it bobs with the stride
    j["head"] = np.array([0.0, lean * 1.2, top - head_h * 0.5])
    j["chin"] = np.array([0.0, lean * 1.2 + 0.01 * h, top - head_h])
    return j


# ---------------------------------------------------------------------------------------------- view


@dataclass(frozen=True)
class _View:
    yaw: float  # radians
    elev: float  # radians
    ppm: float  # pixels per metre
    ox: float  # anchor pixel x
    oy: float  # anchor pixel y

    def screen(self, p: np.ndarray) -> tuple[np.ndarray, float]:
        """Body-frame point -> (pixel xy, depth toward the viewer)."""
        ca, sa = math.cos(self.yaw), math.sin(self.yaw)
        x_v = -p[0] * ca + p[1] * sa
        z_v = p[0] * sa + p[1] * ca
        ce, se = math.cos(self.elev), math.sin(self.elev)
        y_s = p[2] * ce - z_v * se
        # Only the horizontal toward-the-viewer part orders body parts: height says nothing about
        # whether an arm is in front of the chest.
        return np.array([self.ox + x_v * self.ppm, self.oy - y_s * self.ppm]), z_v

    def lateral(self) -> float:
        """How wide a body's left-right axis looks (1 = square-on, 0 = side-on)."""
        return abs(math.cos(self.yaw))


def _shade(colour: BGR, gain: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * gain))) for c in colour)  # type: ignore[return-value]


def _fx(p: np.ndarray) -> tuple[int, int]:
    return round(p[0] * _ONE), round(p[1] * _ONE)


class _Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.bgr = np.zeros((h, w, 3), np.uint8)
        self.alpha = np.zeros((h, w), np.uint8)

    def poly(self, pts: np.ndarray, colour: BGR, *, alpha: bool = True) -> None:
        fx = np.round(pts * _ONE).astype(np.int32)
        cv2.fillConvexPoly(self.bgr, fx, colour, cv2.LINE_AA, SHIFT)
        if alpha:
            cv2.fillConvexPoly(self.alpha, fx, 255, cv2.LINE_AA, SHIFT)

    def polys(self, pts: np.ndarray, colour: BGR, *, alpha: bool = True) -> None:
        """Possibly non-convex polygon."""
        fx = [np.round(pts * _ONE).astype(np.int32)]
        cv2.fillPoly(self.bgr, fx, colour, cv2.LINE_AA, SHIFT)
        if alpha:
            cv2.fillPoly(self.alpha, fx, 255, cv2.LINE_AA, SHIFT)

    def ellipse(self, c: np.ndarray, axes: tuple[float, float], angle: float, colour: BGR,
                *, alpha: bool = True) -> None:
        ax = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
        cv2.ellipse(self.bgr, _fx(c), ax, angle, 0, 360, colour, -1, cv2.LINE_AA, SHIFT)
        if alpha:
            cv2.ellipse(self.alpha, _fx(c), ax, angle, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)

    def limb(self, p1: np.ndarray, p2: np.ndarray, r1: float, r2: float, colour: BGR) -> None:
        """Cylinder-shaded tapered capsule: dark rim, lit core nudged toward the light.

        Plain float maths and three OpenCV calls per layer: sprites are drawn by the thousand.
        """
        x1, y1, x2, y2 = float(p1[0]), float(p1[1]), float(p2[0]), float(p2[1])
        dx, dy = x2 - x1, y2 - y1
        ln = math.hypot(dx, dy)
        nx, ny = (-dy / ln, dx / ln) if ln > 1e-6 else (1.0, 0.0)
        rmax = max(r1, r2)
        lx, ly = float(_LIGHT[0]), float(-_LIGHT[1])
        for k, (scale, gain) in enumerate(_LAYERS):
            ox, oy = lx * (1 - scale) * rmax * 0.55, ly * (1 - scale) * rmax * 0.55
            a1, a2 = r1 * scale, r2 * scale
            ax, ay, bx, by = x1 + ox, y1 + oy, x2 + ox, y2 + oy
            quad = np.array([[ax + nx * a1, ay + ny * a1], [bx + nx * a2, by + ny * a2],
                             [bx - nx * a2, by - ny * a2], [ax - nx * a1, ay - ny * a1]])
            quad = np.round(quad * _ONE).astype(np.int32)
            c1 = (round(ax * _ONE), round(ay * _ONE))
            c2 = (round(bx * _ONE), round(by * _ONE))
            ra, rb = max(1, round(a1 * _ONE)), max(1, round(a2 * _ONE))
            targets = ((self.bgr, _shade(colour, gain)), (self.alpha, 255)) if k == 0 else \
                ((self.bgr, _shade(colour, gain)),)
            for img, col in targets:
                cv2.fillConvexPoly(img, quad, col, cv2.LINE_AA, SHIFT)
                cv2.circle(img, c1, ra, col, -1, cv2.LINE_AA, SHIFT)
                cv2.circle(img, c2, rb, col, -1, cv2.LINE_AA, SHIFT)

    def body(self, levels: list[tuple[np.ndarray, float]], colour: BGR, *, core: float = 1.0) -> None:
        """Shaded trunk-like shape from (centre, half-width) levels listed top to bottom."""
        light_x = _LIGHT[0]
        for k, (scale, gain) in enumerate(_LAYERS):
            s = 1 - (1 - scale) * core
            left = [c + np.array([-hw * s + light_x * (1 - s) * hw * 0.6, 0.0]) for c, hw in levels]
            right = [c + np.array([hw * s + light_x * (1 - s) * hw * 0.6, 0.0]) for c, hw in levels]
            if k > 0:  # inner layers stop short of the hem and neckline so those edges stay shaded
                inset = (1 - s) * 0.35 * (levels[-1][0][1] - levels[0][0][1]) / max(len(levels), 1)
                left[0] = left[0] + np.array([0.0, inset])
                right[0] = right[0] + np.array([0.0, inset])
                left[-1] = left[-1] - np.array([0.0, inset])
                right[-1] = right[-1] - np.array([0.0, inset])
            pts = np.array(left + right[::-1])
            self.polys(pts, _shade(colour, gain), alpha=k == 0)


# ---------------------------------------------------------------------------------------------- parts


def _level(view: _View, z: float, half_w: float, half_d: float, y: float = 0.0) -> tuple[np.ndarray, float]:
    """Screen centre and half-width of an elliptic body cross-section at height z."""
    c, _ = view.screen(np.array([0.0, y, z]))
    ca, sa = math.cos(view.yaw), math.sin(view.yaw)
    hw = math.hypot(half_w * ca, half_d * sa) * view.ppm
    return c, hw


def _draw_figure(cv: _Canvas, look: Look, j: dict[str, np.ndarray], view: _View) -> None:
    h = look.height_m
    ppm = view.ppm
    scr = {k: view.screen(p) for k, p in j.items()}
    px = {k: v[0] for k, v in scr.items()}
    dep = {k: v[1] for k, v in scr.items()}
    b = look.build
    long_coat = look.upper_kind == "coat_long"
    coat = look.upper_kind in ("coat", "coat_long")

    # Each drawable: (depth, order, callable). Legs always sit behind the trunk, the head in front.
    items: list[tuple[float, int, object]] = []

    leg_r_top = (0.062 if look.female else 0.058) * h * ppm * b
    leg_r_knee = 0.036 * h * ppm * b
    leg_r_ankle = 0.024 * h * ppm
    trouser = look.lower_kind == "trousers"
    for s in "lr":
        thigh_c = look.lower if trouser else look.legwear
        shin_c = look.lower if trouser else look.legwear
        d_leg = (dep[f"hip_{s}"] + dep[f"ankle_{s}"]) / 2

        def leg(s: str = s, thigh_c: BGR = thigh_c, shin_c: BGR = shin_c) -> None:
            kn_r = leg_r_knee * (1.15 if trouser else 1.0)
            cv.limb(px[f"knee_{s}"], px[f"ankle_{s}"], kn_r, leg_r_ankle * (1.25 if trouser else 1.0),
                    shin_c)
            cv.limb(px[f"hip_{s}"], px[f"knee_{s}"], leg_r_top, kn_r, thigh_c)
            sole = 0.017 * h * ppm
            cv.limb(px[f"heel_{s}"], px[f"toe_{s}"], sole * 1.2, sole, look.shoes)

        items.append((d_leg, 0, leg))

    # Trunk: shoulders -> waist -> hips, plus a hem for coats / skirts.
    pz = j["pelvis"][2]
    sz = j["sh_l"][2] + 0.01 * h
    lean = j["neck_base"][1]
    sh_w = (abs(j["sh_l"][0]) + 0.03 * h) * (1.0 if coat else 0.97)
    hip_w = (0.095 if look.female else 0.088) * h * b
    waist_w = (0.072 if look.female else 0.08) * h * b
    depth_c = 0.075 * h * b
    pad = 0.012 * h if coat else 0.0
    trunk = [
        _level(view, sz + 0.022 * h, sh_w * 0.5 + pad, depth_c * 0.7, lean),
        _level(view, sz - 0.005 * h, sh_w * 0.9 + pad, depth_c * 0.95 + pad, lean * 0.95),
        _level(view, sz - 0.04 * h, sh_w + pad, depth_c + pad, lean * 0.9),
        _level(view, sz - 0.12 * h, sh_w * 0.9 + pad, depth_c * 1.05 + pad, lean * 0.6),
        _level(view, pz + 0.08 * h, waist_w + pad, depth_c * 0.9 + pad, lean * 0.2),
    ]
    hips = _level(view, pz - 0.01 * h, hip_w + pad, depth_c * 0.95 + pad)
    crotch = _level(view, pz - 0.06 * h, hip_w * 0.9 + pad, depth_c * 0.9 + pad)

    def legs_span(z_frac: float) -> tuple[np.ndarray, float]:
        """Hem level wide enough to cover both thighs at that height (coats follow the stride)."""
        pts = []
        for s in "lr":
            p = j[f"hip_{s}"] + z_frac * (j[f"knee_{s}"] - j[f"hip_{s}"])
            pts.append(view.screen(p)[0])
        xs = [q[0] for q in pts]
        ys = [q[1] for q in pts]
        c = np.array([(min(xs) + max(xs)) / 2, max(ys)])
        return c, (max(xs) - min(xs)) / 2 + leg_r_top * 1.35

    upper_levels = list(trunk)
    if coat:
        upper_levels += [hips, legs_span(0.5 if not long_coat else 1.05)]
    elif look.upper_kind == "jacket":
        upper_levels += [hips]
    else:
        upper_levels += [(hips[0] + np.array([0.0, -0.012 * h * ppm]), hips[1] * 0.98)]
    lower_levels = [trunk[-1], hips, crotch]
    if look.lower_kind == "skirt":
        lower_levels = [trunk[-1], hips, legs_span(0.85)]

    def trunk_draw() -> None:
        cv.body(lower_levels, look.lower)
        cv.body(upper_levels, look.upper)
        # Front opening / zip line and a belt line give the detector the usual clothing structure.
        front = math.cos(view.yaw)
        if coat and front > 0.2:
            top, _ = trunk[0]
            bot = upper_levels[-1][0]
            cv.limb(top + np.array([0, 0.02 * h * ppm]), bot, 0.004 * h * ppm, 0.004 * h * ppm,
                    _shade(look.upper, 0.55))
        if look.lower_kind == "trousers" and not coat:
            c, hw = trunk[-1]
            belt = np.array([[-hw, 0.004], [hw, 0.004], [hw, 0.014], [-hw, 0.014]]) * [1.0, h * ppm]
            cv.poly(c + belt, _shade(look.lower, 0.45), alpha=False)

    items.append((0.0, 1, trunk_draw))

    # Arms (sleeves) and hands.
    sleeve = look.upper
    arm_r = (0.036 if look.female else 0.041) * h * ppm * b * (1.12 if coat else 1.0)
    for s in "lr":
        d_arm = (dep[f"sh_{s}"] + dep[f"hand_{s}"]) / 2

        def arm(s: str = s) -> None:
            fore_c = look.skin if look.upper_kind == "tshirt" else sleeve
            cv.limb(px[f"sh_{s}"], px[f"elbow_{s}"], arm_r * 0.92, arm_r * 0.82, sleeve)
            cv.limb(px[f"elbow_{s}"], px[f"wrist_{s}"], arm_r * 0.8, arm_r * 0.62, fore_c)
            cv.limb(px[f"wrist_{s}"], px[f"hand_{s}"], arm_r * 0.55, arm_r * 0.6, look.skin)

        # Arms stay in front of the trunk unless clearly on its far side.
        order = 2 if d_arm > -0.35 * depth_c else -1
        items.append((d_arm, order, arm))

    # Bags.
    if look.bag == "backpack":
        pack_c, pack_d = view.screen(np.array([0.0, lean - depth_c - 0.05 * h, sz - 0.14 * h]))

        def pack() -> None:
            w = math.hypot(0.1 * h * view.lateral(), 0.07 * h * math.sin(view.yaw)) * ppm
            cv.body([(pack_c + np.array([0.0, -0.11 * h * ppm]), w * 0.85),
                     (pack_c, w), (pack_c + np.array([0.0, 0.1 * h * ppm]), w * 0.9)], look.bag_colour)

        items.append((pack_d, 1 if pack_d > 0 else -2, pack))
    elif look.bag == "shoulder":
        side = "r"
        bag_c, bag_d = view.screen(j[f"hip_{side}"] + np.array([0.075 * h, 0.0, 0.02 * h]))

        def shoulder_bag() -> None:
            w = 0.07 * h * ppm * (0.5 + 0.5 * view.lateral())
            cv.body([(bag_c + np.array([0.0, -0.05 * h * ppm]), w * 0.9), (bag_c, w),
                     (bag_c + np.array([0.0, 0.05 * h * ppm]), w)], look.bag_colour)

        items.append((bag_d, 1 if bag_d > -0.02 else -2, shoulder_bag))

    # Neck, head, hair, face.
    head_c = px["head"]
    ax_w, ax_d, ax_h = 0.046 * h, 0.058 * h, 0.067 * h
    ca, sa = math.cos(view.yaw), math.sin(view.yaw)
    hw = math.hypot(ax_w * ca, ax_d * sa) * ppm
    hh = math.hypot(ax_h * math.cos(view.elev), ax_d * math.sin(view.elev)) * ppm

    if look.hair_style == "long":
        # Hair falling behind the neck: hidden by the trunk from the front, over it from behind.
        _, curtain_d = view.screen(j["head"] + np.array([0.0, -0.05 * h, 0.0]))

        def curtain() -> None:
            top = head_c + np.array([-sa * 0.2 * hw, -0.2 * hh])
            cv.body([(top, hw * 1.05), (head_c + np.array([0.0, hh * 0.8]), hw * 1.08),
                     (head_c + np.array([-sa * hw * 0.3, hh * 2.2]), hw * 0.95)], look.hair, core=0.6)

        items.append((curtain_d, 1, curtain))

    def head() -> None:
        cv.limb(px["neck_base"], px["chin"], 0.03 * h * ppm, 0.027 * h * ppm, look.skin)
        # Skin head, then hair cap pushed toward the back of the head, then the face left showing.
        cv.ellipse(head_c, (hw, hh), 0, _shade(look.skin, 0.8))
        back = np.array([-sa, 0.0]) * hw * 0.32
        cap = 1.08 if look.hair_style != "short" else 1.03
        cv.ellipse(head_c + back + np.array([0.0, -0.12 * hh]), (hw * cap, hh * 0.95), 0,
                   _shade(look.hair, 0.9), alpha=True)
        if ca > -0.25:  # some of the face is toward the camera
            face_w = hw * (0.42 + 0.4 * max(ca, 0.0))
            shift = sa * (hw - face_w) * 0.95
            fc = head_c + np.array([shift, hh * 0.2])
            fh = hh * (0.74 if look.hair_style != "bob" else 0.68)
            cv.ellipse(fc, (face_w, fh), 0, look.skin, alpha=False)
            cv.ellipse(fc + np.array([-0.25 * face_w, -0.2 * fh]), (face_w * 0.55, fh * 0.55), 0,
                       _shade(look.skin, 1.08), alpha=False)
            if ca > 0.3:  # eyes and brows: dark marks that make a face a face
                for ex in (-0.38, 0.38):
                    e = fc + np.array([ex * face_w + shift * 0.3, -0.12 * fh])
                    cv.ellipse(e, (face_w * 0.16, fh * 0.07), 0, _shade(look.hair, 0.8), alpha=False)
                m = fc + np.array([shift * 0.3, 0.5 * fh])
                cv.ellipse(m, (face_w * 0.22, fh * 0.05), 0, _shade(look.skin, 0.6), alpha=False)
        if look.hair_style == "bob" and ca > -0.25:
            for sx in (-1, 1):
                cv.ellipse(head_c + np.array([sx * hw * 0.78 + shift * 0.2, hh * 0.25]),
                           (hw * 0.32, hh * 0.62), 0, _shade(look.hair, 0.85))

    items.append((0.0, 3, head))

    # Far-side arms first, legs, trunk, near arms, head; depth sorts within each order class.
    for _, _, fn in sorted(items, key=lambda t: (t[1], t[0])):
        fn()  # type: ignore[operator]


@lru_cache(maxsize=4096)
def render_sprite(look: Look, yaw_deg: float, elev_deg: float, phase_idx: int, walking: bool = True
                  ) -> Sprite:
    """The figure at canonical size for one pose; cached, because crowds reuse a few poses a lot."""
    h = look.height_m
    ppm = CANON_PX / h
    w_px = int(CANON_PX * 0.8)
    h_px = int(CANON_PX * 1.22)
    view = _View(math.radians(yaw_deg), math.radians(elev_deg), ppm, w_px / 2, h_px - 0.14 * CANON_PX)
    cv = _Canvas(w_px, h_px)
    j = skeleton(look, phase_idx / GAIT_PHASES, walking)
    _draw_figure(cv, look, j, view)
    # Gentle top-to-bottom falloff: light from the sky, feet in the shade of the body.
    ramp = np.linspace(1.06, 0.8, h_px, dtype=np.float32)[:, None, None]
    bgr = np.clip(cv.bgr.astype(np.float32) * ramp, 0, 255).astype(np.uint8)
    bgr = cv2.GaussianBlur(bgr, (3, 3), 0.6)
    alpha = cv2.GaussianBlur(cv.alpha, (3, 3), 0.6)
    ys, xs = np.nonzero(alpha >= 128)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    head_px = h * math.cos(math.radians(elev_deg)) * ppm
    return Sprite(bgra=np.dstack([bgr, alpha]), anchor=(view.ox, view.oy), head_px=head_px, bbox=bbox)

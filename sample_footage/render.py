"""Frames and files: composite people onto a camera's background and encode H.264 like a CCTV recorder.

Per frame: the static background, soft contact shadows, every visible person far-to-near (sprite scaled
so its soles and nominal head top land on their pinhole projections), then optics blur, sensor noise
and the recorder's on-screen clock. Every frame also yields each person's tight box (from the sprite's
alpha), which is the ground truth; on the 0.5 s sampling frames we also measure how much of each person
is hidden behind nearer people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av
import cv2
import numpy as np

from .figure import GAIT_PHASES, render_sprite
from .geometry import PinholeCamera, box_inside_fraction
from .scenario import IN_VIEW_FRACTION, KST, Clip, Rig, Walk, seed_of
from .scene import render_background

YAW_STEP, ELEV_STEP = 20, 10  # sprite cache buckets (degrees)
NOISE_FRAMES = 7
CRF = 30


@dataclass
class _Placed:
    walk_index: int
    depth: float
    x0: int
    y0: int
    bgr: np.ndarray
    alpha: np.ndarray
    box: tuple[float, float, float, float]
    foot: tuple[float, float]
    shadow_rx: float
    shadow_ry: float


@dataclass
class Appearance:
    walk_index: int
    first_frame: int
    last_frame: int
    boxes: list[list[float]]  # [offset_s, x1, y1, x2, y2]
    visibility: list[float]  # share of the body not hidden by nearer people, per box


def _place(w: Walk, wi: int, cam: PinholeCamera, t: float, gain: tuple[float, ...] | None) -> _Placed | None:
    e, n, walking, dist = w.state(t)
    pts = np.array([[e, n, 0.0], [e, n, w.person.look.height_m]])
    uv, depth = cam.project(pts)
    if depth[0] < 1.0 or depth[1] < 0.5:
        return None
    (uf, vf), (_, vh) = uv
    h_px = vf - vh
    if h_px < 6 or uf < -h_px or uf > cam.width + h_px or vh > cam.height or vf < 0:
        return None
    yaw, elev = cam.view_angles(e, n, w.bearing_deg)
    yaw_q = int(round(yaw / YAW_STEP) * YAW_STEP)
    yaw_q = (yaw_q + 180) % 360 - 180
    elev_q = int(min(60, max(10, round(elev / ELEV_STEP) * ELEV_STEP)))
    phase = math.floor((dist / w.stride_m + w.phase0) * GAIT_PHASES) % GAIT_PHASES if walking else 0
    sp = render_sprite(w.person.look, yaw_q, elev_q, phase, walking)
    k = h_px / sp.head_px
    sh, sw = sp.bgra.shape[:2]
    new_w, new_h = max(1, round(sw * k)), max(1, round(sh * k))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    bgra = cv2.resize(sp.bgra, (new_w, new_h), interpolation=interp)
    # The camera's exposure and white balance apply to people as much as to the street.
    bgr = np.ascontiguousarray(bgra[..., :3])
    if gain is not None:
        bgr = cv2.multiply(bgr, gain, dtype=cv2.CV_8U)
    alpha = bgra[..., 3]
    x0 = round(uf - sp.anchor[0] * k)
    y0 = round(vf - sp.anchor[1] * k)
    bx = sp.bbox
    box = (x0 + bx[0] * k, y0 + bx[1] * k, x0 + bx[2] * k, y0 + bx[3] * k)
    rx = 0.2 * h_px
    ry = rx * max(0.25, math.sin(math.radians(elev))) * 0.7
    return _Placed(wi, float(depth[0]), x0, y0, bgr, alpha, box, (uf, vf), rx, ry)


def _roi(p: _Placed, width: int, height: int) -> tuple[slice, slice, slice, slice] | None:
    h, w = p.alpha.shape
    fx0, fy0 = max(0, p.x0), max(0, p.y0)
    fx1, fy1 = min(width, p.x0 + w), min(height, p.y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1), slice(fy0 - p.y0, fy1 - p.y0), slice(fx0 - p.x0, fx1 - p.x0))


def _shadow(frame: np.ndarray, p: _Placed) -> None:
    cx, cy = p.foot
    rx, ry = p.shadow_rx, max(p.shadow_ry, 1.0)
    x0, x1 = int(max(0, cx - 2 * rx)), int(min(frame.shape[1], cx + 2 * rx + 1))
    y0, y1 = int(max(0, cy - 2 * ry)), int(min(frame.shape[0], cy + 2 * ry + 1))
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d2 = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    dark = 1.0 - 0.45 * np.exp(-1.6 * d2)
    roi = frame[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.float32) * dark[..., None].astype(np.float32)).astype(np.uint8)


def _composite(frame: np.ndarray, p: _Placed, owner: np.ndarray | None, idx: int) -> None:
    r = _roi(p, frame.shape[1], frame.shape[0])
    if r is None:
        return
    fy, fx, sy, sx = r
    a = p.alpha[sy, sx].astype(np.float32)[..., None] * (1.0 / 255.0)
    roi = frame[fy, fx]
    blended = p.bgr[sy, sx].astype(np.float32) * a + roi.astype(np.float32) * (1.0 - a) + 0.5
    roi[:] = blended.astype(np.uint8)
    if owner is not None:
        owner[fy, fx][p.alpha[sy, sx] >= 128] = idx


def _visible_share(p: _Placed, owner: np.ndarray, idx: int) -> float:
    r = _roi(p, owner.shape[1], owner.shape[0])
    if r is None:
        return 0.0
    fy, fx, sy, sx = r
    mask = p.alpha[sy, sx] >= 128
    total = int(mask.sum())
    return float((owner[fy, fx][mask] == idx).sum()) / total if total else 0.0


def _noise_bank(shape: tuple[int, int, int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A few frames of sensor noise (mostly luminance), cycled: cheap, and still flickers like a sensor.

    Stored as (positive, negative) uint8 parts so a frame takes it with two saturating OpenCV calls.
    """
    rng = np.random.default_rng(seed)
    bank = []
    for _ in range(NOISE_FRAMES):
        luma = rng.normal(0, 2.2, shape[:2])[..., None]
        chroma = rng.normal(0, 0.8, shape)
        n = np.round(luma + chroma)
        bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
    return bank


def _osd(frame: np.ndarray, t: float, label: str) -> None:
    stamp = datetime.fromtimestamp(int(t), KST).strftime("%Y-%m-%d %H:%M:%S")
    for text, (x, y) in ((stamp, (8, 18)), (label, (8, frame.shape[0] - 9))):
        # A dark rim from offset copies: a thick stroke would change the glyph spacing.
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            cv2.putText(frame, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (20, 20, 20), 1,
                        cv2.LINE_AA)
        cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)


class _Encoder:
    def __init__(self, path: Path, width: int, height: int, fps: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), mode="w")
        # threads=1 and fixed x264 settings keep the bytes identical from run to run and machine to machine.
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = fps  # a keyframe every second
        stream.codec_context.max_b_frames = 0
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(CRF), "preset": "veryfast",
                          "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:threads=1"}
        self._stream = stream
        self._n = 0

    def write(self, frame_bgr: np.ndarray) -> None:
        vf = av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")
        vf.pts = self._n
        self._n += 1
        for packet in self._stream.encode(vf):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


def render_frames(rig: Rig, walks: list[Walk], clip: Clip, background: np.ndarray | None = None):
    """Yield (frame index, BGR frame, placed people) for a clip; ground-truth bookkeeping is the caller's."""
    cam = rig.pinhole
    bg = render_background(cam, rig.layout) if background is None else background
    g = np.asarray(rig.layout.tint, dtype=np.float64) * rig.layout.gain
    gain = (*(float(x) for x in g), 0.0)  # per-channel scale for cv2.multiply
    noise = _noise_bank(bg.shape, seed_of("noise", clip.rel_path))
    label = f"{rig.camera.camera_id} {rig.camera.name}"
    gt_every = max(1, clip.fps // 2)  # ground-truth boxes every 0.5 s (every frame below 2 fps)
    # Only the walks that overlap the clip, in their original order (it breaks depth ties): a long clip of a
    # busy camera would otherwise test every walk of the day on every frame.
    here = [(wi, w) for wi, w in enumerate(walks) if w.t1 >= clip.start and w.t0 <= clip.end]
    for i in range(clip.duration_s * clip.fps):
        t = clip.start + i / clip.fps
        frame = bg.copy()
        placed = [p for wi, w in here if w.t0 <= t <= w.t1
                  if (p := _place(w, wi, cam, t, gain)) is not None]
        placed.sort(key=lambda p: -p.depth)
        for p in placed:
            _shadow(frame, p)
        owner = np.full(frame.shape[:2], -1, np.int16) if i % gt_every == 0 else None
        for j, p in enumerate(placed):
            _composite(frame, p, owner, j)
        shares = [_visible_share(p, owner, j) for j, p in enumerate(placed)] if owner is not None else None
        frame = cv2.GaussianBlur(frame, (3, 3), 0.7)
        plus, minus = noise[i % NOISE_FRAMES]
        frame = cv2.subtract(cv2.add(frame, plus), minus)
        _osd(frame, t, label)
        yield i, frame, placed, shares


def render_clip(rig: Rig, walks: list[Walk], clip: Clip, out_root: Path, background: np.ndarray | None = None
                ) -> tuple[list[Appearance], int]:
    """Render and encode one clip; return every person's in-view stretch with boxes, and the file size."""
    cam = rig.pinhole
    path = out_root / clip.rel_path
    enc = _Encoder(path, cam.width, cam.height, clip.fps)
    apps: dict[int, Appearance] = {}
    try:
        for i, frame, placed, shares in render_frames(rig, walks, clip, background):
            enc.write(frame)
            for j, p in enumerate(placed):
                if box_inside_fraction(p.box, cam.width, cam.height) < IN_VIEW_FRACTION:
                    continue
                app = apps.get(p.walk_index)
                if app is None:
                    app = apps[p.walk_index] = Appearance(p.walk_index, i, i, [], [])
                app.last_frame = i
                if shares is not None:
                    x1, y1, x2, y2 = p.box
                    w, h = float(cam.width), float(cam.height)
                    app.boxes.append([round(i / clip.fps, 2), round(max(0.0, x1), 1), round(max(0.0, y1), 1),
                                      round(min(w, x2), 1), round(min(h, y2), 1)])
                    app.visibility.append(round(shares[j], 2))
    finally:
        enc.close()
    return sorted(apps.values(), key=lambda a: (a.first_frame, a.walk_index)), path.stat().st_size

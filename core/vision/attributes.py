"""Per-detection appearance measurements beyond clothing colour: hair colour, garment texture, object colour.

Everything here looks at one frame and one box, needs no learned weights beyond the colour-name table,
and is cheap enough to run on every tracked person of every sampled frame. Aggregating over a tracklet
(and deciding how far to trust it) is :mod:`indexer.attributes`' job.

Hair
    The top of a standing person's box is the head; its colour-name distribution over foreground pixels
    (when the background model has one) is the hair colour, seen from behind, the side or above. From
    the front the face adds skin colours, which read as orange/brown/pink, like blonde hair does;
    :mod:`search.evidence` calibrates hair words on labelled real footage with that in mind.

Garment texture
    Stripes make the torso's luminance profile (mean per row, or per column) periodic; arms, folds, a
    zip or hair over the back make it vary, but not periodically. The measure is the autocorrelation
    peak of the detrended profile at a stripe period (:func:`garment_texture`). It needs a torso of
    some 24 pixels or more: on smaller people the codec has already merged the stripes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.vision.colours import N_COLOURS, ColourNamer

# (top, bottom, left, right) fractions of a standing person's box. Detector boxes leave a small margin
# above the head, and the head is about an eighth of the body.
HEAD_REGION = (0.0, 0.11, 0.3, 0.7)
# The torso without the collar/face and without the hands at the sides.
TORSO_REGION = (0.2, 0.46, 0.28, 0.72)
MIN_HEAD_PX = 6  # a head lower than this many pixels says nothing about hair
BACKGROUND_DIFF = 30  # grey levels (largest channel difference): a pixel this far from the background is the person
MIN_TORSO_ROWS = 24  # pixels: a shorter torso's stripes are a pixel or two wide (a ~90 px tall person)
TEXTURE_CONTRAST = 6.0  # grey levels (std of the detrended profile): less is a plain garment
TEXTURE_DETREND = 9  # pixels: the moving average that removes shading over the body
MAX_STRIPE_PERIOD = 12  # pixels
OBJECT_INNER = 0.2  # object colour from the central part of its box: edges show whatever it hangs on


@dataclass(frozen=True)
class HeadColour:
    dist: np.ndarray  # (11,) colour-name distribution
    weight: float  # how much to trust it in a track average (pixels, 0 when not usable)


@dataclass(frozen=True)
class Texture:
    stripes: float  # periodicity of the torso's luminance across or down it, 0 (plain) .. 1
    horizontal: bool  # the stronger periodicity runs down the body (horizontal stripes)
    weight: float  # 0 when the torso is too small or cut off to tell


def _region(box: np.ndarray, frac: tuple[float, float, float, float],
            frame_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    top, bottom, left, right = frac
    ya, yb = round(y1 + top * h), round(y1 + bottom * h)
    xa, xb = round(x1 + left * w), round(x1 + right * w)
    H, W = frame_hw
    ya, yb, xa, xb = max(0, ya), min(H, yb), max(0, xa), min(W, xb)
    if yb - ya < 2 or xb - xa < 2:
        return None
    return ya, yb, xa, xb


def head_colour(namer: ColourNamer, frame: np.ndarray, box: np.ndarray,
                background: np.ndarray | None = None) -> HeadColour:
    """Colour names of the head region; weight 0 when the head is cut by the frame top or too small.

    ``background`` is the scene without people (any resolution, same aspect as ``frame``): pixels that
    differ from it are the head's. Heads are a few pixels across, so a dilated motion mask would take in
    as much pavement as hair; a per-pixel comparison with the background does not.
    """
    H, W = frame.shape[:2]
    h = float(box[3] - box[1])
    reg = _region(box, HEAD_REGION, (H, W))
    if reg is None or box[1] <= 2 or h * (HEAD_REGION[1] - HEAD_REGION[0]) < MIN_HEAD_PX:
        return HeadColour(np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32), 0.0)
    ya, yb, xa, xb = reg
    crop = frame[ya:yb, xa:xb]
    mask = None
    if background is not None:
        sy, sx = background.shape[0] / H, background.shape[1] / W
        bya, byb = int(ya * sy), max(int(ya * sy) + 1, int(np.ceil(yb * sy)))
        bxa, bxb = int(xa * sx), max(int(xa * sx) + 1, int(np.ceil(xb * sx)))
        bg = cv2.resize(background[bya:byb, bxa:bxb], (xb - xa, yb - ya), interpolation=cv2.INTER_LINEAR)
        diff = np.abs(crop.astype(np.int16) - bg.astype(np.int16)).max(axis=2)
        mask = diff > BACKGROUND_DIFF
    dist, n = namer.distribution(crop, mask)
    return HeadColour(dist, float(n))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b)) / max(float(np.sqrt(np.dot(a, a) * np.dot(b, b))), 1e-9)


def _periodicity(profile: np.ndarray) -> float:
    """How periodic a luminance profile is: the autocorrelation peak at a stripe period, in [0, 1].

    Shading over the body is removed first (a moving average); then a striped garment's profile
    correlates with itself one period on (after anti-correlating half a period on), a plain one's does
    not. Profiles that vary by less than :data:`TEXTURE_CONTRAST` grey levels count as plain.
    """
    n = len(profile)
    k = TEXTURE_DETREND
    if n < MIN_TORSO_ROWS:
        return 0.0
    smooth = np.convolve(np.pad(profile, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
    detail = profile - smooth
    if detail.std() < TEXTURE_CONTRAST:
        return 0.0
    detail = detail - detail.mean()
    ac = np.array([_correlation(detail[:-lag], detail[lag:]) for lag in range(1, min(MAX_STRIPE_PERIOD, n // 2) + 1)])
    best = 0.0
    for i in range(2, len(ac)):  # a period of at least 3 pixels: a peak after a trough
        peak = ac[i] >= ac[i - 1] and (i + 1 == len(ac) or ac[i] >= ac[i + 1])
        if peak and ac[:i].min() < -0.2:
            best = max(best, float(ac[i]))
    return best


def garment_texture(frame: np.ndarray, box: np.ndarray, foreground: np.ndarray | None = None) -> Texture:
    """How striped the upper body looks: periodicity of its row (horizontal stripes) and column (vertical
    stripes) luminance profiles. Torsos fewer than :data:`MIN_TORSO_ROWS` pixels tall are not measured
    (weight 0): a 70-pixel person's stripes are a pixel or two wide and lost to the video codec."""
    reg = _region(box, TORSO_REGION, frame.shape[:2])
    if reg is None:
        return Texture(0.0, False, 0.0)
    ya, yb, xa, xb = reg
    if yb - ya < MIN_TORSO_ROWS or box[1] <= 2 or box[3] >= frame.shape[0] - 2:
        return Texture(0.0, False, 0.0)
    grey = cv2.cvtColor(frame[ya:yb, xa:xb], cv2.COLOR_BGR2GRAY).astype(np.float32)
    if foreground is not None:
        m = foreground[ya:yb, xa:xb] > 0
        if m.mean() >= 0.5:  # mostly person: fill the rest with the person's median so edges vanish
            grey = np.where(m, grey, float(np.median(grey[m])))
    rows = _periodicity(grey.mean(axis=1))
    cols = _periodicity(grey.mean(axis=0))
    return Texture(max(rows, cols), rows >= cols, float((yb - ya) * (xb - xa)))


def object_colour(namer: ColourNamer, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Colour names of the middle of an object's box."""
    frac = (OBJECT_INNER, 1 - OBJECT_INNER, OBJECT_INNER, 1 - OBJECT_INNER)
    reg = _region(box, frac, frame.shape[:2])
    if reg is None:
        return np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32)
    ya, yb, xa, xb = reg
    return namer.distribution(frame[ya:yb, xa:xb])[0]

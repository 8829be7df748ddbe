"""Clothing colour as a distribution over the 11 basic colour names.

Uses the van de Weijer et al. (2009) colour-name table: each of 32x32x32 RGB bins maps to a
probability for each basic colour name. A body part's colour is the mean of its pixels'
probability vectors (not a per-pixel vote), over the person's own pixels where a foreground
mask is available, so grass and pavement behind a person do not leak in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLOUR_NAMES: tuple[str, ...] = (
    "black", "blue", "brown", "grey", "green", "orange", "pink", "purple", "red", "white", "yellow",
)
N_COLOURS = len(COLOUR_NAMES)
TABLE_ROWS = 32 * 32 * 32

# Body parts as fractions of a standing person's box (top, bottom, left, right). The margins keep
# background and neighbours out; the gap between torso and legs skips belts and hands.
UPPER_REGION = (0.18, 0.50, 0.25, 0.75)
LOWER_REGION = (0.55, 0.90, 0.28, 0.72)
MIN_MASKED_FRACTION = 0.15
# Colour layout: the colour-name distribution of horizontal stripes down the body, a classic
# re-identification descriptor that needs no learned weights (used for photo queries and to compare
# sightings when CLIP is unavailable).
LAYOUT_STRIPES = 8
LAYOUT_COLUMNS = (0.2, 0.8)
LAYOUT_DIM = LAYOUT_STRIPES * N_COLOURS  # below this, a mask is more likely wrong than right: use the whole region


class ColourTableError(RuntimeError):
    pass


@dataclass(frozen=True)
class BodyColours:
    upper: np.ndarray  # (11,) float32, sums to 1
    lower: np.ndarray
    layout: np.ndarray  # (LAYOUT_DIM,) float32, stripe distributions concatenated, unit length
    weight: float  # how many pixels backed this estimate (for averaging over a track)


class ColourNamer:
    """Maps BGR pixels to colour-name distributions with the w2c table."""

    def __init__(self, table_path: str | Path):
        path = Path(table_path)
        try:
            table = np.load(path)
        except FileNotFoundError:
            raise ColourTableError(f"colour-name table not found: {path}") from None
        except ValueError as exc:
            raise ColourTableError(f"{path}: not a numpy table ({exc})") from None
        if table.shape != (TABLE_ROWS, N_COLOURS):
            raise ColourTableError(f"{path}: expected shape {(TABLE_ROWS, N_COLOURS)}, got {table.shape}")
        self.table = table.astype(np.float32)
        self.path = path

    def pixel_probs(self, bgr: np.ndarray) -> np.ndarray:
        """(..., 3) BGR uint8 -> (..., 11) probabilities."""
        b = bgr[..., 0].astype(np.int32) >> 3
        g = bgr[..., 1].astype(np.int32) >> 3
        r = bgr[..., 2].astype(np.int32) >> 3
        return self.table[r + 32 * g + 1024 * b]

    def distribution(self, bgr: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Mean colour-name distribution of an image region (optionally masked) and its pixel count."""
        pixels = bgr.reshape(-1, 3)
        if mask is not None:
            m = mask.reshape(-1) > 0
            if m.sum() >= MIN_MASKED_FRACTION * len(m):
                pixels = pixels[m]
        if len(pixels) == 0:
            return np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32), 0
        probs = self.pixel_probs(pixels).mean(axis=0)
        return (probs / probs.sum()).astype(np.float32), len(pixels)

    def body_colours(self, frame_bgr: np.ndarray, box: np.ndarray,
                     foreground: np.ndarray | None = None) -> BodyColours:
        """Upper- and lower-body colours of the person in ``box`` (x1, y1, x2, y2 frame pixels)."""
        upper, nu = self.distribution(*_region(frame_bgr, box, UPPER_REGION, foreground))
        lower, nl = self.distribution(*_region(frame_bgr, box, LOWER_REGION, foreground))
        return BodyColours(upper=upper, lower=lower, layout=self.layout(frame_bgr, box, foreground),
                           weight=float(min(nu, nl)))

    def layout(self, frame_bgr: np.ndarray, box: np.ndarray, foreground: np.ndarray | None = None) -> np.ndarray:
        """Stripe-by-stripe colour names down the body, square-rooted (Hellinger) and unit length, so
        a dot product of two layouts is a similarity in [0, 1]."""
        stripes = []
        left, right = LAYOUT_COLUMNS
        for i in range(LAYOUT_STRIPES):
            frac = (i / LAYOUT_STRIPES, (i + 1) / LAYOUT_STRIPES, left, right)
            dist, _ = self.distribution(*_region(frame_bgr, box, frac, foreground))
            stripes.append(dist)
        v = np.sqrt(np.concatenate(stripes))
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def _region(frame: np.ndarray, box: np.ndarray, frac: tuple[float, float, float, float],
            foreground: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    top, bottom, left, right = frac
    ya, yb = round(y1 + top * h), round(y1 + bottom * h)
    xa, xb = round(x1 + left * w), round(x1 + right * w)
    H, W = frame.shape[:2]
    ya, yb = max(0, ya), min(H, max(yb, ya + 1))
    xa, xb = max(0, xa), min(W, max(xb, xa + 1))
    crop = frame[ya:yb, xa:xb]
    mask = None if foreground is None else foreground[ya:yb, xa:xb]
    return crop, mask


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Bhattacharyya coefficient of distributions ``a`` (N, K) and one ``b`` (K,) or (N, K)."""
    return np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None)).sum(axis=-1)


def dominant(dist: np.ndarray, k: int = 2) -> list[tuple[str, float]]:
    """The ``k`` most probable colour names with their probabilities, for display."""
    order = np.argsort(dist)[::-1][:k]
    return [(COLOUR_NAMES[i], float(dist[i])) for i in order]

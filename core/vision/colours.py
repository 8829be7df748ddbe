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

    def body_colours_many(self, frame_bgr: np.ndarray, boxes: np.ndarray,
                          foreground: np.ndarray | None = None) -> list[BodyColours]:
        """:meth:`body_colours` of every box of a frame, the same figures (to float rounding) at about half
        the cost: each box's pixels are looked up in the table once, and its ten regions (upper, lower,
        eight stripes) are sums over that lookup instead of ten lookups of their own."""
        return [self._body_colours_once(frame_bgr, box, foreground) for box in boxes]

    def _body_colours_once(self, frame: np.ndarray, box: np.ndarray, foreground: np.ndarray | None) -> BodyColours:
        H, W = frame.shape[:2]
        left, right = LAYOUT_COLUMNS
        fracs = [UPPER_REGION, LOWER_REGION] + [
            (i / LAYOUT_STRIPES, (i + 1) / LAYOUT_STRIPES, left, right) for i in range(LAYOUT_STRIPES)]
        rects = np.array([_rect(box, f, H, W) for f in fracs])  # (10, 4): ya, yb, xa, xb
        y0, x0 = int(rects[:, 0].min()), int(rects[:, 2].min())
        y1, x1 = max(int(rects[:, 1].max()), y0), max(int(rects[:, 3].max()), x0)
        probs = self.pixel_probs(frame[y0:y1, x0:x1]).astype(np.float64)  # (h, w, 11), one lookup
        mask = None if foreground is None else (foreground[y0:y1, x0:x1] > 0)
        rects = rects - np.array([y0, y0, x0, x0])
        dists, counts = [], []
        # Regions sharing a column range (the eight stripes) share one pass: per-row sums, then cumulative
        # sums down the rows give any row range's total.
        col_sums: dict[tuple[int, int], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = {}
        for ya, yb, xa, xb in rects:
            key = (int(xa), int(xb))
            if key not in col_sums:
                part = probs[:, xa:xb]
                cum = _cumrows(part.sum(axis=1))
                if mask is None:
                    col_sums[key] = (cum, None, None)
                else:
                    m = mask[:, xa:xb]
                    col_sums[key] = (cum, _cumrows((part * m[:, :, None]).sum(axis=1)), _cumrows(m.sum(axis=1)))
            cum, cum_masked, cum_count = col_sums[key]
            yb = max(int(yb), int(ya))
            n = (yb - ya) * max(int(xb - xa), 0)
            total = cum[yb] - cum[ya]
            if cum_masked is not None and n > 0:
                m_n = round(float(cum_count[yb] - cum_count[ya]))
                if m_n >= MIN_MASKED_FRACTION * n:
                    total, n = cum_masked[yb] - cum_masked[ya], m_n
            if n == 0:
                dists.append(np.full(N_COLOURS, 1.0 / N_COLOURS, dtype=np.float32))
            else:
                dists.append((total / total.sum()).astype(np.float32))
            counts.append(n)
        v = np.sqrt(np.concatenate(dists[2:]))
        layout = (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)
        return BodyColours(upper=dists[0], lower=dists[1], layout=layout, weight=float(min(counts[0], counts[1])))

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


def _rect(box: np.ndarray, frac: tuple[float, float, float, float], H: int, W: int) -> tuple[int, int, int, int]:
    """:func:`_region`'s pixel bounds, clamped the same way (an empty region when the box lies outside)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    top, bottom, left, right = frac
    ya, yb = round(y1 + top * h), round(y1 + bottom * h)
    xa, xb = round(x1 + left * w), round(x1 + right * w)
    ya, yb = min(max(0, ya), H), min(H, max(yb, ya + 1))
    xa, xb = min(max(0, xa), W), min(W, max(xb, xa + 1))
    return ya, max(yb, ya), xa, max(xb, xa)


def _cumrows(rows: np.ndarray) -> np.ndarray:
    """Cumulative sums down the rows with a leading zero row: ``c[b] - c[a]`` is the sum of rows a..b-1."""
    return np.concatenate([np.zeros((1, *rows.shape[1:]), dtype=np.float64), np.cumsum(rows, axis=0, dtype=np.float64)])


def dominant(dist: np.ndarray, k: int = 2) -> list[tuple[str, float]]:
    """The ``k`` most probable colour names with their probabilities, for display."""
    order = np.argsort(dist)[::-1][:k]
    return [(COLOUR_NAMES[i], float(dist[i])) for i in order]

"""A rejected describe-stage lever, kept so ``bench/embed_levers.py`` can measure it again.

Each box's pixels looked up in the colour-name table once, its ten regions (upper, lower, eight stripes)
summed from per-row cumulative sums, instead of ten lookups. Same names as
``ColourNamer.body_colours`` (figures within 1e-4; float64 sums), but on real boxes (15,072 of the
real archive) it took 2x the per-box path's time: the row sums read each box's pixels three times
over, more than the per-box path's ten small gathers. Not used by the indexer.
"""

from __future__ import annotations

import numpy as np

from core.vision.colours import (
    LAYOUT_COLUMNS,
    LAYOUT_STRIPES,
    LOWER_REGION,
    MIN_MASKED_FRACTION,
    N_COLOURS,
    UPPER_REGION,
    BodyColours,
    ColourNamer,
)


def body_colours_vectorised(namer: ColourNamer, frame: np.ndarray, box: np.ndarray,
                            foreground: np.ndarray | None) -> BodyColours:
    H, W = frame.shape[:2]
    left, right = LAYOUT_COLUMNS
    fracs = [UPPER_REGION, LOWER_REGION] + [
        (i / LAYOUT_STRIPES, (i + 1) / LAYOUT_STRIPES, left, right) for i in range(LAYOUT_STRIPES)]
    rects = np.array([_rect(box, f, H, W) for f in fracs])  # (10, 4): ya, yb, xa, xb
    y0, x0 = int(rects[:, 0].min()), int(rects[:, 2].min())
    y1, x1 = max(int(rects[:, 1].max()), y0), max(int(rects[:, 3].max()), x0)
    probs = namer.pixel_probs(frame[y0:y1, x0:x1]).astype(np.float64)  # (h, w, 11), one lookup
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

"""Text on the SVG map: haloed labels, where a label goes so it covers least, badge edges, scale bar."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def svg_text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start", weight: str = "normal",
             fill: str = "#111827", cls: str = "") -> str:
    # A white halo keeps labels readable over district washes and lines.
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" stroke="#ffffff" stroke-width="3" paint-order="stroke"'
            f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{escape(s)}</text>')


def nice_length(max_m: float) -> float:
    """A round scale-bar length: the first that is at least half of ``max_m``."""
    for m in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if m >= max_m * 0.5:
            return float(m)
    return 100000.0


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def free_label_spot(x: float, y: float, text: str, taken: Sequence[Box]) -> tuple[float, float, str, Box]:
    """Where a suggestion's label goes: left of its circle, else above, below or right of it, whichever
    covers least of ``taken`` (the first free one)."""
    w, h = 6.4 * len(text), 13.0
    spots = [(x - 21, y + 4, "end", (x - 21 - w, y - 8, x - 21, y + 5)),
             (x, y - 22, "middle", (x - w / 2, y - 34, x + w / 2, y - 21)),
             (x, y + 31, "middle", (x - w / 2, y + 19, x + w / 2, y + 19 + h)),
             (x + 21, y + 4, "start", (x + 21, y - 8, x + 21 + w, y + 5))]
    best = min(spots, key=lambda sp: (sum(_overlap(sp[3], t) for t in taken), spots.index(sp)))
    return best


def pill_reach(width: float, ux: float, uy: float) -> float:
    """Distance from a pill badge's centre to its edge along the unit direction (ux, uy)."""
    half = width / 2 - 12
    return 12 + half * abs(ux)


def distance_label(metres: float) -> str:
    """Metres under 1 km, else kilometres to one decimal."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"

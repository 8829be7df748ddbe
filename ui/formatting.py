"""Times, durations and distances as the control room reads them (local time of the index)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def clock(epoch: float, tz: ZoneInfo) -> str:
    """``09:20:12``: within one case everything happens on a day or two, the date is shown apart."""
    return local(epoch, tz).strftime("%H:%M:%S")


def date_time(epoch: float, tz: ZoneInfo) -> str:
    return local(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")


def span(t_start: float, t_end: float, tz: ZoneInfo) -> str:
    return f"{clock(t_start, tz)}–{clock(t_end, tz)}"


def duration(seconds: float) -> str:
    """``45 s``, ``4 min 21 s``, ``2 h 05 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def distance(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.2f} km"


def offset(seconds: float) -> str:
    """A position inside a video file: ``00:01:23.4``, what video players show."""
    seconds = max(0.0, seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:04.1f}"

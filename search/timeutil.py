"""Times as operators type them (ISO 8601, local by default) and as the index stores them (UTC epoch)."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from search.errors import SearchInputError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SearchInputError(f"unknown time zone {name!r} (index.timezone)") from None


def to_epoch(value: str | datetime | float | int | None, tz: ZoneInfo, what: str = "time") -> float | None:
    """UTC epoch seconds from an ISO 8601 string, a datetime or a number; naive times are in ``tz``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SearchInputError(f"{what}: expected a time, got {value!r}")
    if isinstance(value, int | float):
        x = float(value)
        if not math.isfinite(x):
            raise SearchInputError(f"{what}: {value!r} is not a time")
        return x
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
        except ValueError:
            raise SearchInputError(
                f"{what}: {value[:40]!r} is not an ISO 8601 time (e.g. 2026-03-14T09:30 or 2026-03-14T09:30:00+09:00)"
            ) from None
    else:
        raise SearchInputError(f"{what}: expected a time, got {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.timestamp()
    except (OverflowError, OSError, ValueError):
        raise SearchInputError(f"{what}: {value!r} is out of range") from None


def iso(epoch: float, tz: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset; milliseconds only when the time is not a whole second."""
    dt = datetime.fromtimestamp(round(epoch, 3), tz)
    spec = "seconds" if abs(epoch - round(epoch)) < 5e-4 else "milliseconds"
    return dt.isoformat(timespec=spec)


def local_days(t_from: float, t_to: float, tz: ZoneInfo, max_days: int = 62) -> list[str] | None:
    """The local calendar days (``YYYY-MM-DD``) a window touches, or None when it spans too many."""
    if t_to < t_from or (t_to - t_from) > max_days * 86400:
        return None
    days: list[str] = []
    t = t_from
    while True:
        d = datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d")
        if not days or days[-1] != d:
            days.append(d)
        if t >= t_to:
            break
        t = min(t + 3600.0, t_to)  # hourly steps: robust to 23/25-hour days at DST changes
    return days

"""What a search asks for: the typed request the console and the CLI both build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass
class SearchRequest:
    """One search. At least one of ``text``, ``photo`` and ``like`` must be given.

    Times may be ISO 8601 strings, datetimes or UTC epoch seconds; a time without a zone is in
    ``index.timezone``. Cameras and districts are registry names (case-insensitive).
    """

    text: str = ""
    photo: bytes | None = None  # the uploaded file's bytes, any image format Pillow reads
    photo_box: tuple[float, float, float, float] | None = None  # the operator's box around the person
    like: str | None = None  # sighting id to use as the query ("more like this")
    time_from: str | datetime | float | None = None
    time_to: str | datetime | float | None = None
    districts: Sequence[str] = ()
    cameras: Sequence[str] = ()
    direction: str | float | None = None  # N, NE, ..., or degrees; overrides a direction in the text
    direction_tolerance_deg: float | None = None  # default: search.direction_tolerance_deg
    min_detections: int = 0
    min_duration_s: float = 0.0
    offset: int = 0
    limit: int | None = None  # default: search.default_limit
    use_clip: bool = True  # False: structured matching only, even when CLIP is loaded
    include_weak: bool = False  # also return hits below the no-result threshold (flagged weak)
    exclude_ids: Sequence[str] = ()  # sightings an operator rejected
    # Sightings an operator pinned as the person: each becomes another example of how they look (query
    # expansion, with a photo or "more like this"; a description alone is left as typed).
    pinned: Sequence[str] = ()

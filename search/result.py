"""What a search returns: sightings (merged hits of one tracklet) and the result around them."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from core.compass import compass_name
from core.schema import SightingField
from core.vision.colours import dominant
from search.photo import PhotoPerson
from search.query_terms import ParsedQuery
from search.timeutil import iso


@dataclass(frozen=True)
class CarriedObject:
    name: str  # indexer.attributes.OBJECT_NAMES: handbag, backpack, suitcase, umbrella, bicycle, dog, ...
    confidence: float  # the indexer's aggregate over the sighting (0-1; see search.evidence.OBJECT_RANGES)
    colour: np.ndarray  # (11,) colour names


@dataclass(frozen=True)
class SightingAttributes:
    """Appearance attributes of a sighting beyond clothing colour (:mod:`indexer.attributes`)."""

    objects: tuple[CarriedObject, ...] = ()
    hair_colour: np.ndarray | None = None  # (11,) colour names of the head
    hair_confidence: float = 0.0
    pattern: str = "plain"
    pattern_confidence: float = 0.0
    night: bool = False  # night / infrared: colours say little
    colour_reliability: float = 1.0

    @classmethod
    def from_row(cls, row: dict) -> SightingAttributes:
        """From a sightings row; missing or null columns (older index, synthetic table) read as unmeasured."""
        col = SightingField  # the row's column names
        objects = tuple(CarriedObject(o["name"], float(o["confidence"]), np.asarray(o["colour"], dtype=np.float32))
                        for o in (row.get(col.OBJECTS) or []))
        hair = row.get(col.HAIR_COLOUR)
        reliability = row.get(col.COLOUR_RELIABILITY)
        return cls(
            objects=objects, hair_colour=None if hair is None else np.asarray(hair, dtype=np.float32),
            hair_confidence=float(row.get(col.HAIR_CONFIDENCE) or 0.0), pattern=row.get(col.PATTERN) or "plain",
            pattern_confidence=float(row.get(col.PATTERN_CONFIDENCE) or 0.0), night=bool(row.get(col.NIGHT) or False),
            colour_reliability=1.0 if reliability is None else float(reliability),
        )

    def to_dict(self) -> dict:
        from search.evidence import OBJECT_RANGES  # here: search.evidence imports what imports this module

        return {
            "objects": [{"name": o.name, "confidence": round(o.confidence, 3),
                         "seen": o.confidence >= OBJECT_RANGES.get(o.name, (0.05, 0.15))[0],
                         "colours": [[n, round(p, 3)] for n, p in dominant(o.colour, 2)]} for o in self.objects],
            "hair_colours": ([[n, round(p, 3)] for n, p in dominant(self.hair_colour, 3)]
                             if self.hair_colour is not None else []),
            "hair_confidence": round(self.hair_confidence, 3),
            "pattern": self.pattern,
            "pattern_confidence": round(self.pattern_confidence, 3),
            "night": self.night,
            "colour_reliability": round(self.colour_reliability, 3),
        }


@dataclass(eq=False)
class Sighting:
    """A person seen by one camera for a stretch of time: one or more adjacent index rows of one track.

    ``sighting_id`` is the best-scoring row's id (use it for "more like this" and as a route start);
    ``member_ids`` lists every merged row. Times are UTC epoch seconds; :meth:`to_dict` adds ISO
    8601 times in the index's time zone. ``box`` is in the source video's original pixels, at
    ``offset_best_s`` seconds from the start of ``video_path``.
    """

    sighting_id: str
    member_ids: tuple[str, ...]
    video_id: str
    camera_id: str
    camera_name: str
    district: str
    t_start: float
    t_end: float
    t_best: float
    video_path: str
    offset_start_s: float
    offset_end_s: float
    offset_best_s: float
    box: tuple[float, float, float, float]
    frame_size: tuple[int, int]
    track_id: int
    n_detections: int
    bearing_deg: float | None
    speed_mps: float
    score: float | None = None  # fused score in [0, 1]; None when listed without a query
    evidence: dict[str, float] = field(default_factory=dict)  # colour / appearance / clip components
    weak: bool = False  # below the no-result threshold (only returned with include_weak)
    thumbnail: bytes = field(default=b"", repr=False)  # JPEG of the person
    upper: np.ndarray | None = field(default=None, repr=False)  # (11,) colour-name distributions
    lower: np.ndarray | None = field(default=None, repr=False)
    layout: np.ndarray | None = field(default=None, repr=False)
    vector: np.ndarray | None = field(default=None, repr=False)  # CLIP vector when the row has one
    attributes: SightingAttributes = field(default_factory=SightingAttributes)  # objects, hair, pattern, night

    @property
    def direction(self) -> str:
        return compass_name(math.nan if self.bearing_deg is None else self.bearing_deg)

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start

    @property
    def video_file(self) -> str:
        return Path(self.video_path).name

    def to_dict(self, tz: ZoneInfo, *, thumbnail: bool = False) -> dict:
        out = {
            "sighting_id": self.sighting_id,
            "member_ids": list(self.member_ids),
            "score": None if self.score is None else round(self.score, 4),
            "weak": self.weak,
            "evidence": {k: round(v, 4) for k, v in self.evidence.items()},
            "camera_id": self.camera_id,
            "camera_name": self.camera_name,
            "district": self.district,
            "time": iso(self.t_best, tz),
            "start": iso(self.t_start, tz),
            "end": iso(self.t_end, tz),
            "video_file": self.video_file,
            "video_path": self.video_path,
            "offset_s": round(self.offset_best_s, 3),
            "offset_start_s": round(self.offset_start_s, 3),
            "offset_end_s": round(self.offset_end_s, 3),
            "box": [round(v, 1) for v in self.box],
            "frame_size": list(self.frame_size),
            "track_id": self.track_id,
            "n_detections": self.n_detections,
            "bearing_deg": None if self.bearing_deg is None else round(self.bearing_deg, 1),
            "direction": self.direction,
            "speed_mps": round(self.speed_mps, 2),
        }
        if self.upper is not None and self.lower is not None:
            out["upper_colours"] = [[n, round(p, 3)] for n, p in dominant(self.upper, 3)]
            out["lower_colours"] = [[n, round(p, 3)] for n, p in dominant(self.lower, 3)]
        out["attributes"] = self.attributes.to_dict()
        if thumbnail:
            out["thumbnail_jpeg_base64"] = base64.b64encode(self.thumbnail).decode("ascii")
        return out


@dataclass
class SearchResult:
    """Ranked sightings, or a clear no-result, plus what the query was understood to mean."""

    sightings: list[Sighting]
    total: int  # plausible sightings in all (this page is sightings[offset:offset+limit] of them)
    offset: int
    limit: int
    no_result: bool
    message: str
    parsed: ParsedQuery | None = None
    photo: PhotoPerson | None = None
    like: str | None = None
    calibrated: bool = True  # False: ranked by CLIP alone, no threshold says "not there"
    filtered_rows: int = 0  # index rows that passed the filters
    candidates: int = 0  # rows scored
    below_threshold: int = 0  # sightings found but too weak to show
    total_is_lower_bound: bool = False  # a huge filtered set: only the best candidates were scored
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self, tz: ZoneInfo, *, thumbnails: bool = False) -> dict:
        return {
            "no_result": self.no_result,
            "message": self.message,
            "calibrated": self.calibrated,
            "total": self.total,
            "total_is_lower_bound": self.total_is_lower_bound,
            "offset": self.offset,
            "limit": self.limit,
            "query": self.parsed.to_dict() if self.parsed is not None else None,
            "photo": self.photo.to_dict() if self.photo is not None else None,
            "like": self.like,
            "filtered_rows": self.filtered_rows,
            "candidates": self.candidates,
            "below_threshold": self.below_threshold,
            "warnings": list(self.warnings),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "sightings": [dict(rank=self.offset + i + 1, **s.to_dict(tz, thumbnail=thumbnails))
                          for i, s in enumerate(self.sightings)],
        }

"""The index schema: the one definition the indexer writes and search reads.

Tables in the LanceDB database at ``storage.index_uri``:

* ``sightings`` - one row per sighting: a stretch (at most ``index.max_segment_s``) of one person's
  track in one camera, with its time span, box path, direction, colours, appearance attributes
  (carried objects, hair, garment pattern, night/IR), CLIP vector and thumbnail.
* ``videos`` - one row per indexed (or failed) video file: what was indexed, under which settings.
* ``frames`` - optional whole-frame CLIP vectors at a low rate (scene search).
* ``coverage`` - per partly analysed video, the merged spans of it that windowed indexing analysed
  (``indexer.windows``); a ``done`` video is covered whole. Added after schema 2 without a version bump:
  an index that lacks the table has no partly analysed video, and the indexer creates it on open.
* ``meta`` - key/value facts about the index, above all which CLIP model made its vectors.

Times are UTC epoch seconds (float64); ``day`` is the local calendar day (``index.timezone``) as
``YYYY-MM-DD`` so day-bounded searches touch few rows. Boxes are ``x1, y1, x2, y2`` in the video's
original pixels. Offsets are seconds from the start of the source file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import pyarrow as pa

from core.vision.colours import LAYOUT_DIM, N_COLOURS

SCHEMA_VERSION = "3"  # 2: appearance attributes (objects, hair, pattern, night); 3: part colours per crop

SIGHTINGS = "sightings"
VIDEOS = "videos"
FRAMES = "frames"
COVERAGE = "coverage"
META = "meta"

META_CLIP_MODEL = "clip_model"  # identity of the model whose vectors the tables hold
META_CLIP_DIM = "clip_dim"
META_SCHEMA_VERSION = "schema_version"
META_REGISTRY = "registry"  # JSON of the camera registry last indexed with (indexer/registry_sync.py)
META_REGISTRY_PATH = "registry_path"  # absolute path of that registry's file ("" when it had none)
META_REGISTRY_SHA256 = "registry_sha256"  # SHA-256 of the file then: query/route/ui warn when it changed

BOX = pa.list_(pa.float32(), 4)
COLOUR = pa.list_(pa.float32(), N_COLOURS)
LAYOUT = pa.list_(pa.float32(), LAYOUT_DIM)
# One carried or accompanying object: its name (indexer.attributes.OBJECT_NAMES), how sure the indexer is
# that this person has it (0-1, aggregated over the sighting), and its colour names.
OBJECT = pa.struct([
    pa.field("name", pa.string(), nullable=False),
    pa.field("confidence", pa.float32(), nullable=False),
    pa.field("colour", COLOUR, nullable=False),
])

VIDEO_STATUS_DONE = "done"
VIDEO_STATUS_FAILED = "failed"
# Some windows of the video analysed (case mode); which ones the ``coverage`` table says. Searchable like
# ``done``; a whole-file ``index`` run analyses the rest and marks it ``done``.
VIDEO_STATUS_PARTIAL = "partial"
# A purged video is marked failed with an error starting with this (footage-search purge).
PURGED_PREFIX = "purged "


def sightings_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("sighting_id", pa.string(), nullable=False),  # sighting_id(): "{video_id}[@{t0_ms}]:{track}:{segment}"
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("district", pa.string(), nullable=False),
        pa.field("day", pa.string(), nullable=False),
        pa.field("t_start", pa.float64(), nullable=False),
        pa.field("t_end", pa.float64(), nullable=False),
        pa.field("t_best", pa.float64(), nullable=False),  # when the thumbnail/box was taken
        pa.field("video_path", pa.string(), nullable=False),
        pa.field("offset_start_s", pa.float64(), nullable=False),
        pa.field("offset_end_s", pa.float64(), nullable=False),
        pa.field("offset_best_s", pa.float64(), nullable=False),
        pa.field("box", BOX, nullable=False),  # at offset_best_s
        pa.field("frame_width", pa.int32(), nullable=False),
        pa.field("frame_height", pa.int32(), nullable=False),
        pa.field("track_id", pa.int32(), nullable=False),
        pa.field("segment", pa.int32(), nullable=False),
        pa.field("track_offsets", pa.list_(pa.float64()), nullable=False),
        pa.field("track_boxes", pa.list_(BOX), nullable=False),
        pa.field("n_detections", pa.int32(), nullable=False),
        pa.field("det_score", pa.float32(), nullable=False),
        pa.field("bearing_deg", pa.float32(), nullable=True),  # null: not moving / unknown
        pa.field("speed_mps", pa.float32(), nullable=False),
        pa.field("upper_colour", COLOUR, nullable=False),
        pa.field("lower_colour", COLOUR, nullable=False),
        pa.field("colour_layout", LAYOUT, nullable=False),  # see core.vision.colours
        # Appearance attributes (indexer.attributes). Nullable: null means "not measured" (a synthetic
        # table, say); search then treats the row as showing no object, no hair, plain, colour reliable.
        pa.field("objects", pa.list_(OBJECT), nullable=True),  # most confident first
        # 11 floats like COLOUR, but a variable-size list: LanceDB takes fixed-size float lists for vector
        # columns and refuses nulls in them, and this one may be null.
        pa.field("hair_colour", pa.list_(pa.float32()), nullable=True),
        pa.field("hair_confidence", pa.float32(), nullable=True),
        pa.field("pattern", pa.string(), nullable=True),  # plain | striped | patterned (upper body)
        pa.field("pattern_confidence", pa.float32(), nullable=True),
        pa.field("night", pa.bool_(), nullable=True),  # night / infrared: colours say little
        pa.field("colour_reliability", pa.float32(), nullable=True),  # 0 (IR, too dark) .. 1 (daylight)
        # Head / torso / legs colour names of up to 4 crops (core.vision.parts): K x 33 floats, null when
        # not measured (an index of schema 2, no colour table); search then uses the colours above alone.
        pa.field("part_colours", pa.list_(pa.float32()), nullable=True),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        pa.field("has_vector", pa.bool_(), nullable=False),
        pa.field("clip_model", pa.string(), nullable=False),  # "" until a vector is filled in
        pa.field("detector", pa.string(), nullable=False),
        pa.field("thumbnail", pa.binary(), nullable=False),  # JPEG
        pa.field("indexed_at", pa.float64(), nullable=False),
    ])


class SightingField:
    """The ``sightings`` column names, for code that refers to a column by name (checked against
    :func:`sightings_schema` by ``tests/test_sighting_record.py``)."""

    SIGHTING_ID: Final = "sighting_id"
    VIDEO_ID: Final = "video_id"
    CAMERA_ID: Final = "camera_id"
    DISTRICT: Final = "district"
    DAY: Final = "day"
    T_START: Final = "t_start"
    T_END: Final = "t_end"
    T_BEST: Final = "t_best"
    VIDEO_PATH: Final = "video_path"
    OFFSET_START_S: Final = "offset_start_s"
    OFFSET_END_S: Final = "offset_end_s"
    OFFSET_BEST_S: Final = "offset_best_s"
    BOX: Final = "box"
    FRAME_WIDTH: Final = "frame_width"
    FRAME_HEIGHT: Final = "frame_height"
    TRACK_ID: Final = "track_id"
    SEGMENT: Final = "segment"
    TRACK_OFFSETS: Final = "track_offsets"
    TRACK_BOXES: Final = "track_boxes"
    N_DETECTIONS: Final = "n_detections"
    DET_SCORE: Final = "det_score"
    BEARING_DEG: Final = "bearing_deg"
    SPEED_MPS: Final = "speed_mps"
    UPPER_COLOUR: Final = "upper_colour"
    LOWER_COLOUR: Final = "lower_colour"
    COLOUR_LAYOUT: Final = "colour_layout"
    OBJECTS: Final = "objects"
    HAIR_COLOUR: Final = "hair_colour"
    HAIR_CONFIDENCE: Final = "hair_confidence"
    PATTERN: Final = "pattern"
    PATTERN_CONFIDENCE: Final = "pattern_confidence"
    NIGHT: Final = "night"
    COLOUR_RELIABILITY: Final = "colour_reliability"
    PART_COLOURS: Final = "part_colours"
    VECTOR: Final = "vector"
    HAS_VECTOR: Final = "has_vector"
    CLIP_MODEL: Final = "clip_model"
    DETECTOR: Final = "detector"
    THUMBNAIL: Final = "thumbnail"
    INDEXED_AT: Final = "indexed_at"


@dataclass
class SightingRecord:
    """One ``sightings`` row as the indexer writes it; its fields are the schema's columns, in order.

    The attribute columns default to null ("not measured") and the vector to none yet: the pipeline
    fills them in its attributes and embed stages.
    """

    sighting_id: str  # "{video_id}:{track}:{segment}"
    video_id: str
    camera_id: str
    district: str
    day: str
    t_start: float
    t_end: float
    t_best: float
    video_path: str
    offset_start_s: float
    offset_end_s: float
    offset_best_s: float
    box: np.ndarray  # (4,) float32
    frame_width: int
    frame_height: int
    track_id: int
    segment: int
    track_offsets: list[float]
    track_boxes: list[np.ndarray]
    n_detections: int
    det_score: float
    bearing_deg: float | None
    speed_mps: float
    upper_colour: np.ndarray  # (N_COLOURS,) float32
    lower_colour: np.ndarray
    colour_layout: np.ndarray  # (LAYOUT_DIM,) float32
    objects: list[dict[str, Any]] | None = None  # OBJECT structs
    hair_colour: np.ndarray | None = None
    hair_confidence: float | None = None
    pattern: str | None = None
    pattern_confidence: float | None = None
    night: bool | None = None
    colour_reliability: float | None = None
    part_colours: np.ndarray | None = None  # (K * 33,) float32, core.vision.parts
    vector: np.ndarray | None = None  # required by the time the row is written
    has_vector: bool = False
    clip_model: str = ""
    detector: str = ""
    thumbnail: bytes = b""
    indexed_at: float = 0.0

    def to_row(self) -> dict[str, Any]:
        """The row for ``pa.Table.from_pylist(..., schema=sightings_schema(dim))``."""
        if self.vector is None:  # Arrow would write a null into a non-nullable column without a word
            raise ValueError(f"sighting {self.sighting_id} has no vector yet (zeros when not embedded)")
        return {f.name: getattr(self, f.name) for f in fields(self)}


ATTRIBUTE_FIELDS = ("objects", "hair_colour", "hair_confidence", "pattern", "pattern_confidence", "night",
                    "colour_reliability")


def unmeasured_attributes(dim: int, n: int) -> dict[str, pa.Array]:
    """Null attribute columns for ``n`` rows, for tables built without the indexer (benchmarks, fixtures)."""
    schema = sightings_schema(dim)
    return {name: pa.nulls(n, schema.field(name).type) for name in (*ATTRIBUTE_FIELDS, "part_colours")}


VIDEOS_SCHEMA = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),
    pa.field("camera_id", pa.string(), nullable=False),
    pa.field("size_bytes", pa.int64(), nullable=False),
    pa.field("mtime", pa.float64(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("start_time", pa.float64(), nullable=False),
    pa.field("duration_s", pa.float64(), nullable=False),
    pa.field("fps", pa.float64(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("status", pa.string(), nullable=False),  # done | partial | failed
    pa.field("error", pa.string(), nullable=False),
    pa.field("n_sightings", pa.int32(), nullable=False),
    pa.field("config_version", pa.string(), nullable=False),
    pa.field("clip_model", pa.string(), nullable=False),
    pa.field("detector", pa.string(), nullable=False),
    pa.field("decoder", pa.string(), nullable=False),
    pa.field("stage_seconds", pa.string(), nullable=False),  # JSON {stage: seconds}
    pa.field("indexed_at", pa.float64(), nullable=False),
])


def sighting_id(video_id: str, track_id: int, segment: int, window_t0: float | None = None) -> str:
    """``{video_id}:{track}:{segment}`` for a whole-file run; a window's carry its start (file offset, ms),
    ``{video_id}@{t0_ms}:{track}:{segment}``: deterministic either way, so a rerun replaces rather than adds."""
    head = video_id if window_t0 is None else f"{video_id}@{round(window_t0 * 1000)}"
    return f"{head}:{track_id}:{segment}"


def sighting_window(sighting_id: str) -> float | None:
    """The file offset of the window a sighting was found in; None for a whole-file run's sighting."""
    head = sighting_id.split(":", 1)[0]
    return int(head.rsplit("@", 1)[1]) / 1000.0 if "@" in head else None


SPAN = pa.list_(pa.float64(), 2)  # [start, end) seconds from the start of the file

# One row per video with windowed coverage. The spans are valid only for the file and settings named
# here (size, mtime, config_version); a file that changed or a new config_version means no coverage.
COVERAGE_SCHEMA = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("camera_id", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),  # archive-relative
    pa.field("start_time", pa.float64(), nullable=False),  # recording start, UTC epoch
    pa.field("duration_s", pa.float64(), nullable=False),
    pa.field("size_bytes", pa.int64(), nullable=False),
    pa.field("mtime", pa.float64(), nullable=False),
    pa.field("config_version", pa.string(), nullable=False),
    pa.field("spans", pa.list_(SPAN), nullable=False),  # merged, sorted, disjoint file offsets
    pa.field("updated_at", pa.float64(), nullable=False),
])


def frames_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("district", pa.string(), nullable=False),
        pa.field("day", pa.string(), nullable=False),
        pa.field("t", pa.float64(), nullable=False),
        pa.field("video_path", pa.string(), nullable=False),
        pa.field("offset_s", pa.float64(), nullable=False),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        pa.field("clip_model", pa.string(), nullable=False),
        pa.field("thumbnail", pa.binary(), nullable=False),
    ])


META_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("value", pa.string(), nullable=False),
])


def meta_table(dim: int, clip_model: str) -> pa.Table:
    """The ``meta`` rows of a new index: schema version, vector size, and the model that made its vectors."""
    rows = {META_SCHEMA_VERSION: SCHEMA_VERSION, META_CLIP_DIM: str(dim), META_CLIP_MODEL: clip_model}
    return pa.Table.from_pylist([{"key": k, "value": v} for k, v in rows.items()], schema=META_SCHEMA)

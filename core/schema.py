"""The index schema: the one definition the indexer writes and search reads.

Tables in the LanceDB database at ``storage.index_uri``:

* ``sightings`` - one row per sighting: a stretch (at most ``index.max_segment_s``) of one person's
  track in one camera, with its time span, box path, direction, colours, appearance attributes
  (carried objects, hair, garment pattern, night/IR), CLIP vector and thumbnail.
* ``videos`` - one row per indexed (or failed) video file: what was indexed, under which settings.
* ``frames`` - optional whole-frame CLIP vectors at a low rate (scene search).
* ``meta`` - key/value facts about the index, above all which CLIP model made its vectors.

Times are UTC epoch seconds (float64); ``day`` is the local calendar day (``index.timezone``) as
``YYYY-MM-DD`` so day-bounded searches touch few rows. Boxes are ``x1, y1, x2, y2`` in the video's
original pixels. Offsets are seconds from the start of the source file.
"""

from __future__ import annotations

import pyarrow as pa

from core.vision.colours import LAYOUT_DIM, N_COLOURS

SCHEMA_VERSION = "2"  # 2: appearance attributes (objects, hair, pattern, night)

SIGHTINGS = "sightings"
VIDEOS = "videos"
FRAMES = "frames"
META = "meta"

META_CLIP_MODEL = "clip_model"  # identity of the model whose vectors the tables hold
META_CLIP_DIM = "clip_dim"
META_SCHEMA_VERSION = "schema_version"

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
# A purged video is marked failed with an error starting with this (footage-search purge).
PURGED_PREFIX = "purged "


def sightings_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("sighting_id", pa.string(), nullable=False),  # "{video_id}:{track}:{segment}"
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
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        pa.field("has_vector", pa.bool_(), nullable=False),
        pa.field("clip_model", pa.string(), nullable=False),  # "" until a vector is filled in
        pa.field("detector", pa.string(), nullable=False),
        pa.field("thumbnail", pa.binary(), nullable=False),  # JPEG
        pa.field("indexed_at", pa.float64(), nullable=False),
    ])


ATTRIBUTE_FIELDS = ("objects", "hair_colour", "hair_confidence", "pattern", "pattern_confidence", "night",
                    "colour_reliability")


def unmeasured_attributes(dim: int, n: int) -> dict[str, pa.Array]:
    """Null attribute columns for ``n`` rows, for tables built without the indexer (benchmarks, fixtures)."""
    schema = sightings_schema(dim)
    return {name: pa.nulls(n, schema.field(name).type) for name in ATTRIBUTE_FIELDS}


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
    pa.field("status", pa.string(), nullable=False),  # done | failed
    pa.field("error", pa.string(), nullable=False),
    pa.field("n_sightings", pa.int32(), nullable=False),
    pa.field("config_version", pa.string(), nullable=False),
    pa.field("clip_model", pa.string(), nullable=False),
    pa.field("detector", pa.string(), nullable=False),
    pa.field("decoder", pa.string(), nullable=False),
    pa.field("stage_seconds", pa.string(), nullable=False),  # JSON {stage: seconds}
    pa.field("indexed_at", pa.float64(), nullable=False),
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

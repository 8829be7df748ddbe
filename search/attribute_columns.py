"""Reading the sightings table's appearance-attribute columns into arrays for scoring.

The columns (``core.schema``) are nullable - a synthetic table may leave them out - and an
index built before them (schema version 1) has none; either way a row then reads as "nothing seen,
colours reliable", which scores attribute terms as unknown and leaves colour evidence as it was.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.schema import ATTRIBUTE_FIELDS, SightingField
from core.vision.colours import N_COLOURS
from search.evidence import AttributeColumns
from search.query_terms import ParsedQuery

ATTRIBUTE_COLUMNS = ATTRIBUTE_FIELDS


def columns_for(parsed: ParsedQuery | None, available: set[str]) -> list[str]:
    """The attribute columns a description needs to be scored (those the table has)."""
    if parsed is None or not (parsed.has_colours or parsed.has_attributes):
        return []
    want = [SightingField.COLOUR_RELIABILITY]
    if parsed.objects:
        want += [SightingField.OBJECTS, SightingField.BOX]  # the box: how tall the person was, for "not seen"
    if parsed.hair:
        want += [SightingField.HAIR_COLOUR, SightingField.HAIR_CONFIDENCE]
    if parsed.patterns:
        want += [SightingField.PATTERN, SightingField.PATTERN_CONFIDENCE]
    return [c for c in want if c in available]


def _array(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array | None:
    if name not in batch.schema.names:
        return None
    col = batch.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _floats(arr: pa.Array | None, n: int, default: float) -> np.ndarray:
    if arr is None:
        return np.full(n, default, dtype=np.float32)
    return np.asarray(arr.fill_null(default).to_numpy(zero_copy_only=False), dtype=np.float32)


def _colours(arr: pa.Array | None, n: int) -> np.ndarray:
    out = np.full((n, N_COLOURS), 1.0 / N_COLOURS, dtype=np.float32)
    if arr is None or n == 0:
        return out
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if valid.any():
        flat = np.asarray(arr.filter(pa.array(valid)).flatten(), dtype=np.float32).reshape(-1, N_COLOURS)
        out[valid] = flat
    return out


def read_attribute_columns(batch: pa.RecordBatch | pa.Table, parsed: ParsedQuery) -> AttributeColumns:
    """A batch's attribute columns as :class:`search.evidence.AttributeColumns`, for ``parsed``'s terms."""
    n = batch.num_rows
    object_conf: dict[str, np.ndarray] = {}
    object_colour: dict[str, np.ndarray] = {}
    wanted = {name for t in parsed.objects for name in t.names}
    objects = _array(batch, SightingField.OBJECTS)
    if wanted:
        for name in wanted:
            object_conf[name] = np.zeros(n, dtype=np.float32)
            object_colour[name] = np.full((n, N_COLOURS), 1.0 / N_COLOURS, dtype=np.float32)
        if objects is not None and n:
            parents = np.asarray(pc.list_parent_indices(objects).to_numpy(zero_copy_only=False), dtype=np.int64)
            flat = pc.list_flatten(objects)
            if len(flat):
                names = np.asarray(flat.field("name").to_numpy(zero_copy_only=False), dtype=object)
                conf = np.asarray(flat.field("confidence").to_numpy(zero_copy_only=False), dtype=np.float32)
                colours = np.asarray(flat.field("colour").flatten(), dtype=np.float32).reshape(-1, N_COLOURS)
                for name in wanted:
                    for i in np.flatnonzero(names == name):  # one entry per name and row: no clash
                        row = parents[i]
                        if conf[i] >= object_conf[name][row]:
                            object_conf[name][row] = conf[i]
                            object_colour[name][row] = colours[i]
    pattern = _array(batch, SightingField.PATTERN)
    pattern_conf = _floats(_array(batch, SightingField.PATTERN_CONFIDENCE), n, 0.0)
    labels = (np.asarray(pattern.fill_null("plain").to_numpy(zero_copy_only=False), dtype=object)
              if pattern is not None else np.full(n, "plain", dtype=object))
    striped = np.where(labels == "striped", pattern_conf, 0.0).astype(np.float32)
    plain = np.where(labels == "plain", pattern_conf, 0.0).astype(np.float32)
    box = _array(batch, SightingField.BOX) if parsed.objects else None
    height = None
    if box is not None and n:
        xyxy = np.asarray(box.flatten(), dtype=np.float32).reshape(-1, 4)  # a non-null column: one box per row
        height = np.clip(xyxy[:, 3] - xyxy[:, 1], 0.0, None)
    return AttributeColumns(
        object_conf=object_conf, object_colour=object_colour,
        hair_colour=_colours(_array(batch, SightingField.HAIR_COLOUR), n),
        hair_confidence=_floats(_array(batch, SightingField.HAIR_CONFIDENCE), n, 0.0),
        striped=striped, plain=plain,
        reliability=np.clip(_floats(_array(batch, SightingField.COLOUR_RELIABILITY), n, 1.0), 0.0, 1.0),
        height=height,
    )

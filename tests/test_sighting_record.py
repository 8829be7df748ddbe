"""The typed sighting record and the column-name constants agree with the Arrow schema."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from core.schema import SightingField, SightingRecord, sightings_schema
from core.vision.colours import LAYOUT_DIM, N_COLOURS


def test_record_fields_are_the_schema_columns_in_order():
    assert [f.name for f in dataclasses.fields(SightingRecord)] == sightings_schema(8).names


def test_field_constants_name_every_column_once():
    constants = {k: v for k, v in vars(SightingField).items() if k.isupper()}
    assert sorted(constants.values()) == sorted(sightings_schema(8).names)
    assert all(k == v.upper() for k, v in constants.items())


def _record(**over) -> SightingRecord:
    values = dict(
        sighting_id="v1:3:0", video_id="v1", camera_id="CAM", district="Jung-gu", day="2026-03-14",
        t_start=100.0, t_end=104.0, t_best=102.0, video_path="/a/CAM/x.mp4", offset_start_s=0.0,
        offset_end_s=4.0, offset_best_s=2.0, box=np.array([1, 2, 30, 80], np.float32), frame_width=640,
        frame_height=480, track_id=3, segment=0, track_offsets=[0.0, 4.0],
        track_boxes=[np.array([1, 2, 30, 80], np.float32)] * 2, n_detections=2, det_score=0.8, bearing_deg=None,
        speed_mps=0.0, upper_colour=np.full(N_COLOURS, 1 / N_COLOURS, np.float32),
        lower_colour=np.full(N_COLOURS, 1 / N_COLOURS, np.float32),
        colour_layout=np.zeros(LAYOUT_DIM, np.float32), vector=np.ones(8, np.float32), has_vector=True,
        clip_model="m", detector="d", thumbnail=b"\xff\xd8", indexed_at=1.0)
    values.update(over)
    return SightingRecord(**values)  # type: ignore[arg-type]


def test_a_record_becomes_a_valid_row_with_unmeasured_attributes_null():
    table = pa.Table.from_pylist([_record().to_row()], schema=sightings_schema(8))
    row = table.to_pylist()[0]
    assert row[SightingField.SIGHTING_ID] == "v1:3:0" and row[SightingField.BEARING_DEG] is None
    assert row[SightingField.OBJECTS] is None and row[SightingField.NIGHT] is None
    assert row[SightingField.TRACK_BOXES][1] == pytest.approx([1, 2, 30, 80])


def test_a_record_without_its_vector_is_refused():
    with pytest.raises(ValueError, match="v1:3:0 has no vector"):
        _record(vector=None).to_row()

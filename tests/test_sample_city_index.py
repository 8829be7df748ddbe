"""The default pipeline on the generated city: people detected and tracked, the scripted walker's
direction and colours right at every stop of her route."""

from __future__ import annotations

import collections
import json

import lancedb
import numpy as np
import pytest
import supervision as sv

from core.compass import angle_diff_deg
from core.registry import load_registry
from core.schema import SIGHTINGS
from core.vision.colours import COLOUR_NAMES


@pytest.fixture(scope="module")
def city_rows(sample_index, sample_city):
    rows = lancedb.connect(sample_index.storage.index_uri).open_table(SIGHTINGS).to_arrow() \
        .drop_columns(["thumbnail", "vector"]).to_pylist()
    gt = json.loads(sample_city.ground_truth.read_text())
    return rows, gt


def _matching(rows: list[dict], appearance: dict) -> collections.Counter:
    """Sightings whose box path overlaps this ground-truth appearance (IoU >= 0.4 at the same time)."""
    video = appearance["video"].split("/")[-1]
    hits: collections.Counter = collections.Counter()
    for r in rows:
        if not r["video_path"].endswith(video):
            continue
        for t, box in zip(r["track_offsets"], r["track_boxes"], strict=True):
            for bt, *gbox in appearance["boxes"]:
                if abs(bt - t) < 0.05 and sv.box_iou_batch(np.array([gbox]), np.array([box]))[0, 0] >= 0.4:
                    hits[r["sighting_id"]] += 1
    return hits


def test_people_are_detected_and_tracked(city_rows):
    rows, gt = city_rows
    long = [a for a in gt["appearances"] if a["t_end_offset_s"] - a["t_start_offset_s"] >= 3]
    found = [a for a in long if _matching(rows, a)]
    assert len(found) / len(long) >= 0.85, f"{len(found)}/{len(long)} people with a sighting"
    assert {r["camera_id"] for r in rows} == {c["camera_id"] for c in gt["clips"]}
    assert all(r["detector"].startswith("yolox-nano") for r in rows)


def test_scripted_walker_direction_and_colours_at_every_stop(city_rows, sample_city):
    rows, gt = city_rows
    registry = load_registry(sample_city.registry)
    by_id = {r["sighting_id"]: r for r in rows}
    target = [a for a in gt["appearances"] if a["role"] == "target"]
    assert len(target) == len(gt["route"]) >= 4
    districts = set()
    for stop in target:
        hits = _matching(rows, stop)
        assert hits, f"target not found at {stop['camera_id']}"
        best = by_id[hits.most_common(1)[0][0]]
        assert best["camera_id"] == stop["camera_id"]
        assert best["t_start"] <= stop["t_end_epoch"] + 1 and best["t_end"] >= stop["t_start_epoch"] - 1
        districts.add(registry.get(best["camera_id"]).district)
        # every matched sighting that moved enough for a direction points the right way
        bearings = [by_id[s]["bearing_deg"] for s in hits if by_id[s]["bearing_deg"] is not None]
        assert bearings, f"no direction at {stop['camera_id']}"
        errors = [angle_diff_deg(b, stop["bearing_deg"]) for b in bearings]
        assert min(errors) < 30, (stop["camera_id"], stop["bearing_deg"], bearings)
        upper = COLOUR_NAMES[int(np.argmax(best["upper_colour"]))]
        assert upper == gt["target"]["upper_colour"], (stop["camera_id"], upper)
    assert len(districts) >= 3

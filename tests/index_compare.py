"""Two indexes hold the same sightings: the check the Ray engine and the local engine's worker layouts
share (each against the one-worker index of the same footage)."""

from __future__ import annotations

from collections.abc import Collection

import lancedb
import numpy as np
import pytest

from core.schema import SIGHTINGS

EXACT = ["video_id", "camera_id", "district", "day", "track_id", "segment", "n_detections", "frame_width",
         "frame_height", "has_vector", "clip_model", "detector"]
CLOSE = ["t_start", "t_end", "t_best", "offset_start_s", "offset_end_s", "offset_best_s", "box", "det_score",
         "speed_mps", "upper_colour", "lower_colour", "colour_layout", "track_offsets", "vector"]


def sightings(cfg, video_ids: Collection[str] | None = None) -> dict[str, dict]:
    """The index's sightings by id (of ``video_ids`` only, if given); no id twice."""
    rows = lancedb.connect(cfg.storage.index_uri).open_table(SIGHTINGS).to_arrow().to_pylist()
    by_id = {r["sighting_id"]: r for r in rows}
    assert len(by_id) == len(rows), "duplicate sightings"
    if video_ids is not None:
        by_id = {sid: r for sid, r in by_id.items() if r["video_id"] in video_ids}
    return by_id


def assert_same_sightings(ours, reference, video_ids: Collection[str] | None = None) -> None:
    a, b = sightings(ours, video_ids), sightings(reference, video_ids)
    assert set(a) == set(b)
    for sid, x in a.items():
        y = b[sid]
        for k in EXACT:
            assert x[k] == y[k], (sid, k)
        assert (x["bearing_deg"] is None) == (y["bearing_deg"] is None), sid
        if x["bearing_deg"] is not None:
            assert x["bearing_deg"] == pytest.approx(y["bearing_deg"], abs=1e-3), sid
        for k in CLOSE:
            assert np.allclose(np.asarray(x[k], dtype=float), np.asarray(y[k], dtype=float), atol=1e-5), (sid, k)
        assert np.allclose(np.asarray(x["track_boxes"], dtype=float), np.asarray(y["track_boxes"], dtype=float),
                           atol=1e-4), sid

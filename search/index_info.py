"""Facts about an index that search needs but the config does not hold: where the archive's registry is."""

from __future__ import annotations

from pathlib import Path

from core.index_db import IndexDB
from core.schema import SIGHTINGS, VIDEOS, SightingField

REGISTRY_NAME = "cameras.csv"


def indexed_archive_registry(db: IndexDB) -> Path | None:
    """``<archive>/cameras.csv`` of the archive this index was built from, when it still exists.

    The ``videos`` table stores paths relative to the archive and ``sightings`` absolute ones, so one
    pair of rows gives the archive root; ``footage-search index`` reads its registry from the same place
    by default.
    """
    if not (db.has_table(VIDEOS) and db.has_table(SIGHTINGS)):
        return None
    columns = [SightingField.VIDEO_ID, SightingField.VIDEO_PATH]
    rows = db.table(SIGHTINGS).search().select(columns).limit(1).to_arrow().to_pylist()
    if not rows:
        return None
    vid, full = rows[0][SightingField.VIDEO_ID], rows[0][SightingField.VIDEO_PATH]
    videos = db.table(VIDEOS).to_arrow().select(["video_id", "path"]).to_pylist()
    rel = next((v["path"] for v in videos if v["video_id"] == vid), None)
    if not rel or not full.replace("\\", "/").endswith(rel):
        return None
    root = Path(full[: len(full) - len(rel)])
    candidate = root / REGISTRY_NAME
    return candidate if candidate.is_file() else None

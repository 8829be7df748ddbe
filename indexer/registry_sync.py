"""Keeping indexed sightings true to a camera registry that was edited between runs.

The index remembers the registry it last indexed with (``meta`` key ``registry``). At the start of each
run the current registry is compared with it, and:

* **district changed** (a camera moved across a district line, or a district renamed): the ``district``
  of that camera's sightings is rewritten in one commit - district filters and maps stay right;
* **heading or tilt changed** (a camera re-aimed or its heading corrected): each sighting's direction of
  movement and speed are recomputed from its stored box path with the new geometry - no re-decoding;
* **position changed** (lat/lon): nothing stored depends on it; routes and next-camera windows use the
  registry at search time;
* **removed** (or renamed: a renamed camera is a removal plus an addition): its files are reported as
  skipped (unknown camera) and its sightings are kept - nothing is deleted implicitly. Search and routes
  treat a camera missing from the registry as unreachable. ``index --prune`` removes the sightings of
  videos whose camera or file is gone;
* **added**: its folder is indexed like any other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from core.index_db import IndexDB, sql_str
from core.index_status import record_registry_source
from core.registry import CameraRegistry
from core.schema import META_REGISTRY, SIGHTINGS, SightingField
from indexer.motion import estimate_motion

log = logging.getLogger(__name__)

GEOMETRY_KEYS = ("heading_deg", "tilt_deg")


@dataclass
class RegistryChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # position only
    regrouped: list[str] = field(default_factory=list)  # district changed
    reoriented: list[str] = field(default_factory=list)  # heading/tilt changed
    rows_regrouped: int = 0
    rows_reoriented: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.moved or self.regrouped or self.reoriented)

    def lines(self) -> list[str]:
        out = []
        if self.regrouped:
            out.append(f"registry: district changed for {', '.join(self.regrouped)} "
                       f"({self.rows_regrouped} sightings updated)")
        if self.reoriented:
            out.append(f"registry: heading/tilt changed for {', '.join(self.reoriented)} "
                       f"({self.rows_reoriented} sightings' directions recomputed)")
        if self.moved:
            out.append(f"registry: position changed for {', '.join(self.moved)} (used by routes from now on)")
        if self.removed:
            out.append(f"registry: {', '.join(self.removed)} no longer listed: their sightings are kept but "
                       "unreachable in routes; `index --prune` removes them")
        if self.added:
            out.append(f"registry: new camera(s) {', '.join(self.added)}")
        return out


def snapshot(registry: CameraRegistry) -> dict[str, dict]:
    return {c.camera_id: asdict(c) for c in registry}


def diff(old: dict[str, dict], registry: CameraRegistry) -> RegistryChanges:
    new = snapshot(registry)
    ch = RegistryChanges(added=sorted(set(new) - set(old)), removed=sorted(set(old) - set(new)))
    for cid in sorted(set(old) & set(new)):
        a, b = old[cid], new[cid]
        if a["district"] != b["district"]:
            ch.regrouped.append(cid)
        if any(abs(float(a[k]) - float(b[k])) > 1e-9 for k in GEOMETRY_KEYS):
            ch.reoriented.append(cid)
        if (a["lat"], a["lon"]) != (b["lat"], b["lon"]):
            ch.moved.append(cid)
    return ch


def sync(db: IndexDB, registry: CameraRegistry) -> RegistryChanges:
    """Bring stored sightings in line with ``registry`` and remember it (and its file, for search and
    the console); returns what changed."""
    record_registry_source(db, registry)
    meta = db.meta()
    current = snapshot(registry)
    if META_REGISTRY not in meta:
        db.set_meta({META_REGISTRY: json.dumps(current, sort_keys=True)})
        return RegistryChanges()
    changes = diff(json.loads(meta[META_REGISTRY]), registry)
    if not changes.any:
        return changes
    table = db.table(SIGHTINGS)
    for cid in changes.regrouped:
        where = f"{SightingField.CAMERA_ID} = {sql_str(cid)}"
        n = table.count_rows(where)
        if n:
            table.update(where=where, values={SightingField.DISTRICT: registry.get(cid).district})
        changes.rows_regrouped += n
    for cid in changes.reoriented:
        changes.rows_reoriented += _recompute_motion(table, registry, cid)
    db.set_meta({META_REGISTRY: json.dumps(current, sort_keys=True)})
    for line in changes.lines():
        log.info(line)
    return changes


def _recompute_motion(table, registry: CameraRegistry, camera_id: str) -> int:
    cam = registry.get(camera_id)
    col = SightingField
    rows = (table.search().where(f"{col.CAMERA_ID} = {sql_str(camera_id)}")
            .select([col.SIGHTING_ID, col.TRACK_OFFSETS, col.TRACK_BOXES]).limit(None).to_arrow())
    if rows.num_rows == 0:
        return 0
    bearings, speeds = [], []
    for offs, boxes in zip(rows.column(col.TRACK_OFFSETS).to_pylist(), rows.column(col.TRACK_BOXES).to_pylist(),
                           strict=True):
        m = estimate_motion(offs, np.asarray(boxes, dtype=np.float64), cam.heading_deg, cam.tilt_deg)
        bearings.append(m.bearing_deg if m.moving else None)
        speeds.append(m.speed_mps)
    update = pa.table({
        col.SIGHTING_ID: rows.column(col.SIGHTING_ID),
        col.BEARING_DEG: pa.array(bearings, type=pa.float32()),
        col.SPEED_MPS: pa.array(speeds, type=pa.float32()),
    })
    table.merge_insert(col.SIGHTING_ID).when_matched_update_all().execute(update)
    return rows.num_rows

"""Small hand-made indexes for search and route tests: rows written straight to LanceDB with the real schema.

These test the search machinery (filters, grouping, gating, pagination, the route's DP) on rows whose
contents are known exactly. What the colour namer says about real pixels is tested on real footage in
test_search_real.py; nothing here stands in for that.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa

from core.registry import Camera, CameraRegistry
from core.schema import (
    META,
    SIGHTINGS,
    VIDEOS,
    VIDEOS_SCHEMA,
    meta_table,
    sightings_schema,
)
from core.vision.colours import COLOUR_NAMES, LAYOUT_STRIPES, N_COLOURS
from search.result import Sighting

DIM = 32
T0 = 1_773_450_000.0  # 2026-03-14 10:00:00 KST
CLIP_ID = "fs-tiny-test/random-init"


def colour_dist(main: str | dict[str, float], strength: float = 0.5) -> np.ndarray:
    """A colour-name distribution like the indexer's: the named colour(s) plus a flat background."""
    weights = {main: strength} if isinstance(main, str) else dict(main)
    d = np.full(N_COLOURS, 0.0, dtype=np.float64)
    for name, w in weights.items():
        d[COLOUR_NAMES.index(name)] += w
    rest = max(0.0, 1.0 - d.sum())
    d += rest / N_COLOURS
    return (d / d.sum()).astype(np.float32)


def crop_of(*parts: str, strength: float = 0.7) -> np.ndarray:
    """One crop's part colours: a colour name per part (head, torso, legs), flat like the indexer's."""
    return np.concatenate([colour_dist(p, strength) for p in parts]).astype(np.float32)


def layout_for(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    dark = colour_dist("black", 0.6)
    stripes = [dark, dark, upper, upper, upper, lower, lower, lower]
    assert len(stripes) == LAYOUT_STRIPES
    v = np.sqrt(np.concatenate(stripes))
    return (v / np.linalg.norm(v)).astype(np.float32)


def unit(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


@dataclass
class Row:
    camera_id: str
    t_start: float
    t_end: float
    upper: str | dict[str, float] = "black"
    lower: str | dict[str, float] = "black"
    bearing: float | None = None
    track_id: int = 0
    segment: int = 0
    video: str = ""  # default: one video per camera
    vector: np.ndarray | None = None
    n_detections: int = 10
    extra: dict = field(default_factory=dict)


def write_index(uri: Path | str, registry: CameraRegistry, rows: list[Row], *, dim: int = DIM,
                clip_model: str = CLIP_ID, seed: int = 0, videos_span: tuple[float, float] | None = None
                ) -> list[str]:
    """Write ``rows`` as sightings (plus meta and videos tables); returns the sighting ids in order."""
    rng = np.random.default_rng(seed)
    db = lancedb.connect(str(uri))
    records, ids = [], []
    for r in rows:
        cam = registry.get(r.camera_id)
        video = r.video or f"vid-{r.camera_id}"
        sid = f"{video}:{r.track_id}:{r.segment}"
        ids.append(sid)
        up, lo = colour_dist(r.upper), colour_dist(r.lower)
        vec = r.vector if r.vector is not None else unit(rng, dim)
        rec = {
            "sighting_id": sid, "video_id": video, "camera_id": r.camera_id, "district": cam.district,
            "day": "2026-03-14", "t_start": r.t_start, "t_end": r.t_end, "t_best": (r.t_start + r.t_end) / 2,
            "video_path": f"/archive/{r.camera_id}/{video}.mp4", "offset_start_s": r.t_start - T0,
            "offset_end_s": r.t_end - T0, "offset_best_s": (r.t_start + r.t_end) / 2 - T0,
            "box": np.array([100, 50, 140, 170], dtype=np.float32), "frame_width": 640, "frame_height": 360,
            "track_id": r.track_id, "segment": r.segment, "track_offsets": [r.t_start - T0, r.t_end - T0],
            "track_boxes": [np.array([100, 50, 140, 170], dtype=np.float32)] * 2,
            "n_detections": r.n_detections, "det_score": 0.8, "bearing_deg": r.bearing,
            "speed_mps": 0.0 if r.bearing is None else 1.2, "upper_colour": up, "lower_colour": lo,
            "colour_layout": layout_for(up, lo), "vector": vec, "has_vector": True, "clip_model": clip_model,
            "detector": "synthetic", "thumbnail": b"\xff\xd8\xff\xd9", "indexed_at": 0.0,
        }
        rec.update(r.extra)
        records.append(rec)
    table = pa.Table.from_pylist(records, schema=sightings_schema(dim))
    db.create_table(SIGHTINGS, data=table, mode="overwrite")
    db.create_table(META, data=meta_table(dim, clip_model), mode="overwrite")
    lo_t, hi_t = videos_span or (min(r.t_start for r in rows) - 60, max(r.t_end for r in rows) + 60)
    vids = []
    for cam in registry:
        vids.append({
            "video_id": f"vid-{cam.camera_id}", "path": f"{cam.camera_id}/v.mp4", "camera_id": cam.camera_id,
            "size_bytes": 1, "mtime": 0.0, "content_hash": "", "start_time": lo_t, "duration_s": hi_t - lo_t,
            "fps": 10.0, "width": 640, "height": 360, "status": "done", "error": "", "n_sightings": 0,
            "config_version": "", "clip_model": clip_model, "detector": "", "decoder": "", "stage_seconds": "{}",
            "indexed_at": 0.0})
    db.create_table(VIDEOS, data=pa.Table.from_pylist(vids, schema=VIDEOS_SCHEMA), mode="overwrite")
    return ids


def sighting(camera_id: str, t_start: float, t_end: float, *, score: float, track_id: int, district: str = "",
             upper: str | dict[str, float] = "black", lower: str | dict[str, float] = "black",
             bearing: float | None = None, video: str = "", vector: np.ndarray | None = None,
             members: tuple[str, ...] = ()) -> Sighting:
    """A scored search result made by hand (what the route's path search takes), with the colours and
    layout a :class:`Row` of the same description would have; its id is ``{video}:{track_id}:0``."""
    video = video or f"vid-{camera_id}"
    sid = f"{video}:{track_id}:0"
    up, lo = colour_dist(upper), colour_dist(lower)
    return Sighting(
        sighting_id=sid, member_ids=members or (sid,), video_id=video, camera_id=camera_id, camera_name=camera_id,
        district=district, t_start=t_start, t_end=t_end, t_best=(t_start + t_end) / 2,
        video_path=f"/archive/{camera_id}/{video}.mp4", offset_start_s=t_start - T0, offset_end_s=t_end - T0,
        offset_best_s=(t_start + t_end) / 2 - T0, box=(100.0, 50.0, 140.0, 170.0), frame_size=(640, 360),
        track_id=track_id, n_detections=10, bearing_deg=bearing, speed_mps=0.0 if bearing is None else 1.2,
        score=score, evidence={"evidence": score}, upper=up, lower=lo, layout=layout_for(up, lo), vector=vector,
    )


def grid_registry(names: list[tuple[str, str, float, float]], heading: float = 0.0) -> CameraRegistry:
    """Cameras at (east, north) metres from a point in Seoul, for easy distance reasoning."""
    lat0, lon0 = 37.55, 126.97
    cams = {}
    for cid, district, east, north in names:
        lat = lat0 + north / 111_320.0
        lon = lon0 + east / (111_320.0 * math.cos(math.radians(lat0)))
        cams[cid] = Camera(cid, district, cid, lat, lon, heading)
    return CameraRegistry(cams, source="<test>")


# ------------------------------------------------------------------------------------ sample city


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ground_truth_people(table, gt: dict, min_iou: float = 0.3) -> dict[str, Counter[str]]:
    """sighting_id -> how many of its tracked boxes fall on each drawn person (ground truth box within 0.3 s,
    best IoU >= ``min_iou``). A tracker can switch identities mid-track, so a row may hold two people."""
    by_video: dict[str, list[dict]] = {}
    for a in gt["appearances"]:
        by_video.setdefault(a["video"], []).append(a)
    rows = table.to_arrow().select(["sighting_id", "video_path", "track_offsets", "track_boxes"]).to_pylist()
    out: dict[str, Counter[str]] = {}
    for r in rows:
        path = r["video_path"].replace("\\", "/")
        apps = next((v for k, v in by_video.items() if path.endswith(k)), [])
        votes: Counter[str] = Counter()
        for t, box in zip(r["track_offsets"], r["track_boxes"], strict=True):
            best, best_iou = None, min_iou
            for a in apps:
                for bt, x1, y1, x2, y2 in a["boxes"]:
                    if abs(bt - t) <= 0.3:
                        v = iou(box, (x1, y1, x2, y2))
                        if v >= best_iou:
                            best, best_iou = a["person_id"], v
            if best is not None:
                votes[best] += 1
        out[r["sighting_id"]] = votes
    return out


def holds(votes: dict[str, Counter[str]], sighting, person: str) -> bool:
    """Whether any row of a (grouped) sighting shows ``person``."""
    ids = getattr(sighting, "member_ids", None) or [sighting]
    return any(votes.get(i, Counter())[person] > 0 for i in ids)


def only_others(votes: dict[str, Counter[str]], sighting, person: str) -> bool:
    """A sighting that shows somebody, and never ``person``."""
    ids = getattr(sighting, "member_ids", None) or [sighting]
    return all(votes.get(i, Counter())[person] == 0 for i in ids) and any(votes.get(i) for i in ids)


def target_crop_png(gt: dict, root: Path, camera_id: str) -> bytes:
    """The target cropped from one generated frame (largest fully visible ground-truth box), as PNG bytes."""
    import cv2

    from core.video_frames import read_frames_at

    a = next(a for a in gt["appearances"] if a["person_id"] == "target" and a["camera_id"] == camera_id)
    w, h = gt["video"]["width"], gt["video"]["height"]
    inside = [b for b, v in zip(a["boxes"], a["visibility"], strict=True)
              if v >= 0.99 and b[1] > 2 and b[2] > 2 and b[3] < w - 2 and b[4] < h - 2]
    t, x1, y1, x2, y2 = max(inside, key=lambda b: b[4] - b[2])
    frame = read_frames_at(root / a["video"], [t])[0]
    m = 0.1 * (y2 - y1)
    crop = frame[int(max(0, y1 - m)):int(min(h, y2 + m)), int(max(0, x1 - m)):int(min(w, x2 + m))]
    ok, buf = cv2.imencode(".png", crop)
    assert ok
    return buf.tobytes()

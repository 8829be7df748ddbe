"""``index --embeddings-only``: add CLIP vectors to sightings that were indexed without them.

When the CLIP weights could not be loaded at index time, everything else was indexed and the rows
were marked ``has_vector = false``. This re-reads each such sighting's best frame from its source
video, crops the stored box and embeds it, then replaces the rows in one atomic merge per video.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from core.config import Config
from core.index_db import IndexDB, sql_str
from core.loading import load_image_embedder, plan_image_embedder
from core.schema import META_CLIP_MODEL, SIGHTINGS, VIDEO_STATUS_DONE, VIDEO_STATUS_PARTIAL, SightingField
from core.video_frames import FrameReadError, read_frames_at
from core.vision.crops import crop_with_margin
from indexer.lock import indexer_lock

log = logging.getLogger(__name__)


@dataclass
class FillSummary:
    missing_before: int = 0
    filled: int = 0
    unreadable: list[str] = field(default_factory=list)
    error: str = ""
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        if self.error:
            return [f"embeddings not filled: {self.error}"]
        out = [f"filled CLIP vectors for {self.filled} of {self.missing_before} sightings in {self.wall_s:.1f} s"]
        out += [f"UNREADABLE {p}" for p in self.unreadable]
        return out


def fill_embeddings(cfg: Config, progress: bool = False) -> FillSummary:
    summary = FillSummary()
    t0 = time.perf_counter()
    with indexer_lock(cfg.storage.index_uri):
        db = IndexDB.open(cfg.storage, must_exist=True)
        # The indexer's own image tower (int8 ONNX on CPU, fp16 under CUDA with --device cuda): the vectors
        # filled in are made the way the indexer makes them, and torch is not loaded for it.
        plan = plan_image_embedder(cfg)
        embedder, error = load_image_embedder(cfg, plan, threads=os.cpu_count() or 1)
        if embedder is None:
            summary.error = error
            return summary
        db.check_compatible(embedder.identity, plan.dim)
        table = db.table(SIGHTINGS)
        col = SightingField
        missing = table.search().where(f"{col.HAS_VECTOR} = false").limit(None).to_arrow()
        summary.missing_before = missing.num_rows
        if not missing.num_rows:
            summary.wall_s = time.perf_counter() - t0
            return summary
        videos = missing.column(col.VIDEO_PATH).unique().to_pylist()
        iterator = videos
        if progress:
            from tqdm import tqdm

            iterator = tqdm(videos, desc="embedding", unit="video")
        for path in iterator:
            rows = missing.filter(pa.compute.equal(missing.column(col.VIDEO_PATH), path))
            try:
                frames = read_frames_at(path, rows.column(col.OFFSET_BEST_S).to_pylist())
            except FrameReadError as exc:
                summary.unreadable.append(f"{path}: {exc}")
                continue
            keep = [i for i, f in enumerate(frames) if f is not None]
            if not keep:
                summary.unreadable.append(f"{path}: no frame at the stored offsets")
                continue
            crops = [crop_with_margin(frames[i], np.asarray(rows.column(col.BOX)[i].as_py())) for i in keep]
            vecs = embedder.embed_images(crops, batch_size=cfg.index.clip_batch_size)
            updated = rows.take(keep)
            updated = updated.set_column(updated.schema.get_field_index(col.VECTOR), col.VECTOR,
                                         pa.array(list(vecs), type=updated.schema.field(col.VECTOR).type))
            updated = updated.set_column(updated.schema.get_field_index(col.HAS_VECTOR), col.HAS_VECTOR,
                                         pa.array([True] * len(keep)))
            updated = updated.set_column(updated.schema.get_field_index(col.CLIP_MODEL), col.CLIP_MODEL,
                                         pa.array([embedder.identity] * len(keep)))
            (table.merge_insert(col.SIGHTING_ID).when_matched_update_all().execute(updated))
            summary.filled += len(keep)
        if summary.filled:
            db.set_meta({META_CLIP_MODEL: embedder.identity})
            indexed = f"status IN ({sql_str(VIDEO_STATUS_DONE)}, {sql_str(VIDEO_STATUS_PARTIAL)})"
            db.table("videos").update(where=indexed, values={"clip_model": embedder.identity})
    summary.wall_s = time.perf_counter() - t0
    return summary

"""The last step of a video's pipeline, CLIP vectors for its sightings, kept apart so that one process can
embed for several.

A worker that holds no CLIP session hands its chosen crops back with the sightings (:class:`PendingCrops`)
and the parent's worker embeds them (:mod:`indexer.process_pool`), for the runtimes whose session is
large: one OpenVINO session in the process tree instead of one per worker was 249 MB less resident
memory on a 2-core box at the same wall time (``bench/results/index_levers.json``,
``one_clip_session_2026_12_07``).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from core.config import IndexConfig
from core.loading import ImageEmbedder
from core.registry import Camera
from core.schema import SightingField
from indexer.archive import VideoFile
from indexer.sighting_rows import frame_rows


@dataclass
class PendingCrops:
    """What a video's embed step needs: its chosen crops and, if scene search is on, its whole frames."""

    crops: list[np.ndarray]
    owner: np.ndarray  # (len(crops),) int: the sightings-table row each crop stands for
    scene_frames: list[tuple[float, np.ndarray]]
    video: VideoFile
    camera: Camera
    tz: ZoneInfo


def embed_pending(sightings: pa.Table, pending: PendingCrops, embedder: ImageEmbedder | None, dim: int,
                  icfg: IndexConfig) -> tuple[pa.Table, pa.Table | None]:
    """``sightings`` with their vectors filled in (the mean of each row's crop vectors, unit length; zeros
    and ``has_vector`` false without an embedder), and the ``frames`` rows of the scene frames."""
    n = sightings.num_rows
    vectors = np.zeros((n, dim), dtype=np.float32)
    has_vector = np.zeros(n, dtype=bool)
    if embedder is not None and pending.crops:
        emb = embedder.embed_images(pending.crops, batch_size=icfg.clip_batch_size)
        for r in np.unique(pending.owner):
            v = emb[pending.owner == r].mean(axis=0)
            vectors[r] = v / max(float(np.linalg.norm(v)), 1e-12)
            has_vector[r] = True
    identity = embedder.identity if embedder is not None else ""
    columns = {
        SightingField.VECTOR: pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        SightingField.HAS_VECTOR: pa.array(has_vector),
        SightingField.CLIP_MODEL: pa.array([identity if h else "" for h in has_vector], type=pa.string()),
    }
    for name, values in columns.items():
        i = sightings.schema.get_field_index(name)
        sightings = sightings.set_column(i, sightings.schema.field(i), values.cast(sightings.schema.field(i).type))
    frames = frame_rows(pending.video, pending.camera, pending.scene_frames, embedder, dim, icfg.clip_batch_size,
                        icfg.thumbnail_height, pending.tz)
    return sightings, frames

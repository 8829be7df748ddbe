"""Part-based appearance: how well sightings' head / torso / legs colours match a reference's.

Each sighting holds the part colours of up to four crops (index column ``part_colours``,
:mod:`core.vision.parts`); a reference (the person in a photo, a "more like this" sighting, a pinned
sighting) holds one or more crops too. Two crops compare part by part with the Bhattacharyya
coefficient of their colour-name distributions, weighted (:class:`PartWeights`); a sighting and a
reference compare as their best-matching pair of crops (``best``) or the mean over all pairs
(``mean``): one good view of the person is enough, the others are often the back or cut by the frame.
The similarity becomes evidence in [0, 1] on a linear ramp (``floor`` -> 0, ``full`` -> 1).
``bench/photo_quality.py`` tunes these on one place of the real clips and reports on the other; the
looser weights the grid prefers on all the clips (floor 0.70, mean of pairs, parts 0.8) let the demo
city's look-alikes through the gate (tests/test_route_sample_city.py, test_search_sample_city.py), so the
defaults keep a strict ramp (0.90 -> 0.99), which gives the same figures on the real clips: with a
laxer one, someone in other colours but of a similar build gets enough part evidence to pass the gate
in a photo + description query.

The final appearance evidence is ``(1 - parts) * colours + parts * part evidence``, where ``colours``
is :func:`search.evidence.reference_evidence` (the sighting's averaged upper/lower colours and stripe
layout): a row without part colours (an index built before schema 3) keeps ``colours`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from core.schema import SightingField
from core.vision.colours import N_COLOURS
from core.vision.parts import MAX_CROPS, N_PARTS, PART_DIM, PART_INDEX, as_crops


@dataclass(frozen=True)
class PartWeights:
    """How part evidence is made and fused (tuned on the TUNE split of bench/photo_quality.py)."""

    head: float = 0.25
    torso: float = 0.45
    legs: float = 0.30
    floor: float = 0.90  # weighted Bhattacharyya similarity that is no evidence at all
    full: float = 0.99  # ... and full evidence
    match: str = "best"  # "best": best pair of crops; "mean": mean over all pairs; "first": best crops only
    parts: float = 0.6  # share of the part evidence in the appearance evidence
    references: str = "mean"  # several references (photo + pins): "mean" or "max" of their evidence
    # Gate evidence at which a camera's best match becomes one more reference for that camera's rows
    # (search.appearance_anchor); 0: no anchors.
    anchor: float = 0.5
    anchor_margin: float = 0.02  # ... when its appearance leads the camera's other tracks by this much
    continuations: bool = True  # an anchor's continuation in the camera's previous / next file counts as it
    # How far the fused (colours + parts) evidence counts in the no-result gate, beside the averaged colours':
    # 0.3-0.6 give the same figures; 0.5 is the middle of the range where, on the pets+intel split, no more
    # searches on cameras the person never passed return anyone (bench/photo_quality.py, "strangers").
    gate_parts: float = 0.5

    def vector(self) -> np.ndarray:
        w = np.asarray([self.head, self.torso, self.legs], dtype=np.float32)
        return w / max(float(w.sum()), 1e-12)


DEFAULT = PartWeights()


def read_part_column(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A ``part_colours`` column as ((N, MAX_CROPS, N_PARTS, N_COLOURS) square-rooted distributions,
    (N, MAX_CROPS) mask of crops present). Nulls and malformed values have no crop."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(column)
    out = np.zeros((n, MAX_CROPS, N_PARTS, N_COLOURS), dtype=np.float32)
    mask = np.zeros((n, MAX_CROPS), dtype=bool)
    if n == 0:
        return out, mask
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False).astype(np.float32)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    lengths = np.diff(offsets)
    k = np.where(valid & (lengths % PART_DIM == 0), np.minimum(lengths // PART_DIM, MAX_CROPS), 0)
    for j in range(MAX_CROPS):
        rows = np.nonzero(k > j)[0]
        if len(rows):
            idx = offsets[rows][:, None] + j * PART_DIM + np.arange(PART_DIM)[None, :]
            out[rows, j] = values[idx].reshape(-1, N_PARTS, N_COLOURS)
            mask[rows, j] = True
    np.sqrt(np.clip(out, 0.0, None), out=out)
    return out, mask


def part_similarity(rows: np.ndarray, mask: np.ndarray, reference: np.ndarray,
                    weights: PartWeights = DEFAULT) -> np.ndarray:
    """(N,) weighted part similarity of N sightings (square-rooted, :func:`read_part_column`) to one
    reference's crops ((K, N_PARTS, N_COLOURS) distributions); NaN for rows without crops."""
    if weights.match == "first":  # the best-quality crop alone (what one crop per sighting would give)
        mask = mask & (np.arange(mask.shape[1]) == 0)[None, :]
        reference = np.asarray(reference)[:1]
    ref = np.sqrt(np.clip(np.asarray(reference, dtype=np.float32), 0.0, None))
    bc = np.einsum("nkpc,qpc->nkqp", rows, ref)  # Bhattacharyya coefficient per crop pair and part
    pair = bc @ weights.vector()  # (N, K, Q)
    ok = np.broadcast_to(mask[:, :, None], pair.shape)
    with np.errstate(invalid="ignore"):
        if weights.match == "mean":
            sim = np.where(ok, pair, 0.0).sum(axis=(1, 2)) / ok.sum(axis=(1, 2))
        else:
            sim = np.where(ok, pair, -np.inf).max(axis=(1, 2))
    sim = np.asarray(sim, dtype=np.float32)
    sim[~mask.any(axis=1)] = np.nan
    return sim


def crop_body_colours(rows: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 11) torso and (N, 11) legs colour distributions, the mean over each sighting's crops
    (square-rooted rows of :func:`read_part_column`); NaN for rows without crops. A description's colour
    words read these beside the track-averaged upper and lower body (:func:`search.evidence.colour_terms`)."""
    p = np.square(rows) * mask[:, :, None, None]
    n = mask.sum(axis=1).astype(np.float32)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        torso = np.where(n > 0, p[:, :, PART_INDEX["torso"]].sum(axis=1) / n, np.nan)
        legs = np.where(n > 0, p[:, :, PART_INDEX["legs"]].sum(axis=1) / n, np.nan)
    return torso.astype(np.float32), legs.astype(np.float32)


def part_evidence(similarity: np.ndarray, weights: PartWeights = DEFAULT) -> np.ndarray:
    span = max(weights.full - weights.floor, 1e-6)
    return np.clip((similarity - weights.floor) / span, 0.0, 1.0).astype(np.float32)


def fuse(colours: np.ndarray, parts: np.ndarray, weights: PartWeights = DEFAULT) -> np.ndarray:
    """Appearance evidence: the colours' and the parts' evidence mixed; ``colours`` where parts are NaN."""
    mixed = (1.0 - weights.parts) * colours + weights.parts * np.nan_to_num(parts, nan=0.0)
    return np.where(np.isnan(parts), colours, mixed).astype(np.float32)


def combine_references(evidence: Sequence[np.ndarray], weights: PartWeights = DEFAULT) -> np.ndarray:
    """One appearance evidence from several references' (a photo, a sighting, pinned sightings)."""
    stack = np.stack(list(evidence))
    return (stack.max(axis=0) if weights.references == "max" else stack.mean(axis=0)).astype(np.float32)


def parts_of(values: np.ndarray | Sequence[float] | None) -> np.ndarray | None:
    """A ``part_colours`` value as a reference's crops (K, N_PARTS, N_COLOURS), or None."""
    return as_crops(values)


def read_parts(reader, ids: Sequence[str], available: set[str]) -> dict[str, np.ndarray]:
    """The part colours of sightings ``ids`` (those that have them); {} for an index without the column."""
    if SightingField.PART_COLOURS not in available or not ids:
        return {}
    table = reader.fetch(list(ids), [SightingField.PART_COLOURS])
    out = {}
    for r in table.to_pylist():
        crops = as_crops(r[SightingField.PART_COLOURS])
        if crops is not None:
            out[r[SightingField.SIGHTING_ID]] = crops
    return out

"""Same-camera anchors: the query's own confident match in a camera becomes one more reference there.

A reference photo is taken by another camera, or a phone, under another light; a sighting the index holds
of the same person in camera C was measured by camera C, like everyone else in C. On the real clips the
person's *other* appearances in a camera (a later pass, the next file) fall below the no-result gate against
the photo (averaged-colour evidence 0.15-0.29) while they match the person's confident sighting in that
camera well (0.50-0.67), better than the look-alikes there do (bench/photo_quality.py, ``anchors``).

So, per camera, the best-ranked candidate whose gate evidence reaches ``PartWeights.anchor`` (0.5; 0
switches anchors off) becomes an *anchor*, provided it leads every other track of the camera by
``PartWeights.anchor_margin`` (0.02): of two look-alikes matching equally well neither is taken for the
person. The rows of that camera are then also compared with the anchor, as with a pinned sighting (averaged
colours and stripe layout for the gate; fused with part colours for the ranking), and its evidence joins the
references' (``PartWeights.references``: mean or max) for the ranking *and* for the gate. An anchor is an
automatic pin: a query with the operator's own pins gets none. The level was chosen on PETS + Intel and
reported on Oxford, and the other way round (bench/results/photo_quality.json, ``tuned_anchor``).

Why the gate stays safe: a camera gets an anchor only when one of its rows already passes the gate, well
above the threshold. A photo of someone who never passed a camera (tests/test_search_real.py's not-in-view
photos) gives that camera no anchor and nothing changes there: no anchor, no new result. An anchor can only
bring more sightings of one camera into a result that already has a confident one there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search import evidence as ev
from search.appearance import PartWeights, fuse, part_evidence, part_similarity


@dataclass(frozen=True)
class Features:
    """The candidates' own appearance, kept for anchors: parallel arrays, one row per candidate."""

    camera: np.ndarray  # (N,) camera ids
    video: np.ndarray  # (N,) video ids
    track: np.ndarray  # (N,) track ids (one track's segments are one person)
    upper: np.ndarray  # (N, 11)
    lower: np.ndarray  # (N, 11)
    layout: np.ndarray  # (N, 88)
    crops: np.ndarray | None = None  # (N, MAX_CROPS, N_PARTS, N_COLOURS) square-rooted part colours
    mask: np.ndarray | None = None  # (N, MAX_CROPS) crops present


def anchors(f: Features, appearance: np.ndarray, gate: np.ndarray, weights: PartWeights) -> dict[str, int]:
    """Per camera, the best-ranked row (``appearance``) among those whose gate evidence reaches
    ``weights.anchor``, where it leads every other track of that camera by ``weights.anchor_margin``: of two
    look-alikes that match equally well, neither is taken for the person."""
    out: dict[str, int] = {}
    if weights.anchor <= 0 or len(gate) == 0:
        return out
    rank = np.nan_to_num(appearance, nan=-1.0)
    cameras = np.asarray([str(c) for c in f.camera], dtype=object)
    for cam in np.unique(cameras[np.isfinite(gate) & (gate >= weights.anchor)]):
        rows = np.flatnonzero(cameras == cam)
        ok = rows[np.isfinite(gate[rows]) & (gate[rows] >= weights.anchor)]
        best = int(ok[np.argmax(rank[ok])])
        others = rows[(f.video[rows] != f.video[best]) | (f.track[rows] != f.track[best])]
        if not len(others) or rank[best] - float(rank[others].max()) >= weights.anchor_margin:
            out[str(cam)] = best
    return out


def expand(appearance: np.ndarray, gate: np.ndarray, f: Features, n_references: int,
           weights: PartWeights) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The appearance (ranking) and gate evidence with each camera's anchor added as one more reference
    for that camera's rows; ``n_references`` is how many references the given evidence combines. Also
    returns the anchors (camera -> row)."""
    found = anchors(f, appearance, gate, weights)
    if not found:
        return appearance, gate, found
    appearance, gate = appearance.copy(), gate.copy()
    cameras = np.asarray([str(c) for c in f.camera], dtype=object)
    for cam, a in found.items():
        rows = np.flatnonzero(cameras == cam)
        plain = ev.reference_evidence(f.upper[rows], f.lower[rows], f.layout[rows],
                                      f.upper[a], f.lower[a], f.layout[a])
        ranked = plain
        if f.crops is not None and f.mask is not None and f.mask[a].any() and weights.parts > 0:
            ref = np.square(f.crops[a][f.mask[a]])  # back from square-rooted to distributions
            sim = part_similarity(f.crops[rows], f.mask[rows], ref, weights)
            ranked = fuse(plain, part_evidence(sim, weights), weights)
        appearance[rows] = _add(appearance[rows], ranked, n_references, weights)
        gate[rows] = _add(gate[rows], plain, n_references, weights)
    return appearance, gate, found


def _add(combined: np.ndarray, new: np.ndarray, n: int, weights: PartWeights) -> np.ndarray:
    """``combined`` (of ``n`` references, :func:`search.appearance.combine_references`) with one more."""
    if weights.references == "max":
        return np.maximum(combined, new).astype(np.float32)
    return ((n * combined + new) / (n + 1)).astype(np.float32)

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

from collections.abc import Callable, Sequence
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
    ids: np.ndarray | None = None  # (N,) sighting ids, t_start / t_end (UTC epoch): for continuations
    t_start: np.ndarray | None = None
    t_end: np.ndarray | None = None


# A track's path as the index keeps it: (file offsets, boxes) of sightings, by id (search.candidates reads them).
PathReader = Callable[[Sequence[str]], dict[str, tuple[np.ndarray, np.ndarray]]]
# Continuation in the camera's next file: the later sighting begins at most CONTINUATION_S after the earlier one
# ends and within FIRST_S of its own file's start; over its first FOLLOW_S it stays where the earlier one's last
# motion (over MOTION_S) puts it, within (0.5 + 0.25 s^-1 x gap) box heights on average; and its averaged colours
# match the anchor's as a plausible result does.
CONTINUATION_S = 6.0
FIRST_S = 2.0
LINK_EVIDENCE = 0.35
MOTION_S = 1.5  # the window of a path's end that gives its last motion (see _last_motion)
FOLLOW_S = 1.0  # the window of a later path's start that must follow that motion (see _nearest)


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
           weights: PartWeights, paths: PathReader | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The appearance (ranking) and gate evidence with each camera's anchor added as one more reference
    for that camera's rows; ``n_references`` is how many references the given evidence combines. With
    ``paths``, the anchor's continuation in the camera's previous or next file (:func:`continuation`) ranks
    and passes as the anchor does. Also returns the anchors (camera -> row)."""
    found = anchors(f, appearance, gate, weights)
    if not found:
        return appearance, gate, found
    appearance, gate = appearance.copy(), gate.copy()
    cameras = np.asarray([str(c) for c in f.camera], dtype=object)
    for cam, a in found.items():
        # The anchor's own track keeps its evidence: matching itself would lift a look-alike anchor too.
        rows = np.flatnonzero((cameras == cam) & ((f.video != f.video[a]) | (f.track != f.track[a])))
        if not len(rows):
            continue
        plain = ev.reference_evidence(f.upper[rows], f.lower[rows], f.layout[rows],
                                      f.upper[a], f.lower[a], f.layout[a])
        ranked = plain
        if f.crops is not None and f.mask is not None and f.mask[a].any() and weights.parts > 0:
            ref = np.square(f.crops[a][f.mask[a]])  # back from square-rooted to distributions
            sim = part_similarity(f.crops[rows], f.mask[rows], ref, weights)
            ranked = fuse(plain, part_evidence(sim, weights), weights)
        appearance[rows] = _add(appearance[rows], ranked, n_references, weights)
        gate[rows] = _add(gate[rows], plain, n_references, weights)
        if paths is not None and f.ids is not None:
            for j in continuation(f, a, rows[plain >= LINK_EVIDENCE], paths):
                appearance[j] = max(appearance[j], appearance[a])
                gate[j] = max(gate[j], gate[a])
    return appearance, gate, found


def continuation(f: Features, a: int, rows: np.ndarray, paths: PathReader) -> list[int]:
    """The rows (of ``rows``, same camera as the anchor ``a``) that continue the anchor's track across a
    file boundary: in the next file (the anchor walks on) or the previous one (it walked in); at most one
    each way, the nearest to where the earlier track was heading."""
    assert f.ids is not None and f.t_start is not None and f.t_end is not None
    other = rows[f.video[rows] != f.video[a]]
    after = other[(f.t_start[other] >= f.t_end[a]) & (f.t_start[other] - f.t_end[a] <= CONTINUATION_S)]
    before = other[(f.t_end[other] <= f.t_start[a]) & (f.t_start[a] - f.t_end[other] <= CONTINUATION_S)]
    if not len(after) and not len(before):
        return []
    got = paths([str(f.ids[i]) for i in (a, *after, *before)])
    if str(f.ids[a]) not in got:
        return []
    out = []
    nxt = _nearest(f, got, a, after)
    if nxt is not None:
        out.append(nxt[0])
    prev = [(link[1], int(b)) for b in before if (link := _nearest(f, got, int(b), np.array([a]))) is not None]
    if prev:
        out.append(min(prev)[1])
    return out


def _nearest(f: Features, got: dict, earlier: int, laters: np.ndarray) -> tuple[int, float] | None:
    """Of ``laters``, the one whose first second of boxes (their head points) keeps nearest where ``earlier``'s
    last motion leads, if close enough and if it begins with its file; with that mean distance (pixels)."""
    ids = f.ids
    assert ids is not None and f.t_start is not None and f.t_end is not None
    if str(ids[earlier]) not in got:
        return None
    offsets, boxes = got[str(ids[earlier])]
    last, velocity, height = _last_motion(np.asarray(offsets, dtype=np.float64), np.asarray(boxes, dtype=np.float64))
    best, best_d = None, np.inf
    for j in laters:
        if str(ids[j]) not in got:
            continue
        offs, bx = got[str(ids[j])]
        if not len(offs) or offs[0] > FIRST_S:
            continue
        offs, bx = np.asarray(offs, dtype=np.float64), np.asarray(bx, dtype=np.float64)
        gap = float(f.t_start[j] - f.t_end[earlier])
        h = float(bx[0][3] - bx[0][1])
        # Its first second against where the earlier path leads by then: a track that touches the line once
        # and jumps off it (another person's box taken over) is a worse continuation than one that follows it.
        first = offs <= offs[0] + FOLLOW_S
        lead = gap + (offs[first] - offs[0])
        d = float(np.linalg.norm(_heads(bx[first]) - (last + velocity * lead[:, None]), axis=1).mean())
        if d <= height * (0.5 + 0.25 * gap) and 0.5 <= h / max(height, 1.0) <= 2.0 and d < best_d:
            best, best_d = int(j), d
    return None if best is None else (best, best_d)


def _last_motion(offsets: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Where a path ends (its head point: top centre of the box), how fast that point moves (pixels/s) and how
    tall the person is, from the path's last ``MOTION_S`` seconds.

    The head point, because the bottom of a walker's box is what goes missing: legs behind a pushchair, a
    bench or the frame edge cut the box short from below while the head stays where it is. Over a window
    rather than the last two boxes, because one short box between two whole ones reads as a jump, and at
    2 fps that jump is taken for a walk (28 px/s up) that lands 200 px from where she really went."""
    heads = _heads(boxes)
    heights = boxes[:, 3] - boxes[:, 1]
    recent = offsets >= offsets[-1] - MOTION_S
    height = float(np.median(heights[recent]))
    if int(recent.sum()) < 2 or np.ptp(offsets[recent]) <= 0:
        return heads[-1], np.zeros(2), height
    t, p = offsets[recent], heads[recent]
    slope, intercept = np.polyfit(t, p, 1)  # (2,) each: x and y fitted separately
    return intercept + slope * offsets[-1], slope, height


def _heads(boxes: np.ndarray) -> np.ndarray:
    """(N, 2) head points (top centre) of (N, 4) boxes."""
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 1]], axis=1)


def _add(combined: np.ndarray, new: np.ndarray, n: int, weights: PartWeights) -> np.ndarray:
    """``combined`` (of ``n`` references, :func:`search.appearance.combine_references`) with one more."""
    if weights.references == "max":
        return np.maximum(combined, new).astype(np.float32)
    return ((n * combined + new) / (n + 1)).astype(np.float32)

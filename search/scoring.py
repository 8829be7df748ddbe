"""The one fused score that ranks sightings, and the evidence that decides "nothing found".

For each candidate row, each part of the query that is present gives a component in [0, 1]
(see :mod:`search.evidence`):

* ``description`` - the terms of a description in one soft AND: its colour words (upper / lower /
  either body half) and its attribute words (carried objects, hair, pattern). Reported as ``colour``
  (colour terms alone) and ``attributes`` (attribute terms alone) too; without attribute words the
  description evidence *is* the colour evidence;
* ``appearance`` - colour appearance of a reference photo, a "more like this" sighting or a pinned
  sighting (query expansion): averaged colours and stripe layout, fused with head / torso / legs colours
  of several crops where the index has them (:mod:`search.appearance`);
* ``clip``       - CLIP similarity to the caption / photo crop / sighting, rescaled within the
  candidates (best -> 1, candidate cut -> 0). Present only for rows with a CLIP vector.

Ranking uses the weighted mean of the components present::

    score = (1.0 * description' + 1.0 * appearance + 0.5 * clip) / (sum of the weights of present parts)

where, for a description with attribute words, ``description' = (1 - H) * description + H * details``:
``details`` (:func:`search.evidence.confirmation`) says how far its details were *seen* matching (a noisy OR
of each term's weight x evidence, the share of a full likelihood ratio it gives), so a seen red bag lifts its
wearer above every other black coat whose bag went unseen, while an unseen detail adds 0 to everyone and
never pushes the person down. ``H`` = :data:`DETAIL_SHARE` (0.3): a sighting matching everything measured
but showing none of the details ranks at most 0.7. Without attribute words ``description' = description``.

The no-result gate uses only the calibrated (absolute) components::

    evidence = (1.0 * description + 1.0 * appearance) / (sum of their weights)

Each term of a description counts as far as the index measured it (:func:`search.evidence.combine`):
a detail the footage could not show (a bag on a 40-pixel person, the hair of an 8-pixel head, colours
in IR) is neutral - it neither lowers nor dilutes a strong match - and a description none of whose
terms was measured well scores near "unknown" (:data:`search.evidence.UNKNOWN`), below the threshold.

A sighting counts as plausible when ``evidence >= search.min_score`` (0.35 by default). CLIP
similarities are relative, so they re-rank plausible sightings but never make one plausible: with CLIP
alone (a description with no colour words, say), results are ranked and labelled uncalibrated.
Direction, time, place and track length are filters, not score parts: they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from search import evidence as ev
from search.appearance import DEFAULT as DEFAULT_PART_WEIGHTS
from search.appearance import (
    PartWeights,
    combine_references,
    crop_body_colours,
    fuse,
    part_evidence,
    part_similarity,
)
from search.query_terms import ParsedQuery

WEIGHTS = {"description": 1.0, "appearance": 1.0, "clip": 0.5}
ABSOLUTE = ("description", "appearance")
GATE_APPEARANCE = "appearance_gate"  # the no-result gate's appearance (averaged colours only)
REPORTED = ("colour", "attributes", "description", "details", "appearance")  # parts shown with a sighting
# The share of a description's ranking score that only details seen matching can earn (see the module doc).
DETAIL_SHARE = 0.3


@dataclass(frozen=True)
class Appearance:
    """Colour appearance of a reference (photo person or sighting)."""

    upper: np.ndarray
    lower: np.ndarray
    layout: np.ndarray
    parts: np.ndarray | None = None  # (K, 3, 11) head / torso / legs colours of K crops (search.appearance)


@dataclass
class ScoringQuery:
    """What the scorer compares rows with."""

    parsed: ParsedQuery | None = None
    references: list[Appearance] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)  # CLIP query vectors (unit length)
    part_weights: PartWeights = DEFAULT_PART_WEIGHTS  # how part colours count (search.appearance)
    examples: list[str] = field(default_factory=list)  # pinned sightings already added as references

    @property
    def uses_parts(self) -> bool:
        """Whether the rows' part colours are read: for references' crops and a description's colours."""
        return self.uses_colours or any(r.parts is not None for r in self.references)

    @property
    def uses_colours(self) -> bool:
        return self.parsed is not None and self.parsed.has_colours

    @property
    def uses_attributes(self) -> bool:
        return self.parsed is not None and self.parsed.has_attributes

    @property
    def uses_description(self) -> bool:
        return self.uses_colours or self.uses_attributes

    @property
    def uses_appearance(self) -> bool:
        return bool(self.references)

    @property
    def uses_clip(self) -> bool:
        return bool(self.vectors)

    @property
    def calibrated(self) -> bool:
        return self.uses_description or self.uses_appearance

    @property
    def browse(self) -> bool:
        """Nothing to score: list what passes the filters."""
        return not (self.uses_description or self.uses_appearance or self.uses_clip)


def absolute_parts(q: ScoringQuery, upper: np.ndarray | None, lower: np.ndarray | None,
                   layout: np.ndarray | None, attributes: ev.AttributeColumns | None = None,
                   crops: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Calibrated parts: ``colour``/``attributes``/``description`` of a description, ``appearance``.
    ``crops``: the rows' part colours (:func:`search.appearance.read_part_column`), when the index has them."""
    parts: dict[str, np.ndarray] = {}
    if q.uses_description:
        views = crop_body_colours(*crops) if crops is not None and q.uses_colours else None
        parts.update(ev.description_evidence(q.parsed, upper, lower, attributes, views))  # type: ignore[arg-type]
    if q.uses_appearance and upper is not None and lower is not None and layout is not None:
        w = q.part_weights
        sims, gates = [], []
        for r in q.references:
            colours = ev.reference_evidence(upper, lower, layout, r.upper, r.lower, r.layout)
            gate = colours
            if r.parts is not None and crops is not None and w.parts > 0:
                part_ev = part_evidence(part_similarity(crops[0], crops[1], r.parts, w), w)
                colours = fuse(colours, part_ev, w)
                gate = np.maximum(gate, w.gate_parts * colours)
            sims.append(colours)
            gates.append(gate)
        parts["appearance"] = combine_references(sims, w)
        # Whether anything passes rests on the averaged colours' calibrated evidence, and on the part colours
        # only up to ``gate_parts`` of theirs: on the real clips the parts alone let another camera's
        # passer-by through, while a strong part match is what shows the person in a short or cut-off pass.
        parts[GATE_APPEARANCE] = combine_references(gates, w)
    return parts


def raw_clip_similarity(q: ScoringQuery, vectors: np.ndarray, has_vector: np.ndarray) -> np.ndarray:
    """(N,) mean cosine similarity to the query vectors; NaN for rows without a vector."""
    sims = np.mean(np.stack([vectors @ v for v in q.vectors]), axis=0).astype(np.float32)
    sims[~has_vector] = np.nan
    return sims


def _absolute(parts: dict[str, np.ndarray], *, gate: bool = False) -> dict[str, np.ndarray]:
    """The gate's components: the description (the colour part when there are no attribute terms)."""
    out = {k: parts[k] for k in ABSOLUTE if k in parts}
    if gate and GATE_APPEARANCE in parts:
        out["appearance"] = parts[GATE_APPEARANCE]
    if "description" not in out and "colour" in parts:
        out["description"] = parts["colour"]
    return out


def evidence_score(parts: dict[str, np.ndarray], n: int) -> np.ndarray:
    present = _absolute(parts, gate=True)
    if not present:
        return np.full(n, np.nan, dtype=np.float32)
    total = sum(WEIGHTS[k] for k in present)
    return (sum(WEIGHTS[k] * v for k, v in present.items()) / total).astype(np.float32)


def _ranked(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ranking's components: the description lifted by its details seen matching."""
    out = _absolute(parts)
    if "description" in out and "details" in parts:
        out["description"] = (1.0 - DETAIL_SHARE) * out["description"] + DETAIL_SHARE * parts["details"]
    return out


def fused_score(parts: dict[str, np.ndarray], clip: np.ndarray | None, n: int) -> np.ndarray:
    """Weighted mean of the present components; ``clip`` may hold NaN for rows without a vector."""
    num = np.zeros(n, dtype=np.float64)
    den = np.zeros(n, dtype=np.float64)
    for k, v in _ranked(parts).items():
        num += WEIGHTS[k] * v
        den += WEIGHTS[k]
    if clip is not None:
        ok = np.isfinite(clip)
        num[ok] += WEIGHTS["clip"] * clip[ok]
        den[ok] += WEIGHTS["clip"]
    out = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)
    return out.astype(np.float32)

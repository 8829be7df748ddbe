"""How strongly a sighting shows what the query asks for, as calibrated numbers in [0, 1].

Colour evidence (text queries)
    A body half's colour is a distribution ``d`` over the 11 basic colour names: the mean of its
    pixels' colour-name probabilities, so even a plain red jacket reaches only ~0.5 red (shadows read
    black or brown, hair and background leak in). Per colour ``k`` the evidence is linear between a
    *floor* (the most that people **not** wearing ``k`` show) and a *full* level (what clear wearers
    show)::

        e_k(d) = clip((d_k - floor_k) / (full_k - floor_k), 0, 1)

    A query colour term with weights ``w`` (navy = blue 1, black 0.5) scores ``max_k w_k * e_k``
    (upper terms on the upper body, lower terms on the lower body, garment-less terms on whichever half
    fits better). A query's colour evidence combines its terms with a soft AND, a geometric mean with a
    floor ``eps = 0.1``::

        colour = (prod_t (eps + (1 - eps) * e_t) ** (1 / n) - eps) / (1 - eps)

    All terms met -> 1, none -> 0; one of two met fully and the other not at all -> 0.24, below the
    no-result threshold: "purple coat, blue jeans" must not call every wearer of blue jeans plausible
    (a plain mean would give them 0.5), while a half-met term still counts (1 and 0.5 -> 0.71).

    Floors and full levels were read off the labelled people of the five real clips
    (``tests/data/search_real_labels.json``): e.g. red wearers show 0.36-0.50 red while nobody else
    exceeds 0.08 (0.18-0.23 for a red-and-navy jacket, which is partly red); purple wearers 0.44-0.51
    against up to 0.17 for dark clothes (the colour namer calls many dark pixels purple); black coats
    0.29-0.39 against under 0.15 for light or bright clothes. Achromatic colours are weak evidence on
    real footage (grey pavement and shadows leak into every crop) and their floors are high.

Appearance evidence (reference photo, "more like this")
    ``a = 0.5 * layout_q . layout_s + 0.25 * BC(upper_q, upper_s) + 0.25 * BC(lower_q, lower_s)``
    where the layout is the indexer's 88-d stripe descriptor (Hellinger, unit length) and BC the
    Bhattacharyya coefficient of two colour distributions. ``a`` is close to 1 for everyone (clothes
    are mostly dark), so it is rescaled: ``e_app = clip((a - 0.962) / (1 - 0.962), 0, 1)``. On the real
    clips, the reference photos' own person scores a >= 0.989 in 6 of 8 cases, while the best match
    among other cameras' people stays below 0.971 except for plain black coats (0.985): a black coat
    matches another black coat by colour alone; CLIP (when available) is what tells them apart.

Appearance attributes (objects, hair, pattern; :mod:`indexer.attributes`)
    Each attribute term of a description gets an evidence in [0, 1] like a colour term *and a weight*:
    how far the index measured it (:class:`TermEvidence`). What the index cannot show is not evidence of
    absence: YOLOX-Nano misses most bags, a head of 8 pixels barely has a colour, an IR frame has none.
    All terms, colour terms included (weighted by colour reliability), meet in one confidence-weighted
    soft AND (:func:`combine`): a term measured with weight 0 drops out, so an operator who types every
    detail a witness gave ("long black hair, purple coat, blue jeans, black shoulder bag") never pushes
    the person down with details the footage could not show. Where no term was measured well the result
    is pulled towards :data:`UNKNOWN` (0.25, below the no-result threshold), so "person with a backpack"
    finds only people a backpack was seen with.

    * object: seen as far as its confidence ``c`` clears the floor, ``p = clip((c - floor) / (full -
      floor), 0, 1)`` (the best of the names the word allows: "bag" is any bag), matching ``0.3 + 0.7
      e_colour`` when a colour was said; not seen, it counts as 0 only as far as the detector's recall
      for that object says (:data:`OBJECT_RECALL`, :func:`absence_weight`: bicycles yes, bags never),
      times how tall the person is (:func:`size_trust`: nothing below 60 px, fully from 160 px);
    * hair: a linear score ``e`` of the head's colour names (:data:`HAIR_SCORES`), rescaled between a
      floor and a full level like colours; with ``k = hair_confidence`` (frames with a usable head x
      head size in pixels x agreement) x colour reliability, a head reading as the colour is seen at
      ``e k`` x how well the measure tells that colour apart, one that does not counts as 0 only at
      ``k`` x the weight its recall gives (:data:`HAIR_RELIABILITY`, from the labelled real heads: blonde
      is told apart well, dark hair weakly, grey hair not at all);
    * pattern: stripes seen as far as the stripe confidence clears :data:`PATTERN_RANGE`; a torso
      measured plain is 0 at weight ``0.5 x confidence``; an unmeasured torso (too small) is neutral;
    * night / IR: colour terms weigh the sighting's ``colour_reliability`` r (object colours are shrunk
      towards :data:`UNKNOWN` by it). In IR, "black coat" (which everything dark reads as) scores about
      0.25 for everyone instead of 1.

    The floors and full levels were read off the labelled real clips (``tests/data/
    attributes_real_labels.json``; figures in ``search/README.md``): e.g. bicycles 0.07-0.22 against 0 for
    everyone else, handbags 0.14-0.19 when seen against at most 0.04.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.schema import SightingField
from core.vision.colours import COLOUR_NAMES, N_COLOURS, bhattacharyya
from core.vision.parts import MAX_CROPS, PART_DIM, PART_INDEX
from search import vocabulary as V
from search.query_terms import ColourTerm, HairTerm, ObjectTerm, ParsedQuery, PatternTerm

# (floor, full) per basic colour; see the module docstring for where the numbers come from.
COLOUR_RANGES: dict[str, tuple[float, float]] = {
    "black": (0.15, 0.33),
    "blue": (0.15, 0.35),
    "brown": (0.12, 0.30),
    "grey": (0.18, 0.30),
    "green": (0.15, 0.35),
    "orange": (0.12, 0.35),
    "pink": (0.15, 0.35),
    "purple": (0.18, 0.40),
    "red": (0.10, 0.35),
    "white": (0.06, 0.25),
    "yellow": (0.10, 0.30),
}
FLOOR = np.array([COLOUR_RANGES[n][0] for n in COLOUR_NAMES], dtype=np.float32)
# The most blue that black cloth shows among the generated city's look-alikes (0.03-0.05): below it, legs
# that read black show no trace of indigo.
NO_TRACE = 0.05
FULL = np.array([COLOUR_RANGES[n][1] for n in COLOUR_NAMES], dtype=np.float32)
COLOUR_INDEX = {n: i for i, n in enumerate(COLOUR_NAMES)}
PART_TORSO, PART_LEGS = PART_INDEX["torso"], PART_INDEX["legs"]

SOFT_AND_FLOOR = 0.1
# The most a colour term earns from the crops' reading alone (colour_terms): on the real clips 0.6 to 1.0
# find the same people (text R@10 0.54 -> 0.71), and 0.6 keeps the plausible lists as short as before.
CROP_VIEW_WEIGHT = 0.6
WORN_EVIDENCE = 0.5  # a reference "wears" a colour when its evidence reaches this
CHROMATIC = frozenset(COLOUR_NAMES) - {"black", "grey", "white"}
APPEARANCE_FLOOR = 0.962
APPEARANCE_FULL = 1.0
LAYOUT_WEIGHT, UPPER_WEIGHT, LOWER_WEIGHT = 0.5, 0.25, 0.25

UNKNOWN = 0.25  # evidence of a term the sighting cannot show (object unseen, head too small, IR colours)
RELIABLE = 1.0  # colour reliability at which colour evidence is used as measured (daylight)
# (floor, full) of a sighting's object confidence (presence x detector score x co-motion). Floors sit
# above what people without the object showed on the labelled clips: the Intel room's floor and table
# legs read as skateboards up to 0.14, a stray handbag box reaches 0.04.
OBJECT_RANGES: dict[str, tuple[float, float]] = {
    "handbag": (0.05, 0.15),
    "backpack": (0.05, 0.15),
    "suitcase": (0.05, 0.15),
    "umbrella": (0.08, 0.20),
    "bicycle": (0.03, 0.10),
    "dog": (0.05, 0.15),
    "skateboard": (0.15, 0.30),
    "pushchair": (0.03, 0.10),
}
OBJECT_COLOUR_FLOOR = 0.3  # a seen object of another colour keeps this share (small boxes, mixed pixels)
# Hair: linear scores of the head's colour names, and (floor, full) of each. Blonde hair reads brown/
# yellow/orange and seldom black; grey/white hair reads grey/white with a pink-purple cast and neither
# black nor brown; dark hair black (and blue in shadow) rather than brown or grey pavement.
HAIR_SCORES: dict[str, tuple[dict[str, float], float, float]] = {
    V.BLONDE: ({"brown": 1.0, "yellow": 1.0, "orange": 1.0, "black": -1.0}, 0.15, 0.30),
    V.GREY_HAIR: ({"grey": 1.0, "white": 1.0, "pink": 1.0, "purple": 1.0, "black": -1.0, "brown": -1.0}, 0.25, 0.40),
    V.DARK_HAIR: ({"black": 1.0, "blue": 1.0, "brown": -1.0, "grey": -1.0, "white": -1.0, "pink": -1.0}, -0.05, 0.15),
}
# How far the hair measure tells each colour apart, from the labelled heads of the real clips (57 sightings,
# tests/data/attributes_real_labels.json): (confirm, recall). A head reading as the colour (e >= 0.5) is that
# much evidence for it - blonde 6 of 9 blonde heads against 2 of 48 others (a likelihood ratio ~17 -> 1),
# dark 12 % of dark heads against 3 % (~4 -> 0.6), grey only in its tail (a clear grey reading on a
# well-seen head: 1 of 6 grey heads against 1 of 41 others, ~7 -> 0.8; at e >= 0.5 no better than chance);
# a head not reading as the colour counts against as the share of such heads the measure finds says
# (:func:`absence_weight`): blonde 0.65, dark 0.08, grey 0. Between the two, the weight follows the reading.
HAIR_RELIABILITY: dict[str, tuple[float, float]] = {V.BLONDE: (1.0, 0.65), V.DARK_HAIR: (0.6, 0.08),
                                                    V.GREY_HAIR: (0.8, 0.0)}
PATTERN_RANGE = (0.2, 0.5)  # stripe confidence: floor, full
PATTERNED_WEIGHT = 0.8  # "patterned" asks for more than stripes, which is all the indexer measures
PLAIN_WEIGHT = 0.5  # a torso measured plain (confidence 1) is evidence 0 for "striped" at this weight
# How often the detector finds an object that is there, measured on the labelled real clips
# (tests/test_attributes_real.py): bicycles 3 of 3, pushchairs 2 of 3 (rounded down: few were labelled).
# Not seeing one counts against the word as much as that recall says (:func:`absence_weight`). Bags are
# left out: YOLOX-Nano found 2 of 12 handbags and 0 of 1 backpack, so a bag not seen is no evidence at
# all; nor are objects whose recall was never measured (umbrellas, dogs, suitcases, skateboards).
OBJECT_RECALL: dict[str, float] = {"bicycle": 0.8, "pushchair": 0.5}
# Person height (the box at the best frame, in the video's pixels) below which the detector's silence
# about an object means nothing (a 40 px person's bag is a few pixels), and from which it counts fully.
SILENT_BELOW_PX = 60.0
FULL_VIEW_PX = 160.0


def per_colour_evidence(dist: np.ndarray) -> np.ndarray:
    """(N, 11) colour distributions -> (N, 11) evidence that each colour is worn."""
    d = np.asarray(dist, dtype=np.float32).reshape(-1, N_COLOURS)
    return np.clip((d - FLOOR) / (FULL - FLOOR), 0.0, 1.0)


def term_evidence(term: ColourTerm, per_colour: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    """(N,) evidence for one colour term, from :func:`per_colour_evidence` output. With the raw ``dist``, a
    denim term's black reading counts as far as the named colour shows a trace (its share over its floor,
    :func:`dark_trace`)."""
    out = np.zeros(per_colour.shape[0], dtype=np.float32)
    trace = dark_trace(term, dist)
    for name, w in term.weights:
        e = w * per_colour[:, COLOUR_INDEX[name]]
        out = np.maximum(out, e * trace if name == "black" and trace is not None else e)
    return out


def dark_trace(term: ColourTerm, dist: np.ndarray | None) -> np.ndarray | None:
    """(N,) how far each reading shows a trace of a denim term's colour: dark indigo leaves some blue in
    the legs' colour names (0.08-0.11 on Oxford's jeans), black cloth next to none (0.03-0.05 on the demo
    city's black trousers). The trace counts from :data:`NO_TRACE`, not from zero, so that black cloth's
    own stray blue (or a flat background) does not turn every pair of black trousers into half-denim.
    None: no trace needed (or no raw reading)."""
    if not term.dark_needs_trace or dist is None:
        return None
    k = COLOUR_INDEX[term.name]
    d = np.asarray(dist, dtype=np.float32).reshape(-1, N_COLOURS)[:, k]
    return np.clip((d - NO_TRACE) / (FLOOR[k] - NO_TRACE), 0.0, 1.0)


def colour_term_scores(parsed: ParsedQuery, upper: np.ndarray, lower: np.ndarray) -> list[np.ndarray]:
    """(N,) evidence per colour term as measured (:func:`colour_terms` adds how far colours are reliable)."""
    eu, el = per_colour_evidence(upper), per_colour_evidence(lower)
    scores = [term_evidence(t, eu, upper) for t in parsed.upper]
    scores += [term_evidence(t, el, lower) for t in parsed.lower]
    scores += [np.maximum(term_evidence(t, eu, upper), term_evidence(t, el, lower)) for t in parsed.either]
    return scores


def shrink(e: np.ndarray, trust: np.ndarray | None) -> np.ndarray:
    """Evidence pulled towards :data:`UNKNOWN` as far as the measurement is not to be trusted."""
    if trust is None:
        return e
    t = np.clip(np.asarray(trust, dtype=np.float32), 0.0, 1.0)
    return (t * e + (1.0 - t) * UNKNOWN).astype(np.float32)


def soft_and(scores: list[np.ndarray]) -> np.ndarray:
    """Soft AND of term evidences: a geometric mean with a floor (see the module docstring)."""
    soft = SOFT_AND_FLOOR + (1.0 - SOFT_AND_FLOOR) * np.stack(scores)
    combined = np.exp(np.mean(np.log(soft), axis=0))
    return np.clip((combined - SOFT_AND_FLOOR) / (1.0 - SOFT_AND_FLOOR), 0.0, 1.0).astype(np.float32)


def colour_evidence(parsed: ParsedQuery, upper: np.ndarray, lower: np.ndarray,
                    reliability: np.ndarray | None = None) -> np.ndarray | None:
    """(N,) soft-AND evidence over the query's colour terms; None when the query names no colour."""
    if not parsed.has_colours:
        return None
    return combine(colour_terms(parsed, upper, lower, reliability))


def colour_sql_prefilter(parsed: ParsedQuery) -> str | None:
    """A lossless SQL pre-cut for colour queries: rows where every query colour is at or below its floor
    score exactly 0, so only rows above some floor need reading. Column indexes are 1-based in SQL.

    A term reads the track average and the crops' mean torso / legs (:func:`colour_terms`); a mean over
    crops clears a floor only if some crop does, so each crop's element is tested too (a crop the row
    does not have is NULL in SQL and tests false)."""
    if not parsed.has_colours:
        return None
    ors: list[str] = []
    upper, lower, crops = SightingField.UPPER_COLOUR, SightingField.LOWER_COLOUR, SightingField.PART_COLOURS
    halves = ((upper, PART_TORSO, parsed.upper), (lower, PART_LEGS, parsed.lower),
              (upper, PART_TORSO, parsed.either), (lower, PART_LEGS, parsed.either))
    for column, part, terms in halves:
        for t in terms:
            for name, w in t.weights:
                if w > 0:
                    k = COLOUR_INDEX[name]
                    floor = float(FLOOR[k])
                    ors.append(f"{column}[{k + 1}] > {floor!r}")
                    ors += [f"{crops}[{j * PART_DIM + part * N_COLOURS + k + 1}] > {floor!r}" for j in range(MAX_CROPS)]
    return "(" + " OR ".join(dict.fromkeys(ors)) + ")" if ors else None


def appearance_similarity(upper: np.ndarray, lower: np.ndarray, layout: np.ndarray,
                          q_upper: np.ndarray, q_lower: np.ndarray, q_layout: np.ndarray) -> np.ndarray:
    """Raw colour appearance similarity ``a`` in [0, 1] of N sightings to one query appearance."""
    lay = np.clip(np.asarray(layout, dtype=np.float32) @ np.asarray(q_layout, dtype=np.float32), 0.0, 1.0)
    return (LAYOUT_WEIGHT * lay + UPPER_WEIGHT * bhattacharyya(upper, q_upper)
            + LOWER_WEIGHT * bhattacharyya(lower, q_lower)).astype(np.float32)


def appearance_evidence(similarity: np.ndarray) -> np.ndarray:
    return np.clip((similarity - APPEARANCE_FLOOR) / (APPEARANCE_FULL - APPEARANCE_FLOOR), 0.0, 1.0)


def worn_colours(dist: np.ndarray, min_evidence: float = WORN_EVIDENCE, most: int = 2) -> list[str]:
    """The chromatic colours a body half clearly shows (evidence >= ``min_evidence``), strongest first.
    Black, grey and white are left out: on real footage everyone's shadows and pavement show them."""
    e = per_colour_evidence(dist)[0]
    order = [int(k) for k in np.argsort(-e) if e[k] >= min_evidence and COLOUR_NAMES[k] in CHROMATIC]
    return [COLOUR_NAMES[k] for k in order[:most]]


def reference_terms(upper: np.ndarray, lower: np.ndarray) -> ParsedQuery | None:
    """A reference's clearly worn colours as a structured query ("purple upper, blue lower"), or None.

    Colour names survive a change of camera, light and pose far better than the stripe layout, so
    photo and "more like this" queries also score these implied colour words, calibrated like typed ones.
    """
    up = tuple(ColourTerm.of(n, {n: 1.0}) for n in worn_colours(upper))
    lo = tuple(ColourTerm.of(n, {n: 1.0}) for n in worn_colours(lower))
    if not up and not lo:
        return None
    return ParsedQuery(text="", upper=up, lower=lo)


def reference_evidence(upper: np.ndarray, lower: np.ndarray, layout: np.ndarray, q_upper: np.ndarray,
                       q_lower: np.ndarray, q_layout: np.ndarray) -> np.ndarray:
    """(N,) appearance evidence of N sightings for one reference (photo person or sighting):
    the mean of the stripe-layout evidence and the evidence for the reference's clearly worn colours."""
    layout_ev = appearance_evidence(appearance_similarity(upper, lower, layout, q_upper, q_lower, q_layout))
    implied = reference_terms(q_upper, q_lower)
    if implied is None:
        return layout_ev
    named = colour_evidence(implied, upper, lower)
    return (0.5 * layout_ev + 0.5 * named).astype(np.float32)  # type: ignore[operator]


def pairwise_appearance(upper: np.ndarray, lower: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """(N, N) appearance evidence between sightings (the route, between consecutive stops): each one as
    the reference for the others (:func:`reference_evidence`), averaged both ways."""
    n = len(upper)
    m = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        m[i] = reference_evidence(upper, lower, layout, upper[i], lower[i], layout[i])
    return (m + m.T) / 2


def relative_clip_evidence(sims: np.ndarray, low: float, high: float) -> np.ndarray:
    """CLIP cosine similarities rescaled within the candidate set: ``high`` (the best) -> 1, ``low``
    (the candidate cut) -> 0. Raw cosines differ from model to model (CLIP vs SigLIP), so CLIP only
    re-ranks; it never decides on its own that a person is present."""
    span = max(high - low, 1e-6)
    return np.clip((sims - low) / span, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------- attributes


@dataclass
class AttributeColumns:
    """A batch's attribute columns as arrays (defaults where a row has none: nothing seen, colours reliable)."""

    object_conf: dict[str, np.ndarray]  # name -> (N,) confidence (0 when not seen)
    object_colour: dict[str, np.ndarray]  # name -> (N, 11) colour names (uniform when not seen)
    hair_colour: np.ndarray  # (N, 11)
    hair_confidence: np.ndarray  # (N,)
    striped: np.ndarray  # (N,) stripe confidence (0 unless the pattern is "striped")
    plain: np.ndarray  # (N,) confidence of "plain" (0 when not measured)
    reliability: np.ndarray  # (N,) colour reliability (1 by day, 0 in IR)
    height: np.ndarray | None = None  # (N,) person height in pixels (box at the best frame); None: unknown


@dataclass(frozen=True)
class TermEvidence:
    """One query term on N rows: how well each row matches it (``evidence``) and how far that was
    measured (``weight`` in [0, 1]; 0 = not measured, which makes the term neutral for that row)."""

    evidence: np.ndarray
    weight: np.ndarray


def combine(terms: list[TermEvidence]) -> np.ndarray:
    """All terms of a description in one soft AND, each counted as far as it was measured.

    A confidence-weighted geometric mean with the floor ``eps`` (terms with weight 0 drop out, so an
    unmeasured detail neither lowers nor dilutes a strong match), pulled towards :data:`UNKNOWN` as far as
    the side it leans to was not measured well. ``k`` is the best weight among the terms that can carry the
    score that way: any term when ``soft`` reads above UNKNOWN, only the terms reading below UNKNOWN when it
    reads below. A single term gives ``k e + (1 - k) UNKNOWN``::

        g = exp(sum_t w_t log(eps + (1 - eps) e_t) / sum_t w_t);  soft = (g - eps) / (1 - eps)
        k = max_t w_t  if soft >= UNKNOWN  else  max_{t: e_t < UNKNOWN} w_t
        combined = k soft + (1 - k) UNKNOWN

    Why the two sides: a well-measured confirmed detail added to a low reading must not trust the low
    reading more (with ``k`` over all terms it did, and the score fell; tests/test_search_neutral.py).
    Below UNKNOWN only the contradicting terms say how sure the low reading is, and a confirmed term never
    joins them, so adding one can only raise ``soft`` and keep ``k``, or lift the row above UNKNOWN.
    """
    e = np.stack([t.evidence for t in terms]).astype(np.float64)
    w = np.clip(np.stack([t.weight for t in terms]).astype(np.float64), 0.0, 1.0)
    total = w.sum(axis=0)
    logs = np.log(SOFT_AND_FLOOR + (1.0 - SOFT_AND_FLOOR) * np.clip(e, 0.0, 1.0))
    g = np.exp((w * logs).sum(axis=0) / np.maximum(total, 1e-12))
    soft = np.clip((g - SOFT_AND_FLOOR) / (1.0 - SOFT_AND_FLOOR), 0.0, 1.0)
    leaning_down = w * (e < UNKNOWN)
    k = np.where(soft >= UNKNOWN, w.max(axis=0), leaning_down.max(axis=0))
    return np.where(total > 0, k * soft + (1.0 - k) * UNKNOWN, UNKNOWN).astype(np.float32)


def confirmation(terms: list[TermEvidence]) -> np.ndarray:
    """(N,) how far the description's details were *seen* matching: a noisy OR of ``s_t = w_t e_t``.

    ``s_t`` is the share of a full likelihood ratio a term gives (``w_t`` already says how much a clear
    reading of that measure is worth: a seen handbag or a blonde reading is strong, a dark-hair reading
    weak). An unmeasured detail gives 0 and a contradicted one 0 (contradictions count in
    :func:`combine`), so adding a detail never lowers anybody's confirmation::

        details = 1 - prod_t (1 - w_t e_t)
    """
    s = np.stack([np.clip(t.weight, 0.0, 1.0) * np.clip(t.evidence, 0.0, 1.0) for t in terms]).astype(np.float64)
    return (1.0 - np.prod(1.0 - s, axis=0)).astype(np.float32)


def colour_terms(parsed: ParsedQuery, upper: np.ndarray, lower: np.ndarray,
                 reliability: np.ndarray | None = None,
                 crop_views: tuple[np.ndarray, np.ndarray] | None = None) -> list[TermEvidence]:
    """The colour terms, measured as far as the footage shows colour (``reliability``; None = daylight).

    ``crop_views``: the same body halves as seen in the sighting's chosen crops (torso and legs of
    :func:`search.appearance.crop_body_colours`, NaN where a row has none). Each term takes the better of
    the two readings: the track average mixes in every poor frame of a short pass (motion blur, the
    person half out of view, a neighbour overlapping), while the crops are its best-placed frames,
    colour-corrected per frame. The crops' reading counts at most :data:`CROP_VIEW_WEIGHT`: the per-frame
    grey-world correction over-corrects a frame one colour dominates (PETS 2009's lawn turns red and
    navy coats purple), so a colour only the crops show is "partly worn". bench/text_quality.py measures it.
    """
    scores = colour_term_scores(parsed, upper, lower)
    if crop_views is not None:
        upper_c, lower_c = crop_views
        has = np.isfinite(upper_c).all(axis=1) & np.isfinite(lower_c).all(axis=1)
        if has.any():
            seen = colour_term_scores(parsed, np.where(has[:, None], upper_c, upper),
                                      np.where(has[:, None], lower_c, lower))
            scores = [np.maximum(a, CROP_VIEW_WEIGHT * b) for a, b in zip(scores, seen, strict=True)]
    n = scores[0].shape[0] if scores else 0
    w = np.ones(n, dtype=np.float32) if reliability is None else np.clip(reliability, 0.0, 1.0).astype(np.float32)
    return [TermEvidence(s, w) for s in scores]


def _seen_or_absent(presence: np.ndarray, match: np.ndarray, absence: np.ndarray) -> TermEvidence:
    """A thing seen with ``presence`` in [0, 1] (``match``: how well what was seen fits the words), or
    not seen where looking would have found it with probability ``absence`` (evidence 0 at that weight)."""
    w = np.maximum(presence, absence)
    e = np.where(w > 0, match * presence / np.maximum(w, 1e-12), 0.0)
    return TermEvidence(e.astype(np.float32), w.astype(np.float32))


def absence_weight(recall: float) -> float:
    """The weight at which "not seen" (evidence 0, a factor ``eps`` in :func:`combine`) counts as the
    likelihood ratio ``1 - recall`` of a measure that finds ``recall`` of what is there:
    ``w log(eps) = log(1 - recall)``. Recall 0.8 -> 0.70, 0.5 -> 0.30, 0.1 -> 0.05, 0 -> 0."""
    if recall >= 1.0:
        return 1.0
    return float(min(1.0, np.log1p(-recall) / np.log(SOFT_AND_FLOOR)))


def size_trust(height: np.ndarray | None, n: int) -> np.ndarray:
    """How far a detector's silence about a person of ``height`` pixels means something: 0 up to
    :data:`SILENT_BELOW_PX`, 1 from :data:`FULL_VIEW_PX` (None: height unknown -> 0)."""
    if height is None:
        return np.zeros(n, dtype=np.float32)
    lo, hi = SILENT_BELOW_PX, FULL_VIEW_PX
    return np.clip((np.asarray(height, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)


def object_term(term: ObjectTerm, cols: AttributeColumns) -> TermEvidence:
    """Seen objects count as far as they were seen (and, with colour words, as far as the colour fits);
    an object not seen counts against only as far as the detector finds that object at all
    (:data:`OBJECT_RECALL`) on a person large enough to show it (:func:`size_trust`)."""
    n = len(cols.reliability)
    trust = size_trust(cols.height, n)
    best: TermEvidence | None = None
    for name in term.names:
        if name not in cols.object_conf:
            continue
        floor, full = OBJECT_RANGES.get(name, (0.05, 0.15))
        presence = np.clip((cols.object_conf[name] - floor) / (full - floor), 0.0, 1.0).astype(np.float32)
        match = np.ones(n, dtype=np.float32)
        if term.colours:
            colour = shrink(soft_and([term_evidence(c, per_colour_evidence(cols.object_colour[name]))
                                      for c in term.colours]), cols.reliability)
            match = OBJECT_COLOUR_FLOOR + (1.0 - OBJECT_COLOUR_FLOOR) * colour
        t = _seen_or_absent(presence, match, absence_weight(OBJECT_RECALL.get(name, 0.0)) * trust)
        if best is None:
            best = t
        else:  # the name that was seen best wins ("bag" = any bag)
            better = t.evidence * t.weight + (1 - t.weight) * UNKNOWN > best.evidence * best.weight \
                + (1 - best.weight) * UNKNOWN
            best = TermEvidence(np.where(better, t.evidence, best.evidence), np.where(better, t.weight, best.weight))
    if best is None:
        return TermEvidence(np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32))
    return best


def hair_term(term: HairTerm, cols: AttributeColumns) -> TermEvidence:
    """Hair words on the head's colour names, measured as far as the head was seen (``hair_confidence``:
    frames with a usable head x head size in pixels x agreement) and shows colour."""
    weights, floor, full = HAIR_SCORES[term.hair]
    score = sum(w * cols.hair_colour[:, COLOUR_INDEX[k]] for k, w in weights.items())
    e = np.clip((score - floor) / (full - floor), 0.0, 1.0).astype(np.float32)
    seen = (np.clip(cols.hair_confidence, 0.0, 1.0) * cols.reliability).astype(np.float32)
    # A head that reads as the colour counts as far as it was seen and the measure tells that colour apart;
    # one that does not, only as far as the measure finds that colour at all (:data:`HAIR_RELIABILITY`).
    confirm, recall = HAIR_RELIABILITY[term.hair]
    against = absence_weight(recall)
    return TermEvidence(e, (seen * (against + (confirm - against) * e)).astype(np.float32))


def pattern_term(term: PatternTerm, cols: AttributeColumns) -> TermEvidence:
    """Stripes count as far as they were measured; a torso measured plain is weak evidence against (the
    stripe measure misses stripes a few pixels wide); an unmeasured torso (too small) is neutral."""
    floor, full = PATTERN_RANGE
    presence = np.clip((cols.striped - floor) / (full - floor), 0.0, 1.0).astype(np.float32)
    match = np.full(len(presence), PATTERNED_WEIGHT if term.pattern == V.PATTERNED else 1.0, dtype=np.float32)
    return _seen_or_absent(presence, match, PLAIN_WEIGHT * np.clip(cols.plain, 0.0, 1.0))


def object_term_evidence(term: ObjectTerm, cols: AttributeColumns) -> np.ndarray:
    """(N,) one object term on its own, as shown with a sighting (unmeasured = :data:`UNKNOWN`)."""
    return combine([object_term(term, cols)])


def hair_term_evidence(term: HairTerm, cols: AttributeColumns) -> np.ndarray:
    return combine([hair_term(term, cols)])


def pattern_term_evidence(term: PatternTerm, cols: AttributeColumns) -> np.ndarray:
    return combine([pattern_term(term, cols)])


def attribute_terms(parsed: ParsedQuery, cols: AttributeColumns) -> list[TermEvidence]:
    terms = [object_term(t, cols) for t in parsed.objects]
    terms += [hair_term(t, cols) for t in parsed.hair]
    terms += [pattern_term(t, cols) for t in parsed.patterns]
    return terms


def description_evidence(parsed: ParsedQuery, upper: np.ndarray | None, lower: np.ndarray | None,
                         cols: AttributeColumns | None,
                         crop_views: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Evidence parts of a description: ``colour`` (its colour terms), ``attributes`` (its object, hair and
    pattern terms) and, when it has attribute terms, ``description`` (all terms in one :func:`combine`).
    ``crop_views``: the body halves as the sighting's crops show them (:func:`colour_terms`)."""
    parts: dict[str, np.ndarray] = {}
    reliability = cols.reliability if cols is not None else None
    colours = colour_terms(parsed, upper, lower, reliability, crop_views) \
        if parsed.has_colours and upper is not None and lower is not None else []
    attributes = attribute_terms(parsed, cols) if parsed.has_attributes and cols is not None else []
    if colours:
        parts["colour"] = combine(colours)
    if attributes:
        parts["attributes"] = combine(attributes)
        parts["description"] = combine(colours + attributes)
        parts["details"] = confirmation(attributes)
    return parts

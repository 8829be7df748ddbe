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
    Each attribute term of a description gets an evidence in [0, 1] like a colour term, and joins the
    colour terms in the same soft AND (:func:`description_evidence`). What the index cannot show is not
    evidence of absence: YOLOX-Nano misses most bags, a head of 8 pixels barely has a colour, an IR
    frame has none. Such terms score :data:`UNKNOWN` (0.25) - below the no-result threshold on its own,
    so "person with a backpack" finds only people a backpack was seen with, but in a soft AND with a
    clear colour match it lowers a sighting without sinking it (red coat 1 and backpack unknown -> 0.52).

    * object: ``e = clip((c - floor) / (full - floor), 0, 1)`` on the sighting's confidence ``c`` for the
      object (the best of the names the word allows: "bag" is any bag), times ``0.3 + 0.7 e_colour`` when
      a colour was said (the colour evidence of the object's colour names); at least :data:`UNKNOWN`.
    * hair: a linear score of the head's colour names (:data:`HAIR_SCORES`), rescaled between a floor
      and a full level like colours, then shrunk towards :data:`UNKNOWN` by how far the head was seen
      (``hair_confidence``): ``e' = k e + (1 - k) UNKNOWN``.
    * pattern: the sighting's stripe confidence rescaled (:data:`PATTERN_RANGE`); a sighting measured
      plain scores ``(1 - 0.5 confidence) UNKNOWN``, one not measured (small torso) :data:`UNKNOWN`.
    * night / IR: every colour evidence (clothes, hair, object colours) is shrunk towards
      :data:`UNKNOWN` by the sighting's ``colour_reliability`` r: ``e' = r e + (1 - r) UNKNOWN``. In IR,
      "black coat" (which everything dark reads as) scores 0.25 for everyone instead of 1.

    The floors and full levels were read off the labelled real clips (``tests/data/
    attributes_real_labels.json``; figures in ``search/README.md``): e.g. bicycles 0.07-0.22 against 0 for
    everyone else, handbags 0.14-0.19 when seen against at most 0.04.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.schema import SightingField
from core.vision.colours import COLOUR_NAMES, N_COLOURS
from search import vocabulary as V
from search.query_parser import ColourTerm, HairTerm, ObjectTerm, ParsedQuery, PatternTerm

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
FULL = np.array([COLOUR_RANGES[n][1] for n in COLOUR_NAMES], dtype=np.float32)
COLOUR_INDEX = {n: i for i, n in enumerate(COLOUR_NAMES)}

SOFT_AND_FLOOR = 0.1
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
PATTERN_RANGE = (0.2, 0.5)  # stripe confidence: floor, full
PATTERNED_WEIGHT = 0.8  # "patterned" asks for more than stripes, which is all the indexer measures
PLAIN_DISCOUNT = 0.5  # a sighting measured plain (confidence 1) scores half of UNKNOWN for "striped"


def per_colour_evidence(dist: np.ndarray) -> np.ndarray:
    """(N, 11) colour distributions -> (N, 11) evidence that each colour is worn."""
    d = np.asarray(dist, dtype=np.float32).reshape(-1, N_COLOURS)
    return np.clip((d - FLOOR) / (FULL - FLOOR), 0.0, 1.0)


def term_evidence(term: ColourTerm, per_colour: np.ndarray) -> np.ndarray:
    """(N,) evidence for one colour term, from :func:`per_colour_evidence` output."""
    out = np.zeros(per_colour.shape[0], dtype=np.float32)
    for name, w in term.weights:
        out = np.maximum(out, w * per_colour[:, COLOUR_INDEX[name]])
    return out


def colour_term_scores(parsed: ParsedQuery, upper: np.ndarray, lower: np.ndarray,
                       reliability: np.ndarray | None = None) -> list[np.ndarray]:
    """(N,) evidence per colour term, shrunk towards :data:`UNKNOWN` where colours are unreliable."""
    eu, el = per_colour_evidence(upper), per_colour_evidence(lower)
    scores = [term_evidence(t, eu) for t in parsed.upper]
    scores += [term_evidence(t, el) for t in parsed.lower]
    scores += [np.maximum(term_evidence(t, eu), term_evidence(t, el)) for t in parsed.either]
    return [shrink(s, reliability) for s in scores]


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
    return soft_and(colour_term_scores(parsed, upper, lower, reliability))


def colour_sql_prefilter(parsed: ParsedQuery) -> str | None:
    """A lossless SQL pre-cut for colour queries: rows where every query colour is at or below its floor
    score exactly 0, so only rows above some floor need reading. Column indexes are 1-based in SQL."""
    if not parsed.has_colours:
        return None
    ors: list[str] = []
    upper, lower = SightingField.UPPER_COLOUR, SightingField.LOWER_COLOUR
    for column, terms in ((upper, parsed.upper), (lower, parsed.lower), (upper, parsed.either), (lower, parsed.either)):
        for t in terms:
            for name, w in t.weights:
                if w > 0:
                    k = COLOUR_INDEX[name]
                    ors.append(f"{column}[{k + 1}] > {float(FLOOR[k])!r}")
    return "(" + " OR ".join(dict.fromkeys(ors)) + ")" if ors else None


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Bhattacharyya coefficient of distributions ``a`` (N, K) and one ``b`` (K,) or (N, K)."""
    return np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None)).sum(axis=-1)


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


def object_term_evidence(term: ObjectTerm, cols: AttributeColumns) -> np.ndarray:
    n = len(cols.reliability)
    best = np.zeros(n, dtype=np.float32)
    for name in term.names:
        if name not in cols.object_conf:
            continue
        floor, full = OBJECT_RANGES.get(name, (0.05, 0.15))
        e = np.clip((cols.object_conf[name] - floor) / (full - floor), 0.0, 1.0)
        if term.colours:
            colour = shrink(soft_and([term_evidence(c, per_colour_evidence(cols.object_colour[name]))
                                      for c in term.colours]), cols.reliability)
            e = e * (OBJECT_COLOUR_FLOOR + (1.0 - OBJECT_COLOUR_FLOOR) * colour)
        best = np.maximum(best, e)
    return np.maximum(best, UNKNOWN).astype(np.float32)


def hair_term_evidence(term: HairTerm, cols: AttributeColumns) -> np.ndarray:
    weights, floor, full = HAIR_SCORES[term.hair]
    score = sum(w * cols.hair_colour[:, COLOUR_INDEX[k]] for k, w in weights.items())
    e = np.clip((score - floor) / (full - floor), 0.0, 1.0).astype(np.float32)
    return shrink(e, cols.hair_confidence * cols.reliability)


def pattern_term_evidence(term: PatternTerm, cols: AttributeColumns) -> np.ndarray:
    floor, full = PATTERN_RANGE
    e = np.clip((cols.striped - floor) / (full - floor), 0.0, 1.0)
    if term.pattern == V.PATTERNED:
        e = PATTERNED_WEIGHT * e
    # Measured plain is weak evidence against (the stripe measure misses stripes a few pixels wide).
    not_seen = UNKNOWN * (1.0 - PLAIN_DISCOUNT * cols.plain)
    return np.where(cols.striped > 0, e, not_seen).astype(np.float32)


def attribute_term_scores(parsed: ParsedQuery, cols: AttributeColumns) -> list[np.ndarray]:
    scores = [object_term_evidence(t, cols) for t in parsed.objects]
    scores += [hair_term_evidence(t, cols) for t in parsed.hair]
    scores += [pattern_term_evidence(t, cols) for t in parsed.patterns]
    return scores


def description_evidence(parsed: ParsedQuery, upper: np.ndarray | None, lower: np.ndarray | None,
                         cols: AttributeColumns | None) -> dict[str, np.ndarray]:
    """Evidence parts of a description: ``colour`` (its colour terms), ``attributes`` (its object, hair and
    pattern terms) and, when it has attribute terms, ``description`` (all terms in one soft AND)."""
    parts: dict[str, np.ndarray] = {}
    reliability = cols.reliability if cols is not None else None
    colour_scores = colour_term_scores(parsed, upper, lower, reliability) \
        if parsed.has_colours and upper is not None and lower is not None else []
    attribute_scores = attribute_term_scores(parsed, cols) if parsed.has_attributes and cols is not None else []
    if colour_scores:
        parts["colour"] = soft_and(colour_scores)
    if attribute_scores:
        parts["attributes"] = soft_and(attribute_scores)
        parts["description"] = soft_and(colour_scores + attribute_scores)
    return parts

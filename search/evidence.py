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
"""

from __future__ import annotations

import numpy as np

from footage_search.vision.colours import COLOUR_NAMES, N_COLOURS
from search.query_parser import ColourTerm, ParsedQuery

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


def colour_evidence(parsed: ParsedQuery, upper: np.ndarray, lower: np.ndarray) -> np.ndarray | None:
    """(N,) mean evidence over the query's colour terms; None when the query names no colour."""
    if not parsed.has_colours:
        return None
    eu, el = per_colour_evidence(upper), per_colour_evidence(lower)
    scores = [term_evidence(t, eu) for t in parsed.upper]
    scores += [term_evidence(t, el) for t in parsed.lower]
    scores += [np.maximum(term_evidence(t, eu), term_evidence(t, el)) for t in parsed.either]
    soft = SOFT_AND_FLOOR + (1.0 - SOFT_AND_FLOOR) * np.stack(scores)
    combined = np.exp(np.mean(np.log(soft), axis=0))
    return np.clip((combined - SOFT_AND_FLOOR) / (1.0 - SOFT_AND_FLOOR), 0.0, 1.0).astype(np.float32)


def colour_sql_prefilter(parsed: ParsedQuery) -> str | None:
    """A lossless SQL pre-cut for colour queries: rows where every query colour is at or below its floor
    score exactly 0, so only rows above some floor need reading. Column indexes are 1-based in SQL."""
    if not parsed.has_colours:
        return None
    ors: list[str] = []
    for column, terms in (("upper_colour", parsed.upper), ("lower_colour", parsed.lower),
                          ("upper_colour", parsed.either), ("lower_colour", parsed.either)):
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

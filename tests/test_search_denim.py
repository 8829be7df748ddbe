"""Denim's dark reading: "blue jeans" also accepts legs that read black, as far as they keep a trace of blue.

Figures: bench/text_quality.py ("denim reading" variants); the real-clip case is in tests/test_search_real.py.
"""

from __future__ import annotations

import numpy as np

from core.vision.colours import COLOUR_NAMES, N_COLOURS
from search.evidence import colour_term_scores
from search.query_parser import parse_query
from search.vocabulary import DENIM_DARK


def legs(**shares: float) -> np.ndarray:
    """One legs reading: the given colour-name shares, the rest spread evenly."""
    d = np.full(N_COLOURS, (1.0 - sum(shares.values())) / (N_COLOURS - len(shares)), dtype=np.float32)
    for name, p in shares.items():
        d[COLOUR_NAMES.index(name)] = p
    return d[None, :]


def lower_evidence(text: str, reading: np.ndarray) -> float:
    parsed = parse_query(text)
    upper = np.full((1, N_COLOURS), 1.0 / N_COLOURS, dtype=np.float32)
    return float(colour_term_scores(parsed, upper, reading)[-1][0])


def test_jeans_carry_the_dark_reading_and_other_garments_do_not():
    for text in ("blue jeans", "jeans", "파란 청바지", "청바지"):
        (term,) = parse_query(text).lower
        assert term.weights == (("blue", 1.0), ("black", DENIM_DARK)) and term.dark_needs_trace, text
    for text, weights in (("black jeans", (("black", 1.0),)), ("light blue jeans", (("blue", 1.0), ("white", 0.5))),
                          ("blue trousers", (("blue", 1.0),))):
        (term,) = parse_query(text).lower
        assert term.weights == weights and not term.dark_needs_trace, text
    assert parse_query("red jacket, blue jeans").structured() == parse_query("빨간 재킷, 청바지").structured()


def test_indigo_that_reads_black_counts_and_black_cloth_does_not():
    indigo = legs(black=0.25, grey=0.22, blue=0.11)  # Oxford's red-jacket man's jeans
    black_cloth = legs(black=0.25, grey=0.22, blue=0.0)
    clear_blue = legs(blue=0.40, black=0.10)
    assert lower_evidence("blue trousers", indigo) == 0.0  # blue alone: ruled out
    e_indigo = lower_evidence("blue jeans", indigo)
    assert 0.1 < e_indigo < 0.5  # partly worn: below a clear blue reading, above nothing
    assert lower_evidence("blue jeans", black_cloth) == 0.0
    stray_blue = legs(black=0.25, grey=0.22, blue=0.045)  # black cloth's own stray blue is not indigo
    assert lower_evidence("blue jeans", stray_blue) == 0.0
    assert lower_evidence("blue jeans", clear_blue) == 1.0
    assert lower_evidence("black jeans", black_cloth) == lower_evidence("black trousers", black_cloth) > 0.5

"""More true detail never pushes the person down: unmeasured description terms are neutral evidence.

Operators type what witnesses say ("long black hair, purple coat, blue jeans, dark shoes, black shoulder
bag"). Details the footage could not show (a bag the detector misses, the hair of a small head, colours
in IR) must neither count against a match nor dilute it (:func:`search.evidence.combine`). The unit
properties check the combination; the demo-city property checks the ranking end to end, with the
target's ground-truth description.
"""

from __future__ import annotations

import itertools
import json
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import evidence as ev
from search.query_parser import parse_query
from search.scoring import DETAIL_SHARE, fused_score
from tests.search_fixtures import colour_dist

THRESHOLD = 0.35  # search.min_score's default

unit = st.floats(0.0, 1.0, allow_nan=False)
terms = st.lists(st.tuples(unit, unit), min_size=1, max_size=6)


def term(e: float, w: float) -> ev.TermEvidence:
    return ev.TermEvidence(np.array([e], np.float32), np.array([w], np.float32))


@settings(max_examples=200, deadline=None)
@given(terms, unit)
def test_an_unmeasured_term_changes_nothing(ts, e):
    before = ev.combine([term(*t) for t in ts])
    after = ev.combine([term(*t) for t in ts] + [term(e, 0.0)])
    assert after[0] == pytest.approx(before[0], abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(terms, unit)
def test_a_confirmed_detail_never_lowers_the_score(ts, w):
    before = ev.combine([term(*t) for t in ts])
    after = ev.combine([term(*t) for t in ts] + [term(1.0, w)])
    assert after[0] >= before[0] - 1e-6


def test_a_confirmed_detail_does_not_make_a_low_reading_more_certain():
    """The case Hypothesis found: five lightly measured contradictions and a better-measured confirmation.
    With the pull towards UNKNOWN set by the best weight of any term, the confirmation made the low
    reading count more and the score fell (0.24805 -> 0.24771)."""
    low = [term(0.0, 0.0078125)] * 5
    assert ev.combine([*low, term(1.0, 0.015625)])[0] > ev.combine(low)[0]


@settings(max_examples=200, deadline=None)
@given(terms, st.integers(0, 5), unit)
def test_more_evidence_for_a_term_never_lowers_the_score(ts, i, rise):
    i %= len(ts)
    e, w = ts[i]
    raised = [*ts[:i], (min(1.0, e + rise), w), *ts[i + 1:]]
    assert ev.combine([term(*t) for t in raised])[0] >= ev.combine([term(*t) for t in ts])[0] - 1e-6


def test_the_no_result_gate_stays_meaningful():
    assert ev.combine([term(1.0, 0.0), term(0.7, 0.0)])[0] == pytest.approx(ev.UNKNOWN)  # nothing measured
    assert ev.combine([term(1.0, 0.1)])[0] < THRESHOLD  # a perfect match barely measured is not plausible
    assert ev.combine([term(1.0, 1.0), term(0.0, 1.0)])[0] < THRESHOLD  # "purple coat, blue jeans", jeans black
    assert ev.combine([term(1.0, 1.0), term(0.0, 0.0)])[0] == pytest.approx(1.0)  # ... jeans not measured


def ranked(ts: list[tuple[float, float]], details: list[tuple[float, float]]) -> float:
    """The ranking score of one row: colour terms ``ts`` and attribute terms ``details`` as (e, w)."""
    attrs = [term(*t) for t in details]
    parts = {"description": ev.combine([term(*t) for t in ts] + attrs), "details": ev.confirmation(attrs)}
    return float(fused_score(parts, None, 1)[0])


@settings(max_examples=200, deadline=None)
@given(terms, terms, unit)
def test_an_unmeasured_detail_changes_no_ranking_score(ts, details, e):
    assert ranked(ts, [*details, (e, 0.0)]) == pytest.approx(ranked(ts, details), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(terms, terms, unit)
def test_a_detail_seen_matching_never_lowers_the_ranking_score(ts, details, w):
    assert ranked(ts, [*details, (1.0, w)]) >= ranked(ts, details) - 1e-6
    assert 0.0 <= ranked(ts, [*details, (1.0, w)]) <= 1.0


def test_a_seen_detail_lifts_a_match_above_the_ones_where_it_went_unseen():
    """'black coat, red bag' on the real clips: her coat reads fully black, her bag is seen (presence 0.85) but
    only partly red (0.65); other black coats' bags went unseen. She must rank above them; a bag seen in
    another colour (0.3, the floor of a seen object) must not; nor may the gate call her less plausible."""
    her, unseen, other_colour = ranked([(1, 1)], [(0.65, 0.85)]), ranked([(1, 1)], [(0, 0)]), \
        ranked([(1, 1)], [(0.3, 0.85)])
    assert her > unseen > other_colour
    assert ev.combine([term(1, 1), term(0.65, 0.85)])[0] >= THRESHOLD


def cols(n: int, height: float, **kw) -> ev.AttributeColumns:
    base = dict(object_conf={}, object_colour={}, hair_colour=np.full((n, 11), 1 / 11, np.float32),
                hair_confidence=np.zeros(n, np.float32), striped=np.zeros(n, np.float32),
                plain=np.zeros(n, np.float32), reliability=np.ones(n, np.float32),
                height=np.full(n, height, np.float32))
    base.update(kw)
    return ev.AttributeColumns(**base)


def test_a_small_persons_missing_object_is_no_evidence_and_a_bag_never_is():
    black = colour_dist("black")
    for words, name in (("bicycle", "bicycle"), ("black shoulder bag", "handbag")):
        t = parse_query(words).objects[0]
        c = {n: np.zeros(1, np.float32) for n in t.names}
        shades = {n: black[None] for n in t.names}
        small = ev.object_term(t, cols(1, 40.0, object_conf=c, object_colour=shades))
        tall = ev.object_term(t, cols(1, 300.0, object_conf=c, object_colour=shades))
        assert small.weight[0] == 0.0  # a 40-pixel person: "not seen" says nothing
        assert tall.weight[0] == (pytest.approx(ev.absence_weight(0.8)) if name == "bicycle" else 0.0)
        assert tall.evidence[0] == 0.0


def test_every_detail_of_a_clear_match_keeps_it_on_top():
    """Red coat, clearly measured; the witness adds a bag (unseen, tall person) and dark hair (tiny head)."""
    p = parse_query("red coat, black shoulder bag, dark hair")
    red = np.tile(colour_dist("red", 0.5), (1, 1))
    c = cols(1, 200.0, object_conf={n: np.zeros(1, np.float32) for n in p.objects[0].names},
             object_colour={n: red for n in p.objects[0].names}, hair_confidence=np.array([0.05], np.float32))
    parts = ev.description_evidence(p, red, red, c)
    assert parts["colour"][0] == pytest.approx(1.0) and parts["description"][0] >= 0.99


# ---------------------------------------------------------------------------------- the demo city


@pytest.fixture(scope="module")
def city_ranker(sample_index, sample_city):
    from core.registry import load_registry
    from search.engine import SearchEngine
    from search.request import SearchRequest
    from search.search_models import SearchModels
    from tests.search_fixtures import ground_truth_people, holds

    gt = json.loads(sample_city.ground_truth.read_text(encoding="utf-8"))
    engine = SearchEngine(sample_index, load_registry(sample_city.registry),
                          SearchModels(sample_index, clip_enabled=False))
    votes = ground_truth_people(engine.reader.table(), gt)

    @cache
    def rank(text: str) -> tuple[float, float, float]:
        """The target's rank, her best score and that sighting's calibrated evidence. The rank is 1 +
        everyone else whose result is more plausible or scores more than her best + half of those who tie
        with her (her expected place when ties are broken at random: a description that tells nobody
        apart ranks her mid-list)."""
        r = engine.search(SearchRequest(text=text, use_clip=False, include_weak=True, limit=1000))
        keys = [(not s.weak, s.score) for s in r.sightings]
        mine = [k for s, k in zip(r.sightings, keys, strict=True) if holds(votes, s, "target")]
        if not mine:  # not listed at all (a description with nothing to match lists nobody): last
            return len(votes) + 1, 0.0, 0.0
        best = max(mine)
        evidence = max(s.evidence.get("evidence", 0.0) for s, k in zip(r.sightings, keys, strict=True)
                       if holds(votes, s, "target") and k == best)
        others = [k for s, k in zip(r.sightings, keys, strict=True) if not holds(votes, s, "target")]
        return 1 + sum(k > best for k in others) + 0.5 * sum(k == best for k in others), best[1], evidence

    details = tuple(gt["target"]["description_en"].split(", "))
    return rank, details


def test_the_witness_description_ranks_the_target_first(city_ranker):
    rank, details = city_ranker
    full, score, evidence = rank(", ".join(details))
    short, _, _ = rank("purple coat, blue jeans")
    assert full <= short <= 1.5  # nobody above her; at most the double, in her exact outfit, level with her
    assert evidence >= 0.9  # not ~0.5 as when unmeasured details counted as "unknown"
    # The demo city never shows her details (no hair colour read on her head, no bag detected): everything
    # measured matches and no detail confirms, so she scores what unconfirmed matches top out at.
    assert score >= 1.0 - DETAIL_SHARE - 0.01


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_adding_a_true_detail_never_lowers_the_targets_rank(city_ranker, data):
    rank, details = city_ranker
    order = data.draw(st.permutations(details))
    k = data.draw(st.integers(1, len(details) - 1))
    base, extra = list(order[:k]), order[k]
    at = data.draw(st.integers(0, k))
    more = [*base[:at], extra, *base[at:]]
    before = rank(", ".join(base))[0]
    after = rank(", ".join(more))[0]
    assert after <= before, (base, extra, before, after)


def test_no_true_detail_lowers_the_targets_rank_over_every_subset(city_ranker):
    """The property above over every subset of the witness's details and every detail it lacks (441 pairs,
    128 searches): sampled orders can miss the few subsets where it broke (with the scoring before
    e6a4988, adding 'long black hair' to 'purple coat, blue jeans' put the double above her)."""
    rank, details = city_ranker
    broken = []
    for n in range(1, len(details)):
        for base in itertools.combinations(details, n):
            before = rank(", ".join(base))[0]
            for extra in (d for d in details if d not in base):
                after = rank(", ".join(d for d in details if d in base or d == extra))[0]
                if after > before:
                    broken.append((base, extra, before, after))
    assert not broken, broken


@pytest.mark.parametrize("said", ["black heels", "red wellies", "no backpack", "without a hat",
                                  "not carrying a rucksack", "검은 하이힐", "배낭 없이"])
def test_what_a_witness_adds_about_shoes_or_missing_things_never_lowers_the_target(city_ranker, said):
    """Shoes' colours are not the clothes' ("black heels" once asked for black on her), and a thing she
    does not carry is not one she carries ("no backpack" once read as "with a backpack")."""
    rank, _ = city_ranker
    assert rank(f"purple coat, blue jeans, {said}")[0] <= rank("purple coat, blue jeans")[0]

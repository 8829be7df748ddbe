"""Turning an operator's description into structured terms plus free text for CLIP.

"elderly woman, purple coat, dark handbag, walking north" becomes::

    upper = purple, direction = N, ignored = "dark handbag", clip_text = "elderly woman, purple coat,
    dark handbag"

Structured terms are matched exactly against the index (colour distributions, bearings) and need no
model at all; the free text goes to CLIP as a caption. The parser never raises on odd input except
:class:`SearchInputError` for a query that is too long, and its result says what it understood, so
the operator can see (and correct) a misreading before trusting the results.

How colours find their garment, per clause (clauses end at , ; . ! ? and new lines):

* colour words before a garment noun describe it ("red jacket", "빨간 재킷");
* colour words after the last garment noun of a clause describe that garment ("jacket: red",
  "상의는 빨간색");
* a colour with no garment in its clause applies to either body half ("a man in red"), or to both with
  "all" / "head to toe" ("all black");
* an outfit (dress, suit, uniform) colours both halves, unless a garment of that half is named with its
  own colour ("navy uniform, grey trousers"); a shirt under a suit adds to it instead ("black suit, white
  shirt"); "suit trousers" and "tracksuit bottoms" are trousers;
* "and" joins colours of one garment ("red and navy jacket": both must show); "or" makes one term where
  either will do ("red or orange jacket", "red jacket or orange jacket");
* a negated thing ("no backpack", "without a hat", "not wearing a red coat", "가방 없이") is dropped with a
  note: absence is not matched, and reading it as present would favour everyone who carries one;
* accessory nouns (bag, hair, shoes...) absorb their colours: they never colour the clothes.

Appearance attributes the indexer measures (:mod:`indexer.attributes`) become terms of their own:

* objects: "black rucksack", "yellow shopping bag", "pushing a buggy", "배낭", "노란 쇼핑백", "유모차" - the
  object (a word may mean several: a "bag" is any bag) with the colours said in front of it;
* hair: "blonde", "grey-haired", "dark hair", "금발", "백발", "검은 머리" - blonde, dark or grey;
* pattern: "striped top", "줄무늬 셔츠" - measured on the upper body, so a pattern of trousers is not used.

Hats, shoes, scarves, glasses and colours of hair the indexer cannot tell (red, ginger) go to CLIP only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from search import vocabulary as V
from search.errors import SearchInputError
from search.query_directions import (
    direction_spans,
    mark_from,
    merge_compound_directions,
    pick_direction,
    without_spans,
)
from search.query_terms import ColourTerm, HairTerm, ObjectTerm, ParsedQuery, PatternTerm
from search.query_tokens import Token, tokenise, union_weights

MAX_QUERY_CHARS = 1000

_CLAUSE_SPLIT = re.compile(r"[,;.!?\n()\[\]{}|。、，；]+")
# Clock times a witness gives ("around 3pm", "at 14:30", "오후 3시"): the search does not read them, and the
# operator should know to set the time range instead of trusting the text to narrow it.
_CLOCK_TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b"
                         r"|(?:오전|오후|새벽|아침|저녁|밤)\s*\d{1,2}\s*시|\b\d{1,2}\s*시(?:\s*\d{1,2}\s*분)?(?!\s*방향)",
                         re.IGNORECASE)  # "3시 방향" is a bearing (to the right), not a time


def normalise(text: str) -> str:
    """NFKC, control characters to spaces, whitespace collapsed; raises when too long."""
    if not isinstance(text, str):
        raise SearchInputError(f"the query must be text, not {type(text).__name__}")
    if len(text) > 4 * MAX_QUERY_CHARS:  # before NFKC, which can grow text
        raise SearchInputError(f"the description is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    text = unicodedata.normalize("NFKC", text)
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != "\n" else ch for ch in text)
    cleaned = "\n".join(line for line in (" ".join(part.split()) for part in cleaned.split("\n")) if line)
    if len(cleaned) > MAX_QUERY_CHARS:
        raise SearchInputError(
            f"the description is too long ({len(cleaned)} characters; at most {MAX_QUERY_CHARS}): "
            "keep the clothing colours, build and direction"
        )
    return cleaned


def parse_query(text: str) -> ParsedQuery:
    """Parse a description in English and/or Korean. Empty text gives an empty :class:`ParsedQuery`."""
    norm = normalise(text)
    upper: list[ColourTerm] = []
    lower: list[ColourTerm] = []
    either: list[ColourTerm] = []
    ignored: list[str] = []
    attrs = _Attributes()
    directions: list[Token] = []
    drop_spans: list[tuple[int, int]] = []
    for clause_start, clause in _clauses(norm):
        items = tokenise(clause, clause_start)
        merge_compound_directions(items)
        mark_from(items)
        for it in items:
            if it.kind == "direction":
                directions.append(it)
        drop_spans += direction_spans(items)
        _assign(items, upper, lower, either, ignored, attrs)
    direction, notes = pick_direction(directions)
    time = _CLOCK_TIME.search(norm)
    if time:
        notes.append(f"'{time.group(0)}': times in a description are not used; set the search's time range "
                     "(From / To) to narrow it")
    # "navy school uniform, grey trousers": the half named on its own says what that half wears
    upper, lower = (_named_over_outfit(half, attrs) for half in (upper, lower))
    return ParsedQuery(
        text=norm, upper=_dedupe(upper), lower=_dedupe(lower), either=_dedupe(either), direction=direction,
        clip_text=without_spans(norm, drop_spans), ignored=tuple(dict.fromkeys(ignored)),
        notes=tuple(dict.fromkeys([*notes, *attrs.notes])), objects=_dedupe(attrs.objects),
        hair=_dedupe(attrs.hair), patterns=_dedupe(attrs.patterns),
    )


@dataclass
class _Attributes:
    objects: list[ObjectTerm] = field(default_factory=list)
    hair: list[HairTerm] = field(default_factory=list)
    patterns: list[PatternTerm] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outfit: list[ColourTerm] = field(default_factory=list)  # colours said of a whole outfit (dress, uniform)
    inner: list[ColourTerm] = field(default_factory=list)  # ... and of a layer worn under one (shirt)


def _named_over_outfit(half: list[ColourTerm], attrs: _Attributes) -> list[ColourTerm]:
    """A half's terms without the outfit's, when a garment of that half was named with a colour of its own
    ("navy uniform, grey trousers"); a shirt under a suit does not hide the suit ("black suit, white shirt")."""
    own = [t for t in half if t not in attrs.outfit]
    return own if any(t not in attrs.inner for t in own) else half


def _dedupe(terms: list) -> tuple:
    seen: dict = {}
    for t in terms:
        seen.setdefault(t.key(), t)
    return tuple(seen.values())


def _clauses(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for m in _CLAUSE_SPLIT.finditer(text):
        out.append((pos, text[pos:m.start()]))
        pos = m.end()
    out.append((pos, text[pos:]))
    return [(s, c) for s, c in out if c.strip()]


# ---------------------------------------------------------------------------------------- assignment


def _assign(items: list[Token], upper: list[ColourTerm], lower: list[ColourTerm], either: list[ColourTerm],
            ignored: list[str], attrs: _Attributes) -> None:
    pending: list[ColourTerm] = []
    building: list[Token] = []
    last_garment = ""
    last_object: int | None = None  # index in attrs.objects of this clause's last object, for "bag: red"
    pattern: Token | None = None  # a pattern word waiting for its garment
    negation: int | None = None  # where "no", "without", "not wearing" stood: the next thing named is absent
    alternative = False  # "red jacket or orange jacket": the next garment's colour is the other choice
    # "all black", "all in white", "black from head to toe": a colour with no garment is on both halves
    all_over = _all_over(items)

    def flush_building() -> None:
        term = _term_from(building)
        if term is not None:
            pending.append(term)
        building.clear()

    def attach(garment: str, terms: list[ColourTerm], noun: str) -> None:
        nonlocal alternative
        if garment == V.ACCESSORY:
            if terms:
                ignored.append(" ".join([t.words for t in terms] + [noun]).strip())
            return
        if garment == V.FULL:
            attrs.outfit.extend(terms)
        elif noun.lower() in V.INNER_LAYERS:
            attrs.inner.extend(terms)
        for half, slot in ((upper, V.UPPER), (lower, V.LOWER)):
            if garment not in (slot, V.FULL) or not terms:
                continue
            if alternative and half:
                half[-1] = _either_of(half[-1], terms[0])
                half.extend(terms[1:])
            else:
                half.extend(terms)
        alternative = False

    def absent(until: int) -> bool:
        """Drop a negated thing (and the colours said for it) with a note; whether it was negated."""
        nonlocal negation
        if negation is None:
            return False
        absence_note(" ".join(t.text for t in items[negation:until + 1]))
        pending.clear()
        negation = None
        return True

    def absence_note(said: str) -> None:
        attrs.notes.append(f"'{said}' is not matched: absence is not used as evidence (a bag can be hidden or "
                           "put down, a hat taken off)")

    def attach_trailing(terms: list[ColourTerm]) -> None:
        """Colours after the clause's last garment ("jacket: red", "a bag, red") describe it."""
        if last_object is not None and last_garment == V.ACCESSORY:
            obj = attrs.objects[last_object]
            attrs.objects[last_object] = ObjectTerm(" ".join([obj.words, *(t.words for t in terms)]), obj.names,
                                                    (*obj.colours, *terms))
        if last_garment:
            attach(last_garment, terms, "")
        elif all_over:
            attach(V.FULL, terms, "")
        else:
            either.extend(terms)

    def place_pattern(garment: str | None) -> None:
        nonlocal pattern
        if pattern is None:
            return
        if garment in (V.UPPER, V.FULL) or (garment is None and pattern.text.lower() not in V.PATTERN_NEEDS_GARMENT):
            attrs.patterns.append(PatternTerm(pattern.text, pattern.attribute))
        elif garment == V.LOWER:
            attrs.notes.append(f"'{pattern.text}' of trousers or skirts is not matched: patterns are measured on "
                               "the upper body")
        pattern = None

    for i, it in enumerate(items):
        low = it.text.lower()
        if it.kind in ("colour", "modifier") or (building and low in V.COLOUR_NOUNS):
            building.append(it)  # "light coloured": the noun says the shade is a colour
            continue
        if it.kind == "hair" and building and all(b.kind == "modifier" for b in building):
            building.clear()  # "dark blonde hair": the modifier shades the hair word, it is no colour of its own
        if low in V.ALTERNATIVES:
            if any(b.kind == "colour" for b in building):  # "red or orange": one term, either will do
                building.append(it)
                continue
            alternative = not pending and bool(last_garment) and last_garment != V.ACCESSORY
        flush_building()
        if _negates(items, i):
            negation = i
            continue
        if it.kind == "end" and negation is not None and low not in V.NEGATED_VERBS:
            negation = None  # "no bag in a red coat": the negation ended before the coat
        if negation is not None and it.kind in ("garment", "object", "hairnoun", "hair", "pattern"):
            absent(i)
            last_garment, last_object = (it.garment or V.ACCESSORY), None
            continue
        if it.kind == "word" and it.text.startswith(V.KO_ABSENT_PREFIX) and last_object is not None \
                and last_object == len(attrs.objects) - 1:  # "가방 없이": the object just named is absent
            absence_note(f"{attrs.objects.pop(last_object).words} {it.text}")
            last_object = None
            continue
        if _compound_garment(items, i):
            continue  # "suit trousers", "tracksuit bottoms": the last noun is the garment the colour is on
        if it.kind == "garment":
            terms = [_as_cloth(t, it.implied) for t in pending] \
                or ([ColourTerm.of(f"{it.text} (implied)", it.implied, dark_needs_trace=True)] if it.implied else [])
            attach(it.garment, terms, it.text)
            place_pattern(it.garment)
            pending.clear()
            last_garment, last_object = it.garment, None
        elif it.kind == "object":
            attach(V.ACCESSORY, pending, it.text)
            attrs.objects.append(ObjectTerm(" ".join([*(t.words for t in pending), it.text]), it.names,
                                            tuple(pending)))
            place_pattern(V.ACCESSORY)
            pending.clear()
            last_garment, last_object = V.ACCESSORY, len(attrs.objects) - 1
        elif it.kind == "hairnoun":
            attach(V.ACCESSORY, pending, it.text)
            for t in pending:
                # "light hair" is blonde as often as grey: a shade names no hair colour
                hair = V.HAIR_FROM_COLOUR.get(t.name) if t.weight_map() != V.LIGHT else None
                if hair:
                    attrs.hair.append(HairTerm(f"{t.words} {it.text}", hair))
            pending.clear()
            last_garment, last_object = V.ACCESSORY, None
        elif it.kind == "hair" and it.attribute:
            attrs.hair.append(HairTerm(it.text, it.attribute))
        elif it.kind == "pattern":
            place_pattern(None)
            pattern = it
        elif it.kind == "end" and pending:
            attach_trailing(pending)
            pending.clear()
    flush_building()
    place_pattern(None)
    if pending and not absent(len(items) - 1):
        attach_trailing(pending)


def _compound_garment(items: list[Token], i: int) -> bool:
    """Whether ``items[i]`` is a whole-outfit noun qualifying the half named next, a space away ("suit
    trousers", "dress shirt", "tracksuit bottoms"). Two halves side by side stay two garments (terse notes:
    "black jacket jeans"), and so does Korean ("재킷에 청바지")."""
    if i + 1 >= len(items):
        return False
    a, b = items[i], items[i + 1]
    return (a.kind == b.kind == "garment" and a.garment == V.FULL and b.garment in (V.UPPER, V.LOWER)
            and b.start - a.end <= 1 and a.text.isascii() and b.text.isascii())


def _all_over(items: list[Token]) -> bool:
    """"all black", "all in white", "black from head to toe" (not "all the way north in red")."""
    words = [t.text.lower() for t in items]
    if any(words[j:j + 3] == ["head", "to", "toe"] for j in range(len(words) - 2)):
        return True
    for j, w in enumerate(words[:-1]):
        nxt = items[j + 2] if words[j + 1] == "in" and j + 2 < len(items) else items[j + 1]
        if w == "all" and nxt.kind in ("colour", "modifier"):
            return True
    return False


def _negates(items: list[Token], i: int) -> bool:
    """Whether ``items[i]`` negates what follows: "no", "without", or "not" before a verb of wearing or a
    colour / garment / object ("not very tall" and "not sure" negate nothing the search matches)."""
    low = items[i].text.lower()
    if low in V.NEGATIONS:
        return True
    if low not in V.NEGATIONS_IF_FOLLOWED or i + 1 >= len(items):
        return False
    nxt = items[i + 1]
    return nxt.text.lower() in V.NEGATED_VERBS or nxt.kind in ("colour", "modifier", "garment", "object", "hairnoun")


def _either_of(a: ColourTerm, b: ColourTerm) -> ColourTerm:
    """One term for "a or b": each colour counts as much as in either."""
    weights = a.weight_map()
    union_weights(weights, b.weight_map())
    return ColourTerm.of(f"{a.words} or {b.words}", weights, dark_needs_trace=a.dark_needs_trace and b.dark_needs_trace)


def _as_cloth(term: ColourTerm, implied: V.Weights) -> ColourTerm:
    """"blue jeans" reads like denim (:data:`search.vocabulary.DENIM`): a garment that implies a colour
    widens a term naming that same colour by how its cloth reads on camera (a dark reading that needs a
    trace of the colour itself); "black jeans" and "light blue jeans" (a lighter cloth) stay as typed."""
    if not implied or term.name != max(implied, key=implied.__getitem__) or "white" in term.weight_map():
        return term
    weights = term.weight_map()
    union_weights(weights, implied)
    return ColourTerm.of(term.words, weights, dark_needs_trace=True)


def _term_from(building: list[Token]) -> ColourTerm | None:
    """Consecutive colour words are one colour ("navy blue", "dark blue"); a lone "dark" is a colour, and
    so is a light shade said of a colour ("light-coloured", "pale", "밝은 색")."""
    if not building:
        return None
    colours = [b for b in building if b.kind == "colour"]
    words = " ".join(b.text for b in building)
    if not colours:
        shades = [b.text.lower() for b in building if b.kind == "modifier"]
        lone = shades[-1] if shades else building[-1].text.lower()
        if lone in ("dark", "어두운", "짙은"):
            return ColourTerm.of(words, V.EN_COLOURS["dark"])
        said_colour = any(b.text.lower() in V.COLOUR_NOUNS for b in building)
        if lone in V.LIGHT_ALONE or (lone in V.LIGHT_SHADES and said_colour):
            return ColourTerm.of(words, V.LIGHT)  # "pale jacket", "light-coloured top", "밝은 색 상의"
        return None
    weights: V.Weights = {}
    for c in colours:
        union_weights(weights, c.weights)
    for m in building:
        if m.kind == "modifier":
            for k, v in m.weights.items():
                if k not in weights:
                    weights[k] = v
    return ColourTerm.of(words, weights)

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
* a colour with no garment in its clause applies to either body half ("a man in red");
* "and" joins colours of one garment ("red and navy jacket": both must show);
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

from core.compass import COMPASS_8
from search import vocabulary as V
from search.errors import SearchInputError

MAX_QUERY_CHARS = 1000
CAPTION_TEMPLATE = "a photo of a person: {text}"

_CLAUSE_SPLIT = re.compile(r"[,;.!?\n()\[\]{}|。、，；]+")
_EN_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*|[&+]", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KO_SKIP_AFTER_COLOUR = ("색깔", "색상", "색", "빛")


@dataclass(frozen=True)
class ColourTerm:
    """One colour a witness gave, as weights over the 11 basic colour names."""

    words: str  # as typed ("dark blue", "남색")
    weights: tuple[tuple[str, float], ...]  # strongest first; the named colour has weight 1

    @classmethod
    def of(cls, words: str, weights: V.Weights) -> ColourTerm:
        ordered = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(words=words, weights=tuple((k, round(float(v), 3)) for k, v in ordered))

    @property
    def name(self) -> str:
        """The basic colour the words name (the weight-1 entry)."""
        return self.weights[0][0] if self.weights else ""

    def weight_map(self) -> dict[str, float]:
        return dict(self.weights)

    def key(self) -> tuple[tuple[str, float], ...]:
        """Language-independent identity: 남색 and navy have the same key."""
        return self.weights


@dataclass(frozen=True)
class ObjectTerm:
    """Something carried, pushed or walked with: any of ``names`` (indexer.attributes.OBJECT_NAMES),
    optionally in the given colours ("black rucksack")."""

    words: str
    names: tuple[str, ...]
    colours: tuple[ColourTerm, ...] = ()

    def key(self) -> tuple:
        return self.names, tuple(c.key() for c in self.colours)

    def label(self) -> str:
        name = "bag" if set(self.names) == set(V.BAGS) else "/".join(self.names)
        return f"{name}({'+'.join(c.name for c in self.colours)})" if self.colours else name


@dataclass(frozen=True)
class HairTerm:
    words: str
    hair: str  # vocabulary.BLONDE | DARK_HAIR | GREY_HAIR

    def key(self) -> str:
        return self.hair


@dataclass(frozen=True)
class PatternTerm:
    words: str
    pattern: str  # vocabulary.STRIPED | PATTERNED

    def key(self) -> str:
        return self.pattern


@dataclass(frozen=True)
class ParsedQuery:
    """What the parser understood; safe to show to the operator as is."""

    text: str  # the normalised query
    upper: tuple[ColourTerm, ...] = ()
    lower: tuple[ColourTerm, ...] = ()
    either: tuple[ColourTerm, ...] = ()  # a colour with no garment: upper or lower body
    direction: str | None = None  # 8-way compass name of the direction of movement
    clip_text: str = ""  # the free text CLIP embeds (direction words removed: a still crop cannot show them)
    ignored: tuple[str, ...] = ()  # colour phrases of accessories (bags, hair...): never clothing colours
    notes: tuple[str, ...] = ()
    objects: tuple[ObjectTerm, ...] = ()  # carried / pushed / accompanying objects
    hair: tuple[HairTerm, ...] = ()
    patterns: tuple[PatternTerm, ...] = ()

    @property
    def has_colours(self) -> bool:
        return bool(self.upper or self.lower or self.either)

    @property
    def has_attributes(self) -> bool:
        return bool(self.objects or self.hair or self.patterns)

    @property
    def has_structure(self) -> bool:
        return self.has_colours or self.has_attributes or self.direction is not None

    @property
    def caption(self) -> str:
        """The text handed to the CLIP text encoder, phrased like an image caption."""
        return CAPTION_TEMPLATE.format(text=self.clip_text) if self.clip_text else ""

    def structured(self) -> tuple:
        """The structured terms only, comparable across languages."""
        return (tuple(t.key() for t in self.upper), tuple(t.key() for t in self.lower),
                tuple(t.key() for t in self.either), self.direction, tuple(t.key() for t in self.objects),
                tuple(t.key() for t in self.hair), tuple(t.key() for t in self.patterns))

    def summary(self) -> str:
        parts = []
        for label, terms in (("upper", self.upper), ("lower", self.lower), ("either", self.either)):
            if terms:
                parts.append(f"{label}={'+'.join(_term_label(t) for t in terms)}")
        if self.direction:
            parts.append(f"direction={self.direction}")
        if self.objects:
            parts.append(f"with={'+'.join(t.label() for t in self.objects)}")
        if self.hair:
            parts.append(f"hair={'+'.join(t.hair for t in self.hair)}")
        if self.patterns:
            parts.append(f"pattern={'+'.join(t.pattern for t in self.patterns)}")
        understood = ", ".join(parts) if parts else "no colour or direction words"
        out = f"understood: {understood}"
        used = {t.words for t in (*self.objects, *self.hair)}
        unused = [phrase for phrase in self.ignored if phrase not in used]
        if unused:
            out += f"; not used for colour matching: {', '.join(unused)}"
        return out

    def to_dict(self) -> dict:
        def terms(ts: tuple[ColourTerm, ...]) -> list[dict]:
            return [{"words": t.words, "colour": t.name, "weights": dict(t.weights)} for t in ts]

        return {"text": self.text, "upper": terms(self.upper), "lower": terms(self.lower),
                "either": terms(self.either), "direction": self.direction, "clip_text": self.clip_text,
                "caption": self.caption, "ignored": list(self.ignored), "notes": list(self.notes),
                "objects": [{"words": t.words, "names": list(t.names), "colours": terms(t.colours)}
                            for t in self.objects],
                "hair": [{"words": t.words, "hair": t.hair} for t in self.hair],
                "patterns": [{"words": t.words, "pattern": t.pattern} for t in self.patterns],
                "summary": self.summary()}


def _term_label(t: ColourTerm) -> str:
    return t.name if t.words.lower() == t.name else f"{t.name}({t.words})"


@dataclass
class _Item:
    kind: str  # colour | modifier | garment | object | hairnoun | hair | pattern | direction | conj | end | word
    text: str
    start: int = 0
    end: int = 0
    weights: V.Weights = field(default_factory=dict)
    garment: str = ""
    implied: V.Weights = field(default_factory=dict)
    compass: str = ""
    from_: bool = False
    names: tuple[str, ...] = ()  # object: what it may be
    attribute: str = ""  # hair: hair colour; pattern: pattern


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
    directions: list[_Item] = []
    drop_spans: list[tuple[int, int]] = []
    for clause_start, clause in _clauses(norm):
        items = _items(clause, clause_start)
        for it in items:
            if it.kind == "direction":
                directions.append(it)
        drop_spans += _direction_spans(items)
        _assign(items, upper, lower, either, ignored, attrs)
    direction, notes = _pick_direction(directions)
    return ParsedQuery(
        text=norm, upper=_dedupe(upper), lower=_dedupe(lower), either=_dedupe(either), direction=direction,
        clip_text=_without(norm, drop_spans), ignored=tuple(dict.fromkeys(ignored)),
        notes=tuple(dict.fromkeys([*notes, *attrs.notes])), objects=_dedupe(attrs.objects),
        hair=_dedupe(attrs.hair), patterns=_dedupe(attrs.patterns),
    )


@dataclass
class _Attributes:
    objects: list[ObjectTerm] = field(default_factory=list)
    hair: list[HairTerm] = field(default_factory=list)
    patterns: list[PatternTerm] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


# ------------------------------------------------------------------------------------------ tokens


def _items(clause: str, offset: int) -> list[_Item]:
    tokens = [(m.group(0), m.start() + offset, m.end() + offset) for m in _EN_TOKEN.finditer(clause)]
    items: list[_Item] = []
    for i, (tok, s, e) in enumerate(tokens):
        if _HANGUL.search(tok):
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            items += _korean_items(tok, s, e, nxt)
        else:
            prev = items[-1] if items else None
            items += _english_items(tok, s, e, prev)
    _merge_compound_directions(items)
    _mark_from(items)
    return items


def _english_items(tok: str, s: int, e: int, prev: _Item | None) -> list[_Item]:
    low = tok.lower()
    if low in V.CONJUNCTIONS and low not in V.SCOPE_ENDERS:
        return [_Item("conj", tok, s, e)]
    if tok in V.EN_ABBREVIATIONS and prev is not None and prev.text.lower() in V.EN_DIRECTION_CUES:
        return [_Item("direction", tok, s, e, compass=V.EN_ABBREVIATIONS[tok])]
    compass = _en_direction(low)
    if compass:
        return [_Item("direction", tok, s, e, compass=compass)]
    if low in V.EN_MODIFIERS:
        return [_Item("modifier", tok, s, e, weights=V.EN_MODIFIERS[low])]
    colour = _en_colour(low)
    if colour is not None:
        return [_Item("colour", tok, s, e, weights=colour)]
    attribute = _en_attribute(tok, s, e, prev)
    if attribute is not None:
        return [attribute]
    garment = _en_garment(low)
    if garment:
        return [_Item("garment", tok, s, e, garment=V.EN_GARMENTS[garment], implied=V.EN_IMPLIED.get(garment, {}))]
    if "-" in low:  # blue-grey, navy-blue, t-shirt handled above; split compound colours
        parts = [p for p in low.split("-") if p]
        colours = [_en_colour(p) for p in parts]
        if colours and all(c is not None for c in colours):
            merged: V.Weights = {}
            for c in colours:
                _union(merged, c or {})
            return [_Item("colour", tok, s, e, weights=merged)]
    if low in V.SCOPE_ENDERS:
        return [_Item("end", tok, s, e)]
    return [_Item("word", tok, s, e)]


def _en_attribute(tok: str, s: int, e: int, prev: _Item | None) -> _Item | None:
    """Objects ("rucksack", "shopping bag"), hair ("blonde", "grey-haired", "hair") and patterns ("striped")."""
    low = tok.lower()
    noun = _en_plural(low, V.EN_OBJECTS)
    if noun:
        names = V.EN_OBJECTS[noun]
        if noun == "bag" and prev is not None and prev.text.lower() in V.EN_BAG_KINDS:
            names = V.EN_BAG_KINDS[prev.text.lower()]
        return _Item("object", tok, s, e, garment=V.ACCESSORY, names=names)
    if low in V.EN_HAIR_WORDS:
        return _Item("hair", tok, s, e, attribute=V.EN_HAIR_WORDS[low])
    if low.endswith("-haired"):  # "dark-haired", "silver-haired": the colour word before says which
        colour = _en_colour(low.removesuffix("-haired")) or V.EN_COLOURS.get(low.removesuffix("-haired"))
        hair = V.HAIR_FROM_COLOUR.get(ColourTerm.of(low, colour).name) if colour else None
        return _Item("hair", tok, s, e, attribute=hair) if hair else _Item("word", tok, s, e)
    if low in V.HAIR_NOUNS_EN:
        return _Item("hairnoun", tok, s, e, garment=V.ACCESSORY)
    if low in V.EN_PATTERNS:
        return _Item("pattern", tok, s, e, attribute=V.EN_PATTERNS[low])
    return None


def _en_plural(low: str, table: dict) -> str:
    if low in table:
        return low
    for cut, add in (("ies", "y"), ("es", ""), ("s", "")):
        if low.endswith(cut) and low[: -len(cut)] + add in table:
            return low[: -len(cut)] + add
    return ""


def _en_direction(low: str) -> str:
    if low in V.EN_DIRECTIONS:
        return V.EN_DIRECTIONS[low]
    for suffix in V.EN_DIRECTION_SUFFIXES:
        if low.endswith(suffix) and low[: -len(suffix)] in V.EN_DIRECTIONS:
            return V.EN_DIRECTIONS[low[: -len(suffix)]]
    return ""


def _en_colour(low: str) -> V.Weights | None:
    if low in V.EN_COLOURS:
        return V.EN_COLOURS[low]
    for suffix in V.EN_COLOUR_SUFFIXES[:2]:
        base = low[: -len(suffix)] if low.endswith(suffix) else ""
        if base in V.EN_COLOURS and base != "dark":
            return V.EN_COLOURS[base]
        if base and base[-1:] == base[-2:-1] and base[:-1] in V.EN_COLOURS:  # reddish
            return V.EN_COLOURS[base[:-1]]
    return None


def _en_garment(low: str) -> str:
    if low in V.EN_GARMENTS:
        return low
    for cut in ("es", "s"):
        if low.endswith(cut) and low[: -len(cut)] in V.EN_GARMENTS:
            return low[: -len(cut)]
    return ""


def _korean_items(tok: str, s: int, e: int, next_token: str) -> list[_Item]:
    """Longest-match scan of a Korean word: stems at its start, or chained (검은색재킷), then particles."""
    items: list[_Item] = []
    i = 0
    while i < len(tok):
        item, length = _korean_stem(tok, i, next_token)
        if item is None:
            break
        item.text, item.start, item.end = tok[i:i + length], s + i, s + i + length
        i += length
        if item.kind == "colour":
            for skip in _KO_SKIP_AFTER_COLOUR:
                if tok.startswith(skip, i):
                    i += len(skip)
                    break
        if item.kind == "direction":
            rest = tok[i:]
            if rest.startswith(V.KO_DIRECTION_NOUN):
                rest = rest[len(V.KO_DIRECTION_NOUN):]
            item.from_ = rest.startswith(V.KO_FROM_PARTICLES)
            item.end = e
        items.append(item)
    if not items:
        low = tok
        kind = "end" if any(low.startswith(w) for w in V.SCOPE_ENDERS if _HANGUL.search(w)) else "word"
        return [_Item(kind, tok, s, e)]
    return items


def _korean_stem(tok: str, i: int, next_token: str) -> tuple[_Item | None, int]:
    best: tuple[_Item | None, int] = (None, 0)
    for length in range(min(7, len(tok) - i), 0, -1):
        stem = tok[i:i + length]
        item = _korean_lookup(stem, tok, i, length, next_token)
        if item is not None:
            return item, length
    return best


def _korean_lookup(stem: str, tok: str, i: int, length: int, next_token: str) -> _Item | None:
    if stem in V.KO_DIRECTIONS:
        return _Item("direction", stem, compass=V.KO_DIRECTIONS[stem])
    if stem in V.KO_BARE_DIRECTIONS:
        rest = tok[i + length:]
        if rest.startswith(V.KO_DIRECTION_NOUN) or (not rest and next_token.startswith(V.KO_DIRECTION_NOUN)):
            return _Item("direction", stem, compass=V.KO_BARE_DIRECTIONS[stem])
    if stem in V.KO_HAIR_WORDS:
        return _Item("hair", stem, attribute=V.KO_HAIR_WORDS[stem])
    if stem in V.KO_OBJECTS:
        if stem in V.KO_OBJECT_WHOLE_WORD_ONLY and (i != 0 or len(tok) - length > 2):
            return None
        return _Item("object", stem, garment=V.ACCESSORY, names=V.KO_OBJECTS[stem])
    if stem in V.HAIR_NOUNS_KO:
        return _Item("hairnoun", stem, garment=V.ACCESSORY)
    if stem in V.KO_PATTERNS:
        return _Item("pattern", stem, attribute=V.KO_PATTERNS[stem])
    if stem in V.KO_IMPLIED:
        return _Item("garment", stem, garment=V.KO_GARMENTS.get(stem, V.UPPER if "재킷" in stem or "자켓" in stem
                                                                  else V.LOWER), implied=V.KO_IMPLIED[stem])
    if stem in V.KO_GARMENTS:
        if stem in V.KO_WHOLE_WORD_ONLY and (i != 0 or len(tok) - length > 2):
            return None
        return _Item("garment", stem, garment=V.KO_GARMENTS[stem])
    if stem in V.KO_COLOURS:
        return _Item("colour", stem, weights=V.KO_COLOURS[stem])
    if stem in V.KO_MODIFIERS:
        # 진/연 are modifiers only when a colour follows in the same word (진파랑, 연분홍)
        rest = tok[i + length:]
        if len(stem) == 1 and not any(rest.startswith(c) for c in V.KO_COLOURS):
            return None
        return _Item("modifier", stem, weights=V.KO_MODIFIERS[stem])
    return None


def _merge_compound_directions(items: list[_Item]) -> None:
    """"north east" (two words) is NE; "north, east" is not (different clauses)."""
    i = 0
    while i + 1 < len(items):
        a, b = items[i], items[i + 1]
        if a.kind == b.kind == "direction" and a.compass in ("N", "S") and b.compass in ("E", "W"):
            a.compass, a.text, a.end = a.compass + b.compass, f"{a.text} {b.text}", b.end
            del items[i + 1]
        i += 1


def _mark_from(items: list[_Item]) -> None:
    """"coming from the north": the person moves south."""
    for i, it in enumerate(items):
        if it.kind != "direction" or it.from_:
            continue
        for back in items[max(0, i - 3): i][::-1]:
            low = back.text.lower()
            if low in V.EN_FROM_WORDS:
                it.from_ = True
                break
            if low in ("to", "towards", "toward") or back.kind in ("direction", "colour", "garment"):
                break


def _direction_spans(items: list[_Item]) -> list[tuple[int, int]]:
    """Character spans of direction phrases (with their cue words) to drop from the CLIP text."""
    spans = []
    for i, it in enumerate(items):
        if it.kind != "direction":
            continue
        start = it.start
        j = i - 1
        while j >= 0 and items[j].kind in ("word", "end") and (
                items[j].text.lower() in V.EN_DIRECTION_CUES or items[j].text.lower() in ("the", "from", "of", "in")):
            start = items[j].start
            j -= 1
        end = it.end
        if i + 1 < len(items) and items[i + 1].text.startswith(V.KO_DIRECTION_NOUN):
            end = items[i + 1].end
        spans.append((start, end))
    return spans


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    keep, pos = [], 0
    for s, e in sorted(spans):
        if s >= pos:
            keep.append(text[pos:s])
            pos = e
    keep.append(text[pos:])
    out = "".join(keep).replace("\n", ", ")
    out = re.sub(r"\s+([,;.!?])", r"\1", out)
    out = re.sub(r"([,;])(\s*[,;])+", r"\1", out)
    return " ".join(out.split()).strip(" ,;")


def _pick_direction(directions: list[_Item]) -> tuple[str | None, list[str]]:
    notes: list[str] = []
    towards = [d.compass for d in directions if not d.from_]
    away = [d.compass for d in directions if d.from_]
    if towards:
        if len(set(towards)) > 1:
            notes.append(f"several directions given ({', '.join(towards)}); using the last, {towards[-1]}")
        return towards[-1], notes
    if away:
        opposite = COMPASS_8[(COMPASS_8.index(away[-1]) + 4) % 8]
        notes.append(f"coming from the {away[-1]}: moving {opposite}")
        return opposite, notes
    return None, notes


# ---------------------------------------------------------------------------------------- assignment


def _union(into: V.Weights, more: V.Weights) -> None:
    for k, v in more.items():
        into[k] = max(into.get(k, 0.0), v)


def _assign(items: list[_Item], upper: list[ColourTerm], lower: list[ColourTerm], either: list[ColourTerm],
            ignored: list[str], attrs: _Attributes) -> None:
    pending: list[ColourTerm] = []
    building: list[_Item] = []
    last_garment = ""
    last_object: int | None = None  # index in attrs.objects of this clause's last object, for "bag: red"
    pattern: _Item | None = None  # a pattern word waiting for its garment

    def flush_building() -> None:
        term = _term_from(building)
        if term is not None:
            pending.append(term)
        building.clear()

    def attach(garment: str, terms: list[ColourTerm], noun: str) -> None:
        if garment == V.ACCESSORY:
            if terms:
                ignored.append(" ".join([t.words for t in terms] + [noun]).strip())
            return
        if garment in (V.UPPER, V.FULL):
            upper.extend(terms)
        if garment in (V.LOWER, V.FULL):
            lower.extend(terms)

    def attach_trailing(terms: list[ColourTerm]) -> None:
        """Colours after the clause's last garment ("jacket: red", "a bag, red") describe it."""
        if last_object is not None and last_garment == V.ACCESSORY:
            obj = attrs.objects[last_object]
            attrs.objects[last_object] = ObjectTerm(" ".join([obj.words, *(t.words for t in terms)]), obj.names,
                                                    (*obj.colours, *terms))
        if last_garment:
            attach(last_garment, terms, "")
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

    for it in items:
        if it.kind in ("colour", "modifier"):
            building.append(it)
            continue
        flush_building()
        if it.kind == "garment":
            terms = list(pending) or ([ColourTerm.of(f"{it.text} (implied)", it.implied)] if it.implied else [])
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
                hair = V.HAIR_FROM_COLOUR.get(t.name)
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
    if pending:
        attach_trailing(pending)


def _term_from(building: list[_Item]) -> ColourTerm | None:
    """Consecutive colour words are one colour ("navy blue", "dark blue"); a lone "dark" is a colour."""
    if not building:
        return None
    colours = [b for b in building if b.kind == "colour"]
    words = " ".join(b.text for b in building)
    if not colours:
        lone = building[-1].text.lower()
        if lone in ("dark", "어두운", "짙은"):
            return ColourTerm.of(words, V.EN_COLOURS["dark"])
        return None
    weights: V.Weights = {}
    for c in colours:
        _union(weights, c.weights)
    for m in building:
        if m.kind == "modifier":
            for k, v in m.weights.items():
                if k not in weights:
                    weights[k] = v
    return ColourTerm.of(words, weights)

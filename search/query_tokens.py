"""A clause's words as tokens: colour, modifier, garment, object, hair, pattern, direction, conjunction...

English words are looked up whole (with plural and "-ish" forms, compound colours such as "blue-grey");
Korean words are scanned longest stem first, since stems chain inside one word (검은색재킷) and particles
follow them. Each token keeps its character span in the query, so direction phrases can be cut from the
CLIP text. What the tokens mean together is :mod:`search.query_parser`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from search import vocabulary as V
from search.query_terms import ColourTerm

_EN_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*|[&+]", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KO_SKIP_AFTER_COLOUR = ("색깔", "색상", "색", "빛")


@dataclass
class Token:
    """One word (or Korean stem) and what it is; ``kind`` says which fields matter."""

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


def tokenise(clause: str, offset: int) -> list[Token]:
    """The clause's tokens in order; ``offset`` is where the clause starts in the query."""
    tokens = [(m.group(0), m.start() + offset, m.end() + offset) for m in _EN_TOKEN.finditer(clause)]
    items: list[Token] = []
    for i, (tok, s, e) in enumerate(tokens):
        if _HANGUL.search(tok):
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            items += _korean_tokens(tok, s, e, nxt)
        else:
            prev = items[-1] if items else None
            items += _english_tokens(tok, s, e, prev)
    return items


def _english_tokens(tok: str, s: int, e: int, prev: Token | None) -> list[Token]:
    low = tok.lower()
    if low in V.CONJUNCTIONS and low not in V.SCOPE_ENDERS:
        return [Token("conj", tok, s, e)]
    if tok in V.EN_ABBREVIATIONS and prev is not None and prev.text.lower() in V.EN_DIRECTION_CUES:
        return [Token("direction", tok, s, e, compass=V.EN_ABBREVIATIONS[tok])]
    compass = _en_direction(low)
    if compass:
        return [Token("direction", tok, s, e, compass=compass)]
    if low in V.EN_MODIFIERS:
        return [Token("modifier", tok, s, e, weights=V.EN_MODIFIERS[low])]
    colour = _en_colour(low)
    if colour is not None:
        return [Token("colour", tok, s, e, weights=colour)]
    attribute = _en_attribute(tok, s, e, prev)
    if attribute is not None:
        return [attribute]
    garment = _en_garment(low)
    if garment:
        return [Token("garment", tok, s, e, garment=V.EN_GARMENTS[garment], implied=V.EN_IMPLIED.get(garment, {}))]
    if "-" in low:  # blue-grey, navy-blue, t-shirt handled above; split compound colours
        parts = [p for p in low.split("-") if p]
        if len(parts) == 2 and parts[0] in V.EN_MODIFIERS and not parts[1].endswith("haired"):
            # "light-blue coat", "dark-green", "dark-blonde hair": as if written with a space
            return [Token("modifier", parts[0], s, s + len(parts[0]), weights=V.EN_MODIFIERS[parts[0]]),
                    *_english_tokens(tok[len(parts[0]) + 1:], e - len(parts[1]), e, prev)]
        colours = [_en_colour(p) for p in parts]
        if colours and all(c is not None for c in colours):
            merged: V.Weights = {}
            for c in colours:
                union_weights(merged, c or {})
            return [Token("colour", tok, s, e, weights=merged)]
    if low in V.SCOPE_ENDERS:
        return [Token("end", tok, s, e)]
    return [Token("word", tok, s, e)]


def _en_attribute(tok: str, s: int, e: int, prev: Token | None) -> Token | None:
    """Objects ("rucksack", "shopping bag"), hair ("blonde", "grey-haired", "hair") and patterns ("striped")."""
    low = tok.lower()
    noun = _en_plural(low, V.EN_OBJECTS)
    if noun:
        names = V.EN_OBJECTS[noun]
        if noun == "bag" and prev is not None and prev.text.lower() in V.EN_BAG_KINDS:
            names = V.EN_BAG_KINDS[prev.text.lower()]
        return Token("object", tok, s, e, garment=V.ACCESSORY, names=names)
    if low in V.EN_HAIR_WORDS:
        return Token("hair", tok, s, e, attribute=V.EN_HAIR_WORDS[low])
    if low.endswith("-haired"):  # "dark-haired", "silver-haired": the colour word before says which
        colour = _en_colour(low.removesuffix("-haired")) or V.EN_COLOURS.get(low.removesuffix("-haired"))
        hair = V.HAIR_FROM_COLOUR.get(ColourTerm.of(low, colour).name) if colour else None
        return Token("hair", tok, s, e, attribute=hair) if hair else Token("word", tok, s, e)
    if low in V.HAIR_NOUNS_EN:
        return Token("hairnoun", tok, s, e, garment=V.ACCESSORY)
    if low in V.EN_PATTERNS:
        return Token("pattern", tok, s, e, attribute=V.EN_PATTERNS[low])
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


def _korean_tokens(tok: str, s: int, e: int, next_token: str) -> list[Token]:
    """Longest-match scan of a Korean word: stems at its start, or chained (검은색재킷), then particles."""
    items: list[Token] = []
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
        return [Token(kind, tok, s, e)]
    return items


def _korean_stem(tok: str, i: int, next_token: str) -> tuple[Token | None, int]:
    best: tuple[Token | None, int] = (None, 0)
    for length in range(min(7, len(tok) - i), 0, -1):
        stem = tok[i:i + length]
        item = _korean_lookup(stem, tok, i, length, next_token)
        if item is not None:
            return item, length
    return best


def _korean_lookup(stem: str, tok: str, i: int, length: int, next_token: str) -> Token | None:
    if stem in V.KO_DIRECTIONS:
        return Token("direction", stem, compass=V.KO_DIRECTIONS[stem])
    if stem in V.KO_BARE_DIRECTIONS:
        rest = tok[i + length:]
        if rest.startswith(V.KO_DIRECTION_NOUN) or (not rest and next_token.startswith(V.KO_DIRECTION_NOUN)):
            return Token("direction", stem, compass=V.KO_BARE_DIRECTIONS[stem])
    if stem in V.KO_HAIR_WORDS:
        return Token("hair", stem, attribute=V.KO_HAIR_WORDS[stem])
    if stem in V.KO_OBJECTS:
        if stem in V.KO_OBJECT_WHOLE_WORD_ONLY and (i != 0 or len(tok) - length > 2):
            return None
        return Token("object", stem, garment=V.ACCESSORY, names=V.KO_OBJECTS[stem])
    if stem in V.HAIR_NOUNS_KO:
        return Token("hairnoun", stem, garment=V.ACCESSORY)
    if stem in V.KO_PATTERNS:
        return Token("pattern", stem, attribute=V.KO_PATTERNS[stem])
    if stem in V.KO_IMPLIED:
        return Token("garment", stem, garment=V.KO_GARMENTS.get(stem, V.UPPER if "재킷" in stem or "자켓" in stem
                                                                  else V.LOWER), implied=V.KO_IMPLIED[stem])
    if stem in V.KO_GARMENTS:
        if stem in V.KO_WHOLE_WORD_ONLY and (i != 0 or len(tok) - length > 2):
            return None
        return Token("garment", stem, garment=V.KO_GARMENTS[stem])
    if stem in V.KO_COLOURS:
        return Token("colour", stem, weights=V.KO_COLOURS[stem])
    if stem in V.KO_MODIFIERS:
        # 진/연 are modifiers only when a colour follows in the same word (진파랑, 연분홍)
        rest = tok[i + length:]
        if len(stem) == 1 and not any(rest.startswith(c) for c in V.KO_COLOURS):
            return None
        return Token("modifier", stem, weights=V.KO_MODIFIERS[stem])
    return None



def union_weights(into: V.Weights, more: V.Weights) -> None:
    """Each of ``more``'s weights into ``into`` where larger: colours named together widen a term."""
    for k, v in more.items():
        into[k] = max(into.get(k, 0.0), v)


"""What the query parser understood: colour, object, hair and pattern terms and the :class:`ParsedQuery`.

Each term keeps the words as typed (shown to the operator) and a language-independent ``key()``:
"남색" and "navy" are the same term, so a query is deduplicated and compared across English and Korean.
:mod:`search.query_parser` builds them; evidence, scoring and the result read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from search import vocabulary as V

CAPTION_TEMPLATE = "a photo of a person: {text}"


@dataclass(frozen=True)
class ColourTerm:
    """One colour a witness gave, as weights over the 11 basic colour names."""

    words: str  # as typed ("dark blue", "남색")
    weights: tuple[tuple[str, float], ...]  # strongest first; the named colour has weight 1
    # Denim ("blue jeans"): the term's black weight counts only as far as the reading shows a trace of its
    # named colour (search.evidence.term_evidence): dark indigo leaves some blue, black cloth none.
    dark_needs_trace: bool = False

    @classmethod
    def of(cls, words: str, weights: V.Weights, *, dark_needs_trace: bool = False) -> ColourTerm:
        ordered = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(words=words, weights=tuple((k, round(float(v), 3)) for k, v in ordered),
                   dark_needs_trace=dark_needs_trace)

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

"""Direction phrases: "walking north east", "coming from the north", "북쪽으로", "남쪽에서".

A direction is the way the person moves, so "from the north" means moving south; the phrases are cut
from the text CLIP sees, since a still crop cannot show which way someone walks.
"""

from __future__ import annotations

import re

from core.compass import COMPASS_8
from search import vocabulary as V
from search.query_tokens import Token


def merge_compound_directions(items: list[Token]) -> None:
    """"north east" (two words) is NE; "north, east" is not (different clauses)."""
    i = 0
    while i + 1 < len(items):
        a, b = items[i], items[i + 1]
        if a.kind == b.kind == "direction" and a.compass in ("N", "S") and b.compass in ("E", "W"):
            a.compass, a.text, a.end = a.compass + b.compass, f"{a.text} {b.text}", b.end
            del items[i + 1]
        i += 1


def mark_from(items: list[Token]) -> None:
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


def direction_spans(items: list[Token]) -> list[tuple[int, int]]:
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


def without_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` less the spans, with the commas and spaces they leave behind tidied."""
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


def pick_direction(directions: list[Token]) -> tuple[str | None, list[str]]:
    """The direction of movement (the last "towards" one, else opposite the last "from") and notes on it."""
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

"""Request -> compiled query: what the description, photo and "more like this" sighting ask for.

:func:`compile_query` parses the text (:mod:`search.query_parser`), finds the person in a photo
(:mod:`search.photo`), looks up a "more like this" sighting, and embeds with CLIP where CLIP is on
and the index holds vectors of the same model. The result, a :class:`CompiledQuery`, is what
:mod:`search.candidates` scores rows against; it reads no sightings beyond the "more like this" one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.schema import SightingField
from search.errors import SearchInputError
from search.photo import PhotoPerson, decode_photo, describe_person
from search.query_parser import parse_query
from search.query_terms import ParsedQuery
from search.result import Sighting
from search.scoring import Appearance, ScoringQuery
from search.search_models import SearchModels
from search.timing import StageTimer


@dataclass
class CompiledQuery:
    """A request's query part, ready to score: what was understood, and the vectors/colours to compare."""

    scoring: ScoringQuery
    parsed: ParsedQuery | None = None
    photo: PhotoPerson | None = None
    like: Sighting | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        return self.parsed.direction if self.parsed is not None else None


def compile_query(text: str, *, photo: bytes | None, photo_box: tuple[float, float, float, float] | None,
                  like: str | None, use_clip: bool, models: SearchModels, index_clip_model: Callable[[], str],
                  table_columns: Callable[[], set[str]], get_sighting: Callable[[str], Sighting],
                  timer: StageTimer,
                  get_parts: Callable[[list[str]], dict[str, np.ndarray]] | None = None) -> CompiledQuery:
    """Parse, look at the photo, look up the sighting, and embed what CLIP should embed.

    The index is asked (``index_clip_model``, ``table_columns``, ``get_sighting``) only once the
    request is known to be valid and only for what it needs: an empty query is refused without a read.
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise SearchInputError(f"the description must be text, not {type(text).__name__}")
    with timer.stage("parse"):
        parsed = parse_query(text) if text.strip() else None
    if parsed is not None and not parsed.text:
        parsed = None
    if photo is not None and len(photo) == 0:
        raise SearchInputError("the photo is empty (0 bytes)")
    if parsed is None and photo is None and not like:
        raise SearchInputError(
            "empty query: type a description (e.g. 'red jacket, black trousers, heading north'), "
            "upload a photo, or pick a sighting for 'more like this'"
        )
    q = CompiledQuery(scoring=ScoringQuery(parsed=parsed), parsed=parsed)
    if parsed is not None and parsed.has_attributes and SightingField.OBJECTS not in table_columns():
        q.warnings.append("this index was built before appearance attributes (carried objects, hair, "
                          "pattern): those words count as unknown until it is reindexed")
    want_clip = use_clip and models.clip_enabled
    index_model = index_clip_model()
    embedder = None
    if want_clip and ((parsed is not None and parsed.caption) or photo is not None):
        with timer.stage("load_clip"):
            embedder = models.clip()
        if embedder is None:
            q.warnings.append(f"CLIP unavailable ({models.clip_error() or 'not loaded'}): "
                              "matching colours, direction, time and place only")
        elif not index_model:
            q.warnings.append("the index holds no CLIP vectors yet (run `footage-search index --embeddings-only`): "
                              "matching colours, direction, time and place only")
            embedder = None
        elif index_model != embedder.identity:
            q.warnings.append(f"the index was built with CLIP {index_model} but {embedder.identity} is configured: "
                              "CLIP similarity is off for this search (reindex or change models.clip_model)")
            embedder = None
    if embedder is not None and parsed is not None and parsed.caption:
        with timer.stage("embed_text"):
            q.scoring.vectors.append(embedder.embed_texts([parsed.caption])[0])
    if photo is not None:
        with timer.stage("photo"):
            image = decode_photo(photo)
            colours = models.colours()
            person = describe_person(image, models.detector(), colours, embedder, box=photo_box)
        if person.upper is None and person.vector is None:
            raise SearchInputError("cannot search by photo: no colour-name table and no CLIP model are available")
        q.photo = person
        q.warnings.extend(person.notes)
        if person.upper is not None and person.lower is not None and person.layout is not None:
            q.scoring.references.append(Appearance(person.upper, person.lower, person.layout, person.parts))
        if person.vector is not None:
            q.scoring.vectors.append(person.vector)
    if like:
        with timer.stage("like"):
            s = get_sighting(like)
        q.like = s
        if s.upper is not None and s.lower is not None and s.layout is not None:
            parts = get_parts([s.sighting_id]).get(s.sighting_id) if get_parts is not None else None
            q.scoring.references.append(Appearance(s.upper, s.lower, s.layout, parts))
        if want_clip and s.vector is not None and index_model:
            q.scoring.vectors.append(s.vector)
    return q

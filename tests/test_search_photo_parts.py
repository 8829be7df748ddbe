"""Part colours (head / torso / legs) of several crops per sighting, and pinned sightings as more examples.

* the parts of real reference photos name what the person wears, and the grey-world correction takes most
  of a camera's colour cast back out;
* a sighting is matched by its best crop: the view that shows the person as the photo does wins over
  an averaged view (and over the first crop alone);
* rows without part colours (an index of schema 2) score exactly as before;
* a pinned sighting becomes another reference: the person's view unlike the query's comes up;
* on the real clips, photo search with parts beats colours + layout alone (bench/photo_quality.py has
  the held-out figures).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pytest

from core.vision.colours import COLOUR_NAMES, N_COLOURS, ColourNamer
from core.vision.parts import MAX_CROPS, PART_DIM, PARTS, as_crops, grey_world_gains, part_colours
from search.appearance import PartWeights, part_similarity, read_part_column
from search.engine import SearchEngine
from search.request import SearchRequest
from search.search_models import SearchModels
from tests.conftest import FOOTAGE, make_config, requires
from tests.search_fixtures import T0, Row, crop_of, grid_registry, write_index

PHOTOS = FOOTAGE / "reference_photos"
HEAD, TORSO, LEGS = range(3)


def share(dist: np.ndarray, *names: str) -> float:
    return float(sum(dist[COLOUR_NAMES.index(n)] for n in names))


# --------------------------------------------------------------------------------- real crops


@pytest.fixture(scope="module")
def photos(detector_path, colour_table_path):
    requires(PHOTOS)
    from core.vision.detector import YoloxDetector
    from search.photo import decode_photo, find_person

    det, namer = YoloxDetector(detector_path), ColourNamer(colour_table_path)
    out = {}
    for name in ("pets_f0497_woman_red_jacket.png", "towncentreA_t5.0_woman_cream_jacket_pushchair.png",
                 "pets_f0595_blonde_woman_black_coat.png"):
        image = decode_photo((PHOTOS / name).read_bytes())
        box = find_person(image, det)[0]
        out[name] = (image, box)
    return namer, out


def test_parts_of_real_photos_name_what_the_person_wears(photos):
    namer, found = photos
    image, box = found["pets_f0497_woman_red_jacket.png"]
    red = as_crops(part_colours(namer, image, box, grey_world_gains(image)))[0]
    assert red.shape == (3, N_COLOURS) and np.allclose(red.sum(axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(red[TORSO])) == COLOUR_NAMES.index("red")  # the jacket
    assert share(red[TORSO], "red") > 2 * share(red[LEGS], "red")  # ... and not the jeans
    assert share(red[LEGS], "blue", "black", "grey") > 0.5
    image, box = found["pets_f0595_blonde_woman_black_coat.png"]
    coat = as_crops(part_colours(namer, image, box, grey_world_gains(image)))[0]
    # a long black coat in the same light: dark torso, next to no red (her box, found at the photo's own
    # size, starts at her crown, so the torso band sits higher on the coat: 0.395 dark, 0.402 before)
    assert int(np.argmax(coat[TORSO])) == COLOUR_NAMES.index("black")
    assert share(coat[TORSO], "black", "grey", "blue") > 0.35
    assert share(coat[TORSO], "red") < 0.5 * share(red[TORSO], "red")


def test_grey_world_takes_a_camera_cast_back_out(photos):
    """The same photo under a warm cast (red x1.25, blue x0.8): with each image's own correction its
    parts stay closer to the original's than without any correction."""
    namer, found = photos
    image, box = found["towncentreA_t5.0_woman_cream_jacket_pushchair.png"]
    cast = np.clip(image.astype(np.float32) * np.array([0.8, 1.0, 1.25]), 0, 255).astype(np.uint8)
    plain = as_crops(part_colours(namer, image, box, grey_world_gains(image)))
    raw = as_crops(part_colours(namer, cast, box, None))
    fixed = as_crops(part_colours(namer, cast, box, grey_world_gains(cast)))
    gains = grey_world_gains(cast)
    assert gains[2] < 1.0 < gains[0]  # pulls red down and blue up

    def bc(a, b):
        return float(np.mean(np.sum(np.sqrt(a * b), axis=-1)))

    assert bc(fixed, plain) > bc(raw, plain) + 0.01


def test_grey_world_gains_are_bounded():
    green = np.zeros((40, 40, 3), dtype=np.uint8)
    green[..., 1] = 200
    green[..., 0] = green[..., 2] = 20
    assert np.all(grey_world_gains(green) <= 1.35 + 1e-6) and np.all(grey_world_gains(green) >= 1 / 1.35 - 1e-6)
    assert np.allclose(grey_world_gains(np.zeros((8, 8, 3), np.uint8)), 1.0)  # black: nothing to correct


def test_a_tiny_person_has_unmeasured_parts(colour_table_path):
    namer = ColourNamer(colour_table_path)
    frame = np.full((100, 100, 3), 128, np.uint8)
    parts = as_crops(part_colours(namer, frame, (50, 50, 52, 54)))[0]
    assert np.allclose(parts, 1.0 / N_COLOURS)  # no pixels to name: uniform, so it neither helps nor hurts


# --------------------------------------------------------------------------------- multi-crop matching


def test_read_part_column_keeps_each_rows_crops():
    rows = [np.concatenate([crop_of("black", "red", "blue"), crop_of("yellow", "black", "blue")]), None,
            crop_of("white", "white", "white"), np.zeros(5, np.float32),  # malformed: no crops
            np.concatenate([crop_of("black", "red", "blue")] * 6)]  # more than MAX_CROPS: the best 4
    col = pa.array([None if r is None else r.tolist() for r in rows], type=pa.list_(pa.float32()))
    parts, mask = read_part_column(col)
    assert parts.shape == (5, MAX_CROPS, 3, N_COLOURS)
    assert mask.tolist() == [[True, True, False, False], [False] * 4, [True, False, False, False], [False] * 4,
                             [True] * 4]
    assert np.allclose(parts[0, 1] ** 2, as_crops(rows[0])[1])  # stored square-rooted


def test_the_best_crop_of_a_sighting_meets_the_photos_view():
    """The photo shows her from behind (blonde hair, black coat); her sighting has a front crop first (a
    face, a scarf) and a back crop second. Best-of matches the back crop; the first crop alone or the
    mean of crops rank her below a dark-haired man in a black coat, seen from behind once."""
    photo = as_crops(crop_of("yellow", "black", "blue"))
    her = np.concatenate([crop_of("brown", "white", "blue"), crop_of("yellow", "black", "blue")])
    him = crop_of("black", "black", "blue")
    parts, mask = read_part_column(pa.array([her.tolist(), him.tolist()], type=pa.list_(pa.float32())))
    best = part_similarity(parts, mask, photo, PartWeights(match="best"))
    first = part_similarity(parts, mask, photo, PartWeights(match="first"))
    mean = part_similarity(parts, mask, photo, PartWeights(match="mean"))
    assert best[0] > best[1] and best[0] == pytest.approx(1.0, abs=1e-4)
    assert first[0] < first[1] and mean[0] < best[0]
    # a row with no crops has no part similarity (NaN), so its appearance is the colours' alone
    none_parts, none_mask = read_part_column(pa.array([None], type=pa.list_(pa.float32())))
    assert np.isnan(part_similarity(none_parts, none_mask, photo)).all()


# --------------------------------------------------------------------------------- engine: old rows, pins


REG = grid_registry([("C-1", "Alpha-gu", 0, 0), ("C-2", "Alpha-gu", 300, 0)])
FRONT = crop_of("brown", "white", "blue")  # her from the front: a scarf over the black coat
BACK = crop_of("yellow", "black", "blue")  # from behind: fair hair, the black coat
MAN = crop_of("black", "black", "blue")


@pytest.fixture(scope="module")
def two_views(tmp_path_factory):
    """She passes C-1 facing the camera, then C-2 twice walking away; a man in a black coat passes C-2.
    Her averaged colours are the same black coat and jeans as his, so colours alone cannot tell them apart."""
    uri = tmp_path_factory.mktemp("parts") / "index"
    rows = [
        Row("C-1", T0, T0 + 10, upper="black", lower="blue", track_id=1, extra={"part_colours": FRONT}),
        Row("C-2", T0 + 300, T0 + 310, upper="black", lower="blue", track_id=2, extra={"part_colours": BACK}),
        Row("C-2", T0 + 600, T0 + 610, upper="black", lower="blue", track_id=3, extra={"part_colours": BACK}),
        Row("C-2", T0 + 400, T0 + 410, upper="black", lower="blue", track_id=4, extra={"part_colours": MAN}),
        Row("C-2", T0 + 500, T0 + 510, upper="black", lower="blue", track_id=5),  # schema 2 row: no parts
    ]
    ids = write_index(uri, REG, rows)
    cfg = make_config(uri)
    return SearchEngine(cfg, REG, SearchModels(cfg, clip_enabled=False)), ids


def ranked(result) -> list[str]:
    return [s.sighting_id for s in result.sightings]


def test_a_pinned_sighting_expands_more_like_this(two_views):
    engine, ids = two_views
    front, back1, back2, man, old = ids
    plain = engine.search(SearchRequest(like=front, use_clip=False, include_weak=True))
    pinned = engine.search(SearchRequest(like=front, pinned=[back1], use_clip=False, include_weak=True))
    score = {s.sighting_id: s.score for s in plain.sightings}
    score_pinned = {s.sighting_id: s.score for s in pinned.sightings}
    # from her front view alone, her back view looks hardly more like her than the man does ...
    assert score[back2] < score[man] + 0.1
    # ... once an operator pins one back view of her, both back views come first, well above him
    assert set([i for i in ranked(pinned) if i != old][:2]) == {back1, back2}
    assert score_pinned[back2] > score_pinned[man] + 0.1
    # the old row without parts: its appearance is the colours' alone, pins or not
    assert score_pinned[old] == pytest.approx(score[old], abs=1e-6)


def test_rows_without_part_colours_score_as_before(two_views):
    """A schema-2 row (no part colours) gets the same appearance evidence with parts on or off."""
    engine, ids = two_views
    q = engine.compile(like=ids[0], use_clip=False)
    assert q.scoring.uses_parts
    from search.filters import SearchFilters

    with_parts = engine.find(q, SearchFilters(only_ids=(ids[4],)), include_weak=True).sightings[0]
    q.scoring.part_weights = PartWeights(parts=0.0)
    without = engine.find(q, SearchFilters(only_ids=(ids[4],)), include_weak=True).sightings[0]
    assert with_parts.score == pytest.approx(without.score, abs=1e-6)


def test_expansion_is_idempotent_and_skips_the_query_itself(two_views):
    engine, ids = two_views
    q = engine.compile(like=ids[0], use_clip=False)
    assert engine.expand(q, [ids[0], ids[1]]) == 1  # the like sighting is already the query
    assert engine.expand(q, [ids[1]]) == 0 and len(q.scoring.references) == 2


# --------------------------------------------------------------------------------- real clips


def test_photo_search_on_the_real_clips_never_loses_from_parts(real_index, real_archive):
    """The 8 reference photos through the engine (CLIP off, gate on): parts must not lower R@10 or mAP. The
    gate reads the averaged colours, or half the fused colours + parts evidence (PartWeights.gate_parts);
    part evidence alone in the gate let a passer-by in another camera through (test_search_real's
    not-in-view test). Figures before/after: bench/results/photo_quality.json."""
    from core.registry import load_registry
    from search.evaluation import parse_labels, score_ranking, tracks_of
    from tests.test_eval_cmd import real_clip_labels

    labels = json.loads((Path(__file__).parent / "data" / "search_real_labels.json").read_text(encoding="utf-8"))
    engine = SearchEngine(real_index, load_registry(real_archive / "cameras.csv"),
                          SearchModels(real_index, clip_enabled=False))
    queries = [q for q in parse_labels(real_clip_labels(labels, PHOTOS), Path("/"), engine.tz,
                                       set(engine.registry.cameras)) if q.kind == "photo"]
    assert len(queries) == 8

    def figures(weights: PartWeights) -> tuple[float, float]:
        r10, aps = [], []
        for q in queries:
            compiled = engine.compile(photo=q.request.photo, use_clip=False)
            assert compiled.scoring.uses_parts
            compiled.scoring.part_weights = weights
            from search.filters import SearchFilters

            found = engine.find(compiled, SearchFilters(), limit=100).sightings
            tracks = tracks_of(engine, found)
            _, recall, ap = score_ranking([[tracks[m] for m in s.member_ids if m in tracks] for s in found],
                                          q.intervals)
            r10.append(recall[10])
            aps.append(ap)
        return float(np.mean(r10)), float(np.mean(aps))

    before = figures(PartWeights(parts=0.0))
    after = figures(PartWeights())
    assert after[0] >= before[0] and after[1] >= before[1] - 1e-9, (before, after)
    assert after[0] >= 0.75 and after[1] >= 0.75, after


def test_parts_layout_is_head_torso_legs():
    assert list(PARTS) == ["head", "torso", "legs"] and PART_DIM == 3 * N_COLOURS
    tops = [PARTS[p][0] for p in PARTS]
    assert tops == sorted(tops)


def test_the_indexer_writes_part_colours_for_each_crop(colour_table_path):
    """indexer.sighting_rows: the best crops (by quality, at most MAX_CROPS) each give one crop's parts."""
    from core.vision.crops import crop_with_margin
    from indexer.sighting_rows import Candidate, crop_part_colours

    frame = np.full((200, 200, 3), 90, np.uint8)
    cv2.rectangle(frame, (80, 60), (120, 100), (0, 0, 220), -1)  # red torso (BGR)
    cv2.rectangle(frame, (80, 100), (120, 150), (200, 60, 0), -1)  # blue legs
    box = np.array([78, 40, 122, 155], np.float32)
    pool = [Candidate(q, float(i), box, crop_with_margin(frame, box), grey_world_gains(frame))
            for i, q in enumerate((0.2, 0.9, 0.5, 0.7, 0.1))]
    namer = ColourNamer(colour_table_path)
    crops = as_crops(crop_part_colours(pool, namer))
    assert crops.shape == (MAX_CROPS, 3, N_COLOURS)
    assert int(np.argmax(crops[0, TORSO])) == COLOUR_NAMES.index("red")
    assert int(np.argmax(crops[0, LEGS])) == COLOUR_NAMES.index("blue")
    assert crop_part_colours(pool, None) is None and crop_part_colours([], namer) is None

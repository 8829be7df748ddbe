"""Property tests: the parser and the filter builder never fail except with SearchInputError, and no text an
operator (or a camera registry) supplies ever reaches SQL unquoted."""

from __future__ import annotations

import json
import math
import re
from zoneinfo import ZoneInfo

import lancedb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.compass import COMPASS_8
from core.registry import CAMERA_ID_RE, Camera, CameraRegistry
from core.vision.colours import COLOUR_NAMES
from search import vocabulary as V
from search.errors import SearchInputError
from search.filters import build_where, make_filters, parse_direction
from search.query_parser import parse_query
from search.request import SearchRequest

KST = ZoneInfo("Asia/Seoul")
INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE sightings; --", "\\'", "''", "a\\", "Robert'); --", "\" OR 1=1",
              "1=1", "district = 'x'", "%", "_", "日本語'", "🙂'", "\u202e'", "NULL", ") OR (1=1"]
VOCAB = list(V.EN_COLOURS) + list(V.EN_GARMENTS) + list(V.EN_DIRECTIONS) + list(V.KO_COLOURS) + \
    list(V.KO_GARMENTS) + list(V.KO_DIRECTIONS) + ["heading", "from", "towards", "and", "with", "the", ",", ".",
                                                   "dark", "light", "방향", "에서", "으로", "N", "SE"]

text_any = st.text(max_size=300)
text_words = st.lists(st.one_of(st.sampled_from(VOCAB), st.text(max_size=6)), max_size=40).map(" ".join)
# Hypothesis cannot draw 10,000 characters at once: repeat a drawn chunk up to the drawn length.
text_huge = st.tuples(st.one_of(text_words, st.text(max_size=200)).filter(bool), st.integers(900, 10_000)).map(
    lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])


def check_parsed(text: str) -> None:
    try:
        p = parse_query(text)
    except SearchInputError:
        return
    assert p.direction is None or p.direction in COMPASS_8
    for term in (*p.upper, *p.lower, *p.either):
        assert term.weights and set(dict(term.weights)) <= set(COLOUR_NAMES)
        assert all(0 < w <= 1 for _, w in term.weights)
    json.dumps(p.to_dict(), ensure_ascii=False)
    assert isinstance(p.summary(), str)
    assert "\n" not in p.clip_text and len(p.clip_text) <= 2 * len(p.text)


@settings(max_examples=300, deadline=None)
@given(text_any)
def test_parser_never_fails_on_any_text(text):
    check_parsed(text)


@settings(max_examples=300, deadline=None)
@given(text_words)
def test_parser_never_fails_on_vocabulary_soup(text):
    check_parsed(text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text_huge)
def test_parser_on_huge_text_only_raises_input_error(text):
    check_parsed(text)


def test_ten_thousand_characters():
    for text in ("a" * 10_000, "빨간 재킷 " * 2_000, " " * 10_000, "\u0301" * 10_000):
        check_parsed(text)
    with pytest.raises(SearchInputError):
        parse_query("red " * 2_500)


# ---------------------------------------------------------------------------------------------- filters

LITERAL = re.compile(r"'(?:[^']|'')*'")
TOKEN = re.compile(r"\s*(?:(LIT)|([A-Za-z_][A-Za-z_0-9]*)|(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|(>=|<=|=|<|>|\(|\)|,|-))")
SQL_WORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "false", "t_start", "t_end", "day", "district", "camera_id",
             "bearing_deg", "n_detections", "sighting_id"}


def sql_literals_and_shape(sql: str) -> list[str]:
    """The literal values in ``sql``; asserts that everything outside literals is known SQL grammar."""
    literals = [m.group(0)[1:-1].replace("''", "'") for m in LITERAL.finditer(sql)]
    rest = LITERAL.sub(" LIT ", sql)
    pos = 0
    while pos < len(rest):
        if rest[pos:].strip() == "":
            break
        m = TOKEN.match(rest, pos)
        assert m and m.end() > pos, f"unexpected SQL text at {rest[pos:pos + 30]!r} in {sql!r}"
        word = m.group(2)
        assert word is None or word in SQL_WORDS, f"unexpected word {word!r} in {sql!r}"
        pos = m.end()
    return literals


district_names = st.one_of(st.sampled_from(INJECTIONS), st.text(min_size=1, max_size=20))
camera_ids = st.from_regex(CAMERA_ID_RE, fullmatch=True)


@st.composite
def registries(draw):
    ids = draw(st.lists(camera_ids, min_size=1, max_size=6, unique=True))
    districts = draw(st.lists(district_names, min_size=1, max_size=4))
    cams = {cid: Camera(cid, districts[i % len(districts)], cid, 37.5, 127.0, 0.0) for i, cid in enumerate(ids)}
    return CameraRegistry(cams, source="<hypothesis>")


@settings(max_examples=300, deadline=None)
@given(reg=registries(), data=st.data())
def test_filter_builder_quotes_every_value(reg, data):
    pick_d = data.draw(st.lists(st.one_of(st.sampled_from(reg.districts), district_names), max_size=4))
    pick_c = data.draw(st.lists(st.one_of(st.sampled_from(sorted(reg.cameras)), st.text(max_size=10)), max_size=4))
    excl = data.draw(st.lists(st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=30)), max_size=3))
    t_from = data.draw(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)))
    t_to = data.draw(st.one_of(st.none(), st.floats(min_value=1e9, max_value=2e9)))
    direction = data.draw(st.one_of(st.none(), st.sampled_from(["N", "sw", "north-east", "북동쪽", "45"]),
                                    st.text(max_size=8), st.floats(width=32)))
    tol = data.draw(st.one_of(st.none(), st.floats(width=32)))
    try:
        f = make_filters(reg, time_from=t_from, time_to=t_to, districts=pick_d, cameras=pick_c, direction=direction,
                         direction_tolerance_deg=tol, exclude_ids=excl, min_detections=data.draw(st.integers(0, 5)),
                         min_duration_s=data.draw(st.floats(0, 100)))
        sql = build_where(f, tz=KST)
    except SearchInputError:
        return
    if sql is None:
        return
    literals = sql_literals_and_shape(sql)
    # every literal is a registry value, a sighting id the caller passed, or a formatted day
    allowed = set(reg.districts) | set(reg.cameras) | set(f.exclude_ids)
    for lit in literals:
        assert lit in allowed or re.fullmatch(r"\d{4}-\d{2}-\d{2}", lit), lit
    for d in f.districts:
        assert d in literals
    for e in f.exclude_ids:
        assert e in literals


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(-10**6, 10**6)))
def test_parse_direction_only_raises_input_error(value):
    try:
        d = parse_direction(value)
    except SearchInputError:
        return
    assert d is None or (math.isfinite(d) and 0 <= d < 360)


def test_injection_strings_are_filtered_literally_by_lancedb(tmp_path):
    """The quoted SQL actually runs and matches exactly the rows with that (odd) district name."""
    names = [n for n in INJECTIONS if n.strip()]
    cams = {f"C{i}": Camera(f"C{i}", name, "x", 37.5, 127.0, 0.0) for i, name in enumerate(names)}
    reg = CameraRegistry(cams)
    db = lancedb.connect(str(tmp_path / "db"))
    rows = [{"sighting_id": f"s{i}", "camera_id": f"C{i}", "district": name, "t_start": 1.0, "t_end": 2.0,
             "day": "2026-03-14", "bearing_deg": None, "n_detections": 3} for i, name in enumerate(names)]
    schema = pa.schema([("sighting_id", pa.string()), ("camera_id", pa.string()), ("district", pa.string()),
                        ("t_start", pa.float64()), ("t_end", pa.float64()), ("day", pa.string()),
                        ("bearing_deg", pa.float32()), ("n_detections", pa.int32())])
    table = db.create_table("t", data=pa.Table.from_pylist(rows, schema=schema))
    for i, name in enumerate(names):
        sql = build_where(make_filters(reg, districts=[name], exclude_ids=["s999'--"]))
        got = table.search().where(sql).select(["sighting_id"]).to_arrow().column(0).to_pylist()
        assert got == [f"s{i}"], (name, sql)


# ----------------------------------------------------------------------------------- whole engine


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory):
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from tests.conftest import make_config
    from tests.search_fixtures import T0, Row, grid_registry, write_index

    reg = grid_registry([("A-1", "Alpha-gu", 0, 0), ("B-1", "Beta-gu", 500, 0)])
    uri = tmp_path_factory.mktemp("prop") / "index"
    write_index(uri, reg, [Row("A-1", T0, T0 + 10, upper="red", bearing=0, track_id=1),
                           Row("B-1", T0 + 50, T0 + 60, upper="blue", bearing=90, track_id=2)])
    cfg = make_config(uri)
    return SearchEngine(cfg, reg, SearchModels(cfg, clip_enabled=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(text_any, text_words), district=st.one_of(st.none(), district_names),
       direction=st.one_of(st.none(), st.text(max_size=6)), like=st.one_of(st.none(), st.sampled_from(INJECTIONS)))
def test_engine_search_only_raises_input_error(tiny_engine, text, district, direction, like):
    assume(text.strip() or like)
    req = SearchRequest(text=text, districts=[district] if district else [], direction=direction or None, like=like)
    try:
        r = tiny_engine.search(req)
    except SearchInputError:
        return
    assert r.no_result == (r.total == 0)
    json.dumps(r.to_dict(tiny_engine.tz))

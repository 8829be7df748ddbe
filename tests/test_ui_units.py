"""The console's parts without a browser: map and timeline SVG, the case report, thumbnails, handlers.

Handlers run against the real search engine over a small hand-made index (tests/search_fixtures.py),
so pinning, routing and exporting go through the same code as in the console.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from core.auth import Identity, Role
from core.registry import parse_registry
from indexer.archive import video_id_for
from tests.conftest import make_config
from tests.search_fixtures import T0, Row, grid_registry, sighting, write_index
from tests.videos import write_video
from ui.admin_tab import index_status_view, reindex
from ui.console import CaseContext, Console, ConsoleError, Session
from ui.detail import select_sighting
from ui.export_tab import build_report, export_case
from ui.formatting import duration, offset
from ui.index_panel import ReindexBusyError
from ui.map_districts import MapDataError, convex_hull, district_shapes_from_registry, load_district_geojson
from ui.map_geometry import MapStop, MapSuggestion, district_colours
from ui.map_view import render_map_svg
from ui.marks import pin_selected, reject_selected, unmark
from ui.policy import readable_error, set_case
from ui.report import CSV_COLUMNS, CaseReport, ReportLeg, ReportSighting, report_dict, to_csv, to_html, write_report
from ui.route_tab import build_route, reject_stops, search_suggestion
from ui.search_tab import change_page, clear_photo, more_like_this, run_search, upload_photo
from ui.thumbnails import ThumbnailCache, TrackPath, strip_offsets
from ui.timeline_view import TimelineStop, render_timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
TZ = ZoneInfo("Asia/Seoul")
REGISTRY = parse_registry("""camera_id,district,name,lat,lon,heading_deg
A-1,Jung-gu,Plaza north,37.5592,126.9704,120
A-2,Jung-gu,Crossing,37.5568,126.9683,5
B-1,Yongsan-gu,Station west,37.5541,126.9679,235
B-2,Yongsan-gu,Cheongpa-ro,37.5516,126.9659,30
C-1,Mapo-gu & <Ahyeon>,Manrijae-ro,37.5531,126.9624,165
F-1,Jongno-gu,Far plaza,37.5716,126.9769,100
""", source="<test>")


def jpeg(colour: tuple[int, int, int] = (128, 0, 128), size: tuple[int, int] = (40, 80)) -> bytes:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = colour
    return cv2.imencode(".jpg", img)[1].tobytes()


def svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


# ----------------------------------------------------------------------------------------------- map


def point_in_polygon(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_convex_hull_drops_inner_and_collinear_points():
    pts = [(0, 0), (2, 0), (1, 0), (2, 2), (0, 2), (1, 1)]
    hull = convex_hull(pts)
    assert sorted(hull) == [(0, 0), (0, 2), (2, 0), (2, 2)]


def test_district_outlines_contain_their_cameras_and_only_them():
    shapes = {s.district: s for s in district_shapes_from_registry(REGISTRY)}
    assert set(shapes) == set(REGISTRY.districts)
    for cam in REGISTRY:
        ring = [(lon, lat) for lat, lon in shapes[cam.district].rings[0]]
        assert point_in_polygon(cam.lon, cam.lat, ring), cam.camera_id
        far = shapes["Jongno-gu"].rings[0]
        if cam.district != "Jongno-gu":
            assert not point_in_polygon(cam.lon, cam.lat, [(lon, lat) for lat, lon in far])


def test_map_svg_has_districts_cameras_route_and_suggestions():
    stops = [MapStop(1, "A-1", "09:20:12"), MapStop(2, "A-2", "09:24:51"), MapStop(3, "B-1", "09:29:16"),
             MapStop(4, "B-1", "09:29:40")]
    svg = render_map_svg(REGISTRY, stops=stops, suggestions=[MapSuggestion("B-2", "09:31–09:40"),
                                                              MapSuggestion("F-1", "09:50–10:30")])
    root = svg_root(svg)
    assert root.tag == f"{SVG}svg"
    polygons = root.findall(f".//{SVG}polygon")
    assert {p.get("data-district") for p in polygons} == set(REGISTRY.districts)
    cams = {c.get("data-camera") for c in root.iter(f"{SVG}circle") if c.get("class") == "camera"}
    assert cams == set(REGISTRY.cameras) - {"F-1"}  # F-1 is 2 km away: off the zoomed view
    badges = [g.get("data-stop") for g in root.iter(f"{SVG}g") if g.get("class") == "route-stop"]
    assert badges == ["1", "2", "3–4"]  # consecutive stops at one camera share a badge
    legs = [line for line in root.iter(f"{SVG}line") if line.get("class") == "route-leg"]
    assert len(legs) == 2 and all(leg.get("marker-end") for leg in legs)
    assert any(c.get("class") == "suggestion" and c.get("data-camera") == "B-2" for c in root.iter(f"{SVG}circle"))
    off = [g.get("data-cameras") for g in root.iter(f"{SVG}g") if g.get("class") == "off-view"]
    assert off == ["F-1"]
    assert "F-1 (next? 2)" in svg and "09:20:12" in svg


def test_map_escapes_names_and_keeps_colours_stable():
    svg = render_map_svg(REGISTRY)
    svg_root(svg)
    assert "Mapo-gu &amp; &lt;Ahyeon&gt;" in svg and "<Ahyeon>" not in svg
    assert district_colours(REGISTRY.districts) == district_colours(list(reversed(REGISTRY.districts)))
    # without a route every camera is in view
    cams = {c.get("data-camera") for c in svg_root(svg).iter(f"{SVG}circle") if c.get("class") == "camera"}
    assert cams == set(REGISTRY.cameras)


def test_geojson_districts_load_and_bad_files_say_why(tmp_path: Path):
    good = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Jung-gu"},
         "geometry": {"type": "Polygon", "coordinates": [[[126.96, 37.55], [126.975, 37.55], [126.975, 37.562],
                                                          [126.96, 37.562], [126.96, 37.55]]]}},
        {"type": "Feature", "properties": {"district": "Yongsan-gu"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[[[126.96, 37.54], [126.97, 37.54], [126.97, 37.55],
                                                                [126.96, 37.54]]]]}},
    ]}
    p = tmp_path / "d.geojson"
    p.write_text(json.dumps(good), encoding="utf-8")
    shapes = load_district_geojson(p)
    assert [s.district for s in shapes] == ["Jung-gu", "Yongsan-gu"]
    assert shapes[0].rings[0][0] == (37.55, 126.96)  # (lat, lon) from GeoJSON's [lon, lat]
    svg_root(render_map_svg(REGISTRY, shapes=shapes))

    cases = {
        "missing.geojson": (None, "not found"),
        "bad.geojson": ("{not json", "not a GeoJSON"),
        "point.geojson": (json.dumps({"type": "FeatureCollection", "features": [
            {"properties": {"name": "X"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}]}),
            "not a (Multi)Polygon"),
        "noname.geojson": (json.dumps({"type": "FeatureCollection", "features": [
            {"properties": {}, "geometry": {"type": "Polygon", "coordinates": []}}]}), "no name property"),
        "list.geojson": ("[]", "FeatureCollection"),
    }
    for name, (text, words) in cases.items():
        f = tmp_path / name
        if text is not None:
            f.write_text(text, encoding="utf-8")
        with pytest.raises(MapDataError, match=re.escape(words)):
            load_district_geojson(f)


def test_timeline_lanes_and_merged_visits():
    stops = [TimelineStop(1, "A-1", "Jung-gu", T0, T0 + 10),
             TimelineStop(2, "B-1", "Yongsan-gu", T0 + 300, T0 + 320),
             TimelineStop(3, "B-1", "Yongsan-gu", T0 + 330, T0 + 340),
             TimelineStop(4, "A-2", "Jung-gu", T0 + 600, T0 + 610)]
    svg = render_timeline_svg(stops, REGISTRY, TZ)
    root = svg_root(svg)
    bars = [g.get("data-stop") for g in root.iter(f"{SVG}g") if g.get("class") == "timeline-stop"]
    assert bars == ["1", "2–3", "4"]
    assert "4 min 50 s" in svg  # the gap A-1 -> B-1 is labelled
    assert render_timeline_svg([], REGISTRY, TZ) == ""


# -------------------------------------------------------------------------------------------- report


def report_sighting(n: int, camera: str, t: float, role: str = "route") -> ReportSighting:
    """The search's own Sighting of a video at ``/archive/<camera>/...`` (archive root ``/archive``)."""
    rel = f"{camera}/{camera}_20260314T092000+0900.mp4"
    s = replace(sighting(camera, t, t + 12, score=0.87, track_id=3, bearing=180.0, video=video_id_for(rel)),
                sighting_id=f"vid{n}:3:0", camera_name=REGISTRY.get(camera).name,
                district=REGISTRY.get(camera).district, t_best=t + 5, video_path=f"/archive/{rel}",
                offset_start_s=30.0, offset_end_s=42.0, offset_best_s=35.5, thumbnail=b"stored, unredacted")
    return ReportSighting(sighting=s, role=role, number=n if role == "route" else None, thumbnail=jpeg())


def sample_report() -> CaseReport:
    route = [report_sighting(1, "A-1", T0), report_sighting(2, "B-1", T0 + 300)]
    return CaseReport(
        case_number="2026/SEO-0142", operator="Kim <J.>", notes="Reported missing at 09:00 by family",
        timezone="Asia/Seoul", query_text="보라색 코트, blue jeans", understood="upper=purple, lower=blue",
        filters={"Direction": "any", "Districts": "all"}, route=route,
        legs=[ReportLeg(1, 2, 288.0, 510.0)], suggestions=["B-2 Cheongpa-ro (Yongsan-gu), 300 m away: 10:05–10:09"],
        pinned=[report_sighting(9, "C-1", T0 + 900, role="pinned")], rejected_ids=["vid7:1:0"],
        reference_photo=jpeg((0, 0, 255)), map_svg=render_map_svg(REGISTRY, stops=[MapStop(1, "A-1", "x")]),
        timeline_svg="<svg></svg>", index={"CLIP model": "tiny"}, created_at=T0 + 3600)


def test_report_html_is_self_contained_printable_and_escaped():
    r = sample_report()
    html = to_html(r)
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html
    # every picture is embedded: 3 sightings + the reference photo, no external resource at all
    assert html.count('src="data:image/jpeg;base64,') == 4
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "Kim &lt;J.&gt;" in html and "Kim <J.>" not in html
    assert "2026/SEO-0142" in html and "보라색 코트" in html
    # the source file as the archive names it (camera folder and file), never the server's absolute path
    assert "<code>A-1/A-1_20260314T092000+0900.mp4</code>" in html and "/archive" not in html and offset(35.5) in html
    assert "stored, unredacted" not in html  # only the redacted pictures, never the index's thumbnail
    assert "Confirmed route (2 stops)" in html and "Where to look next" in html and duration(288) in html


def test_report_json_and_csv_carry_route_offsets_and_thumbnails(tmp_path: Path):
    r = sample_report()
    d = report_dict(r)
    assert d["format"] == "footage-search-case-report" and d["case"]["case_number"] == "2026/SEO-0142"
    assert [s["camera_id"] for s in d["route"]] == ["A-1", "B-1"]
    s0 = d["route"][0]
    assert s0["offset_best_s"] == 35.5 and s0["video_file"] == "A-1/A-1_20260314T092000+0900.mp4"
    assert "video_path" not in s0 and s0["direction"] == "S" and s0["score"] == 0.87
    assert s0["time_start"].startswith("2026-03-14") and s0["box"] == [100.0, 50.0, 140.0, 170.0]
    assert base64.b64decode(s0["thumbnail_jpeg_base64"]) == r.route[0].thumbnail
    assert d["pinned_not_on_route"][0]["camera_id"] == "C-1" and d["rejected_sighting_ids"] == ["vid7:1:0"]
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert [row["role"] for row in rows] == ["route", "route", "pinned"]
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0]["offset_best_s"] == "35.50" and rows[0]["video_file"] == "A-1/A-1_20260314T092000+0900.mp4"
    assert "video_path" not in rows[0]

    files = write_report(r, tmp_path)
    assert files.html.name.startswith("case-2026_SEO-0142-") and files.html.suffix == ".html"
    assert json.loads(files.json.read_text(encoding="utf-8"))["route"][1]["camera_id"] == "B-1"
    assert files.csv.read_text(encoding="utf-8").startswith("\ufeffcase_number,")


def test_csv_neutralises_formula_cells():
    r = sample_report()
    r.route[0] = replace(r.route[0], sighting=replace(r.route[0].sighting, camera_name="=HYPERLINK(\"http://x\")"))
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert rows[0]["camera_name"].startswith("'=")


# ---------------------------------------------------------------------------------------- thumbnails


def test_thumbnails_are_written_once_and_named_by_content(tmp_path: Path):
    cache = ThumbnailCache(tmp_path)
    a = cache.thumbnail("vid:1:0", jpeg())
    mtime = a.stat().st_mtime_ns
    assert cache.thumbnail("vid:1:0", jpeg()) == a and a.stat().st_mtime_ns == mtime
    b = cache.thumbnail("vid:1:0", jpeg((0, 255, 0)))
    assert b != a and ":" not in b.name
    assert cache.thumbnail("vid:1:0", b"") is None


def test_detail_frame_and_strip_from_the_source_video(tmp_path: Path):
    video = write_video(tmp_path / "cam" / "clip.mp4", seconds=4.0, fps=10, size=(320, 240))
    offsets = tuple(0.5 * i for i in range(7))
    boxes = tuple((10.0 + 30 * i, 80.0, 40.0 + 30 * i, 160.0) for i in range(7))
    track = TrackPath(offsets, boxes)
    assert strip_offsets(track) == [0.0, 0.5, 1.0, 2.0, 2.5, 3.0]
    cache = ThumbnailCache(tmp_path / "cache")
    d = cache.detail("vid:1:0", str(video), 1.5, boxes[3], track, label="CAM 09:00:01")
    assert d.message == "" and d.frame and d.strip
    frame, strip = cv2.imread(str(d.frame)), cv2.imread(str(d.strip))
    assert frame.shape[:2] == (240, 320) and strip.shape[0] == 200 and strip.shape[1] > 3 * 100
    # the box is drawn in amber around where the person is
    assert tuple(frame[120, 100 - 1]) != tuple(frame[120, 60])
    missing = cache.detail("vid:2:0", str(tmp_path / "gone.mp4"), 1.0, boxes[0], track)
    assert missing.frame is None and "not found" in missing.message


# ------------------------------------------------------------------------------------------ handlers

GRID = grid_registry([("G-1", "North-gu", 0, 0), ("G-2", "North-gu", 150, 0), ("G-3", "South-gu", 300, -100),
                      ("G-4", "South-gu", 2000, -2000)])


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory):
    uri = tmp_path_factory.mktemp("ui-index") / "index"
    rows = [
        Row("G-1", T0, T0 + 10, upper="purple", lower="blue", bearing=90, track_id=1),
        Row("G-2", T0 + 120, T0 + 130, upper="purple", lower="blue", bearing=90, track_id=2),
        Row("G-3", T0 + 300, T0 + 310, upper="purple", lower="blue", bearing=120, track_id=3),
        Row("G-1", T0 + 30, T0 + 40, upper="red", lower="black", bearing=270, track_id=4),
        Row("G-2", T0 + 60, T0 + 70, upper="green", lower="grey", bearing=0, track_id=5),
    ] + [Row("G-3", T0 + 400 + i, T0 + 405 + i, upper="purple", lower="black", track_id=10 + i) for i in range(5)]
    for r in rows:  # TEMP-SCHEMA
        r.extra.setdefault("hair_colour", np.zeros(11, np.float32))  # TEMP-SCHEMA
    ids = write_index(uri, GRID, rows)
    return make_config(uri), ids


def op() -> Session:
    """An operator's session with a case, as the console binds it on every event."""
    return Session(user=Identity("op", Role.OPERATOR, True, "127.0.0.1"),
                   case=CaseContext("CASE-1", "unit test of the console"))


def admin() -> Session:
    return Session(user=Identity("boss", Role.ADMIN, True, "127.0.0.1"))


@pytest.fixture
def console(small_index, tmp_path: Path) -> Console:
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    cfg, _ = small_index
    return Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache", page_size=3,
                   engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))


def test_search_shows_understanding_pages_and_thumbnails(console: Console):
    s = op()
    console.page_size = 2  # the three purple-and-blue rows make two pages
    view = run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    assert "Understood:" in view.status_html and "upper=purple" in view.status_html
    assert view.page_label == "1–2 of 3" and view.has_next and not view.has_prev
    assert len(view.gallery) == 2 and all(Path(p).is_file() for p, _ in view.gallery)
    caption = view.gallery[0][1]
    assert re.search(r"G-\d · (North|South)-gu\n2026-03-14 \d\d:\d\d:\d\d · (→[NESW]{1,2}|still) · [01]\.\d\d\n"
                     r"vid-G-\d\.mp4 @ \d\d:\d\d:\d\d\.\d", caption)
    page1 = {x.sighting_id for x in s.items}
    select_sighting(console, s, 0)
    pin_selected(console, s)
    page2 = change_page(console, s, +1)
    assert page2.has_prev and not page2.has_next and page2.page_label == "3 of 3"
    assert page1.isdisjoint(x.sighting_id for x in s.items)
    # the session keeps what it can still refer to (this page, the pinned one), not every result seen
    assert set(s.known) == {x.sighting_id for x in s.items} | set(s.pinned)


def test_a_failed_search_keeps_the_previous_query(console: Console):
    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    before = (dict(s.request), s.query_text, [x.sighting_id for x in s.items])
    with pytest.raises(Exception, match="ISO 8601"):
        run_search(console, s, "red jacket", "any", "half past nine", None, [], [])
    assert (s.request, s.query_text, [x.sighting_id for x in s.items]) == before


def test_direction_from_the_text_is_listed_with_the_filters(console: Console):
    view = run_search(console, op(), "purple top, walking east", "any", None, None, [], [])
    assert "direction E (from the description)" in view.status_html


def test_no_result_is_said_plainly(console: Console):
    view = run_search(console, op(), "yellow jacket, white trousers", None, None, None, [], [])
    assert view.no_result and view.gallery == []
    assert "fs-msg-warn" in view.status_html and "no plausible" in view.status_html.lower()


@pytest.mark.parametrize("call, words", [
    (lambda c, s: run_search(c, s, "   ", "any", None, None, [], []), "Type a description"),
    (lambda c, s: run_search(c, s, "red", "any", "yesterday noon", None, [], []), "ISO 8601"),
    (lambda c, s: run_search(c, s, "red", "any", None, None, ["Atlantis"], []), "Atlantis"),
    (lambda c, s: change_page(c, s, 1), "Run a search first"),
    (lambda c, s: more_like_this(c, s), "Click a sighting"),
    (lambda c, s: pin_selected(c, s), "Click a sighting"),
    (lambda c, s: select_sighting(c, s, 5), "no longer on the page"),
    (lambda c, s: unmark(c, s, []), "Choose a pinned"),
    (lambda c, s: build_route(c, s), "Pin at least one sighting"),
    (lambda c, s: export_case(c, s, "op", ""), "Nothing to export"),
    (lambda c, s: search_suggestion(c, s, "0"), "Build a route"),
])
def test_handler_errors_are_readable(console: Console, call, words):
    with pytest.raises(Exception) as info:
        call(console, op())
    msg = readable_error(info.value)
    assert words in msg and "Traceback" not in msg and "Something went wrong" not in msg


def test_unexpected_errors_are_logged_and_summarised(caplog):
    try:
        raise RuntimeError("boom\n  File 'x.py', line 3")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR, logger="ui.policy"):
            msg = readable_error(exc)
    assert msg.startswith("Something went wrong (RuntimeError: boom)") and "line 3" not in msg
    assert caplog.records and caplog.records[0].exc_info is not None


def test_pin_reject_route_and_export(console: Console, small_index, tmp_path: Path):
    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    by_cam = {x.camera_id: i for i, x in reversed(list(enumerate(s.items)))}
    first, last = by_cam["G-1"], by_cam["G-3"]
    detail = select_sighting(console, s, first)
    assert "G-1" in detail.info_html and "source video not found" in detail.info_html
    marks = pin_selected(console, s)
    select_sighting(console, s, last)
    marks = pin_selected(console, s)
    assert marks.summary == "Pinned: 2 · Rejected: 0" and len(marks.pinned_choices) == 2
    select_sighting(console, s, by_cam["G-2"])
    marks = reject_selected(console, s)
    assert marks.summary == "Pinned: 2 · Rejected: 1"
    marks = unmark(console, s, [marks.rejected_choices[0][1]])
    assert marks.summary == "Pinned: 2 · Rejected: 0"

    view = build_route(console, s)
    assert "fs-msg-ok" in view.status_html
    assert "Route of 3 stop(s) (2 pinned, 1 found by the search)" in view.status_html
    root = svg_root(view.map_html)
    stops = [g.get("data-camera") for g in root.iter(f"{SVG}g") if g.get("class") == "route-stop"]
    assert stops[0] == "G-1" and stops[-1] in {"G-3", "G-2"} and "G-3" in stops
    assert view.timeline_html.startswith("<svg") and "G-1" in view.stops_html
    assert "data:image/jpeg;base64," in view.stops_html  # thumbnails inline in the stop table

    # G-2 between the pins joins the route without being pinned; say the operator sees someone else there
    assert view.stop_choices
    wrong = view.stop_choices[0][1]
    marks, view = reject_stops(console, s, [wrong])
    assert wrong in s.rejected and marks.summary.endswith("Rejected: 1")
    assert wrong not in {st.sighting.sighting_id for st in s.route.stops if st.sighting is not None}
    with pytest.raises(ConsoleError, match="Choose the route stops"):
        reject_stops(console, s, [])

    set_case(console, s, "CASE-7", "missing person, unit test")
    files, msg = export_case(console, s, "Lee", "test export")
    assert "fs-msg-ok" in msg and all(p.is_file() for p in files.paths())
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert data["case"] == {"case_number": "CASE-7", "operator": "Lee", "notes": "test export",
                            "purpose": "missing person, unit test", "exported_by": "op (operator)"}
    assert data["query"]["text"] == "purple top, blue jeans" and data["query"]["filters"]["Direction"] == "any"
    assert {st["sighting_id"] for st in data["route"]} >= set(s.pinned)
    html = files.html.read_text(encoding="utf-8")
    assert "CASE-7" in html and 'id="report-map"' in html and "G-3" in html
    # no server location in any export file: not the index, not the archive (/archive/...), not the cache
    for p in files.paths():
        text = p.read_text(encoding="utf-8")
        for server_path in (console.cfg.storage.index_uri, str(Path(console.cfg.storage.index_uri).parent), "/archive",
                            str(console.cache_dir)):
            assert server_path not in text, f"{p.name} names {server_path}"
    assert data["route"][0]["video_file"].startswith("G-")  # camera folder and file name instead


def test_buttons_act_on_the_sighting_on_screen(console: Console):
    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    a, b = s.items[0].sighting_id, s.items[1].sighting_id
    select_sighting(console, s, 0)
    # the operator clicked another thumbnail, but the detail panel still shows b: Pin pins b
    pin_selected(console, s, b)
    assert s.pinned == [b] and s.selected == b
    pin_selected(console, s)  # without a shown id: the last selected
    assert s.pinned == [b]
    with pytest.raises(ConsoleError, match="no longer on screen"):
        reject_selected(console, s, "vid-gone:1:0")
    assert a not in s.rejected


def test_more_like_this_and_suggestion_search(console: Console):
    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    select_sighting(console, s, 0)
    view = more_like_this(console, s)
    assert "More like" in view.status_html and s.like_id not in {x.sighting_id for x in s.items}
    pin_selected(console, s)
    route = build_route(console, s)
    assert route.suggestion_choices
    _, request = search_suggestion(console, s, route.suggestion_choices[0][1])
    assert len(request["cameras"]) == 1 and request["time_from"] < request["time_to"]
    # the report names the search that built the route, not the later look at a suggested camera
    report = build_report(console, s, "C-1", "op", "")
    assert report.filters["Cameras"] == "all" and report.query_text == "purple top, blue jeans"


def test_reference_photo_checked_on_upload(console: Console, tmp_path: Path):
    s = op()
    bad = tmp_path / "statement.png"
    bad.write_text("this is a witness statement, not a photo", encoding="utf-8")
    with pytest.raises(Exception) as info:
        upload_photo(console, s, str(bad))
    assert "image" in readable_error(info.value).lower() and s.photo is None
    good = tmp_path / "photo.png"
    img = np.full((200, 100, 3), 200, np.uint8)
    img[40:180, 30:70] = (128, 0, 128)
    cv2.imwrite(str(good), img)
    view = upload_photo(console, s, str(good))
    assert s.photo == good.read_bytes() and view.preview and Path(view.preview).is_file()
    assert "photo.png" in view.status_html
    assert clear_photo(console, s).preview is None and s.photo is None


def test_missing_index_and_reindex_without_archive(tmp_path: Path):
    cfg = make_config(tmp_path / "no-index")
    c = Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache")
    assert "No index yet" in index_status_view(c)
    with pytest.raises(Exception) as info:
        run_search(c, op(), "red jacket", None, None, None, [], [])
    assert "no index at" in readable_error(info.value)
    with pytest.raises(FileNotFoundError, match="--archive"):
        reindex(c, admin())


def test_only_one_reindex_at_a_time(tmp_path: Path):
    cfg = make_config(tmp_path / "idx")
    (tmp_path / "archive").mkdir()
    c = Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache", archive=tmp_path / "archive")
    assert c.reindexer._lock.acquire(blocking=False)
    try:
        with pytest.raises(ReindexBusyError, match="already running"):
            reindex(c, admin())
    finally:
        c.reindexer._lock.release()


def test_index_status_lists_cameras(small_index, tmp_path: Path):
    cfg, _ = small_index
    html = index_status_view(Console(cfg=cfg, registry=GRID, cache_dir=tmp_path))
    for cid in ("G-1", "G-2", "G-3"):
        assert cid in html
    assert "fs-missing" not in html.split("G-3")[0]  # indexed cameras are not flagged


# ------------------------------------------------------------------------------------- app and CLI


def test_create_app_builds_without_an_index(tmp_path: Path):
    import gradio as gr

    from ui.app import create_app

    cfg = make_config(tmp_path / "none")
    app = create_app(cfg, REGISTRY, cache_dir=tmp_path / "cache")
    assert isinstance(app, gr.Blocks)
    app.close()


def test_cli_parses_ui_options(tmp_path: Path):
    from footage_search.cli import build_parser

    args = build_parser().parse_args(["ui", "--port", "7999", "--index", str(tmp_path), "--registry", "r.csv",
                                      "--archive", str(tmp_path)])
    assert args.command == "ui" and args.port == 7999 and args.host is None and args.registry == Path("r.csv")


def test_cli_without_registry_says_what_to_pass(tmp_path: Path, capsys):
    from footage_search.cli import main

    rc = main(["ui", "--index", str(tmp_path / "none"), "--port", "7998"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no camera registry" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ models


def missing_clip_console(small_index, tmp_path: Path) -> Console:
    """A console configured for the real CLIP model whose weights this machine does not have."""
    from search.engine import SearchEngine

    cfg, _ = small_index
    cfg = make_config(cfg.storage.index_uri, models__clip_model="ViT-B-32-SigLIP2-256",
                      models__clip_pretrained="webli", models__clip_config_path="",
                      models__cache_dir=str(tmp_path / "model-cache"))
    return Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache", engine_factory=SearchEngine)


def test_missing_clip_is_one_notice_not_a_note_under_every_result(small_index, tmp_path: Path):
    from ui.admin_tab import models_view

    c = missing_clip_console(small_index, tmp_path)
    assert c.models.start() and c.models.wait(120)
    clip = next(m for m in c.models.report if m.model == "CLIP")
    assert clip.state == "missing"
    header = c.models.header_html()
    assert "Unavailable: CLIP" in header and "colours" in header and "Index" in header
    assert "RuntimeError" not in header and "Traceback" not in header
    panel = models_view(c, op())
    assert "To fix:" in panel and "Retry loading models" in panel and "person detector: loaded" in panel
    s = op()
    view = run_search(c, s, "purple coat, blue jeans", "any", None, None, [], [])
    assert view.gallery and "CLIP unavailable" not in view.status_html and "Note:" not in view.status_html
    pin_selected(c, s, s.items[0].sighting_id)
    route = build_route(c, s)
    assert "CLIP unavailable" not in route.status_html and "Note:" not in route.status_html


def test_models_load_once_in_the_background_and_only_an_admin_retries(small_index, tmp_path: Path):
    from ui.access import AccessDenied
    from ui.admin_tab import retry_models

    c = missing_clip_console(small_index, tmp_path)
    assert "Loading the search models" in c.models.index_html() or c.models.state == "idle"
    c.models.start()
    assert c.models.loading and "Loading the search models" in c.models.header_html()
    assert not c.models.start()  # one load at a time
    c.models.wait(120)
    models = c.engine().models
    assert models.clip() is None and models.clip_error()
    # a failed CLIP load is kept: a search does not load it again
    run_search(c, op(), "purple coat", "any", None, None, [], [])
    assert c.engine().models is models
    with pytest.raises(AccessDenied, match="may not reload the models"):
        retry_models(c, op())
    assert "background" in retry_models(c, admin())
    c.models.wait(120)
    assert c.engine().models is not models and c.models.state == "ready"
    events = [json.loads(line)["event"] for line in Path(c.audit.path).read_text().splitlines()]
    assert events.count("models_retry") == 1 and "denied" in events


# ----------------------------------------------------------------------------------- console behaviour


def test_clear_form_drops_the_reference_photo(console: Console, tmp_path: Path):
    from ui.search_tab import clear_form

    s = op()
    photo = tmp_path / "girl.jpg"
    photo.write_bytes(jpeg())
    upload_photo(console, s, str(photo))
    assert s.photo is not None
    assert clear_form(console, s).preview is None and s.photo is None and s.photo_name == ""
    with pytest.raises(ConsoleError, match="Type a description"):  # the photo no longer searches on its own
        run_search(console, s, "", "any", None, None, [], [])
    run_search(console, s, "purple top", "any", None, None, [], [])
    assert s.searches[-1].kind == "describe" and s.searches[-1].photo == ""


def test_a_suggested_search_fills_the_form_and_can_be_undone(console: Console):
    from ui.search_tab import suggestion_undo

    s = op()
    run_search(console, s, "purple top, blue jeans", "any", "2026-03-14 09:00", None, ["North-gu"], [])
    pin_selected(console, s, s.items[0].sighting_id)
    route = build_route(console, s)
    form = {"direction": "E", "time_from": "2026-03-14 09:00", "time_to": "", "districts": ["North-gu"],
            "cameras": []}
    view, request = search_suggestion(console, s, route.suggestion_choices[0][1], form)
    assert "Undo suggested filters" in view.status_html and request["cameras"][0] in view.status_html
    search_suggestion(console, s, route.suggestion_choices[0][1], {"time_from": "other"})  # a second one
    assert suggestion_undo(s) == form  # the operator's own filters, not the first suggestion's
    with pytest.raises(ConsoleError, match="no suggested search to undo"):
        suggestion_undo(s)
    search_suggestion(console, s, route.suggestion_choices[0][1], form)
    run_search(console, s, "purple top", "any", None, None, [], [])  # searching with the form forgets it
    assert s.undo_filters is None


def test_the_report_lists_every_search_of_the_case(console: Console, tmp_path: Path):
    s = op()
    photo = tmp_path / "girl.jpg"
    photo.write_bytes(jpeg())
    upload_photo(console, s, str(photo))
    run_search(console, s, "", "any", None, None, [], [])  # a photo search
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], ["G-1", "G-2", "G-3"])
    change_page(console, s, 1)  # a page is not a new search
    select_sighting(console, s, 0)
    more_like_this(console, s)
    pin_selected(console, s)
    build_route(console, s)
    set_case(console, s, "CASE-1", "unit test of the console")
    files, _ = export_case(console, s, "op", "")
    data = json.loads(files.json.read_text(encoding="utf-8"))
    kinds = [e["kind"] for e in data["searches"]]
    assert kinds == ["photo", "describe", "like"]
    assert data["searches"][0]["photo"] == "girl.jpg" and data["searches"][1]["text"] == "purple top, blue jeans"
    assert data["searches"][1]["filters"]["Cameras"] == "G-1, G-2, G-3"
    html = files.html.read_text(encoding="utf-8")
    assert "Searches in this case (3)" in html and "girl.jpg" in html and "purple top, blue jeans" in html
    # a new case number starts a new history
    set_case(console, s, "CASE-2", "another case for the unit test")
    assert s.case_searches() == []


# ------------------------------------------------------------------------------------------ route


def test_next_cameras_lie_ahead_or_are_marked_behind(console: Console):
    from ui.route_tab import next_cameras

    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], ["G-1", "G-2", "G-3"])
    for cam in ("G-1", "G-2", "G-3"):  # the person walked east: G-1, then G-2, then G-3
        pin_selected(console, s, next(x.sighting_id for x in s.items if x.camera_id == cam))
    view = build_route(console, s)
    assert "Route of 3 stop(s) (3 pinned)" in view.status_html and "found" not in view.status_html.split(")")[0]
    nexts = {n.suggestion.camera_id: n.behind for n in next_cameras(console, s.route)}
    assert nexts["G-1"].startswith("behind: already passed") and nexts["G-2"].startswith("behind: already passed")
    offered = {label.split()[1] for label, _ in view.suggestion_choices}
    assert offered.isdisjoint({"G-1", "G-2"})  # never offered for a search
    assert "Behind the person (2)" in view.suggestions_html
    ahead = view.suggestions_html.split("Behind the person")[0]
    assert "G-1" not in ahead and "G-2" not in ahead
    # what Search there is given still points into the route's own list
    for _, index in view.suggestion_choices:
        assert s.route.suggestions[int(index)].camera_id in offered


def test_the_way_the_person_came_from_is_behind(console: Console):
    from search.route_result import CameraSuggestion, Route, RouteStop
    from ui.route_tab import next_cameras

    def stop(cam: str, t: float) -> RouteStop:
        return RouteStop(camera_id=cam, district="North-gu", t_start=t, t_end=t + 5, sighting=None)

    def sug(cam: str) -> CameraSuggestion:
        return CameraSuggestion(camera_id=cam, camera_name=cam, district="", distance_m=GRID.distance_m("G-2", cam),
                                bearing_deg=GRID.bearing_deg("G-2", cam), bearing_agreement=None, earliest=T0 + 200,
                                latest=T0 + 300, has_footage=False)

    # no direction of movement at the last stop: the leg G-1 -> G-2 (east) says which way is ahead
    route = Route(stops=[stop("G-1", T0), stop("G-2", T0 + 100)], districts=["North-gu"], gaps=[],
                  suggestions=[sug("G-1"), sug("G-3")], score=0.0, message="")
    marks = {n.suggestion.camera_id: n.behind for n in next_cameras(console, route)}
    assert marks["G-3"] == "" and marks["G-1"].startswith("behind")
    assert [n.suggestion.camera_id for n in next_cameras(console, route)] == ["G-3", "G-1"]


def test_suggestion_labels_do_not_cover_the_stops():
    stops = [MapStop(1, "A-1", "09:20:12"), MapStop(2, "A-2", "09:24:51"), MapStop(3, "B-1", "09:29:16")]
    # next? labels beside cameras that carry route badges, and beside each other
    svg = render_map_svg(REGISTRY, stops=stops, suggestions=[MapSuggestion("A-2", ""), MapSuggestion("B-2", ""),
                                                              MapSuggestion("A-1", "")])
    root = svg_root(svg)
    badges = [next(g.iter(f"{SVG}rect")) for g in root.iter(f"{SVG}g") if g.get("class") == "route-stop"]
    boxes = [(float(r.get("x")), float(r.get("y")), float(r.get("x")) + float(r.get("width")),
              float(r.get("y")) + 24) for r in badges]
    labels = [t for t in root.iter(f"{SVG}text") if t.get("class") == "suggestion-label"]
    assert len(labels) == 3
    placed = []
    for t in labels:
        x, y, w = float(t.get("x")), float(t.get("y")), 6.4 * len(t.text)
        x0 = {"end": x - w, "middle": x - w / 2}.get(t.get("text-anchor"), x)
        box = (x0, y - 12, x0 + w, y + 1)
        for b in boxes + placed:
            assert min(box[2], b[2]) <= max(box[0], b[0]) or min(box[3], b[3]) <= max(box[1], b[1]), (t.text, b)
        placed.append(box)


# ------------------------------------------------------------------------------------------ results


def test_captions_carry_the_date_file_and_position_and_sort_by_time(console: Console):
    from ui.search_tab import sort_results

    s = op()
    console.page_size = 10
    view = run_search(console, s, "purple top", "any", None, None, [], [])
    caption = view.gallery[0][1]
    first = s.items[0]
    assert "2026-03-14 " in caption and f"{first.video_file} @ {offset(first.offset_best_s)}" in caption
    # this index ranks ties by time; say the engine had ranked them the other way round
    s.items.reverse()
    s.ranked = ranked = [x.sighting_id for x in s.items]
    times = [x.t_start for x in s.items]
    gallery = sort_results(console, s, True)
    assert [x.t_start for x in s.items] == sorted(times) and len(gallery) == len(times)
    assert s.items[0].camera_id in gallery[0][1]  # the gallery follows the session's order (clicks map to it)
    s.items.reverse()
    change_page(console, s, 0)  # later pages and searches keep the order chosen
    assert [x.t_start for x in s.items] == sorted(times)
    s.ranked = ranked
    sort_results(console, s, False)
    assert [x.sighting_id for x in s.items] == ranked


def test_route_table_shows_date_file_and_position(console: Console):
    s = op()
    run_search(console, s, "purple top, blue jeans", "any", None, None, [], [])
    pin_selected(console, s, s.items[0].sighting_id)
    view = build_route(console, s)
    assert "File @ position" in view.stops_html and "2026-03-14 10:0" in view.stops_html
    stop = s.route.stops[0].sighting
    assert f"{stop.video_file} @ {offset(stop.offset_best_s)}" in view.stops_html


# ------------------------------------------------------------------------------------------ reindex


def test_reindex_progress_in_footage_hours_with_an_eta_then_the_failures():
    from indexer.progress import BatchSummary, FileFailure
    from ui.index_panel import ReindexProgress, reindex_progress_html

    p = ReindexProgress(started=1000.0)
    html = reindex_progress_html(p, now=1013.0)
    assert "looking for new and changed videos" in html and "13 s so far" in html and "%" not in html
    p.update(2, 8, 1800.0)  # two of eight files, half an hour of footage, after 60 s
    html = reindex_progress_html(p, now=1060.0)
    assert "2/8 files" in html and "0.50 h of footage" in html and "footage-h/min" in html
    assert "about 3 min left" in html and 'style="width:25%"' in html
    p.summary = BatchSummary(files_found=8, indexed=7, footage_s=7200.0,
                             failed=[FileFailure("/archive/G-1/bad.mp4", "cannot decode: moov atom not found")],
                             clip_error="ONNX export failed (exit code 1); see the log above")
    p.finished = 1300.0
    html = reindex_progress_html(p)
    assert "Reindex finished" in html and "5 min" in html and "fs-msg-warn" in html
    assert "1 file(s) failed" in html and "bad.mp4" in html and "moov atom not found" in html
    assert "see the log above" not in html and "server log" in html and "FAILED" not in html


def test_reindex_runs_in_the_background_audited_one_at_a_time(tmp_path: Path):
    from ui.admin_tab import reindex_view, start_reindex

    cfg = make_config(tmp_path / "idx")
    (tmp_path / "archive").mkdir()
    c = Console(cfg=cfg, registry=GRID, cache_dir=tmp_path / "cache", archive=tmp_path / "archive")
    boss = admin()
    html = start_reindex(c, boss)
    assert "Reindex running" in html
    with pytest.raises(ReindexBusyError, match="already running"):
        start_reindex(c, boss)
    for _ in range(600):
        html, running = reindex_view(c, boss)
        if not running:
            break
        time.sleep(0.1)
    assert not running and "Reindex finished" in html and "0 failed" in html
    with pytest.raises(Exception, match="may not see the reindex"):
        reindex_view(c, op())
    events = [json.loads(line)["event"] for line in Path(c.audit.path).read_text().splitlines()]
    assert events.count("reindex_start") == 2 and events.count("reindex_end") == 2  # the refused one too


def test_models_are_reported_even_without_an_index(tmp_path: Path):
    c = Console(cfg=make_config(tmp_path / "no-index"), registry=GRID, cache_dir=tmp_path / "cache")
    c.models.start()
    c.models.wait(120)
    assert c.models.state == "failed" and "no index" in c.models.error
    assert [m.model for m in c.models.report] == ["person detector", "colour-name table", "CLIP"]
    assert "Not loaded:" in c.models.index_html()

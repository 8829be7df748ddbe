"""The close look for bags on small people (indexer.attributes.CloseLook): what it finds on real footage,
how a sighting counts it, and that a small person's unseen bag stays neutral evidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.loading import load_detector
from core.video_frames import read_frames_at
from core.vision.colours import COLOUR_NAMES
from core.vision.detector import detect_frame
from indexer.attributes import NO_HEAD, ZONES, CloseLook, ObjectSeen, PointAttributes, _affinity, summarise
from search import evidence as ev
from search.query_parser import parse_query
from tests.conftest import FOOTAGE, make_config, requires

LABELS = Path(__file__).parent / "data" / "attributes_real_labels.json"


def _point(t: float, close: tuple[ObjectSeen, ...] | None, frame_bag: float = 0.0) -> PointAttributes:
    from core.vision.attributes import Texture

    box = np.array([100, 100, 130, 180], dtype=np.float32) + np.array([t * 20, 0, t * 20, 0], dtype=np.float32)
    bag = box + np.array([20, 40, 0, -20], np.float32)
    objects = (ObjectSeen("handbag", frame_bag, bag, None),) if frame_bag else ()
    return PointAttributes(box=box, head=NO_HEAD, texture=Texture(0.0, False, 0.0), objects=objects,
                           reliability=1.0, close=close)


def _bag(t: float, score: float) -> tuple[ObjectSeen, ...]:
    box = np.array([120 + t * 20, 140, 140 + t * 20, 165], dtype=np.float32)  # moves with the person
    return (ObjectSeen("handbag", score, box, np.full(11, 1 / 11, np.float32)),)


def test_a_bag_counts_over_the_frames_looked_at():
    """Two of three looks found it: presence 2/3 of the looked frames (the frames not looked at do not
    dilute it), times the mean score."""
    points = [_point(0, _bag(0, 0.3)), _point(0.5, None), _point(1, ()), _point(1.5, None), _point(2, _bag(2, 0.2))]
    bags = {o["name"]: o["confidence"] for o in summarise(points).objects}
    assert bags["handbag"] == pytest.approx(2 / 3 * 0.25)
    # the frame pass's own reading wins when it is the stronger one
    strong = [_point(t, (), frame_bag=0.5) for t in range(3)]
    assert summarise(strong).objects[0]["confidence"] == pytest.approx(0.5)
    assert summarise([_point(0, ()), _point(1, None)]).objects == []  # looked, found nothing: nothing claimed


def test_an_unseen_bag_on_a_small_person_is_neutral():
    """A 40 px person with no bag seen: the handbag term has weight 0 (neutral), and adding it to a
    description never lowers that person's score."""
    cols = ev.AttributeColumns(object_conf={"handbag": np.zeros(2, np.float32)},
                               object_colour={"handbag": np.full((2, 11), 1 / 11, np.float32)},
                               hair_colour=np.full((2, 11), 1 / 11, np.float32), hair_confidence=np.zeros(2),
                               striped=np.zeros(2), plain=np.zeros(2), reliability=np.ones(2),
                               height=np.array([40.0, 300.0], np.float32))
    term = ev.object_term(parse_query("handbag").objects[0], cols)
    assert term.weight[0] == 0.0
    upper = np.full((2, 11), 0.5 / 11, np.float32)
    upper[:, COLOUR_NAMES.index("red")] += 0.5
    lower = np.full((2, 11), 1 / 11, np.float32)
    alone = ev.description_evidence(parse_query("red jacket"), upper, lower, cols)["colour"]
    more = ev.description_evidence(parse_query("red jacket, handbag"), upper, lower, cols)["description"]
    assert more[0] >= alone[0] - 1e-6


@pytest.fixture(scope="module")
def detector(detector_path):
    return load_detector(make_config("unused", index__workers=1))


def test_close_look_finds_the_handbags_the_frame_pass_misses(detector):
    """Labelled handbag carriers in the Oxford clips (people 70-170 px high in 1280x720): the frame pass
    finds a bag in their zone on few frames, the close look on most; people without one get none."""
    people = json.loads(LABELS.read_text(encoding="utf-8"))["people"]
    close = CloseLook.of(detector)
    assert close is not None
    found = {True: [0, 0, 0], False: [0, 0, 0]}  # has a bag -> [frames, frame pass hits, close-look hits]
    for name, p in people.items():
        if not name.startswith("oxford") or "handbag" in p["objects_unsure"]:
            continue
        has = "handbag" in p["objects"]
        for clip, pts in p["points"].items():
            requires(FOOTAGE / clip)
            for (t, x, y), frame in zip(pts, read_frames_at(FOOTAGE / clip, [q[0] for q in pts]), strict=True):
                dets = detect_frame(detector, frame)
                boxes = [b for b in dets.persons.xyxy if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
                if frame is None or not boxes:
                    continue
                box = min(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
                frame_hit = any(int(c) == 26 and _affinity(ZONES["handbag"], box, o) >= 0.3
                                for o, c in zip(dets.objects.xyxy, dets.objects.class_id, strict=True))
                close.reset()
                seen = close.look(t, frame, box[None], np.array([1]), detector.long_side, None)[0]
                assert seen is not None  # everyone here is small in the frame pass's input
                found[has][0] += 1
                found[has][1] += frame_hit
                found[has][2] += bool(seen)
    with_bag, without = found[True], found[False]
    assert with_bag[0] >= 15 and without[0] >= 20
    assert with_bag[2] >= 0.5 * with_bag[0] and with_bag[2] >= 3 * max(1, with_bag[1]), found
    assert without[2] <= 0.15 * without[0], found


def test_large_people_and_recent_looks_are_skipped(detector):
    close = CloseLook.of(detector)
    frame = np.full((720, 1280, 3), 120, np.uint8)
    boxes = np.array([[100, 100, 200, 600], [400, 300, 430, 380], [600, 300, 630, 380]], np.float32)
    first = close.look(0.0, frame, boxes, np.array([1, 2, 3]), 640, None)
    assert first[0] is None and first[1] == () and first[2] == ()  # 500 px tall: the frame pass sees its bag
    again = close.look(0.5, frame, boxes, np.array([1, 2, 3]), 640, None)
    assert again == [None, None, None]  # looked at half a second ago
    assert close.look(1.0, frame, boxes, np.array([1, 2, 3]), 640, None)[1:] == [(), ()]

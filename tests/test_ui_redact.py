"""Exports blur everyone but the confirmed person: on synthetic arrays, then for real on a generated frame
of the sample city with the real detector (several passers-by around the target)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ARTIFACTS, make_config
from ui.redact import ExportRedactor, iou, redact_all_but, redact_people
from ui.report import ReportSighting


def region(img: np.ndarray, box) -> np.ndarray:
    x1, y1, x2, y2 = (round(v) for v in box)
    return img[y1:y2, x1:x2].astype(np.int16)


def changed(before: np.ndarray, after: np.ndarray, box) -> float:
    """Mean absolute change of the pixels inside ``box`` (0-255 levels)."""
    return float(np.abs(region(after, box) - region(before, box)).mean())


def colours(img: np.ndarray, box) -> int:
    return len(np.unique(region(img, box).reshape(-1, 3), axis=0))


def test_only_the_matching_box_survives():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    keep = (20.0, 40.0, 60.0, 160.0)
    people = [(22.0, 38.0, 61.0, 158.0), (100.0, 50.0, 140.0, 170.0), (200.0, 60.0, 250.0, 200.0)]
    red = redact_people(frame, keep, people)
    assert red.blurred == 2 and red.matched_iou > 0.85 and red.method == "detector"
    assert changed(frame, red.image, keep) == 0
    assert changed(frame, red.image, people[1]) > 40 and changed(frame, red.image, people[2]) > 40
    assert changed(frame, red.image, (280, 0, 320, 30)) == 0  # background without people stays
    # the detector missed the confirmed person: the confirmed box is kept all the same, everyone else goes
    red = redact_people(frame, keep, people[1:])
    assert red.blurred == 2 and red.matched_iou == 0 and changed(frame, red.image, keep) == 0
    # someone standing in front of the confirmed person: blurred, except inside the confirmed box
    front = (40.0, 60.0, 90.0, 180.0)
    red = redact_people(frame, keep, [people[0], front])
    assert red.blurred == 1 and changed(frame, red.image, keep) == 0
    assert changed(frame, red.image, (62, 60, 90, 180)) > 40


def test_without_a_detector_everything_but_the_person_is_blurred():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    keep = (100.0, 50.0, 140.0, 170.0)
    red = redact_all_but(frame, keep)
    assert red.method == "all-but-confirmed" and changed(frame, red.image, keep) == 0
    assert changed(frame, red.image, (0, 0, 90, 240)) > 40 and changed(frame, red.image, (150, 0, 320, 240)) > 40


def test_the_iou_used_to_match():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1 and iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


# ------------------------------------------------------------------------- a real generated frame


def crowded_target_frame(ground_truth: dict) -> tuple[str, float, tuple, list[tuple[str, tuple]]]:
    """The moment where the target is fully in view with the most other people clear of her."""
    best = None
    for app in ground_truth["appearances"]:
        if app["role"] != "target":
            continue
        for t, *box in app["boxes"]:
            if box[0] < 2 or box[2] > 638 or box[3] - box[1] < 60:
                continue
            others = [(o["person_id"], tuple(ob[1:])) for o in ground_truth["appearances"]
                      if o["video"] == app["video"] and o["person_id"] != "target"
                      for ob, vis in zip(o["boxes"], o["visibility"], strict=True)
                      if abs(ob[0] - t) < 1e-6 and vis >= 0.9 and ob[4] - ob[2] >= 50 and iou(tuple(ob[1:]), box) == 0]
            if best is None or len(others) > len(best[3]):
                best = (app["video"], t, tuple(box), others)
    assert best is not None and len(best[3]) >= 3, "no crowded frame with the target in the sample city"
    return best


def test_a_generated_frame_with_several_people(sample_city, detector_path, tmp_path: Path):
    from core.video_frames import read_frames_at

    gt = json.loads(Path(sample_city.ground_truth).read_text(encoding="utf-8"))
    video, t, target, others = crowded_target_frame(gt)
    path = Path(sample_city.root) / video
    frame = read_frames_at(str(path), [t])[0]
    redactor = ExportRedactor(make_config(tmp_path / "index"))
    red = redactor.redact_frame(frame, target)
    assert red.method == "detector" and red.matched_iou >= 0.5  # the detector found the target as well
    assert red.blurred >= len(others)
    assert changed(frame, red.image, target) == 0, "the confirmed person must stay as recorded"
    for person, box in others:
        assert changed(frame, red.image, box) >= 10, f"{person} at {box} was not blurred"
        # coarse blocks: a handful of flat colours where the person's details were
        assert colours(red.image, box) < 0.2 * colours(frame, box), person
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(ARTIFACTS / "redaction_before_after.png"), np.concatenate([frame, red.image], axis=0))

    # what the report gets: thumbnail and frame cut from the redacted frame (JPEG, so a little noise)
    s = ReportSighting(role="route", number=1, sighting_id="v:1:0", camera_id="JG-01", camera_name="", district="",
                       t_start=0, t_end=1, t_best=0, video_path=str(path), offset_start_s=t, offset_end_s=t,
                       offset_best_s=t, box=target, direction="S", score=0.9, thumbnail=b"unredacted")
    out = redactor.redact_sighting(s)
    assert out.people_blurred >= len(others) and "blurred" in out.redaction and out.thumbnail != b"unredacted"
    exported = cv2.imdecode(np.frombuffer(out.frame, np.uint8), cv2.IMREAD_COLOR)
    assert exported.shape == frame.shape
    for _, box in others:
        assert changed(frame, exported, box) >= 10
    inner = (target[0] + 4, target[1] + 4, target[2] - 4, target[3] - 4)  # inside the drawn box outline
    assert changed(frame, exported, inner) < 4


def test_a_missing_video_withholds_the_picture(tmp_path: Path):
    s = ReportSighting(role="route", number=1, sighting_id="v:1:0", camera_id="C", camera_name="", district="",
                       t_start=0, t_end=1, t_best=0, video_path=str(tmp_path / "moved.mp4"), offset_start_s=0,
                       offset_end_s=1, offset_best_s=0.5, box=(1, 1, 5, 5), direction="S", score=None,
                       thumbnail=b"stored thumbnail")
    out = ExportRedactor(make_config(tmp_path / "index")).redact_sighting(s)
    assert out.thumbnail == b"" and out.frame == b"" and "withheld" in out.redaction


@pytest.mark.parametrize("n_people", [1, 3])
def test_reference_photo(tmp_path: Path, detector_path, sample_city, n_people):
    from core.video_frames import read_frames_at

    gt = json.loads(Path(sample_city.ground_truth).read_text(encoding="utf-8"))
    video, t, target, _ = crowded_target_frame(gt)
    frame = read_frames_at(str(Path(sample_city.root) / video), [t])[0]
    if n_people == 1:
        x1, y1, x2, y2 = (int(v) for v in target)
        frame = np.ascontiguousarray(frame[max(0, y1 - 10): y2 + 10, max(0, x1 - 10): x2 + 10])
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    out = ExportRedactor(make_config(tmp_path / "index")).redact_photo(jpeg)
    assert (out == jpeg) is (n_people == 1)  # one person: the photo as the police gave it

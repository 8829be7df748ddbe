import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.registry import parse_registry
from indexer.archive import discover, start_from_name

REG = parse_registry(
    "camera_id,district,name,lat,lon,heading_deg\nC1,Jongno-gu,a,37.5,126.9,0\nC2,Jung-gu,b,37.6,126.95,90\n", "reg")
SEOUL = ZoneInfo("Asia/Seoul")


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * 10)
    return path


def test_start_times_from_names_sidecars_and_manifests(tmp_path: Path):
    _touch(tmp_path / "C1" / "C1_20260314T093000+0900.mp4")
    _touch(tmp_path / "C1" / "day" / "ch01_20260314_094500.mp4")  # no offset: index timezone
    _touch(tmp_path / "C1" / "odd.mkv")
    (tmp_path / "C1" / "odd.mkv.json").write_text(json.dumps({"start": "2026-03-14T01:00:00Z"}))
    _touch(tmp_path / "C2" / "clip.mp4")
    (tmp_path / "C2" / "manifest.csv").write_text("file,start\nclip.mp4,2026-03-14T10:00:00+09:00\n")
    _touch(tmp_path / "C2" / "2026-03-14_10-15-00Z.avi")
    videos, skipped = discover(tmp_path, REG, "Asia/Seoul")
    assert skipped == []
    starts = {v.rel_path: datetime.fromtimestamp(v.start_time, SEOUL).strftime("%H:%M:%S") for v in videos}
    assert starts == {
        "C1/C1_20260314T093000+0900.mp4": "09:30:00",
        "C1/day/ch01_20260314_094500.mp4": "09:45:00",
        "C1/odd.mkv": "10:00:00",
        "C2/clip.mp4": "10:00:00",
        "C2/2026-03-14_10-15-00Z.avi": "19:15:00",
    }
    assert len({v.video_id for v in videos}) == len(videos)


def test_unknown_camera_and_missing_start_are_reported_not_fatal(tmp_path: Path):
    good = _touch(tmp_path / "C1" / "C1_20260314T093000.mp4")
    _touch(tmp_path / "C9" / "C9_20260314T093000.mp4")
    _touch(tmp_path / "C1" / "no_time_here.mp4")
    _touch(tmp_path / "loose_20260314T093000.mp4")
    _touch(tmp_path / "C1" / "notes.txt")
    (tmp_path / "C2").mkdir()
    _touch(tmp_path / "C2" / "bad.mp4")
    (tmp_path / "C2" / "bad.mp4.json").write_text("{not json")
    videos, skipped = discover(tmp_path, REG, "Asia/Seoul")
    assert [v.path for v in videos] == [good.resolve()]
    reasons = {p.path.name: p.reason for p in skipped}
    assert "unknown camera 'C9'" in reasons["C9_20260314T093000.mp4"]
    assert "no recording start time" in reasons["no_time_here.mp4"]
    assert "not inside a camera folder" in reasons["loose_20260314T093000.mp4"]
    assert "sidecar bad.mp4.json" in reasons["bad.mp4"]
    assert "notes.txt" not in reasons


def test_name_parser_rejects_impossible_dates():
    assert start_from_name("cam_20261399T250000.mp4", SEOUL) is None
    assert start_from_name("cam_20260314T093000-0130.mp4", SEOUL) == datetime.fromisoformat(
        "2026-03-14T09:30:00-01:30").timestamp()

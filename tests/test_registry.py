from pathlib import Path

import pytest

from core.registry import RegistryError, UnknownCameraError, load_registry, parse_registry, write_registry

GOOD = """# demo registry
camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
JN-01,Jongno-gu,Gwanghwamun north,37.5759,126.9769,180,30,
JG-02,Jung-gu,City hall,37.5663,126.9779,90,,corner of the plaza
"""


def test_parses_cameras_with_defaults_and_notes():
    reg = parse_registry(GOOD, "cams.csv")
    assert len(reg) == 2
    jg = reg.get("JG-02")
    assert jg.district == "Jung-gu" and jg.heading_deg == 90 and jg.tilt_deg == 30 and jg.notes == "corner of the plaza"
    assert reg.districts == ["Jongno-gu", "Jung-gu"]
    # ~1.07 km between the two points, bearing roughly south
    assert 1000 < reg.distance_m("JN-01", "JG-02") < 1150
    assert 170 < reg.bearing_deg("JN-01", "JG-02") < 190


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD + "JN-01,Jongno-gu,dup,37.5,126.9,0,30,\n", "cams.csv:5: duplicate camera_id 'JN-01' (first on line 3)"),
        (GOOD + "X1,Mapo-gu,bad lat,97.5,126.9,0,30,\n", "cams.csv:5: lat '97.5' is out of range"),
        (GOOD + "X1,Mapo-gu,bad lon,37.5,east,0,30,\n", "cams.csv:5: lon 'east' is not a number"),
        (GOOD + "X1,Mapo-gu,bad heading,37.5,126.9,360,30,\n", "cams.csv:5: heading_deg '360' is out of range"),
        (GOOD + "bad id!,Mapo-gu,x,37.5,126.9,0,30,\n", "cams.csv:5: camera_id 'bad id!'"),
        (GOOD + "X1,,no district,37.5,126.9,0,30,\n", "cams.csv:5: camera 'X1' has no district"),
        (GOOD + "X1,Mapo-gu,short row\n", "cams.csv:5: expected 8 fields, found 3"),
        ("camera_id,district,name,lat,lon\nA,B,C,1,2\n", "cams.csv:1: header lacks column(s) heading_deg"),
        ("# only a comment\n", "cams.csv: empty camera registry"),
    ],
)
def test_errors_name_file_and_line(text, fragment):
    with pytest.raises(RegistryError) as err:
        parse_registry(text, "cams.csv")
    assert fragment in str(err.value)


def test_unknown_camera_names_the_registry(tmp_path: Path):
    path = tmp_path / "cameras.csv"
    path.write_text(GOOD, encoding="utf-8")
    reg = load_registry(path)
    with pytest.raises(UnknownCameraError) as err:
        reg.get("NOPE")
    assert "NOPE" in str(err.value) and str(path) in str(err.value)


def test_missing_file_is_a_registry_error(tmp_path: Path):
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "absent.csv")


def test_write_then_load_round_trips(tmp_path: Path):
    reg = parse_registry(GOOD, "x")
    write_registry(reg, tmp_path / "out.csv")
    again = load_registry(tmp_path / "out.csv")
    assert again.cameras["JN-01"] == reg.cameras["JN-01"]
    assert again.cameras["JG-02"].notes == "corner of the plaza"

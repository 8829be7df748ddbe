"""A case's state: saved atomically and owner-only beside the index, loaded back exactly, coverage merged,
marks exclusive, re-centring only forward, and bad files or case numbers give one clear error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from case.planner import Anchor, PlanParams, plan
from case.state import CASE_FILE, AnchorRecord, CaseError, Finding, Report, case_dir, cases_root, load, new_case, save
from core.config import Config, ConfigError
from core.registry import load_registry
from sample_footage.scenario import REGISTRY_PATH

REG = load_registry(REGISTRY_PATH)
T0 = 1_773_447_612.0


def _case():
    params = PlanParams(horizon_s=3600)
    anchor = Anchor.at_camera(REG, "JG-01", T0, "SW")
    state = new_case("2026-0314-07", Report("JG-01", T0, "purple coat, blue jeans", "ab" * 32, "SW", 1.0),
                     params, anchor, now=100.0)
    p = plan(REG, anchor, params)
    state.queue, state.no_footage = p.queue, p.no_footage
    return state


def test_save_and_load_resume_exactly(tmp_path: Path) -> None:
    state = _case()
    first = state.queue[0]
    state.mark_covered(first.camera_id, first.t0, first.t1)
    state.pin("s1")
    state.reject("s2")
    state.add_findings([Finding("s1", "JG-02", "Jung-gu", T0 + 280, T0 + 300, T0 + 290, 0.8, 200.0, ("s1", "s1b"))])
    state.move_to(AnchorRecord(Anchor.at_camera(REG, "JG-02", T0 + 300, 200.0), "pinned sighting", "s1", 0.8, 150.0),
                  state.queue[5:], [])
    state.set_status("stopped")
    folder = case_dir(tmp_path / "cases", state.number)
    path = save(state, folder, now=200.0)
    assert path == folder / CASE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = load(folder)
    assert again == state  # every field, floats included, comes back as it was
    assert again.anchor.camera_id == "JG-02" and again.status == "stopped" and again.updated_at == 200.0
    assert [p.name for p in folder.iterdir()] == [CASE_FILE]  # no temporary file left behind


def test_coverage_merges_and_takes_work_off_the_queue() -> None:
    state = _case()
    jg02 = sorted((w for w in state.queue if w.camera_id == "JG-02"), key=lambda w: w.t0)
    before = len(state.queue)
    state.mark_covered("JG-02", jg02[0].t0, jg02[0].t1)
    state.mark_covered("JG-02", jg02[1].t0, jg02[1].t1)  # adjacent: one span
    state.mark_covered("JG-02", jg02[1].t0 + 10, jg02[1].t1 - 10)  # inside: nothing changes
    assert state.coverage["JG-02"] == [(jg02[0].t0, jg02[1].t1)]
    assert len(state.queue) == before - 2
    # A span covered only in part stays queued: half a window is not an analysed window.
    state.mark_covered("JG-02", jg02[2].t0, jg02[2].t0 + 60)
    assert jg02[2] in state.queue
    assert state.covered_s() == pytest.approx(jg02[1].t1 - jg02[0].t0 + 60)


def test_marks_are_exclusive_and_findings_keep_the_best() -> None:
    state = _case()
    state.pin("a")
    state.reject("a")
    assert (state.pinned, state.rejected) == ([], ["a"])
    state.pin("a")
    state.pin("a")
    assert (state.pinned, state.rejected) == (["a"], [])
    found = [Finding(f"f{i}", "JG-02", "Jung-gu", T0, T0 + 5, T0 + 2, i / 100) for i in range(60)]
    state.add_findings(found)
    state.add_findings([Finding("f3", "JG-02", "Jung-gu", T0, T0 + 5, T0 + 2, 0.99)])  # re-scored higher
    ids = [f.sighting_id for f in state.findings]
    assert len(ids) == 50 and ids[0] == "f3" and "f10" not in ids and "f59" in ids


def test_recentring_only_forward_and_status_checked() -> None:
    state = _case()
    with pytest.raises(CaseError, match="earlier"):
        state.move_to(AnchorRecord(Anchor.at_camera(REG, "JG-02", T0 - 1), "confident sighting"), [], [])
    with pytest.raises(CaseError, match="status 'paused'"):
        state.set_status("paused")


def test_bad_case_numbers_and_files(tmp_path: Path) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65):
        with pytest.raises(CaseError, match="case number"):
            case_dir(tmp_path, bad)
    with pytest.raises(CaseError, match="not found"):
        load(tmp_path / "nope")
    folder = tmp_path / "c1"
    folder.mkdir()
    (folder / CASE_FILE).write_text("{not json")
    with pytest.raises(CaseError, match="cannot read"):
        load(folder)
    data = _case().to_json()
    data["format_version"] = 99
    (folder / CASE_FILE).write_text(json.dumps(data))
    with pytest.raises(CaseError, match="format 99"):
        load(folder)
    del data["queue"]
    data["format_version"] = 1
    (folder / CASE_FILE).write_text(json.dumps(data))
    with pytest.raises(CaseError, match="not a readable case file"):
        load(folder)


def test_cases_live_beside_the_index(tmp_path: Path) -> None:
    cfg = Config().with_overrides({"storage.index_uri": str(tmp_path / "idx" / "index.lance")})
    assert cases_root(cfg) == (tmp_path / "idx" / "cases").resolve()
    assert cases_root(cfg, str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"
    with pytest.raises(ConfigError, match="cases folder"):
        cases_root(cfg.with_overrides({"storage.index_uri": "s3://bucket/index"}))

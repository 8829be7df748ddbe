"""Case mode end to end on the demo city: follow the target, rejections, kill -9 and resume, the CLI.

The report is the demo city's first route stop (JG-01, the moment she leaves its view) and her
description; the case must find her at JG-02 next and follow her to MP-01, analysing windows of the
archive only (never whole files it does not need).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lancedb
import pytest

from case.cli import _purpose
from case.planner import PlanParams
from case.runner import CaseRunner
from case.state import Report, case_dir, cases_root, load
from core.audit import audit_log_path
from core.errors import UserError
from core.schema import SIGHTINGS
from tests.conftest import MODELS, REPO, TINY_CLIP, TINY_CLIP_CONFIG, make_config

TEXT = "Woman, long black hair, purple coat, blue jeans, black shoulder bag"
PURPOSE = "test of case mode on the demo city"
SETTINGS = {"models.models_dir": str(MODELS), "models.allow_download": "false", "models.clip_model": TINY_CLIP,
            "models.clip_pretrained": "random-init", "models.clip_config_path": str(TINY_CLIP_CONFIG),
            "index.workers": "1"}


def _truth(city) -> dict:
    return json.loads(Path(city.ground_truth).read_text(encoding="utf-8"))


def _report(city) -> Report:
    first = _truth(city)["route"][0]
    return Report(first["camera_id"], first["t_exit_epoch"], TEXT, hours=0.5)


def _params() -> PlanParams:
    return PlanParams(horizon_s=1800, window_s=300, min_window_s=60)


def _cli(*args: str, index: Path) -> subprocess.CompletedProcess:
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]
    return subprocess.run([sys.executable, "-m", "footage_search.cli", *sets, "case", *args, "--index", str(index)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def _start_args(city, number: str) -> list[str]:
    r = _report(city)
    return ["start", "--camera", r.camera_id, "--at", str(_truth(city)["route"][0]["t_exit"]), "--text", TEXT,
            "--archive", str(city.archive), "--registry", str(city.registry), "--hours", "0.5", "--window-min", "5",
            "--case", number, "--purpose", PURPOSE, "--no-clip"]


@pytest.fixture(scope="module")
def followed(sample_city, tmp_path_factory, detector_path, colour_table_path):
    """One uninterrupted case over the demo city, run to the end."""
    cfg = make_config(tmp_path_factory.mktemp("case") / "index")
    runner = CaseRunner.open(cfg, sample_city.registry, sample_city.archive, "C-1", _report(sample_city), PURPOSE,
                             _params(), use_clip=False)
    snaps = []
    runner.run(on_progress=snaps.append)
    return cfg, runner, snaps


# -- fast -----------------------------------------------------------------------------------------------
def test_case_commands_need_a_case_number_and_a_purpose():
    with pytest.raises(UserError, match="at least 10 characters"):
        _purpose("short", required=True)
    with pytest.raises(UserError, match="one line"):
        _purpose("missing person\x07 reported at noon", required=True)
    assert _purpose("  missing   person reported at noon ", required=True) == "missing person reported at noon"


# -- slow: the demo city is indexed window by window ----------------------------------------------------
def test_case_finds_the_next_stop_and_follows_the_route(followed, sample_city):
    cfg, runner, snaps = followed
    truth = [leg["camera_id"] for leg in _truth(sample_city)["route"]]
    anchors = runner.state.anchors
    assert anchors[0].reason == "report" and anchors[1].anchor.camera_id == truth[1]
    assert [a.anchor.camera_id for a in anchors] == truth  # re-centred on every stop, in order
    assert all(a.anchor.t > b.anchor.t for a, b in zip(anchors[1:], anchors, strict=False))
    route = runner.route()
    assert route.cameras == truth
    assert runner.state.status == "done" and not runner.state.queue
    assert snaps[-1].windows_done == runner.state.windows_done > 0
    assert [s.windows_done for s in snaps] == sorted(s.windows_done for s in snaps)
    events = [json.loads(line)["event"] for line in
              audit_log_path(cfg).read_text().splitlines()
              if json.loads(line).get("case") == "C-1"]
    assert events[0] == "case_start" and "case_window" in events and "case_recentre" in events


def test_a_rejected_sighting_never_recentres(followed, sample_city):
    cfg, first, _ = followed
    stop2 = first.state.anchors[1].sighting_id
    runner = CaseRunner.open(cfg, sample_city.registry, sample_city.archive, "C-2", _report(sample_city), PURPOSE,
                             _params(), use_clip=False)
    runner.state.reject(stop2)
    runner.run()
    assert stop2 not in {a.sighting_id for a in runner.state.anchors}
    assert stop2 not in {f.sighting_id for f in runner.state.findings}
    assert runner.state.windows_done > 0 and runner.state.status == "done"


def test_kill_9_then_resume_equals_an_uninterrupted_case(followed, sample_city, tmp_path: Path):
    _, clean, _ = followed
    index = tmp_path / "index"
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.Popen([sys.executable, "-m", "footage_search.cli", *sets, "case",
                             *_start_args(sample_city, "K-1"), "--index", str(index)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    folder = case_dir(cases_root(make_config(index)), "K-1")
    killed = False
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            done = json.loads((folder / "case.json").read_text())["windows_done"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait()
    assert killed, proc.stdout.read().decode()[-2000:] if proc.stdout else "not killed"
    assert load(folder).status == "running"
    resumed = _cli("resume", "K-1", index=index)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state = load(folder)
    assert state.status == "done"
    assert state.coverage == clean.state.coverage
    assert sorted(f.sighting_id for f in state.findings) == sorted(f.sighting_id for f in clean.state.findings)
    assert [a.anchor.camera_id for a in state.anchors] == [a.anchor.camera_id for a in clean.state.anchors]
    ids = lancedb.connect(str(index)).open_table(SIGHTINGS).to_arrow().column("sighting_id").to_pylist()
    assert len(ids) == len(set(ids))  # no sighting stored twice


def test_route_json_status_and_stop_from_the_cli(followed, sample_city):
    cfg, runner, _ = followed
    index = Path(cfg.storage.index_uri)
    out = _cli("route", "C-1", "--no-clip", "--json", index=index)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert data["case"] == "C-1" and data["status"] == "done"
    truth = [leg["camera_id"] for leg in _truth(sample_city)["route"]]
    assert data["route"]["cameras"] == truth
    stops = data["route"]["stops"]
    assert stops[0]["is_start"] and all(s["sighting"]["sighting_id"] for s in stops[1:])
    status = json.loads(_cli("status", "C-1", "--json", index=index).stdout)
    assert status["windows_done"] == runner.state.windows_done and status["anchors"][1]["camera_id"] == truth[1]
    # stop: a case asked to stop ends before its next window and says so
    again = CaseRunner.open(cfg, sample_city.registry, sample_city.archive, "C-3", _report(sample_city), PURPOSE,
                            _params(), use_clip=False)
    assert _cli("stop", "C-3", index=index).returncode == 0
    assert (case_dir(cases_root(cfg), "C-3") / "STOP").exists()
    snap = again.run()
    assert snap.status == "stopped" and snap.windows_done == 0
    assert json.loads(_cli("status", "C-3", "--json", index=index).stdout)["status"] == "stopped"
    bad = _cli(*_start_args(sample_city, "C-4")[:-3], "--purpose", "short", index=index)
    assert bad.returncode == 2 and "at least 10 characters" in bad.stderr and bad.stderr.count("\n") == 1


def test_pin_and_reject_from_the_cli_apply_now_or_reach_the_running_case(followed, sample_city):
    from case import marks
    from case.state import CaseError

    cfg, runner, _ = followed
    index = Path(cfg.storage.index_uri)
    followed_ids = {a.sighting_id for a in runner.state.anchors}
    stored = lancedb.connect(str(index)).open_table(SIGHTINGS).to_arrow().column("sighting_id").to_pylist()
    other = next(sid for sid in sorted(stored) if sid not in followed_ids)  # found by a search, not by the case
    # no process runs C-1: the mark is applied to the case file at once and audited
    out = _cli("reject", "C-1", other, "--purpose", PURPOSE, index=index)
    assert out.returncode == 0, out.stderr[-2000:]
    status = json.loads(_cli("status", "C-1", "--json", index=index).stdout)
    assert other in status["rejected"] and other not in [b["sighting_id"] for b in status["best"]]
    assert _cli("pin", "C-1", other, index=index).returncode == 0
    status = json.loads(_cli("status", "C-1", "--json", index=index).stdout)
    assert other in status["pinned"] and other not in status["rejected"]
    events = [json.loads(line) for line in audit_log_path(cfg).read_text(encoding="utf-8").splitlines()]
    marked = [e for e in events if e.get("event") in ("case_pin", "case_reject") and e.get("case") == "C-1"]
    assert [e["event"] for e in marked[-2:]] == ["case_reject", "case_pin"]
    # an id that is not in the index is refused in one line, and nothing is marked
    bad = _cli("pin", "C-1", "nosuchvideo@0:1:0", index=index)
    assert bad.returncode == 2 and "unknown sighting" in bad.stderr and bad.stderr.count("\n") == 1
    assert load(case_dir(cases_root(cfg), "C-1")).pinned == status["pinned"]

    # C-6 is running (its process holds the case): the mark waits in MARKS and is taken in before its next window
    again = CaseRunner.open(cfg, sample_city.registry, sample_city.archive, "C-6", _report(sample_city), PURPOSE,
                            _params(), use_clip=False)
    folder = case_dir(cases_root(cfg), "C-6")
    with marks.hold_running(folder):
        out = _cli("reject", "C-6", other, index=index)
        assert out.returncode == 0 and "before its next window" in out.stdout, out.stderr[-2000:]
        assert load(folder).rejected == [] and (folder / marks.MARKS_FILE).read_text(encoding="utf-8").strip()
        with pytest.raises(CaseError, match="already running"):
            again.run(max_steps=1)  # a second process may not run the same case
    again.run(max_steps=1)
    assert load(folder).rejected == [other] and marks.take(folder) == []

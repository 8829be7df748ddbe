"""The console's "Case from a report" handlers (ui/case_tab.py), called directly as the page's events do.

Fast: every report the handlers refuse, with the one line the operator reads. Slow: cases on the demo city
(tests/conftest.py ``sample_city``), run by the console in its background thread: results and progress
arrive while it runs, a second case is refused, Stop ends it, "analyse now" puts a window at the front of
the queue (or indexes it at once when no case runs), pin and reject reach the runner, all audited.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.auth import Identity, Role
from core.registry import load_registry
from search.route_result import CameraSuggestion
from tests.conftest import make_config
from ui.access import AccessDenied
from ui.case_tab import CaseDesk, analyse_suggestion, case_view, mark_finding, poll_case, start_case, stop_case
from ui.console import CaseContext, Console, ConsoleError, Session

OPERATOR = Identity("lee", Role.OPERATOR, True, "10.0.0.21")
TEXT = "Woman, long black hair, purple coat, blue jeans, black shoulder bag"
PURPOSE = "missing woman reported near JG-01, console case test"


def _truth(city) -> dict:
    return json.loads(Path(city.ground_truth).read_text(encoding="utf-8"))


def _session(number: str = "C-100") -> Session:
    return Session(user=OPERATOR, case=CaseContext(number, PURPOSE))


def _records(console: Console) -> list[dict]:
    assert console.audit is not None
    return [json.loads(line) for line in console.audit.path.read_text(encoding="utf-8").splitlines()]


def _wait(desk: CaseDesk, timeout_s: float = 600.0) -> None:
    job = desk.job
    assert job is not None
    job.thread.join(timeout_s)
    assert not job.running, "the case did not end in time"


def _report_args(city) -> dict:
    first = _truth(city)["route"][0]
    return {"camera": first["camera_id"], "at": first["t_exit"], "text": TEXT, "direction": "any", "hours": 0.5}


# ------------------------------------------------------------------------------------------ fast

@pytest.fixture
def small_console(tmp_path: Path) -> Console:
    registry = load_registry(Path(__file__).parent.parent / "sample_footage" / "cameras.csv")
    cfg = make_config(tmp_path / "index", audit__log_path=str(tmp_path / "audit.jsonl"),
                      auth__users_file=str(tmp_path / "users.json"))
    (tmp_path / "archive").mkdir()
    return Console(cfg=cfg, registry=registry, cache_dir=tmp_path / "cache", archive=tmp_path / "archive")


@pytest.mark.parametrize(("args", "words"), [
    ({"camera": None}, "Choose the camera"),
    ({"at": "yesterday morning"}, "give a local date and time"),
    ({"hours": 0}, "more than 0"),
    ({"hours": "lots"}, "more than 0"),
    ({"text": " "}, "Describe the person"),
    ({"use_photo": True}, "no reference photo"),
])
def test_a_bad_report_is_refused_in_one_line(small_console: Console, args: dict, words: str):
    report = {"camera": "JG-01", "at": "2026-03-14 09:20:30", "text": TEXT, "direction": "any", "hours": 1.0,
              **args}
    with pytest.raises(ConsoleError, match=words) as err:
        start_case(CaseDesk(small_console), _session(), **report)
    assert "\n" not in str(err.value)


def test_a_case_needs_the_archive_a_case_and_a_folder_safe_number(small_console: Console):
    report = {"camera": "JG-01", "at": "2026-03-14 09:20:30", "text": TEXT, "direction": "any", "hours": 1.0}
    with pytest.raises(ConsoleError, match="case number and purpose"):
        start_case(CaseDesk(small_console), Session(user=OPERATOR), **report)
    with pytest.raises(AccessDenied, match="not signed in"):
        start_case(CaseDesk(small_console), Session(case=CaseContext("C-1", PURPOSE)), **report)
    with pytest.raises(ConsoleError, match="no spaces"):
        start_case(CaseDesk(small_console), _session("2026 SEO 0142"), **report)
    small_console.archive = None
    with pytest.raises(ConsoleError, match="--archive"):
        start_case(CaseDesk(small_console), _session(), **report)
    assert "--archive" in case_view(CaseDesk(small_console), _session()).status_html
    with pytest.raises(ConsoleError, match="No case is running"):
        stop_case(CaseDesk(small_console), _session())


# ------------------------------------------------------------------------------------------ slow

@pytest.fixture(scope="module")
def city_console(sample_city, tmp_path_factory, detector_path, colour_table_path) -> Console:
    """A console over the demo city's archive and a fresh index that only its cases fill."""
    root = tmp_path_factory.mktemp("case-console")
    cfg = make_config(root / "index", audit__log_path=str(root / "audit.jsonl"),
                      auth__users_file=str(root / "users.json"))
    return Console(cfg=cfg, registry=load_registry(sample_city.registry), cache_dir=root / "cache",
                   archive=sample_city.archive)


def _clip(city, camera: str) -> dict:
    return next(c for c in _truth(city)["clips"] if c["camera_id"] == camera)


def _suggestion(city, camera: str) -> CameraSuggestion:
    clip = _clip(city, camera)
    return CameraSuggestion(camera, camera, "", 0.0, 0.0, None, clip["start_epoch"], clip["end_epoch"], False)


@pytest.mark.slow
def test_stop_ends_a_running_case_after_its_window(city_console: Console, sample_city):
    desk = CaseDesk(city_console)
    view = start_case(desk, _session("C-STOP"), **_report_args(sample_city))
    assert view.running and 'id="fs-case-progress"' in view.progress_html
    stopped = stop_case(desk, _session("C-STOP"))
    assert "Stopping" in stopped.status_html
    _wait(desk)
    done = poll_case(desk, _session("C-STOP"))
    assert not done.running and 'data-status="stopped"' in done.progress_html
    assert desk.job is not None and desk.job.runner.state.windows_done <= 1
    events = [r["event"] for r in _records(city_console) if r.get("case") == "C-STOP"]
    assert events[0] == "case_start" and "case_stop_asked" in events and events[-1] == "case_stop"


@pytest.mark.slow
def test_a_case_runs_in_the_background_and_results_arrive(city_console: Console, sample_city):
    desk = CaseDesk(city_console)
    sess = _session("C-RUN")
    first = start_case(desk, sess, **_report_args(sample_city))
    assert first.running
    # one case at a time on a console
    with pytest.raises(ConsoleError, match="one case at a time"):
        start_case(desk, _session("C-OTHER"), **_report_args(sample_city))
    # "analyse now" while it runs: the window goes to the front of the queue, after the window in progress.
    # Her next stop (a later one would move the case past the stops between: it follows her forward in time).
    assert desk.job is not None and desk.job.runner.state.queue[0].camera_id != "JG-02"
    msg = analyse_suggestion(desk, sess, SimpleNamespace(suggestions=[_suggestion(sample_city, "JG-02")]), "0")
    assert "next in case C-RUN" in msg
    assert desk.job.runner.state.queue[0].camera_id == "JG-02"
    seen = []
    while desk.job.running:
        seen.append(poll_case(desk, sess))
        time.sleep(0.5)
    _wait(desk)
    last = poll_case(desk, sess)
    assert not last.running and 'data-status="done"' in last.progress_html
    assert len({v.progress_html for v in seen}) > 1  # the progress moved while the case ran
    truth = [leg["camera_id"] for leg in _truth(sample_city)["route"]]
    assert last.gallery and all(Path(p).is_file() for p, _ in last.gallery)
    shown_cameras = {c.split(" · ")[0].removeprefix("PINNED · ") for _, c in last.gallery}
    assert set(truth[1:]) <= shown_cameras
    assert all(cam in last.route_html for cam in truth)  # the route through the case's findings
    windows = [r for r in _records(city_console) if r.get("case") == "C-RUN" and r["event"] == "case_window"]
    assert "JG-02" in [w["details"]["camera"] for w in windows[:2]]
    assert windows[0]["user"] == "lee"

    # reject one, pin another: the runner's state and the session's marks follow, both audited
    reject, pin = last.gallery_ids[-1], last.gallery_ids[0]
    after = mark_finding(desk, sess, reject, pinned=False)
    assert reject not in after.gallery_ids and reject in desk.job.runner.state.rejected
    after = mark_finding(desk, sess, pin, pinned=True)
    assert after.gallery[0][1].startswith("PINNED") and desk.job.runner.state.pinned == [pin]
    assert sess.pinned == [pin] and sess.rejected == [reject] and pin in sess.known
    with pytest.raises(ConsoleError, match="Click one of the case's sightings"):
        mark_finding(desk, sess, "not-a-finding", pinned=True)
    marks = [(r["event"], r["details"]["sighting_id"]) for r in _records(city_console)
             if r.get("case") == "C-RUN" and r["event"] in ("case_pin", "case_reject")]
    assert marks == [("case_reject", reject), ("case_pin", pin)]


@pytest.mark.slow
def test_analyse_now_without_a_case_indexes_the_window_at_once(city_console: Console, sample_city):
    desk = CaseDesk(city_console)
    sess = _session("C-ONEOFF")
    # the double's clip at JN-01 is out of the cases' reach (2 km away): nothing has analysed it yet
    route = SimpleNamespace(suggestions=[_suggestion(sample_city, "JN-01")])
    msg = analyse_suggestion(desk, sess, route, "0")
    assert "analysed" in msg and "sighting(s) added" in msg and "fs-msg-ok" in msg
    again = analyse_suggestion(desk, sess, route, "0")
    assert "analysed 0 s" in again  # the index's coverage: never analysed twice
    rec = [r for r in _records(city_console) if r["event"] == "analyse_now" and r.get("case") == "C-ONEOFF"]
    assert rec[0]["user"] == "lee" and rec[0]["purpose"] == PURPOSE and rec[0]["details"]["camera"] == "JN-01"
    assert rec[0]["details"]["analysed_s"] > 0 and rec[1]["details"]["analysed_s"] == 0
    indexed = route.suggestions[0]
    with pytest.raises(ConsoleError, match="indexed already"):
        analyse_suggestion(desk, sess, SimpleNamespace(suggestions=[CameraSuggestion(
            **{**indexed.__dict__, "has_footage": True})]), "0")
    with pytest.raises(ConsoleError, match="out of date"):
        analyse_suggestion(desk, sess, route, "3")

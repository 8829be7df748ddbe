"""The clip player on the real shared clips: the cutter (window, clamping, what the clip shows), the
handler's one-line refusals, the cache bound, and the guarded ``clips/<token>`` route on a console
with users (HTTP with Gradio's session cookie, as a browser sends it).

The sightings handed to the handler are built here, as the search engine returns them, for a real clip
in a temporary archive (symlinks; nothing is copied into the repo, no frame is written outside tmp).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from core.audit import verify_log
from core.auth import Identity, Role, UserStore
from core.registry import load_registry
from core.video_frames import read_frames_at
from indexer.archive import video_id_for
from search.result import Sighting
from tests.conftest import FOOTAGE, REAL_REGISTRY, make_config, requires
from ui.clip_cut import H264, VP8, ClipCutError, clip_window, cut_clip, probe_duration
from ui.clip_player import play_clip
from ui.console import CaseContext, Console, ConsoleError, Session

PETS = FOOTAGE / "pets2009_s2l1_view001.mp4"  # 768x576, 7 fps, 113.57 s
OXFORD_A = FOOTAGE / "oxford_towncentre_clipA.mp4"  # 1280x720, 25 fps, 5.96 s
OXFORD_B = FOOTAGE / "oxford_towncentre_clipB.mp4"  # 1280x720, 25 fps, 3.84 s
CARPARK = FOOTAGE / "intel_person_bicycle_car.mp4"  # 768x432, 12 fps, 38.25 s
CASE = CaseContext("2026-SEO-0142", "missing child, 8, reported 09:10 at the station")
T0 = 1_773_450_000.0  # 2026-03-14 10:00:00 KST: the archive files' recording start
USERS = {"lee": ("operator", "lee's long password"), "park": ("operator", "park's long password")}


def probe(path: Path) -> tuple[float, int, tuple[int, int], str]:
    """(duration from the container, decoded frames, size, codec) of a clip: it must decode whole."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f for f in c.decode(stream)]
        return c.duration / 1e6, len(frames), (stream.width, stream.height), stream.codec_context.name


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="bgr24")


def difference(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


# ------------------------------------------------------------------------------------------- the cutter


def test_a_clip_starts_at_the_window_and_lasts_it(tmp_path: Path):
    requires(PETS)
    start, end = clip_window(50.0, 4.0, 6.0, probe_duration(PETS))
    assert (start, end) == (46.0, 56.0)
    info = cut_clip(PETS, start, end, tmp_path / "clip.mp4", H264)
    duration, frames, size, codec = probe(tmp_path / "clip.mp4")
    assert codec == "h264" and size == (640, 480) and info.frames == frames == 70  # 10 s at 7 fps
    assert abs(duration - 10.0) < 1 / 7 and abs(info.start_s - 46.0) < 1 / 7
    # it shows the source from 46 s: its first frame is that frame, not the keyframe before it nor one frame
    # either side (7 fps), and its last one is the source's last frame before 56 s
    offsets = [44.0, 45.0, 46.0 - 1 / 7, 46.0, 46.0 + 1 / 7, 47.0, 48.0]
    shown = first_frame(tmp_path / "clip.mp4")
    diffs = [difference(shown, f) for f in read_frames_at(PETS, offsets)]
    assert int(np.argmin(diffs)) == 3 and diffs[3] < 4, diffs
    with av.open(str(tmp_path / "clip.mp4")) as c:
        *_, last = (f.to_ndarray(format="bgr24") for f in c.decode(video=0))
    diffs = [difference(last, f) for f in read_frames_at(PETS, [55.0, 56.0 - 1 / 7, 56.0])]
    assert int(np.argmin(diffs)) == 1, diffs
    assert oct((tmp_path / "clip.mp4").stat().st_mode & 0o777) == "0o600"


def test_a_clip_is_clamped_at_the_start_and_the_end_of_the_file(tmp_path: Path):
    requires(OXFORD_A, CARPARK)
    # 1 s into a 5.96 s file: from the start to the end, all 149 frames
    start, end = clip_window(1.0, 4.0, 6.0, probe_duration(OXFORD_A))
    assert start == 0.0 and end == pytest.approx(5.96)
    cut_clip(OXFORD_A, start, end, tmp_path / "a.mp4", H264)
    duration, frames, size, _ = probe(tmp_path / "a.mp4")
    assert frames == 149 and abs(duration - 5.96) < 0.05 and size == (854, 480)
    # 2.25 s before the end of a 38.25 s file: 32 s to the end
    start, end = clip_window(36.0, 4.0, 6.0, probe_duration(CARPARK))
    assert (start, end) == (32.0, pytest.approx(38.25))
    info = cut_clip(CARPARK, start, end, tmp_path / "b.mp4", H264)
    duration, frames, size, _ = probe(tmp_path / "b.mp4")
    assert frames == 75 and abs(duration - 6.25) < 1 / 12 and size == (768, 432)  # small enough: kept as is
    assert info.end_s == pytest.approx(38.25, abs=1 / 12)


def test_without_libx264_the_clip_is_vp8_webm(tmp_path: Path):
    requires(OXFORD_B)
    cut_clip(OXFORD_B, 1.0, 3.0, tmp_path / "clip.webm", VP8)
    duration, frames, _, codec = probe(tmp_path / "clip.webm")
    assert codec == "vp8" and frames == 50 and abs(duration - 2.0) < 0.05
    assert difference(first_frame(tmp_path / "clip.webm"), read_frames_at(OXFORD_B, [1.0])[0]) < 8


def test_an_undecodable_file_is_one_line_and_leaves_nothing(tmp_path: Path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    with pytest.raises(ClipCutError, match=r"bad\.mp4 cannot be decoded"):
        cut_clip(bad, 0.0, 5.0, tmp_path / "out.mp4", H264)
    requires(PETS)
    with pytest.raises(ClipCutError, match="no frame could be decoded"):  # a window past the file's end
        cut_clip(PETS, 200.0, 205.0, tmp_path / "out.mp4", H264)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


# ------------------------------------------------------------------------------------------ the handler


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    requires(PETS, CARPARK)
    root = tmp_path / "archive"
    for camera, clip in (("PETS", PETS), ("INTEL-CARPARK", CARPARK)):
        (root / camera).mkdir(parents=True)
        os.symlink(clip, root / camera / f"{clip.stem}_20260314T100000+0900.mp4")
    (root / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
    return root


def sighting(archive: Path, camera: str, clip: Path, best_s: float, track: int = 3) -> Sighting:
    """A sighting as the search engine returns it: the indexer's absolute path and its video id."""
    rel = f"{camera}/{clip.stem}_20260314T100000+0900.mp4"
    sid = f"{video_id_for(rel)}:{track}:0"
    return Sighting(sighting_id=sid, member_ids=(sid,),
                    video_id=video_id_for(rel), camera_id=camera, camera_name=camera, district="Jung-gu",
                    t_start=T0 + best_s - 2, t_end=T0 + best_s + 2, t_best=T0 + best_s, video_path=str(archive / rel),
                    offset_start_s=best_s - 2, offset_end_s=best_s + 2, offset_best_s=best_s,
                    box=(100.0, 100.0, 160.0, 260.0), frame_size=(768, 576), track_id=track, n_detections=20,
                    bearing_deg=None, speed_mps=0.0)


def console_for(tmp_path: Path, archive: Path | None, **settings: object) -> Console:
    cfg = make_config(tmp_path / "index", audit__log_path=str(tmp_path / "audit.jsonl"),
                      auth__users_file=str(tmp_path / "users.json"), **settings)
    return Console(cfg=cfg, registry=load_registry(archive / "cameras.csv") if archive else _registry(tmp_path),
                   cache_dir=tmp_path / "cache", archive=archive)


def _registry(tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
    return load_registry(tmp_path / "cameras.csv")


def session_with(*shown: Sighting, name: str = "lee") -> Session:
    return Session(user=Identity(name, Role.OPERATOR, True, "127.0.0.1"), case=CASE,
                   known={s.sighting_id: s for s in shown})


def audit_records(console: Console) -> list[dict]:
    assert console.audit is not None
    return [json.loads(line) for line in console.audit.path.read_text(encoding="utf-8").splitlines()]


def test_playing_a_clip_lends_it_and_audits_the_view(tmp_path: Path, archive: Path):
    console = console_for(tmp_path, archive)
    s = sighting(archive, "PETS", PETS, 50.0)
    view = play_clip(console, session_with(s), s.sighting_id)
    assert (view.start_s, view.end_s) == (46.0, 56.0)
    assert view.url.startswith("clips/") and len(view.url) == len("clips/") + 32 and view.url in view.html
    grant = console.clips.grant(view.url.removeprefix("clips/"))
    assert grant is not None and grant.user == "lee" and grant.case == CASE.number
    assert grant.path.parent == tmp_path / "cache" / "clips" and "PETS" not in grant.path.name
    # dated by its footage (10:00:46 KST), so purge takes it with the footage's other pictures
    assert grant.path.stat().st_mtime == pytest.approx(T0 + 46.0)
    assert oct((tmp_path / "cache" / "clips").stat().st_mode & 0o777) == "0o700"
    # the second look is the cached file, under a new token, and audited again
    again = play_clip(console, session_with(s), s.sighting_id)
    assert again.url != view.url and console.clips.grant(again.url[6:]).path == grant.path  # type: ignore[union-attr]
    views = [r for r in audit_records(console) if r["event"] == "clip_view"]
    assert [(r["user"], r["case"], r["details"]["cached"]) for r in views] == [("lee", CASE.number, False),
                                                                               ("lee", CASE.number, True)]
    assert views[0]["details"] | {"cached": None} == {
        "sighting": s.sighting_id, "camera": "PETS", "video": "PETS/pets2009_s2l1_view001_20260314T100000+0900.mp4",
        "offset_s": 50.0, "start_s": 46.0, "end_s": 56.0, "cached": None}
    assert verify_log(console.audit.path).ok  # type: ignore[union-attr]


def test_bad_cases_are_one_line_each_and_audited(tmp_path: Path, archive: Path):
    console = console_for(tmp_path, archive)
    s = sighting(archive, "PETS", PETS, 50.0)
    with pytest.raises(ConsoleError, match="Enter the case number"):
        play_clip(console, Session(user=Identity("lee", Role.OPERATOR), known={s.sighting_id: s}), s.sighting_id)
    with pytest.raises(ConsoleError, match="Choose a sighting first"):
        play_clip(console, session_with(s), "not-shown:1:0")
    # the file is gone from the archive
    gone = replace(s, video_path=str(archive / "PETS" / "gone_20260314T100000+0900.mp4"),
                   video_id=video_id_for("PETS/gone_20260314T100000+0900.mp4"))
    with pytest.raises(ConsoleError) as missing:
        play_clip(console, session_with(gone), gone.sighting_id)
    assert str(missing.value) == ("The source video PETS/gone_20260314T100000+0900.mp4 is no longer in the archive "
                                  "(moved or deleted): no clip to play.")
    # a file that is not a video
    broken = archive / "PETS" / "broken_20260314T100000+0900.mp4"
    broken.write_bytes(os.urandom(20_000))
    bad = replace(s, video_path=str(broken), video_id=video_id_for("PETS/broken_20260314T100000+0900.mp4"))
    with pytest.raises(ConsoleError, match=r"^The source video PETS/broken_20260314T100000\+0900.mp4 cannot be "
                                           r"played: broken_20260314T100000\+0900.mp4 cannot be decoded"):
        play_clip(console, session_with(bad), bad.sighting_id)
    # an index that recorded no absolute path, on a console started without --archive
    nowhere = console_for(tmp_path / "other", None)
    relative = replace(s, video_path="PETS/pets2009_s2l1_view001_20260314T100000+0900.mp4")
    with pytest.raises(ConsoleError, match=r"does not say where the archive of PETS/pets2009.* is: start the console "
                                           "with --archive ARCHIVE"):
        play_clip(nowhere, session_with(relative), relative.sighting_id)
    errors = [r["details"]["error"] for r in audit_records(console) if r["event"] == "clip_view"]
    assert len(errors) == 2 and "no longer in the archive" in errors[0] and "cannot be played" in errors[1]
    assert not list((tmp_path / "cache" / "clips").iterdir())


def test_the_archive_moved_the_clip_comes_from_archive(tmp_path: Path, archive: Path):
    """The index recorded the old absolute path; the console's --archive holds the same relative path."""
    s = sighting(archive, "PETS", PETS, 50.0)
    moved = replace(s, video_path=str(tmp_path / "old-mount" / "PETS" / Path(s.video_path).name))
    view = play_clip(console_for(tmp_path, archive), session_with(moved), moved.sighting_id)
    assert view.end_s - view.start_s == 10.0
    # an index that kept the archive-relative path only: played from --archive too
    relative = replace(s, video_path="PETS/pets2009_s2l1_view001_20260314T100000+0900.mp4")
    assert play_clip(console_for(tmp_path, archive), session_with(relative), s.sighting_id).start_s == 46.0
    with pytest.raises(ConsoleError, match=r"no longer in the archive .* If the archive moved, start the console "
                                           "with --archive ARCHIVE"):
        play_clip(console_for(tmp_path / "no-archive", None), session_with(moved), moved.sighting_id)


def test_the_clip_cache_stays_under_its_bound(tmp_path: Path, archive: Path):
    # 0.3 MB: room for about one 10 s clip of PETS at 640x480
    console = console_for(tmp_path, archive, ui__clip_cache_mb=0.3, ui__clip_seconds_before=3,
                          ui__clip_seconds_after=3)
    shown = [sighting(archive, "PETS", PETS, t, track=k) for k, t in enumerate((20.0, 60.0, 100.0))]
    paths = []
    for s in shown:
        view = play_clip(console, session_with(*shown), s.sighting_id)
        assert view.end_s - view.start_s == 6.0
        paths.append(console.clips.grant(view.url[6:]).path)  # type: ignore[union-attr]
    left = sorted((tmp_path / "cache" / "clips").iterdir())
    assert paths[-1] in left and paths[0] not in left  # the newest stays, the oldest went
    assert sum(p.stat().st_size for p in left) <= 0.3 * 2**20 or left == [paths[-1]]


# ------------------------------------------------------------------------------------------- the route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    """A console with two operators (login mode) and an archive with the PETS clip."""
    from search.engine import SearchEngine
    from search.search_models import SearchModels
    from ui.app import launch

    requires(PETS)
    base = tmp_path_factory.mktemp("clip-route")
    root = base / "archive"
    (root / "PETS").mkdir(parents=True)
    os.symlink(PETS, root / "PETS" / f"{PETS.stem}_20260314T100000+0900.mp4")
    (root / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
    cfg = make_config(base / "index", auth__users_file=str(base / "users.json"),
                      audit__log_path=str(base / "audit.jsonl"), ui__cache_dir=str(base / "cache"))
    store = UserStore(base / "users.json")
    for name, (role, password) in USERS.items():
        store.add(name, role, password)
    running = launch(cfg, load_registry(root / "cameras.csv"), host="127.0.0.1", port=free_port(), block=False,
                     quiet=True, archive=root,
                     engine_factory=lambda c, r: SearchEngine(c, r, SearchModels(c, clip_enabled=False)))
    try:
        yield running, root
    finally:
        running.close()


@contextmanager
def signed_in(url: str, name: str) -> Iterator[httpx.Client]:
    """An HTTP client with Gradio's session cookie for ``name``, as the login form gets it."""
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/login", data={"username": name, "password": USERS[name][1]}).status_code == 200
        yield http


@pytest.mark.slow
def test_the_clip_route_serves_only_the_user_it_was_lent_to(secured):
    running, root = secured
    console: Console = running.console  # type: ignore[attr-defined]
    s = sighting(root, "PETS", PETS, 50.0)
    view = play_clip(console, session_with(s, name="lee"), s.sighting_id)
    token = view.url.removeprefix("clips/")
    path = console.clips.grant(token).path  # type: ignore[union-attr]
    before = len(audit_records(console))

    # nobody signed in: the console's HTTP layer answers 401 before any route
    anonymous = httpx.get(running.url + view.url, timeout=60)  # type: ignore[attr-defined]
    assert anonymous.status_code == 401 and anonymous.content != path.read_bytes()
    with signed_in(running.url, "lee") as lee:  # type: ignore[attr-defined]
        got = lee.get(view.url)
        assert got.status_code == 200 and got.content == path.read_bytes()
        assert got.headers["content-type"] == "video/mp4" and got.headers["cache-control"] == "no-store"
        assert got.headers["content-disposition"].startswith("inline")
        part = lee.get(view.url, headers={"Range": "bytes=0-99"})  # what a <video> asks for
        assert part.status_code == 206 and part.content == path.read_bytes()[:100]
        assert lee.get("clips/" + "A" * 32).status_code == 404  # a token never lent
        assert lee.get("clips/" + token[:-1]).status_code == 404
        # a path instead of a token never reaches the disk (the route takes one path segment, a token)
        assert lee.get(f"clips/..%2F..%2Fclips%2F{path.name}").status_code == 404
    with signed_in(running.url, "park") as park:  # type: ignore[attr-defined]
        refused = park.get(view.url)  # lee's link, leaked
        assert refused.status_code == 403 and refused.content != path.read_bytes()
        # and not through Gradio's own file route either
        assert park.get(f"/gradio_api/file={path}").status_code == 403

    new = audit_records(console)[before:]
    served = [r for r in new if r["event"] == "clip_served"]
    assert [(r["user"], r["case"], r["details"]["sighting"]) for r in served] == [("lee", CASE.number, s.sighting_id)]
    denied = [(r.get("user"), r["details"]["reason"]) for r in new if r["event"] == "clip_denied"]
    assert denied == [("lee", "unknown or expired clip"), ("lee", "unknown or expired clip"),
                      ("park", "the clip was lent to another user")]
    assert verify_log(console.audit.path).ok  # type: ignore[union-attr]

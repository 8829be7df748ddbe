"""kill -9 the batch indexer at random moments, many times; check the index after every kill.

Each round starts ``footage-search index`` on the archive and SIGKILLs it at a random moment: about
half the rounds after a random delay from the start (start-up, decoding, the first video), the others a
random moment after the round's first commit (mid-video or mid-write, where a kill can tear something).
Waiting for a commit, rather than drawing long delays and hoping one lands after a commit, makes every
such kill land in a run that is writing, however fast the machine, without rounds that run to the end
unkilled. After every kill the index must be consistent: no duplicate sighting, no sighting of a video
that is not ``done``, and every ``done`` video's sighting count equal to its rows. After the last kill
one run must finish the job, and the result must equal an index built without interruptions (or the
given reference sighting ids of one).

    .venv/bin/python -m bench.kill_loop ARCHIVE --kills 20
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import lancedb

from core.schema import SIGHTINGS, VIDEO_STATUS_DONE, VIDEOS

REPO = Path(__file__).resolve().parents[1]


@dataclass
class KillReport:
    kills: int = 0
    killed_while_writing: int = 0  # kills after which the index had grown since the previous check
    checks: list[dict] = field(default_factory=list)
    final_sightings: int = 0
    equals_clean_index: bool = False


def check_index(index: Path) -> dict:
    """Consistency facts of an index; raises AssertionError naming the first violation."""
    if not (index / f"{SIGHTINGS}.lance").exists():
        return {"sightings": 0, "videos_done": 0}
    db = lancedb.connect(str(index))
    rows = db.open_table(SIGHTINGS).to_arrow().select(["sighting_id", "video_id"]).to_pylist()
    videos = db.open_table(VIDEOS).to_arrow().select(["video_id", "status", "n_sightings"]).to_pylist() \
        if VIDEOS in db.table_names() else []
    ids = Counter(r["sighting_id"] for r in rows)
    dup = [i for i, n in ids.items() if n > 1]
    assert not dup, f"duplicate sightings: {dup[:3]}"
    done = {v["video_id"]: v for v in videos if v["status"] == VIDEO_STATUS_DONE}
    per_video = Counter(r["video_id"] for r in rows)
    orphans = set(per_video) - set(done)
    # rows of a video not yet done are allowed only until the next run removes them
    for vid, v in done.items():
        assert per_video.get(vid, 0) == v["n_sightings"], f"video {vid}: {per_video.get(vid, 0)} rows, " \
                                                          f"{v['n_sightings']} recorded"
    return {"sightings": len(rows), "videos_done": len(done), "orphan_rows": sum(per_video[v] for v in orphans)}


def sighting_ids(index: Path) -> set[str]:
    db = lancedb.connect(str(index))
    return set(db.open_table(SIGHTINGS).to_arrow().column("sighting_id").to_pylist())


def index_command(archive: Path, index: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "footage_search.cli", "index", str(archive), "--index", str(index),
            "--no-progress", *[f"--set={o}" for o in overrides]]


def videos_done(index: Path) -> int:
    try:
        return lancedb.connect(str(index)).open_table(VIDEOS).count_rows(f"status = '{VIDEO_STATUS_DONE}'")
    except Exception:  # tables not created yet
        return 0


def wait_for_commit(proc: subprocess.Popen, index: Path, timeout_s: float = 600.0) -> bool:
    """Wait until the running indexer has marked one more video done than the index held at its start;
    False when it ended (or the time ran out) first."""
    before = videos_done(index)
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if videos_done(index) > before:
            return True
        time.sleep(0.1)
    return False


def kill_loop(archive: Path, index: Path, kills: int, overrides: list[str], *, seed: int = 0,
              min_delay_s: float = 0.5, max_delay_s: float = 20.0, after_commit_s: float = 2.0,
              reference: set[str] | None = None) -> KillReport:
    """``kills`` SIGKILLs, each round's moment drawn from ``seed``: a delay in [min_delay_s, max_delay_s)
    from the start, or (every other round on average) a delay in [0, after_commit_s) after the round's
    first commit. ``reference``: the sighting ids of an uninterrupted index of ``archive`` with the same
    settings (else one is built after the loop)."""
    rng = random.Random(seed)
    report = KillReport()
    cmd = index_command(archive, index, overrides)
    last = 0
    k = 0
    while report.kills < kills:
        after_commit = rng.random() < 0.5
        delay = rng.uniform(0.0, after_commit_s) if after_commit else rng.uniform(min_delay_s, max_delay_s)
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not after_commit or wait_for_commit(proc, index):
            time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            report.kills += 1
        proc.wait()
        facts = check_index(index)
        facts["round"] = k
        facts["after_commit"] = after_commit
        report.checks.append(facts)
        if facts["sightings"] != last:
            report.killed_while_writing += 1
        last = facts["sightings"]
        if facts.get("videos_done") and proc.returncode == 0:
            # a round finished the whole job before its kill: start over so later kills land mid-run
            shutil.rmtree(index)
            last = 0
        k += 1
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the run after the kills failed:\n{done.stdout}\n{done.stderr}")
    final = check_index(index)
    assert final.get("orphan_rows", 0) == 0, final
    report.final_sightings = final["sightings"]
    if reference is None:
        with tempfile.TemporaryDirectory() as tmp:
            clean = Path(tmp) / "clean"
            subprocess.run(index_command(archive, clean, overrides), cwd=REPO, check=True, capture_output=True,
                           timeout=1800)
            reference = sighting_ids(clean)
    report.equals_clean_index = sighting_ids(index) == reference
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=20.0, help="longest a run lives before its kill (s)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = kill_loop(args.archive, Path(tmp) / "index", args.kills, args.overrides, seed=args.seed,
                      max_delay_s=args.max_delay)
    print(json.dumps(r.__dict__, indent=2))


if __name__ == "__main__":
    main()

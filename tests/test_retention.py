"""Retention: ``purge --older-than DAYS`` on a copy of the indexed sample city.

The cutoff is put inside the morning: JG-01's only file ends before it (a whole video purged), JG-02's
file straddles it (older sightings go, newer stay), every other camera is newer. ``now`` is set 30
days after the cutoff, and the purge asked for footage older than 30 days.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lancedb
import pytest

from core.audit import AuditLog, verify_log
from core.auth import Identity, Role
from footage_search.retention import DAY_S, is_purged, purge
from tests.conftest import make_config
from ui.thumbnails import ThumbnailCache

DAYS = 30
ADMIN = Identity("cli:test", Role.ADMIN, authenticated=False)


@pytest.fixture
def index_copy(sample_index, copy_tree):
    return make_config(copy_tree(Path(sample_index.storage.index_uri), "index"))


def table(cfg, name: str) -> list[dict]:
    return lancedb.connect(cfg.storage.index_uri).open_table(name).to_arrow().to_pylist()


def cutoff_for(cfg) -> float:
    videos = {Path(v["path"]).parent.name: v for v in table(cfg, "videos")}
    jg02 = videos["JG-02"]
    assert videos["JG-01"]["start_time"] + videos["JG-01"]["duration_s"] < jg02["start_time"]
    return jg02["start_time"] + jg02["duration_s"] / 2


def data_files_contain(root: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_purge_removes_old_sightings_pictures_and_caches(index_copy, sample_city, tmp_path: Path):
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index

    cfg = index_copy
    cutoff = cutoff_for(cfg)
    before = table(cfg, "sightings")
    old = [s for s in before if s["t_start"] < cutoff]
    kept = [s for s in before if s["t_start"] >= cutoff]
    assert old and kept and {s["camera_id"] for s in old} == {"JG-01", "JG-02"}
    # a purged person's thumbnail, as bytes that really are in the table's files before the purge
    needle = max(old, key=lambda s: len(s["thumbnail"]))["thumbnail"][-100:-36]  # entropy-coded: unique
    assert not any(needle in s["thumbnail"] for s in kept)
    sightings_dir = Path(cfg.storage.index_uri) / "sightings.lance"
    assert data_files_contain(sightings_dir, needle)

    # what the console wrote: pictures of an old and a new sighting, an old and a fresh export
    cache = ThumbnailCache(tmp_path / "console-cache")
    old_thumb = cache.thumbnail(old[0]["sighting_id"], old[0]["thumbnail"])
    new_thumb = cache.thumbnail(kept[0]["sighting_id"], kept[0]["thumbnail"])
    old_detail = cache.root / "detail" / f"{old_thumb.stem}-frame.jpg"
    old_detail.parent.mkdir()
    old_detail.write_bytes(b"jpeg")
    exports = cache.root / "exports"
    exports.mkdir()
    (exports / "case-A.html").write_text("old report", encoding="utf-8")
    os.utime(exports / "case-A.html", (cutoff - 10, cutoff - 10))
    (exports / "case-B.html").write_text("new report", encoding="utf-8")
    now = cutoff + DAYS * DAY_S
    os.utime(exports / "case-B.html", (now - 60, now - 60))
    os.utime(new_thumb, (now - 60, now - 60))

    audit = AuditLog(tmp_path / "audit.jsonl")
    dry = purge(cfg, DAYS, dry_run=True, cache_dirs=[cache.root], audit=audit, actor=ADMIN, now=now)
    assert dry.sightings == len(old) and dry.cache_files == 3 and len(dry.videos_purged) == 1
    assert len(table(cfg, "sightings")) == len(before) and old_thumb.exists()  # a dry run changes nothing

    report = purge(cfg, DAYS, cache_dirs=[cache.root], audit=audit, actor=ADMIN, now=now)
    assert report.sightings == len(old) and report.videos_trimmed == 1 and report.physically_removed
    assert report.videos_purged == [v["path"] for v in table(cfg, "videos") if v["camera_id"] == "JG-01"]

    after = table(cfg, "sightings")
    assert sorted(s["sighting_id"] for s in after) == sorted(s["sighting_id"] for s in kept)
    assert min(s["t_start"] for s in after) >= cutoff
    assert not data_files_contain(sightings_dir, needle)  # gone from disk, not only hidden
    videos = {v["camera_id"] + "/" + Path(v["path"]).name: v for v in table(cfg, "videos")}
    jg01 = next(v for k, v in videos.items() if k.startswith("JG-01"))
    jg02 = next(v for k, v in videos.items() if k.startswith("JG-02"))
    assert is_purged(jg01["status"], jg01["error"]) and jg01["n_sightings"] == 0 and "older than 30 days" in \
        jg01["error"]
    assert jg02["status"] == "done" and jg02["n_sightings"] == sum(1 for s in after if s["camera_id"] == "JG-02")

    assert not old_thumb.exists() and not old_detail.exists() and not (exports / "case-A.html").exists()
    assert new_thumb.exists() and (exports / "case-B.html").exists()

    recs = [json.loads(line) for line in audit.path.read_text(encoding="utf-8").splitlines()]
    assert [r["event"] for r in recs] == ["purge_dry_run", "purge"]
    assert recs[1]["details"]["sightings"] == len(old) and recs[1]["user"] == "cli:test"
    assert verify_log(audit.path).ok

    # a later index run does not bring the purged footage back ...
    registry = load_registry(sample_city.registry)
    again = run_index(sample_city.archive, cfg, registry, BatchOptions(progress=False))
    assert again.indexed == 0 and again.previously_failed == 1
    assert len(table(cfg, "sightings")) == len(after)
    # ... and the console's index panel does not list a purge as a failure
    from core.index_status import index_status
    from ui.index_panel import status_html

    html = status_html(index_status(cfg), registry)
    assert "1 purged by retention" in html and "Failed files" not in html
    # ... unless asked
    asked = run_index(sample_city.archive, cfg, registry, BatchOptions(progress=False, retry_failed=True))
    assert asked.indexed == 1
    assert any(s["camera_id"] == "JG-01" for s in table(cfg, "sightings"))


def test_purge_waits_for_the_indexer_lock(index_copy):
    from indexer.lock import IndexBusyError, indexer_lock

    with indexer_lock(index_copy.storage.index_uri), pytest.raises(IndexBusyError):
        purge(index_copy, DAYS)


def test_purge_command(index_copy, tmp_path: Path, capsys):
    from footage_search.cli import main

    index = ["--index", index_copy.storage.index_uri, "--cache-dir", str(tmp_path / "cache")]
    assert main(["purge", *index]) == 2
    assert "--older-than" in capsys.readouterr().err
    n = len(table(index_copy, "sightings"))
    # the sample city is from March 2026: with a 100-year window nothing is old enough
    assert main(["purge", "--older-than", "36500", *index]) == 0
    assert "removed 0 sightings" in capsys.readouterr().out
    assert main(["purge", "--older-than", "1", "--dry-run", *index]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN" in out and f"would remove {n} sightings" in out
    assert len(table(index_copy, "sightings")) == n
    log = Path(index_copy.storage.index_uri).parent / "audit" / "audit.jsonl"
    assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == ["purge", "purge_dry_run"]

"""Operator polish of the command line: missing CLIP weights are one line (a traceback only with -v),
``status`` lists every model, an index finds the registry it was built with, and the wording of photo
sizes, photo folders and bearings.

The machine has no CLIP weights, so the default model (``ViT-B-32-SigLIP2-256/webli``) with downloads
off is exactly the air-gapped install of the issue. The commands whose stderr is checked run as real
processes: pytest's own logging handlers would otherwise swallow the warnings under test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import load_config
from core.index_db import IndexDB
from core.index_status import record_registry_source
from core.registry import load_registry, write_registry
from footage_search.cli import main
from indexer.registry_sync import sync
from search.photo import MAX_PHOTO_BYTES
from tests.conftest import DETECTOR, MODELS, TINY_CLIP, TINY_CLIP_CONFIG, make_config, requires
from tests.search_fixtures import T0, Row, grid_registry, write_index
from tests.videos import write_video

REG = grid_registry([("A-1", "Alpha-gu", 0, 0), ("B-1", "Beta-gu", 300, 0)])
TRACEBACK = "Traceback (most recent call last)"


def offline_sets(cache: Path) -> list[str]:
    """The real detector and colour table, the default CLIP model, no downloads, an empty model cache."""
    return ["--set", f"models.models_dir={MODELS}", "--set", f"models.cache_dir={cache}",
            "--set", "models.allow_download=false", "--set", "index.workers=1"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTAGE_SEARCH_", "HF_HUB_OFFLINE"))}
    return subprocess.run([sys.executable, "-m", "footage_search.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def clip_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CLIP missing" in line]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A one-camera archive indexed by the real command, its registry kept outside the archive (as the
    demo keeps it), so only the index's own record can lead a search back to it."""
    requires(DETECTOR)
    root = tmp_path_factory.mktemp("polish")
    write_video(root / "archive" / "CAM-1" / "cam1_20260314T100000+0900.mp4", seconds=2.0)
    registry = root / "registry" / "cameras.csv"
    registry.parent.mkdir()
    registry.write_text("camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes\n"
                        "CAM-1,Jung-gu,Gate,37.56,126.98,0,40,\n", encoding="utf-8")
    run = cli("index", str(root / "archive"), "--registry", str(registry), "--index", str(root / "index"),
              "--no-progress", *offline_sets(root / "cache"), cwd=root)
    return root, run


@pytest.mark.slow
def test_index_without_clip_weights_says_it_in_one_line(built):
    _, run = built
    assert run.returncode == 0, run.stderr
    assert TRACEBACK not in run.stderr and "ERROR" not in run.stderr
    [line] = clip_lines(run.stderr)
    # what is unavailable, what still works, what an admin does
    assert "ViT-B-32-SigLIP2-256/webli" in line and "models.allow_download = false" in line
    assert "still match colours" in line and "models.clip_checkpoint" in line and "--embeddings-only" in line
    assert "files: 1 found, 1 indexed" in run.stdout and "sightings were indexed without CLIP vectors" in run.stdout


@pytest.mark.slow
def test_index_with_v_shows_the_traceback(built, tmp_path):
    root, _ = built
    run = cli("-v", "index", str(root / "archive"), "--registry", str(root / "registry" / "cameras.csv"),
              "--index", str(tmp_path / "index"), "--no-progress", *offline_sets(tmp_path / "cache"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(clip_lines(run.stderr)) == 1
    assert TRACEBACK in run.stderr and "LocalEntryNotFoundError" in run.stderr


@pytest.mark.slow
def test_query_finds_the_registry_the_index_was_built_with(built):
    root, _ = built
    run = cli("query", "--index", str(root / "index"), "--text", "red jacket, walking north",
              *offline_sets(root / "cache"), cwd=root)
    assert run.returncode == 0, run.stderr
    assert "no camera registry" not in run.stderr and "warning" not in run.stderr
    assert "no sightings" in run.stdout
    # the search needed CLIP for the caption: one line, no traceback, and a note on stdout
    assert TRACEBACK not in run.stderr and "ERROR" not in run.stderr and len(clip_lines(run.stderr)) == 1
    assert "note: CLIP unavailable (the CLIP weights" in run.stdout
    verbose = cli("-v", "query", "--index", str(root / "index"), "--text", "red jacket",
                  *offline_sets(root / "cache"), cwd=root)
    assert verbose.returncode == 0 and TRACEBACK in verbose.stderr and "ClipWeightsMissingError" in verbose.stderr


@pytest.mark.slow
def test_status_and_ui_report_the_missing_weights(built, capsys):
    from ui.cli import warn_unavailable_models

    root, _ = built
    rc = main(["status", "--index", str(root / "index"), *offline_sets(root / "cache")])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"person detector: loaded ({DETECTOR})" in out
    assert "colour-name table: loaded (" in out and "w2c.npy" in out
    assert "CLIP missing: the CLIP weights ViT-B-32-SigLIP2-256/webli" in out
    assert f"camera registry: {root / 'registry' / 'cameras.csv'} (unchanged since indexing)" in out
    # the console prints the same line before its first search
    cfg = load_config(None, {"models.models_dir": str(MODELS), "models.cache_dir": str(root / "cache"),
                             "models.allow_download": False}, environ={})
    warn_unavailable_models(cfg)
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("footage-search ui: warning: CLIP missing: the CLIP weights ViT-B-32-SigLIP2-256/webli")


def test_status_lists_every_model_with_its_state(tmp_path, capsys):
    """No model files at all, and the test-only random CLIP: fallback / missing / fallback, each with a fix."""
    sets = ["--set", f"models.models_dir={tmp_path / 'none'}", "--set", f"models.cache_dir={tmp_path / 'cache'}",
            "--set", "models.allow_download=false", "--set", f"models.clip_model={TINY_CLIP}",
            "--set", "models.clip_pretrained=random-init", "--set", f"models.clip_config_path={TINY_CLIP_CONFIG}"]
    rc = main(["status", "--index", str(tmp_path / "index"), "--json", *sets])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exists"] is False
    states = {m["model"]: m for m in report["models"]}
    assert {k: m["state"] for k, m in states.items()} == {
        "person detector": "fallback", "colour-name table": "missing", "CLIP": "fallback"}
    assert "models.detector_path" in states["person detector"]["fix"]
    assert "models.colour_table_path" in states["colour-name table"]["fix"]
    assert "random" in states["CLIP"]["reason"] and "models.clip_checkpoint" in states["CLIP"]["fix"]
    rc = main(["status", "--index", str(tmp_path / "index"), *sets])
    out = capsys.readouterr().out
    assert "no index at" in out and "models:" in out
    assert "person detector fallback: no YOLOX-Nano file in" in out and "colour-name table missing:" in out


# -- the registry an index was built with (hand-made index, recorded by the indexer's own sync) -------
@pytest.fixture
def recorded(tmp_path):
    write_index(tmp_path / "index", REG, [Row("A-1", T0, T0 + 10, upper="red", track_id=1)])
    registry = tmp_path / "elsewhere" / "cameras.csv"
    registry.parent.mkdir()
    write_registry(REG, registry)
    sync(IndexDB.open(make_config(tmp_path / "index").storage), load_registry(registry))
    return tmp_path, registry


def query(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    rc = main(["query", "--index", str(root / "index"), "--no-clip", "--text", "red", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_query_uses_the_recorded_registry_and_warns_when_it_changed(recorded, capsys):
    root, registry = recorded
    rc, out, err = query(capsys, root)
    assert rc == 0 and err == "" and "A-1" in out
    registry.write_text(registry.read_text(encoding="utf-8").replace("Alpha-gu", "Gamma-gu"), encoding="utf-8")
    rc, out, err = query(capsys, root, "--district", "Gamma-gu")  # the file as it is now knows Gamma-gu
    assert rc == 0 and "no sightings pass the filters (districts Gamma-gu)" in out
    assert err.count("\n") == 1 and "changed since this index was built" in err
    assert err.startswith(f"footage-search query: warning: the camera registry {registry.resolve()} changed")
    rc, _, err = query(capsys, root, "--district", "Alpha-gu")
    assert rc == 2 and "unknown district 'Alpha-gu'" in err
    # indexing again records the new digest: no warning any more
    sync(IndexDB.open(make_config(root / "index").storage), load_registry(registry))
    assert query(capsys, root)[2] == ""


def test_query_falls_back_to_the_kept_copy_when_the_registry_is_gone(recorded, capsys):
    root, registry = recorded
    shutil.rmtree(registry.parent)
    rc, out, err = query(capsys, root)
    assert rc == 0 and "A-1" in out
    assert err.count("\n") == 1 and "is gone; using the copy kept in the index" in err


def test_a_registry_made_in_memory_clears_the_recorded_file(recorded):
    root, registry = recorded
    db = IndexDB.open(make_config(root / "index").storage)
    assert db.meta()["registry_path"] == str(registry.resolve()) and len(db.meta()["registry_sha256"]) == 64
    record_registry_source(db, REG)  # e.g. a generated city's registry: no file to find again
    assert db.meta()["registry_path"] == "" and db.meta()["registry_sha256"] == ""


def test_ui_uses_the_recorded_registry(recorded, capsys):
    from footage_search.cli import build_parser
    from ui.cli import console_registry

    root, registry = recorded
    args = build_parser().parse_args(["ui", "--index", str(root / "index")])
    assert console_registry(args, make_config(root / "index")).source == str(registry.resolve())
    assert capsys.readouterr().err == ""


# -- wording --------------------------------------------------------------------------------------
@pytest.fixture
def small(tmp_path):
    write_index(tmp_path / "index", REG, [Row("A-1", T0, T0 + 10, upper="red", bearing=0.0, track_id=1)])
    write_registry(REG, tmp_path / "cameras.csv")
    return tmp_path


def run(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    rc = main(["query", "--index", str(root / "index"), "--registry", str(root / "cameras.csv"), "--no-clip", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_photo_folder_is_one_clear_line(small, capsys):
    rc, _, err = run(capsys, small, "--photo", str(small))
    assert rc == 2 and TRACEBACK not in err
    assert err == f"footage-search query: error: --photo {small} is a folder: give one image file " \
                  "(JPEG, PNG, WebP, BMP or TIFF)\n"


def test_photo_size_is_in_mib(small, capsys):
    big = small / "big.jpg"
    with open(big, "wb") as fh:
        fh.truncate(21 * 1000 * 1000)  # "21.0 MB" in the old wording, against a limit of 20 MiB
    rc, _, err = run(capsys, small, "--photo", str(big))
    assert rc == 2 and err.strip() == "footage-search query: error: the photo is 20.1 MiB; the limit is 20 MiB"
    assert MAX_PHOTO_BYTES == 20 * 1024 * 1024


@pytest.mark.parametrize("value", ["400", "-10", "360.5", "nan"])
def test_direction_outside_a_bearing_is_refused(small, capsys, value):
    rc, _, err = run(capsys, small, "--text", "red", f"--direction={value}")
    assert rc == 2 and TRACEBACK not in err and err.count("\n") == 1
    assert f"direction '{value}' is not a bearing" in err and "0 to 360 degrees" in err and "NE" in err


@pytest.mark.parametrize("value", ["N", "north", "북쪽", "0", "360", "359.5"])
def test_direction_forms_that_mean_a_bearing(small, capsys, value):
    rc, out, err = run(capsys, small, "--text", "red", "--direction", value, "--tolerance", "10")
    assert rc == 0 and err == ""
    assert "A-1" in out  # the row moves north (0°): every form above is within 10° of it



def test_clip_weights_in_the_cache_count_as_loaded(tmp_path):
    """The lookup finds weights where open_clip would (models.cache_dir/open_clip, Hugging Face layout);
    the file is a placeholder: what is checked is where it is looked for, not the weights."""
    from core.model_report import LOADED, MISSING, clip_status

    cfg = load_config(None, {"models.cache_dir": str(tmp_path), "models.allow_download": False}, environ={})
    assert clip_status(cfg).state == MISSING
    repo = tmp_path / "open_clip" / "models--timm--ViT-B-32-SigLIP2-256"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    weights = repo / "snapshots" / ("0" * 40) / "open_clip_pytorch_model.bin"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"placeholder")
    status = clip_status(cfg)
    assert status.state == LOADED and status.line() == f"CLIP: loaded (ViT-B-32-SigLIP2-256/webli: {weights})"

"""Benchmarks refuse to report figures of the motion-blob / no-colour fallback (bench/real_models.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import index_speed
from bench.real_models import MODELS_ENV, SHARED_MODELS, models_dir, require_real_models
from core.config import load_config
from tests.conftest import COLOUR_TABLE, DETECTOR, MODELS, requires


def _config(models: Path):
    return load_config(None, {"models.models_dir": str(models), "models.allow_download": False}, environ={})


def test_the_environment_names_the_models_folder_before_the_shared_one(tmp_path):
    assert models_dir({MODELS_ENV: str(tmp_path)}) == tmp_path
    assert models_dir({}) == (SHARED_MODELS if SHARED_MODELS.exists() else None)


def test_a_folder_without_the_detector_stops_the_benchmark_naming_it(tmp_path):
    with pytest.raises(SystemExit) as stop:
        require_real_models(_config(tmp_path))
    message = str(stop.value)
    assert "person detector is fallback" in message and MODELS_ENV in message and "\n" not in message


def test_a_folder_with_the_detector_but_no_colour_table_stops_it_too(tmp_path):
    requires(DETECTOR)
    (tmp_path / DETECTOR.parent.name).mkdir()
    shutil.copy(DETECTOR, tmp_path / DETECTOR.parent.name / DETECTOR.name)
    with pytest.raises(SystemExit, match="colour-name table is missing"):
        require_real_models(_config(tmp_path))


def test_the_real_models_pass():
    requires(DETECTOR, COLOUR_TABLE)
    require_real_models(_config(MODELS))


def test_index_speed_stops_before_indexing_when_the_models_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "no-models"))
    archive = tmp_path / "archive"  # never read: the check comes first
    with pytest.raises(SystemExit, match=r"benchmark stopped: the person detector.*--allow-fallback"):
        index_speed.main([str(archive), "--no-baseline", "--out", "never-written.json"])
    assert not (index_speed.RESULTS / "never-written.json").exists()


def test_the_busy_load_spins_beside_the_run_and_stops_with_it():
    import time

    import psutil

    with index_speed.busy_load(1) as pids:
        (pid,) = pids
        spinner = psutil.Process(pid)
        before = spinner.cpu_times().user
        time.sleep(1.0)
        assert spinner.cpu_times().user > before  # it takes CPU from the run
    assert not psutil.pid_exists(pid)


def test_the_peak_counts_the_child_processes():
    """The pipeline runs in a process of its own with worker processes below it (``run_ours``): the peak
    is their sum. (The busy load spins beside that process, so none of its memory is counted.)"""
    import subprocess
    import sys
    import time

    with index_speed.PeakRSS(interval_s=0.05) as alone:
        time.sleep(0.3)
    child = subprocess.Popen([sys.executable, "-c", "b = b'x' * (200 * 2**20); import time; time.sleep(30)"])
    try:
        time.sleep(1.5)
        with index_speed.PeakRSS(interval_s=0.05) as with_child:
            time.sleep(0.3)
    finally:
        child.kill()
        child.wait()
    assert with_child.peak - alone.peak >= 150 * 2**20

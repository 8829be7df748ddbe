from pathlib import Path

import pytest

from core.config import ConfigError, load_config, parse_set_args


def test_file_env_and_cli_overrides_in_priority_order(tmp_path: Path):
    cfg_file = tmp_path / "fs.toml"
    cfg_file.write_text('[index]\nsample_fps = 3.0\nworkers = 4\n[storage]\nindex_uri = "idx"\n', encoding="utf-8")
    cfg = load_config(cfg_file, {"index.workers": "1"},
                      environ={"FOOTAGE_SEARCH_INDEX_SAMPLE_FPS": "2.5", "FOOTAGE_SEARCH_MODELS_DEVICE": "cpu"})
    assert cfg.index.sample_fps == 2.5  # env beats file
    assert cfg.index.workers == 1  # command line beats file
    assert cfg.models.device == "cpu"
    # relative paths in a config file are relative to the file, not the working directory
    assert cfg.storage.index_uri == str((tmp_path / "idx").resolve())


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ({"index.nope": "1"}, {}, "unknown setting 'index.nope'"),
        ({"nosection.x": "1"}, {}, "unknown setting 'nosection.x'"),
        ({"index.sample_fps": "fast"}, {}, "expected float"),
        ({"models.allow_download": "maybe"}, {}, "expected true/false"),
        ({"index.workers": "-2"}, {}, "must not be negative"),
        ({}, {"FOOTAGE_SEARCH_BOGUS_KEY": "1"}, "names no config section"),
    ],
)
def test_bad_settings_are_named(overrides, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides, environ=env)


def test_bad_toml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[index\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", environ={})


def test_set_args_and_fingerprint_tracks_only_output_affecting_settings():
    assert parse_set_args(["index.sample_fps=2", "storage.index_uri=s3://b/p"]) == {
        "index.sample_fps": "2", "storage.index_uri": "s3://b/p"}
    with pytest.raises(ConfigError):
        parse_set_args(["novalue"])
    base = load_config(None, environ={})
    assert base.index_fingerprint() == load_config(None, {"index.workers": 7}, environ={}).index_fingerprint()
    assert base.index_fingerprint() != load_config(None, {"index.sample_fps": 5}, environ={}).index_fingerprint()
    assert base.index_fingerprint() != load_config(None, {"index.busy_stay_s": 0}, environ={}).index_fingerprint()

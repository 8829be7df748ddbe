"""The index on object storage: ``storage.index_uri = "s3://..."`` + ``storage.storage_options``, against
a real S3 API (moto's server on 127.0.0.1), with both indexing engines and a reader."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lancedb
import pytest

from core.index_db import IndexDB
from core.index_status import index_status
from core.registry import load_registry
from core.schema import SIGHTINGS, VIDEOS
from indexer.batch import BatchOptions, run_index
from indexer.lock import indexer_lock
from tests.conftest import make_config

BUCKET = "footage-index"
N_VIDEOS = 3


@pytest.fixture(scope="module")
def s3_options():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    try:
        yield {"aws_access_key_id": "test", "aws_secret_access_key": "test", "aws_endpoint": endpoint,
               "aws_region": "us-east-1", "allow_http": "true"}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def small_city(sample_city, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few of the sample city's videos (symlinked), to keep these tests short."""
    root = tmp_path_factory.mktemp("small-city")
    for video in sorted(sample_city.archive.rglob("*.mp4"))[:N_VIDEOS]:
        (root / video.parent.name).mkdir(exist_ok=True)
        os.symlink(video, root / video.parent.name / video.name)
    (root / "cameras.csv").write_bytes(Path(sample_city.registry).read_bytes())
    return root


def _ids(cfg) -> list[str]:
    db = lancedb.connect(cfg.storage.index_uri, storage_options=cfg.storage.storage_options)
    ids = db.open_table(SIGHTINGS).to_arrow().column("sighting_id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicate sightings"
    return sorted(ids)


@pytest.mark.slow
def test_index_and_read_on_object_storage(small_city: Path, s3_options, tmp_path: Path, detector_path, caplog):
    cfg = make_config(f"s3://{BUCKET}/city", storage__storage_options=s3_options)
    registry = load_registry(small_city / "cameras.csv")
    with caplog.at_level(logging.WARNING, logger="indexer.lock"):
        first = run_index(small_city, cfg, registry, BatchOptions(progress=False))
    assert first.indexed == N_VIDEOS and not first.failed, first.lines()
    assert any("no indexer lock" in r.message for r in caplog.records)
    again = run_index(small_city, cfg, registry, BatchOptions(progress=False))
    assert again.indexed == 0 and again.unchanged == N_VIDEOS

    # nothing was written locally, and a reader finds everything through the same settings
    assert not any(tmp_path.iterdir())
    status = index_status(cfg)
    assert status.exists and status.videos_done == N_VIDEOS and status.sightings == first.sightings > 0
    db = IndexDB.open(cfg.storage, must_exist=True)
    assert db.table(VIDEOS).count_rows() == N_VIDEOS
    assert db.clip_model() == "fs-tiny-test/random-init"

    local = make_config(tmp_path / "local")
    run_index(small_city, local, registry, BatchOptions(progress=False))
    assert _ids(cfg) == _ids(local)


@pytest.mark.slow
def test_ray_engine_writes_fragments_to_object_storage(small_city: Path, s3_options, tmp_path: Path,
                                                       detector_path):
    """Ray workers write their fragments straight to the bucket; the driver commits them there."""
    cfg = make_config(f"s3://{BUCKET}/ray-city", storage__storage_options=s3_options, index__workers=2)
    registry = load_registry(small_city / "cameras.csv")
    summary = run_index(small_city, cfg, registry, BatchOptions(engine="ray", progress=False, commit_every_videos=2))
    assert summary.indexed == N_VIDEOS and not summary.failed, summary.lines()
    local = make_config(tmp_path / "local")
    run_index(small_city, local, registry, BatchOptions(progress=False))
    assert _ids(cfg) == _ids(local)


def test_object_storage_has_no_file_lock_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="indexer.lock"), indexer_lock("s3://bucket/index"):
        pass
    assert any("one indexer per index" in r.message for r in caplog.records)

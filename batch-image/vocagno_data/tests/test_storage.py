"""Tests of whole-file reads, including S3 over the real protocol against moto's server on loopback."""

from __future__ import annotations

import socket

import pytest
from moto.server import ThreadedMotoServer

from vocagno_data import read_shard
from vocagno_data.storage import ObjectNotFoundError, read_bytes, s3_client
from vocagno_data.tests.test_shards import write_shard


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = s3_client()
    client.create_bucket(Bucket="vocagno-py")
    return client


def test_read_bytes_local_and_file_uri(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x01\xff")
    assert read_bytes(path) == b"\x00\x01\xff"
    assert read_bytes(f"file://{path}") == b"\x00\x01\xff"


def test_read_bytes_rejects_other_schemes():
    with pytest.raises(ValueError, match="unsupported URI scheme 'http'"):
        read_bytes("http://127.0.0.1/x")


def test_read_shard_from_s3(s3_bucket, tmp_path):
    with open(write_shard(tmp_path / "s.arrow"), "rb") as local:
        s3_bucket.put_object(Bucket="vocagno-py", Key="runs/r1/shards/000003.arrow", Body=local.read())
    shard = read_shard("s3://vocagno-py/runs/r1/shards/000003.arrow")
    assert [document.id for document in shard.documents] == ["a", "b"]


def test_read_bytes_s3_missing(s3_bucket):
    with pytest.raises(ObjectNotFoundError, match="s3://vocagno-py/absent"):
        read_bytes("s3://vocagno-py/absent")
    with pytest.raises(ObjectNotFoundError, match="s3://no-such-bucket/x"):
        read_bytes("s3://no-such-bucket/x")

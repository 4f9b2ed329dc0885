"""Run storage on a local directory (plain path or file:// URI) or S3 (s3:// URI).

S3 goes through boto3, which reads AWS_ENDPOINT_URL itself, so the same code
talks to AWS or to an S3-protocol server on loopback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a run URI with `/`, whatever the scheme."""
    return "/".join([uri.rstrip("/"), *(part.strip("/") for part in parts)])


def local_path(uri: str) -> Path:
    """Return the filesystem path of a plain path or file:// URI."""
    if uri.startswith("file://"):
        return Path(unquote(urlparse(uri).path))
    if "://" in uri:
        raise ValueError(f"unsupported storage URI {uri!r}: use a local path, file:// or s3://")
    return Path(uri)


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise ValueError(f"invalid S3 URI {uri!r}: expected s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


@cache
def _s3_client():  # noqa: ANN202 - boto3 clients have no static type
    import boto3
    from botocore.config import Config

    # A custom endpoint is a local S3-protocol server, which expects path-style addressing.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint is None:
        return boto3.client("s3")
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))


def exists(uri: str) -> bool:
    if not is_s3(uri):
        return local_path(uri).exists()
    bucket, key = _split_s3(uri)
    response = _s3_client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item["Key"] == key for item in response.get("Contents", []))


def read_bytes(uri: str) -> bytes:
    if not is_s3(uri):
        return local_path(uri).read_bytes()
    bucket, key = _split_s3(uri)
    client = _s3_client()
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (client.exceptions.NoSuchKey, client.exceptions.NoSuchBucket) as error:
        raise FileNotFoundError(f"object not found: {uri}") from error


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole object; locally through a temporary name and a rename, so readers never see half."""
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        _s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    path = local_path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def download_file(uri: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        _s3_client().download_file(bucket, key, str(destination))
    else:
        shutil.copyfile(local_path(uri), destination)


def upload_directory(source: Path, uri: str) -> None:
    """Copy every file under `source` to the prefix `uri` (S3 only; local copies use rename)."""
    bucket, prefix = _split_s3(uri)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            key = f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}"
            _s3_client().upload_file(str(path), bucket, key)


def list_keys(uri: str) -> list[str]:
    """Return the object keys (relative to the prefix `uri`) stored under an S3 prefix."""
    bucket, prefix = _split_s3(uri)
    prefix = prefix.rstrip("/") + "/"
    keys: list[str] = []
    paginator = _s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"][len(prefix) :] for item in page.get("Contents", [])]
    return keys


def delete_prefix(uri: str) -> None:
    """Delete a local directory tree or every S3 object under a prefix."""
    if not is_s3(uri):
        shutil.rmtree(local_path(uri), ignore_errors=True)
        return
    bucket, prefix = _split_s3(uri)
    keys = list_keys(uri)
    for start in range(0, len(keys), 1000):
        batch = [{"Key": f"{prefix.rstrip('/')}/{key}"} for key in keys[start : start + 1000]]
        _s3_client().delete_objects(Bucket=bucket, Delete={"Objects": batch})


def download_directory(uri: str, destination: Path) -> Path:
    """Make the directory `uri` available locally; returns its local path (no copy for local URIs)."""
    if not is_s3(uri):
        path = local_path(uri)
        if not path.is_dir():
            raise FileNotFoundError(f"directory not found: {uri}")
        return path
    keys = list_keys(uri)
    if not keys:
        raise FileNotFoundError(f"no objects under {uri}: check the URI and AWS_ENDPOINT_URL")
    for key in keys:
        download_file(join(uri, key), destination / key)
    return destination


def make_temporary_directory(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))

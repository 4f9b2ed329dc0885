"""Whole-file reads from local paths, ``file://`` URIs and ``s3://bucket/key``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)


class ObjectNotFoundError(FileNotFoundError):
    """A missing file or S3 object; ``uri`` names it."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"object not found: {uri}")
        self.uri = uri


def s3_client():
    """Create a boto3 S3 client for the endpoint in ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``.

    A custom endpoint (a local S3-protocol server) gets path-style addressing,
    as in the TypeScript storage module.
    """
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is None:
        return boto3.client("s3")
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))


def read_bytes(path_or_uri: str | os.PathLike[str]) -> bytes:
    """Read a whole file or S3 object; raise ``ObjectNotFoundError`` when it is missing."""
    uri = os.fspath(path_or_uri)
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        if not bucket or not key:
            raise ValueError(f"invalid S3 URI {uri!r}: use s3://bucket/key")
        client = s3_client()
        try:
            response = client.get_object(Bucket=bucket, Key=key)
        except client.exceptions.NoSuchKey as error:
            raise ObjectNotFoundError(uri) from error
        except client.exceptions.NoSuchBucket as error:
            raise ObjectNotFoundError(uri) from error
        body = response["Body"].read()
        logger.debug("read %s (%d bytes)", uri, len(body))
        return body
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "":
        path = Path(uri)
    else:
        raise ValueError(
            f"unsupported URI scheme {parsed.scheme!r} in {uri!r}: "
            "use s3://bucket/key, file:///absolute/path or a local path"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise ObjectNotFoundError(uri) from error

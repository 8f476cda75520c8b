"""Blobs in an S3-compatible bucket: AWS S3, or a server of one's own (versitygw, Ceph RGW...).

boto3 rather than obstore, because boto3 presigns GET URLs with an expiry of our choosing (and
response headers such as the content type), uploads large files (recordings, videos) in
parallel multipart parts with retries through s3transfer, is the client S3-compatible servers
test themselves against, and is typed for mypy strict by types-boto3. obstore is quicker for
bulk transfers, which this store does not do: it moves a few images and one recording per call.

Every method blocks on the network; callers run them on a thread, as with the filesystem store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from opencharacters.blobs.store import content_type_for
from opencharacters.settings import S3Settings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

MAX_PRESIGN_TTL_S = 7 * 24 * 3600
"""SigV4 presigned URLs are valid for at most a week."""
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _client(
    settings: S3Settings,
    endpoint_url: str | None,
    *,
    attempts: int = 4,
    connect_timeout_s: float = 5,
    read_timeout_s: float = 60,
) -> S3Client:
    config = Config(
        region_name=settings.region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.path_style else "auto"},
        retries={"max_attempts": attempts, "mode": "standard"},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        max_pool_connections=32,
        # Checksums only where S3 requires them: servers other than AWS do not all accept
        # the CRC trailers boto3 adds by default since 1.36.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )
    return client


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES


class S3BlobStore:
    def __init__(self, settings: S3Settings) -> None:
        if not settings.bucket:
            raise ValueError("the S3 blob store needs a bucket (OPENCHARACTERS_S3__BUCKET)")
        self.bucket = settings.bucket
        self._client = _client(settings, settings.endpoint_url)
        # Presigned URLs name the host callers reach, which may not be the one we use.
        self._presigner = (
            _client(settings, settings.public_endpoint_url)
            if settings.public_endpoint_url
            else self._client
        )
        # Readiness probes answer at once: a load balancer wants "no" now, not after retries.
        self._probe = _client(
            settings, settings.endpoint_url, attempts=1, connect_timeout_s=2, read_timeout_s=3
        )
        self._transfer = TransferConfig(
            multipart_threshold=settings.multipart_threshold_bytes,
            multipart_chunksize=settings.multipart_threshold_bytes,
            max_concurrency=4,
        )

    @staticmethod
    def _key(key: str) -> str:
        # The same keys the filesystem store accepts: relative, no way up.
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"not a blob key: {key!r}")
        return key

    def put_bytes(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type_for(key)
        )

    def put_file(self, key: str, source: Path) -> None:
        """Multipart (parallel parts, each retried) past multipart_threshold_bytes."""
        self._client.upload_file(
            str(source),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": content_type_for(key)},
            Config=self._transfer,
        )

    def get_bytes(self, key: str) -> bytes:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _missing(error):
                raise FileNotFoundError(f"no blob {key!r} in bucket {self.bucket}") from error
            raise
        return answer["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Everything under prefix/ (a folder, as in the filesystem store)."""
        folder = self._key(prefix.rstrip("/")) + "/"
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item
            ]
            if keys:
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )

    def presigned_url(self, key: str, ttl_s: int) -> str:
        url: str = self._presigner.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentType": content_type_for(key),
            },
            ExpiresIn=max(1, min(ttl_s, MAX_PRESIGN_TTL_S)),
        )
        return url

    def check(self) -> None:
        self._probe.head_bucket(Bucket=self.bucket)

"""A real S3 protocol server for tests: moto's server on a loopback port, in a background thread."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from cms.media.storage import Area

# Fake credentials, passed explicitly: moto accepts any, and nothing touches the real environment.
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


class MotoS3:
    """`with MotoS3() as s3:` runs moto on 127.0.0.1 (a free port) until the block ends."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def __enter__(self) -> MotoS3:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request is noise
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def client(self) -> Any:
        """A plain boto3 client, for inspecting server state behind the storage's back."""
        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        ).client("s3", endpoint_url=self.endpoint_url, config=Config(s3={"addressing_style": "path"}))

    def create_buckets(self, prefix: str = "t") -> dict[Area, str]:
        """Fresh, uniquely named buckets, one per area."""
        run = uuid.uuid4().hex[:12]
        buckets = {area: f"{prefix}-{run}-{area.value}" for area in Area}
        client = self.client()
        for name in buckets.values():
            client.create_bucket(Bucket=name)
        return buckets

    def env(self, buckets: Mapping[Area, str]) -> dict[str, str]:
        """The settings a `cms` process needs to keep media in these buckets on this server."""
        return {
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_BUCKET_STAGING": buckets[Area.STAGING],
            "S3_BUCKET_MASTERS": buckets[Area.MASTERS],
            "S3_BUCKET_PREVIEWS": buckets[Area.PREVIEWS],
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def pending_uploads(self, buckets: Mapping[Area, str]) -> list[tuple[str, str]]:
        """(bucket, key) of every incomplete multipart upload in these buckets."""
        client = self.client()
        found = []
        for name in buckets.values():
            for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
                found.append((name, upload["Key"]))
        return found

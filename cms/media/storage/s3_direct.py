"""Direct-to-bucket uploads into STAGING: browsers send bytes straight to S3 with URLs we presign."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cms.media.storage._io import run_blocking
from cms.media.storage.base import Area, ObjectInfo, ObjectMissing, PresignedPost, validate_key
from cms.media.storage.s3_util import abort_quietly, create_upload


class DirectUploadsMixin:
    """Mixed into S3Storage; needs its `_client`, `_presigner`, `buckets` and `stat`.

    Uploads always target the staging area: client bytes are untrusted until promote verifies them.
    """

    _client: Any
    _presigner: Any
    buckets: dict[Area, str]
    stat: Callable[[Area, str], Awaitable[ObjectInfo | None]]

    @property
    def _staging(self) -> str:
        return self.buckets[Area.STAGING]

    async def presigned_post(
        self, key: str, *, max_size: int, content_type: str | None = None, expires_in: int = 3600
    ) -> PresignedPost:
        """A form upload (url + fields). The policy pins the key (and the content type, when given) and
        limits the size to [1, max_size]; S3 and MinIO refuse anything else."""
        validate_key(key)
        fields: dict[str, str] = {}
        conditions: list[Any] = [["content-length-range", 1, max_size]]
        if content_type is not None:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        post = await run_blocking(
            self._presigner.generate_presigned_post,
            Bucket=self._staging,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return {"url": post["url"], "fields": dict(post["fields"])}

    async def create_multipart(self, key: str, content_type: str | None = None) -> str:
        validate_key(key)
        extra = {"ContentType": content_type} if content_type else {}
        return await create_upload(self._client, Bucket=self._staging, Key=key, **extra)

    async def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int = 3600) -> str:
        """A URL the client PUTs one part to; the response's ETag header identifies the part."""
        validate_key(key)
        if not 1 <= part_number <= 10_000:
            raise ValueError("part numbers run from 1 to 10000")
        params = {"Bucket": self._staging, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
        return str(
            await run_blocking(
                self._presigner.generate_presigned_url,
                "upload_part",
                Params=params,
                ExpiresIn=expires_in,
                HttpMethod="PUT",
            )
        )

    async def list_parts(self, key: str, upload_id: str) -> list[tuple[int, str, int]]:
        """(part_number, etag, size) of the parts S3 already holds: a resuming client sends only the rest."""
        validate_key(key)
        paginator = self._client.get_paginator("list_parts")
        pages = iter(paginator.paginate(Bucket=self._staging, Key=key, UploadId=upload_id))
        parts: list[tuple[int, str, int]] = []
        while (page := await run_blocking(next, pages, None)) is not None:
            parts.extend((p["PartNumber"], p["ETag"], p["Size"]) for p in page.get("Parts", []))
        return parts

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]] | None = None
    ) -> ObjectInfo:
        """Assemble the parts in number order; with `parts` None, use what S3 holds (list_parts)."""
        validate_key(key)
        if parts is None:
            parts = [(number, etag) for number, etag, _ in await self.list_parts(key, upload_id)]
        payload = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(parts)]
        await run_blocking(
            self._client.complete_multipart_upload,
            Bucket=self._staging,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": payload},
        )
        info = await self.stat(Area.STAGING, key)
        if info is None:
            raise ObjectMissing(f"completed upload {key} is not visible")
        return info

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await run_blocking(abort_quietly, self._client, self._staging, key, upload_id)

"""createUpload / completeUpload / resumeUpload."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from cms.api.context import Info
from cms.api.errors import ForbiddenError, NotFoundError, ValidationError, typed_errors
from cms.api.ids import pk_of
from cms.api.media.types import Asset
from cms.api.scalars import BigInt
from cms.core.errors import Invalid
from cms.media import models as m
from cms.media import uploads

# strawberry.enum registers the GraphQL enum on the class itself and returns it unchanged; binding the class
# (not the call's result) keeps these names usable in annotations.
UploadMethod = m.UploadMethod
UploadStatus = m.UploadStatus
strawberry.enum(UploadMethod, name="UploadMethod")
strawberry.enum(UploadStatus, name="UploadStatus")


@strawberry.type
class UploadPart:
    part_number: int
    url: str


@strawberry.type(
    description="Where and how to send the bytes. DIRECT: PUT the body to `url` with your bearer token. "
    "PRESIGNED_POST: POST a multipart form with `formFields` then the file to `url`. MULTIPART: PUT each "
    "`partSize` slice to its part URL, then completeUpload."
)
class Upload:
    id: strawberry.ID
    method: UploadMethod
    status: UploadStatus
    asset: Asset
    url: str | None
    form_fields: JSON | None = strawberry.field(description="PRESIGNED_POST: the form fields to send before the file.")
    part_size: BigInt | None
    parts: list[UploadPart]
    expires_at: datetime

    @classmethod
    def from_ticket(cls, ticket: uploads.UploadTicket) -> Upload:
        u = ticket.upload
        return cls(
            id=strawberry.ID(str(u.id)),
            method=u.method,
            status=u.status,
            asset=Asset.from_model(ticket.asset),
            url=ticket.url,
            form_fields=cast("JSON | None", ticket.fields or None),
            part_size=cast("BigInt | None", ticket.part_size),
            parts=[UploadPart(part_number=n, url=url) for n, url in ticket.part_urls],
            expires_at=u.expires_at,
        )


@strawberry.input
class CreateUploadInput:
    filename: str = strawberry.field(description="Shown to people; never used as a path.")
    size: BigInt = strawberry.field(description="Exact size in bytes; more is refused while streaming.")
    content_type: str | None = strawberry.field(default=None, description="A hint only: the bytes decide.")
    episode_id: strawberry.ID | None = None
    program_id: strawberry.ID | None = strawberry.field(
        default=None, description="Upload a cover image for this program."
    )
    sha256: str | None = strawberry.field(default=None, description="When given, the bytes must match it.")
    method: UploadMethod | None = strawberry.field(default=None, description="Force a method (S3 storage only).")

    def to_domain(self) -> uploads.UploadRequest:
        return uploads.UploadRequest(
            filename=self.filename,
            size=self.size,
            content_type=self.content_type,
            episode_id=pk_of(self.episode_id, "Episode", field="episodeId") if self.episode_id else None,
            cover_for_program_id=pk_of(self.program_id, "Program", field="programId") if self.program_id else None,
            sha256=self.sha256.lower() if self.sha256 else None,
            method=self.method,
        )


UploadResult = Annotated[Upload | ValidationError | NotFoundError | ForbiddenError, strawberry.union("UploadResult")]
AssetResult = Annotated[Asset | ValidationError | NotFoundError | ForbiddenError, strawberry.union("AssetResult")]


def _upload_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid({"id": "is not a valid upload id"}) from None


@strawberry.type
class UploadMutation:
    @strawberry.mutation(description="Start an upload: creates the asset (UPLOADING) and says where to send bytes.")
    @typed_errors
    async def create_upload(self, info: Info, input: CreateUploadInput) -> UploadResult:
        ctx = info.context
        ticket = await uploads.create_upload(
            actor=await ctx.actor(),
            storage=ctx.storage,
            settings=ctx.settings,
            request=input.to_domain(),
            direct_url=f"{ctx.base_url}/uploads/{{id}}",
        )
        return Upload.from_ticket(ticket)

    @strawberry.mutation(description="Check the bytes arrived (size, checksum) and start processing (PROCESSING).")
    @typed_errors
    async def complete_upload(self, info: Info, id: strawberry.ID) -> AssetResult:
        ctx = info.context
        asset = await uploads.complete_upload(actor=await ctx.actor(), storage=ctx.storage, id=_upload_id(id))
        return Asset.from_model(asset)

    @strawberry.mutation(description="Multipart uploads: fresh URLs for the parts the bucket does not have yet.")
    @typed_errors
    async def resume_upload(self, info: Info, id: strawberry.ID) -> UploadResult:
        ctx = info.context
        upload, missing = await uploads.missing_parts(
            principal=ctx.principal, storage=ctx.storage, settings=ctx.settings, upload_id=_upload_id(id)
        )
        asset = await upload.asset
        ticket = uploads.UploadTicket(
            upload=upload, asset=asset, part_size=ctx.settings.multipart_part_bytes, part_urls=missing
        )
        return Upload.from_ticket(ticket)

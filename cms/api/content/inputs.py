"""Filters, orderings and mutation inputs for programs, episodes and comments."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from cms.api.enums import OrderDirection, PublishStatus
from cms.api.ids import pk_of
from cms.content import episodes, programs
from cms.core.pagination import Ordering


def _set_fields(obj: object) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if v is not strawberry.UNSET}


@strawberry.input
class ProgramFilter:
    category: str | None = None
    language: str | None = None
    tags: list[str] | None = strawberry.field(default=None, description="Programs carrying all of these tags.")
    status: PublishStatus | None = strawberry.field(default=None, description="Editors only; others see PUBLISHED.")
    published_after: datetime | None = None
    published_before: datetime | None = None

    def to_domain(self) -> programs.ProgramFilter:
        return programs.ProgramFilter(**{**vars(self), "tags": self.tags or []})


@strawberry.enum
class ProgramOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    PUBLISH_AT = "PUBLISH_AT"
    TITLE = "TITLE"


@strawberry.input
class ProgramOrder:
    field: ProgramOrderField = ProgramOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


def program_ordering(order: ProgramOrder | None) -> Ordering:
    order = order or ProgramOrder()
    return programs.ordering(order.field.value, order.direction == OrderDirection.DESC)


@strawberry.input
class EpisodeFilter:
    program_id: strawberry.ID | None = None
    season: int | None = None
    category: str | None = strawberry.field(default=None, description="The program's category.")
    language: str | None = strawberry.field(default=None, description="The program's language.")
    tags: list[str] | None = strawberry.field(default=None, description="The program carries all of these tags.")
    status: PublishStatus | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None

    def to_domain(self, program_pk: int | None = None) -> episodes.EpisodeFilter:
        values = {**vars(self), "tags": self.tags or []}
        values["program_id"] = program_pk or (
            pk_of(self.program_id, "Program", field="filter.programId") if self.program_id else None
        )
        return episodes.EpisodeFilter(**values)


@strawberry.enum
class EpisodeOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    PUBLISH_AT = "PUBLISH_AT"
    TITLE = "TITLE"
    NUMBER = "NUMBER"


@strawberry.input
class EpisodeOrder:
    field: EpisodeOrderField = EpisodeOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


def episode_ordering(order: EpisodeOrder | None) -> Ordering:
    order = order or EpisodeOrder()
    return episodes.ordering(order.field.value, order.direction == OrderDirection.DESC)


@strawberry.input
class CreateProgramInput:
    title: str
    slug: str | None = strawberry.field(default=strawberry.UNSET, description="Derived from the title when absent.")
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    cover_asset_id: strawberry.ID | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        values = _set_fields(self)
        if values.get("cover_asset_id") is not None:
            values["cover_asset_id"] = pk_of(values["cover_asset_id"], "Asset", field="coverAssetId")
        return values


@strawberry.input
class UpdateProgramInput(CreateProgramInput):
    title: str | None = strawberry.UNSET  # type: ignore[assignment]  # an update may leave the title out


@strawberry.input
class CreateEpisodeInput:
    program_id: strawberry.ID
    title: str
    slug: str | None = strawberry.UNSET
    season: int | None = strawberry.UNSET
    number: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        values = _set_fields(self)
        values.pop("program_id", None)
        return values


@strawberry.input
class UpdateEpisodeInput:
    title: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    season: int | None = strawberry.UNSET
    number: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        return _set_fields(self)


@strawberry.input
class AddCommentInput:
    target_id: strawberry.ID = strawberry.field(description="An Episode or Asset id.")
    body: str
    timecode: float | None = strawberry.field(default=None, description="Seconds from the start of the media.")
    parent_id: strawberry.ID | None = None

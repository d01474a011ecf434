"""Program, Episode and Comment object types."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, cast, overload

import strawberry
from strawberry.scalars import JSON

from cms.api.content.inputs import EpisodeFilter, EpisodeOrder, episode_ordering
from cms.api.content.preload import EpisodeRelations, episode_relations
from cms.api.context import Info
from cms.api.enums import PublishStatus
from cms.api.ids import to_global_id
from cms.api.node import Node
from cms.api.pagination import Connection, to_connection
from cms.content import comments, episodes
from cms.content import models as m
from cms.content.episodes import EpisodeRow
from cms.content.programs import ProgramRow
from cms.core.pagination import Page
from cms.media.service import AssetRow, pick_media_asset

if TYPE_CHECKING:
    from cms.api.media.types import Asset
    from cms.api.users.types import User
    from cms.media import models as media_models
    from cms.users import models as user_models

AssetRef = Annotated["Asset", strawberry.lazy("cms.api.media.types")]
UserRef = Annotated["User", strawberry.lazy("cms.api.users.types")]


@overload
def _asset(model: media_models.Asset | AssetRow) -> Asset: ...
@overload
def _asset(model: media_models.Asset | AssetRow | None) -> Asset | None: ...
def _asset(model: media_models.Asset | AssetRow | None) -> Asset | None:
    asset_type: type[Asset] = _media_types().Asset
    return asset_type.from_model(model) if model else None


@overload
def _user(model: user_models.User) -> User: ...
@overload
def _user(model: user_models.User | None) -> User | None: ...
def _user(model: user_models.User | None) -> User | None:
    from cms.api.users.types import User

    return User.from_model(model) if model else None


@functools.cache
def _media_types() -> ModuleType:
    """cms.api.media.types imports this module; resolve the cycle once, on first use."""
    from cms.api.media import types

    return types


@strawberry.type
class Program(Node):
    title: str
    slug: str
    description: str
    category: str | None
    language: str | None
    tags: list[str]
    status: PublishStatus
    publish_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    cover_asset_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, p: m.Program | ProgramRow) -> Program:
        return cls(
            id=strawberry.ID(to_global_id("Program", p.id)),
            title=p.title,
            slug=p.slug,
            description=p.description,
            category=p.category,
            language=p.language,
            tags=list(p.tags),
            status=p.status,
            publish_at=p.publish_at,
            created_at=p.created_at,
            updated_at=p.updated_at,
            pk=p.id,
            cover_asset_pk=p.cover_asset_id,
        )

    @strawberry.field
    async def cover_asset(self, info: Info) -> AssetRef | None:
        if self.cover_asset_pk is None:
            return None
        return _asset(await info.context.loaders.asset_by_id.load(self.cover_asset_pk))

    @strawberry.field
    async def episodes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EpisodeFilter | None = None,
        order_by: EpisodeOrder | None = None,
    ) -> Connection[Episode]:
        page = await episodes.list_episodes(
            principal=info.context.principal,
            first=first,
            after=after,
            filter=(filter or EpisodeFilter()).to_domain(program_pk=self.pk),
            order=episode_ordering(order_by),
        )
        return await episode_connection(info, page)


@strawberry.type
class Episode(Node):
    title: str
    slug: str
    season: int | None
    number: int | None
    description: str
    metadata: JSON
    status: PublishStatus
    publish_at: datetime | None
    source: str | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    program_pk: strawberry.Private[int]
    related: strawberry.Private[EpisodeRelations | None] = None

    @classmethod
    def from_model(cls, e: m.Episode | EpisodeRow, related: EpisodeRelations | None = None) -> Episode:
        return cls(
            id=strawberry.ID(to_global_id("Episode", e.id)),
            title=e.title,
            slug=e.slug,
            season=e.season,
            number=e.number,
            description=e.description,
            metadata=cast(JSON, e.metadata),
            status=e.status,
            publish_at=e.publish_at,
            source=e.source,
            external_id=e.external_id,
            created_at=e.created_at,
            updated_at=e.updated_at,
            pk=e.id,
            program_pk=e.program_id,
            related=related,
        )

    # Sync resolvers: a preloaded relation is returned as is; otherwise a coroutine that graphql-core awaits.
    # The Python return type includes that awaitable, so the GraphQL type is given as `graphql_type`.
    @strawberry.field(graphql_type=Program)
    def program(self, info: Info) -> Program | Awaitable[Program]:
        if self.related and self.related.program is not None:
            return Program.from_model(self.related.program)
        return self._load_program(info)

    @strawberry.field(
        description="The main video or audio: the newest ready one, else the newest uploaded.",
        graphql_type=AssetRef | None,
    )
    def media_asset(self, info: Info) -> AssetRef | None | Awaitable[AssetRef | None]:
        if self.related and self.related.assets is not None:
            return _asset(pick_media_asset(self.related.assets))
        return self._load_media_asset(info)

    @strawberry.field(graphql_type=list[AssetRef])
    def assets(self, info: Info) -> list[AssetRef] | Awaitable[list[AssetRef]]:
        if self.related and self.related.assets is not None:
            return [_asset(a) for a in self.related.assets]
        return self._load_assets(info)

    @strawberry.field(description="Comments not deleted, replies included.", graphql_type=int)
    def comment_count(self, info: Info) -> int | Awaitable[int]:
        if self.related and self.related.comment_count is not None:
            return self.related.comment_count
        return info.context.loaders.comment_count_by_episode.load(self.pk)

    async def _load_program(self, info: Info) -> Program:
        program = await info.context.loaders.program_by_id.load(self.program_pk)
        assert program is not None  # episode.program is a required foreign key
        return Program.from_model(program)

    async def _load_media_asset(self, info: Info) -> Asset | None:
        return _asset(pick_media_asset(await info.context.loaders.assets_by_episode.load(self.pk)))

    async def _load_assets(self, info: Info) -> list[Asset]:
        return [_asset(a) for a in await info.context.loaders.assets_by_episode.load(self.pk)]

    @strawberry.field
    async def comments(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Comment]:
        page = await comments.list_comments(
            principal=info.context.principal, target=comments.Target("episode", self.pk), first=first, after=after
        )
        return to_connection(page, Comment.from_model)


async def episode_connection(info: Info, page: Page[EpisodeRow]) -> Connection[Episode]:
    related = await episode_relations(info, page.items)
    return to_connection(page, lambda e: Episode.from_model(e, related[e.id]))


@strawberry.type
class Comment(Node):
    body: str
    timecode: float | None
    resolved_at: datetime | None
    created_at: datetime
    pk: strawberry.Private[int]
    author_pk: strawberry.Private[int]
    parent_pk: strawberry.Private[int | None]
    episode_pk: strawberry.Private[int | None]
    asset_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, c: m.Comment) -> Comment:
        return cls(
            id=strawberry.ID(to_global_id("Comment", c.id)),
            body=c.body,
            timecode=c.timecode,
            resolved_at=c.resolved_at,
            created_at=c.created_at,
            pk=c.id,
            author_pk=c.author_id,
            parent_pk=c.parent_id,
            episode_pk=c.episode_id,
            asset_pk=c.asset_id,
        )

    @strawberry.field
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @strawberry.field
    def parent_id(self) -> strawberry.ID | None:
        return strawberry.ID(to_global_id("Comment", self.parent_pk)) if self.parent_pk else None

    @strawberry.field
    async def author(self, info: Info) -> UserRef:
        author = await info.context.loaders.user_by_id.load(self.author_pk)
        assert author is not None  # comment.author is a required foreign key (ON DELETE RESTRICT)
        return _user(author)

    @strawberry.field
    async def episode(self, info: Info) -> Episode | None:
        found = await info.context.loaders.episode_by_id.load(self.episode_pk) if self.episode_pk else None
        return Episode.from_model(found) if found else None

    @strawberry.field
    async def asset(self, info: Info) -> AssetRef | None:
        return _asset(await info.context.loaders.asset_by_id.load(self.asset_pk)) if self.asset_pk else None

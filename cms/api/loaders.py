"""Per-request DataLoaders: related objects load in one query per kind, never once per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any, Never, TypeVar, overload

from strawberry.dataloader import DataLoader

from cms.content import comments, episodes, programs
from cms.content.models import Episode, Program
from cms.ingest import sources as ingest_sources
from cms.ingest.models import SourceRun
from cms.media import service as media
from cms.media.models import Asset, Rendition
from cms.users import service as users
from cms.users.models import User
from jobs.store import service as jobstore
from jobs.store.models import Job

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


# The loader's value type: V | None without a default; an empty-list default fits any list type.
@overload
def _by_key(fetch: Callable[[list[K]], Awaitable[dict[K, V]]]) -> DataLoader[K, V | None]: ...
@overload
def _by_key(
    fetch: Callable[[list[K]], Awaitable[dict[K, list[T]]]], default: list[Never]
) -> DataLoader[K, list[T]]: ...
@overload
def _by_key(fetch: Callable[[list[K]], Awaitable[dict[K, V]]], default: V) -> DataLoader[K, V]: ...
def _by_key(fetch: Callable[[list[K]], Awaitable[dict[K, Any]]], default: Any = None) -> DataLoader[K, Any]:
    async def load(keys: list[K]) -> list[Any]:
        found = await fetch(list(keys))
        return [found.get(key, default) for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """One DataLoader per kind, made on first use: most operations need one or two of them, not all nine."""

    @cached_property
    def program_by_id(self) -> DataLoader[int, Program | None]:
        return _by_key(lambda ids: programs.programs_by_ids(ids=ids))

    @cached_property
    def episode_by_id(self) -> DataLoader[int, Episode | None]:
        return _by_key(lambda ids: episodes.episodes_by_ids(ids=ids))

    @cached_property
    def asset_by_id(self) -> DataLoader[int, Asset | None]:
        return _by_key(lambda ids: media.assets_by_ids(ids=ids))

    @cached_property
    def assets_by_episode(self) -> DataLoader[int, list[Asset]]:
        return _by_key(lambda ids: media.assets_by_episode(episode_ids=ids), default=[])

    @cached_property
    def comment_count_by_episode(self) -> DataLoader[int, int]:
        return _by_key(lambda ids: comments.comment_counts(episode_ids=ids), default=0)

    @cached_property
    def jobs_by_asset(self) -> DataLoader[int, list[Job]]:
        return _by_key(lambda ids: jobstore.jobs_for_assets(asset_ids=ids), default=[])

    @cached_property
    def renditions_by_asset(self) -> DataLoader[int, list[Rendition]]:
        return _by_key(lambda ids: media.renditions_by_asset(asset_ids=ids), default=[])

    @cached_property
    def last_source_run(self) -> DataLoader[int, SourceRun | None]:
        return _by_key(lambda ids: ingest_sources.last_runs(source_ids=ids))

    @cached_property
    def user_by_id(self) -> DataLoader[int, User | None]:
        return _by_key(lambda ids: users.users_by_ids(ids=ids))

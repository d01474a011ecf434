"""Per-request DataLoaders: related objects load in one query per kind, never once per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


@dataclass
class Loaders:
    program_by_id: DataLoader[int, Program | None] = field(
        default_factory=lambda: _by_key(lambda ids: programs.programs_by_ids(ids=ids))
    )
    episode_by_id: DataLoader[int, Episode | None] = field(
        default_factory=lambda: _by_key(lambda ids: episodes.episodes_by_ids(ids=ids))
    )
    asset_by_id: DataLoader[int, Asset | None] = field(
        default_factory=lambda: _by_key(lambda ids: media.assets_by_ids(ids=ids))
    )
    assets_by_episode: DataLoader[int, list[Asset]] = field(
        default_factory=lambda: _by_key(lambda ids: media.assets_by_episode(episode_ids=ids), default=[])
    )
    comment_count_by_episode: DataLoader[int, int] = field(
        default_factory=lambda: _by_key(lambda ids: comments.comment_counts(episode_ids=ids), default=0)
    )
    jobs_by_asset: DataLoader[int, list[Job]] = field(
        default_factory=lambda: _by_key(lambda ids: jobstore.jobs_for_assets(asset_ids=ids), default=[])
    )
    renditions_by_asset: DataLoader[int, list[Rendition]] = field(
        default_factory=lambda: _by_key(lambda ids: media.renditions_by_asset(asset_ids=ids), default=[])
    )
    last_source_run: DataLoader[int, SourceRun | None] = field(
        default_factory=lambda: _by_key(lambda ids: ingest_sources.last_runs(source_ids=ids))
    )
    user_by_id: DataLoader[int, User | None] = field(
        default_factory=lambda: _by_key(lambda ids: users.users_by_ids(ids=ids))
    )

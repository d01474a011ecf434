"""Look ahead in a page of episodes: load the relations the query selects in one batch per kind, before the
fields resolve, so each row's `program`, `mediaAsset` and `commentCount` is a plain value, not a future."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from cms.api.context import Info
from cms.content import comments, programs
from cms.content.episodes import EpisodeRow
from cms.content.programs import ProgramRow
from cms.media import service as media
from cms.media.service import AssetRow


@dataclass(slots=True)
class EpisodeRelations:
    program: ProgramRow | None = None
    assets: list[AssetRow] | None = None
    comment_count: int | None = None


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _fields(selection.selections)
        else:
            yield selection


def selected_fields(info: Info) -> set[str]:
    """Field names selected directly under the field being resolved."""
    return {field.name for selected in _fields(info.selected_fields) for field in _fields(selected.selections)}


def node_fields(info: Info) -> set[str]:
    """Field names selected under `edges { node { ... } }` of the connection being resolved."""
    names: set[str] = set()
    for connection in _fields(info.selected_fields):
        for edges in _fields(connection.selections):
            if edges.name != "edges":
                continue
            for node in _fields(edges.selections):
                if node.name == "node":
                    names.update(field.name for field in _fields(node.selections))
    return names


async def episode_relations(info: Info, items: list[EpisodeRow]) -> dict[int, EpisodeRelations]:
    """One query per selected relation for the whole page, run concurrently, read as plain rows. (They do not prime
    the loaders, which hold models: a field elsewhere in the same request that needs one of these loads it again.)"""
    wanted = node_fields(info)
    ids = [e.id for e in items]
    fetches: dict[str, Awaitable[dict[int, Any]]] = {}
    if "program" in wanted:
        fetches["program"] = programs.program_rows_by_ids(ids=list({e.program_id for e in items}))
    if {"mediaAsset", "assets"} & wanted:
        fetches["assets"] = media.asset_rows_by_episode(episode_ids=ids)
    if "commentCount" in wanted:
        fetches["comment_count"] = comments.comment_counts(episode_ids=ids)
    found = dict(zip(fetches, await asyncio.gather(*fetches.values()))) if fetches else {}
    return {
        e.id: EpisodeRelations(
            program=found["program"].get(e.program_id) if "program" in found else None,
            assets=found["assets"].get(e.id, []) if "assets" in found else None,
            comment_count=found["comment_count"].get(e.id, 0) if "comment_count" in found else None,
        )
        for e in items
    }

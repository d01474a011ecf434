"""The lean read path (SQL compiled once per query shape, plain rows: cms/core/sql_shapes.py) against the Tortoise
model reads it replaced, on the same rows: every visibility case, role, filter, ordering and cursor gives the same
episodes with the same values, the same cursors and the same page ends."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cms.auth.principal import Principal
from cms.content import comments, episodes, programs
from cms.content.episodes import EpisodeFilter, EpisodeRow, visible_episodes
from cms.content.models import Comment, Episode, Program, PublishStatus
from cms.content.programs import ProgramRow
from cms.content.visibility import aware
from cms.core.errors import Invalid
from cms.core.pagination import Page, paginate
from cms.media import service as media
from cms.media.models import Asset, AssetKind, AssetStatus
from cms.media.service import AssetRow
from cms.users.models import User
from tests.support.processes import eventually

PRINCIPALS = {
    "anonymous": None,
    "viewer": Principal("lean-viewer", frozenset({"viewer"})),
    "editor": Principal("lean-editor", frozenset({"editor"})),
}


async def seed() -> dict[str, Any]:
    """Programs public, draft, scheduled and archived; their episodes in every state, with ties and NULLs in the
    sort columns (so cursors cross them), seasons, tags, languages, assets and comments (some deleted)."""
    now = datetime.now(UTC)
    past, future = now - timedelta(days=1), now + timedelta(days=1)
    made = [
        await Program.create(
            title=f"Program {i}",
            slug=f"program-{i}",
            status=status,
            publish_at=at,
            category=("news", "music", None)[i % 3],
            language=("en", "de")[i % 2],
            tags=[["a", "b"], ["b"], []][i % 3],
        )
        for i, (status, at) in enumerate(
            [
                (PublishStatus.PUBLISHED, past),
                (PublishStatus.PUBLISHED, past - timedelta(hours=1)),
                (PublishStatus.DRAFT, None),
                (PublishStatus.PUBLISHED, future),
                (PublishStatus.ARCHIVED, past),
            ]
        )
    ]
    states = [
        (PublishStatus.PUBLISHED, past),
        (PublishStatus.PUBLISHED, past),  # a tie on publish_at
        (PublishStatus.PUBLISHED, past - timedelta(minutes=5)),
        (PublishStatus.PUBLISHED, future),
        (PublishStatus.DRAFT, None),
        (PublishStatus.DRAFT, past),
        (PublishStatus.ARCHIVED, past),
    ]
    author = await User.create(subject="lean-author", display_name="Lean Author")
    made_episodes = []
    n = 0
    for program in made:
        for j, (status, at) in enumerate(states):
            episode = await Episode.create(
                program=program,
                title=f"Episode {n % 4}",  # ties on the title too
                slug=f"episode-{n}",
                season=(1, 2, None)[j % 3],
                number=(n % 5) or None,
                status=status,
                publish_at=at,
                metadata={"n": n, "nested": {"tags": ["x"]}} if n % 2 else {},
                source="feed" if n % 3 == 0 else None,
                external_id=f"ext-{n}" if n % 3 == 0 else None,
            )
            made_episodes.append(episode)
            for k, kind in enumerate((AssetKind.IMAGE, AssetKind.VIDEO, AssetKind.AUDIO)[: 1 + n % 3]):
                await Asset.create(
                    episode=episode,
                    kind=kind,
                    filename=f"e{n}-{k}",
                    content_type="application/octet-stream",
                    status=(AssetStatus.READY, AssetStatus.PROCESSING)[(n + k) % 2],
                    size=(None, 2**40)[k % 2],
                    probe={"duration": 1.5} if k else {},
                )
            for c in range(n % 4):
                await Comment.create(
                    episode=episode,
                    author=author,
                    body=f"c{c}",
                    deleted_at=now if c == 2 else None,
                )
            n += 1
    return {"programs": made, "episodes": made_episodes}


async def reference_page(
    principal: Principal | None, first: int, after: str | None, filter: EpisodeFilter, order: Any
) -> Page[Episode]:
    """list_episodes as it was before the lean path: Tortoise querysets and paginate()."""
    query = visible_episodes(principal)
    if filter.program_id is not None:
        query = query.filter(program_id=filter.program_id)
    if filter.season is not None:
        query = query.filter(season=filter.season)
    if filter.category:
        query = query.filter(program__category=filter.category)
    if filter.language:
        query = query.filter(program__language=filter.language)
    if filter.tags:
        query = query.filter(program__tags__contains=[t.lower() for t in filter.tags])
    if filter.status:
        query = query.filter(status=filter.status)
    if filter.published_after:
        query = query.filter(publish_at__gte=aware(filter.published_after))
    if filter.published_before:
        query = query.filter(publish_at__lt=aware(filter.published_before))
    return await paginate(query, ordering=order, first=first, after=after)


def same_values(row: Any, model: Any, row_type: type) -> None:
    for f in fields(row_type):
        if f.name == "program":
            continue
        assert getattr(row, f.name) == getattr(model, f.name), (row_type.__name__, f.name, row, model)
        assert type(getattr(row, f.name)) is type(getattr(model, f.name)) or getattr(row, f.name) is None, f.name


def filters(seeded: dict[str, Any]) -> list[EpisodeFilter]:
    now = datetime.now(UTC)
    first_program = seeded["programs"][0].id
    return [
        EpisodeFilter(),
        EpisodeFilter(program_id=first_program),
        EpisodeFilter(program_id=seeded["programs"][2].id),  # a draft program
        EpisodeFilter(season=1),
        EpisodeFilter(category="news"),
        EpisodeFilter(language="de"),
        EpisodeFilter(tags=["B"]),
        EpisodeFilter(tags=["a", "b"], language="en"),
        EpisodeFilter(status=PublishStatus.DRAFT),
        EpisodeFilter(status=PublishStatus.PUBLISHED, season=2),
        EpisodeFilter(published_after=now - timedelta(hours=2)),
        EpisodeFilter(published_before=(now - timedelta(hours=2)).replace(tzinfo=None)),  # a naive one: UTC
        EpisodeFilter(program_id=first_program, season=1, category="news", published_after=now - timedelta(days=9)),
    ]


async def walk(principal: Principal | None, filter: EpisodeFilter, order: Any, *, lean: bool) -> list[Page[Any]]:
    """Every page, 4 rows at a time, of the lean read or of the model read."""
    pages: list[Page[Any]] = []
    after = None
    while True:
        if lean:
            page: Page[Any] = await episodes.list_episodes(
                principal=principal, first=4, after=after, filter=filter, order=order
            )
        else:
            page = await reference_page(principal, 4, after, filter, order)
        pages.append(page)
        if not page.has_next_page:
            return pages
        after = page.end_cursor


@pytest.mark.parametrize("role", list(PRINCIPALS))
async def test_episode_pages_match_the_model_reads(api, role):
    seeded = await seed()
    principal = PRINCIPALS[role]
    for filter in filters(seeded):
        for field in episodes.ORDER_FIELDS:
            for descending in (True, False):
                order = episodes.ordering(field, descending)

                got = await walk(principal, filter, order, lean=True)
                expected = await walk(principal, filter, order, lean=False)
                case = (role, filter, field, descending)
                assert [p.cursors for p in got] == [p.cursors for p in expected], case
                assert [p.has_next_page for p in got] == [p.has_next_page for p in expected], case
                for page, reference in zip(got, expected):
                    for row, episode in zip(page.items, reference.items, strict=True):
                        same_values(row, episode, EpisodeRow)
                assert await got[0].count() == await expected[0].count(), case


async def test_cursors_move_between_the_lean_and_the_model_reads(api):
    await seed()
    order = episodes.ordering("TITLE", descending=False)
    lean = await episodes.list_episodes(principal=None, first=3, after=None, filter=EpisodeFilter(), order=order)
    model = await reference_page(None, 3, lean.end_cursor, EpisodeFilter(), order)
    again = await episodes.list_episodes(
        principal=None, first=3, after=lean.end_cursor, filter=EpisodeFilter(), order=order
    )
    assert [e.id for e in model.items] == [e.id for e in again.items] and again.items
    # A cursor of another ordering, or of another list, is refused as before.
    with pytest.raises(Invalid):
        await episodes.list_episodes(
            principal=None,
            first=3,
            after=lean.end_cursor,
            filter=EpisodeFilter(),
            order=episodes.ordering("NUMBER", descending=False),
        )
    program_page = await programs.list_programs(
        principal=None, first=1, after=None, filter=programs.ProgramFilter(), order=programs.ordering()
    )
    with pytest.raises(Invalid):
        await episodes.list_episodes(
            principal=None, first=3, after=program_page.end_cursor, filter=EpisodeFilter(), order=episodes.ordering()
        )


@pytest.mark.parametrize("role", list(PRINCIPALS))
async def test_single_episodes_match_the_model_reads(api, role):
    seeded = await seed()
    principal = PRINCIPALS[role]
    for episode in seeded["episodes"]:
        expected = await visible_episodes(principal).select_related("program").get_or_none(id=episode.id)
        for with_program in (False, True):
            row = await episodes.get_episode(principal=principal, id=episode.id, with_program=with_program)
            if expected is None:
                assert row is None, (role, episode.id)
                continue
            assert row is not None, (role, episode.id)
            same_values(row, expected, EpisodeRow)
            if with_program:
                assert row.program is not None
                same_values(row.program, expected.program, ProgramRow)
            else:
                assert row.program is None
    assert await episodes.get_episode(principal=principal, id=10**12) is None


async def test_relations_match_the_model_reads(api):
    seeded = await seed()
    ids = [e.id for e in seeded["episodes"]] + [10**12]
    program_ids = [p.id for p in seeded["programs"]]
    rows, models = await programs.program_rows_by_ids(ids=program_ids), await programs.programs_by_ids(ids=program_ids)
    assert rows.keys() == models.keys()
    for pk, row in rows.items():
        same_values(row, models[pk], ProgramRow)
    asset_rows, asset_models = (
        await media.asset_rows_by_episode(episode_ids=ids),
        await media.assets_by_episode(episode_ids=ids),
    )
    assert asset_rows.keys() == asset_models.keys()
    for pk, found in asset_rows.items():
        assert [a.id for a in found] == [a.id for a in asset_models[pk]]
        for row, asset in zip(found, asset_models[pk], strict=True):
            same_values(row, asset, AssetRow)
        picked, expected = media.pick_media_asset(found), media.pick_media_asset(asset_models[pk])
        assert (picked and picked.id) == (expected and expected.id)
    counts = await comments.comment_counts(episode_ids=ids)
    expected_counts = {
        e.id: n
        for e in seeded["episodes"]
        if (n := await Comment.filter(episode_id=e.id, deleted_at__isnull=True).count())
    }
    assert counts == expected_counts


async def test_an_episode_becomes_visible_when_its_time_comes(api):
    """The moment of the read goes into the compiled SQL at each call, not when it was compiled."""
    seeded = await seed()
    scheduled = next(e for e in seeded["episodes"] if e.publish_at and e.publish_at > datetime.now(UTC))
    program = await Program.get(id=scheduled.program_id)
    assert await episodes.get_episode(principal=None, id=scheduled.id) is None
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    await Episode.filter(id=scheduled.id).update(publish_at=soon)
    await Program.filter(id=program.id).update(publish_at=soon - timedelta(days=2), status=PublishStatus.PUBLISHED)
    assert await episodes.get_episode(principal=None, id=scheduled.id) is None

    async def visible() -> bool:
        return await episodes.get_episode(principal=None, id=scheduled.id) is not None

    await eventually(visible, what="the scheduled episode to become public")
    page = await episodes.list_episodes(
        principal=None, first=100, after=None, filter=EpisodeFilter(program_id=program.id), order=episodes.ordering()
    )
    assert scheduled.id in [row.id for row in page.items]

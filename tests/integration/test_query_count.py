"""DataLoaders keep the SQL query count of list fields constant in the page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from cms.api.ids import to_global_id
from cms.content.models import Comment, Episode, Program, PublishStatus
from cms.media.models import Asset, AssetKind, AssetStatus
from cms.users.models import User
from tests.support.api import operation
from tests.support.roundtrips import RoundTripCounter

EPISODE_FEED = operation("EpisodeFeed")
PAGE_SIZES = (1, 10, 100)
PROGRAMS_WITH_COVERS = (
    "query($first: Int) { programs(first: $first) { edges { node { id title coverAsset { id kind } } } } }"
)
COMMENTS_WITH_AUTHORS = """
query($id: ID!, $first: Int) {
  episode(id: $id) { comments(first: $first) { edges { node { id body author { id displayName } parentId } } } }
}
"""


async def seed(*, programs: int = 4, episodes: int = 110) -> dict[str, list]:
    """Published programs and episodes, each episode with a ready video, an image and some comments.

    Written through the models (the app's Tortoise context is this process's) so seeding stays fast.
    """
    past = datetime.now(UTC) - timedelta(hours=1)
    author = await User.create(subject="seed-viewer", display_name="Seed Viewer", roles=["viewer"])
    made_programs = []
    for p in range(programs):
        cover = await Asset.create(
            kind=AssetKind.IMAGE, filename=f"cover-{p}.jpg", content_type="image/jpeg", status=AssetStatus.READY
        )
        made_programs.append(
            await Program.create(
                title=f"Program {p}",
                slug=f"program-{p}",
                status=PublishStatus.PUBLISHED,
                publish_at=past,
                cover_asset_id=cover.id,
            )
        )
    made_episodes = []
    for e in range(episodes):
        episode = await Episode.create(
            program=made_programs[e % programs],
            title=f"Episode {e}",
            slug=f"episode-{e}",
            number=e,
            status=PublishStatus.PUBLISHED,
            publish_at=past - timedelta(minutes=e),
        )
        await Asset.create(
            episode=episode,
            kind=AssetKind.VIDEO,
            filename=f"e{e}.mp4",
            content_type="video/mp4",
            status=AssetStatus.READY,
            probe={"duration": 60.0},
        )
        await Asset.create(
            episode=episode,
            kind=AssetKind.IMAGE,
            filename=f"e{e}.jpg",
            content_type="image/jpeg",
            status=AssetStatus.READY,
        )
        parent = await Comment.create(episode=episode, author=author, body=f"first on {e}", timecode=1.0)
        for r in range(e % 3):
            await Comment.create(episode=episode, author=author, body=f"reply {r}", timecode=2.0, parent=parent)
        made_episodes.append(episode)
    return {"programs": made_programs, "episodes": made_episodes}


async def counted(api, count_queries, query: str, variables: dict, *, role: str | None = None) -> tuple[int, dict]:
    token = api.token(role)  # minted outside the count (the test issuer is not the database anyway)
    # no-cache: measure the query path itself, not the public response cache in front of it
    headers = {"authorization": f"Bearer {token}"} if token else {"cache-control": "no-cache"}
    with count_queries() as counter:
        response = await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return len(counter.statements), body["data"]


@pytest.mark.parametrize("role", [None, "viewer", "editor"], ids=["anonymous", "viewer", "editor"])
async def test_episode_feed_query_count_is_constant_in_page_size(api, count_queries, role):
    await seed()
    await counted(api, count_queries, EPISODE_FEED, {"first": 1}, role=role)  # warm up the connection pool

    counts = {}
    for size in PAGE_SIZES:
        counts[size], data = await counted(api, count_queries, EPISODE_FEED, {"first": size}, role=role)
        nodes = [edge["node"] for edge in data["episodes"]["edges"]]
        assert len(nodes) == size
        assert all(node["program"]["title"].startswith("Program ") for node in nodes)
        assert all(node["mediaAsset"]["kind"] == "VIDEO" and node["mediaAsset"]["status"] == "READY" for node in nodes)
        # Episode e carries 1 + e % 3 comments; the feed is newest first (episode 0 is the newest).
        assert [node["commentCount"] for node in nodes] == [1 + int(n["title"].split()[1]) % 3 for n in nodes]

    assert len(set(counts.values())) == 1, counts
    # The page, then one query each for programs, assets and comment counts.
    assert counts[100] <= 4, counts


async def test_episode_feed_second_page_costs_the_same(api, count_queries):
    await seed()
    first, data = await counted(api, count_queries, EPISODE_FEED, {"first": 100})
    assert data["episodes"]["pageInfo"]["hasNextPage"] is True
    after = data["episodes"]["pageInfo"]["endCursor"]
    second, data = await counted(api, count_queries, EPISODE_FEED, {"first": 100, "after": after})
    assert len(data["episodes"]["edges"]) == 10
    assert second == first


async def test_program_list_with_cover_assets_is_constant(api, count_queries):
    await seed(programs=12, episodes=12)
    counts = {}
    for size in (1, 5, 12):
        counts[size], data = await counted(api, count_queries, PROGRAMS_WITH_COVERS, {"first": size})
        assert len(data["programs"]["edges"]) == size
        assert all(edge["node"]["coverAsset"]["kind"] == "IMAGE" for edge in data["programs"]["edges"])
    assert len(set(counts.values())) == 1 and counts[12] <= 2, counts


async def test_comment_list_with_authors_is_constant(api, count_queries):
    seeded = await seed(programs=1, episodes=1)
    episode = seeded["episodes"][0]
    author = await User.get(subject="seed-viewer")
    for n in range(30):
        other = await User.create(subject=f"commenter-{n}", display_name=f"Commenter {n}")
        await Comment.create(episode=episode, author=other if n % 2 else author, body=f"c{n}", timecode=float(n))
    counts = {}
    for size in (1, 10, 30):
        counts[size], data = await counted(
            api,
            count_queries,
            COMMENTS_WITH_AUTHORS,
            {"id": to_global_id("Episode", episode.id), "first": size},
            role="viewer",
        )
        edges = data["episode"]["comments"]["edges"]
        assert len(edges) == size and all(edge["node"]["author"]["displayName"] for edge in edges)
    assert len(set(counts.values())) == 1, counts


EPISODE_WITH_PROGRAM = operation("EpisodeWithProgram")


async def round_trips(api, count_queries, query: str, variables: dict) -> tuple[int, list[str], dict]:
    """An anonymous uncached read: the SQL statements Tortoise sent and everything asyncpg sent to PostgreSQL."""
    with RoundTripCounter() as sent:
        statements, data = await counted(api, count_queries, query, variables)
    return statements, sent.statements, data


async def test_uncached_reads_send_nothing_but_their_statements(api, count_queries):
    """A pooled connection goes back to the pool without a reset statement: the round trips of a read are its
    statements (S1: 1, S2: 4), not twice as many."""
    seeded = await seed()
    episode_id = to_global_id("Episode", seeded["episodes"][0].id)
    await counted(api, count_queries, EPISODE_FEED, {"first": 1})  # warm up the pool and the statement cache

    statements, sent, data = await round_trips(api, count_queries, EPISODE_WITH_PROGRAM, {"id": episode_id})
    assert data["episode"]["program"]["title"] == "Program 0"
    assert statements == 1 and len(sent) == 1, sent

    statements, sent, data = await round_trips(api, count_queries, EPISODE_FEED, {"first": 100})
    assert len(data["episodes"]["edges"]) == 100
    assert statements <= 4 and len(sent) == statements, sent
    assert not any("RESET ALL" in s or "UNLISTEN" in s for s in sent), sent


async def test_a_connection_given_back_inside_a_transaction_is_rolled_back(api, db_target):
    """Without the reset statement asyncpg still rolls back an open transaction when a connection is released (a
    request cancelled mid-transaction): the next user of that connection neither sees the abandoned rows nor works
    inside the abandoned transaction."""
    past = datetime.now(UTC) - timedelta(hours=1)
    db = Tortoise.get_connection("default")
    async with db.acquire_connection() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        abandoned = conn.transaction()
        await abandoned.start()  # never committed nor rolled back, as Tortoise's transaction wrapper starts one
        await conn.execute(
            "INSERT INTO program (title, slug, description, tags, status, publish_at, created_at, updated_at)"
            " VALUES ('Abandoned', 'abandoned', '', '{}', 'PUBLISHED', $1, now(), now())",
            past,
        )
    # The pool hands out its most recently released connection first: the same session comes back.
    with RoundTripCounter() as sent:
        async with db.acquire_connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM program") == 0
    assert len(sent) == 2, sent.statements  # the two SELECTs, and no reset statement on release

    # Through the API too: a read does not see the abandoned row, and a write is committed, for every session.
    response = await api.client.post(
        "/graphql",
        json={"query": "{ programs { edges { node { title } } } }"},
        headers={"cache-control": "no-cache"},
    )
    assert response.json() == {"data": {"programs": {"edges": []}}}
    await Program.create(title="Kept", slug="kept", status=PublishStatus.PUBLISHED, publish_at=past)
    outside = await db_target.connect()  # a session of its own sees only what was committed
    try:
        assert [r["title"] for r in await outside.fetch("SELECT title FROM program")] == ["Kept"]
    finally:
        await outside.close()

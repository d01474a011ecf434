"""Who sees what: the public sees published items whose publish time has passed; editors see everything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.api import operation

FAR_FUTURE = "2999-01-01T00:00:00+00:00"


async def _program(api, title: str, *, publish: bool = False, at: str | None = None) -> dict:
    result = (await api.data(operation("CreateProgram"), {"input": {"title": title}}, role="editor"))["createProgram"]
    assert result["__typename"] == "Program", result
    if publish:
        published = await api.data(operation("PublishProgram"), {"id": result["id"], "at": at}, role="editor")
        assert published["publishProgram"]["__typename"] == "Program", published
    return result


async def _episode(api, program_id: str, title: str, *, publish: bool = False, at: str | None = None) -> dict:
    result = (
        await api.data(operation("CreateEpisode"), {"input": {"programId": program_id, "title": title}}, role="editor")
    )["createEpisode"]
    assert result["__typename"] == "Episode", result
    if publish:
        published = await api.data(operation("PublishEpisode"), {"id": result["id"], "at": at}, role="editor")
        assert published["publishEpisode"]["__typename"] == "Episode", published
    return result


async def _world(api) -> dict[str, dict]:
    """A published program with published, draft and scheduled episodes; a draft and a scheduled program."""
    live = await _program(api, "Live Show", publish=True)
    draft = await _program(api, "Draft Show")
    scheduled = await _program(api, "Scheduled Show", publish=True, at=FAR_FUTURE)
    return {
        "live": live,
        "draft": draft,
        "scheduled": scheduled,
        "ep_live": await _episode(api, live["id"], "Live Episode", publish=True),
        "ep_draft": await _episode(api, live["id"], "Draft Episode"),
        "ep_scheduled": await _episode(api, live["id"], "Scheduled Episode", publish=True, at=FAR_FUTURE),
        # Published itself, but its program is not: not public.
        "ep_orphan": await _episode(api, draft["id"], "Orphan Episode", publish=True),
        "ep_future_program": await _episode(api, scheduled["id"], "Future Program Episode", publish=True),
    }


async def _program_ids(api, role: str | None, filter: dict | None = None) -> set[str]:
    data = await api.data(operation("Programs"), {"first": 100, "filter": filter}, role=role)
    assert data["programs"]["totalCount"] == len(data["programs"]["edges"])
    return {edge["node"]["id"] for edge in data["programs"]["edges"]}


async def _episode_ids(api, role: str | None, filter: dict | None = None) -> set[str]:
    data = await api.data(operation("Episodes"), {"first": 100, "filter": filter}, role=role)
    assert data["episodes"]["totalCount"] == len(data["episodes"]["edges"])
    return {edge["node"]["id"] for edge in data["episodes"]["edges"]}


async def _node(api, id: str, role: str | None) -> dict | None:
    return (await api.data(operation("Node"), {"id": id}, role=role))["node"]


async def _sees(api, role: str | None, w: dict) -> set[str]:
    """Every key of the world the caller can reach, checked through each read path and required to agree."""
    programs, episodes = await _program_ids(api, role), await _episode_ids(api, role)
    seen = set()
    for key, item in w.items():
        listed = item["id"] in (programs if not key.startswith("ep_") else episodes)
        by_node = await _node(api, item["id"], role)
        if key.startswith("ep_"):
            direct = (await api.data(operation("Episode"), {"id": item["id"]}, role=role))["episode"]
        else:
            direct = (await api.data(operation("Program"), {"id": item["id"]}, role=role))["program"]
            by_slug = (await api.data(operation("Program"), {"slug": item["slug"]}, role=role))["program"]
            assert (by_slug is not None) == listed, (key, role)
        assert (by_node is not None) == listed == (direct is not None), (key, role, listed, by_node, direct)
        if listed:
            seen.add(key)
    return seen


async def test_anonymous_sees_only_published_items_whose_time_has_come(api):
    w = await _world(api)
    assert await _sees(api, None, w) == {"live", "ep_live"}


async def test_signed_in_viewer_sees_what_anonymous_sees(api):
    w = await _world(api)
    assert await _sees(api, "viewer", w) == {"live", "ep_live"}


async def test_editors_and_admins_see_drafts_and_scheduled_items(api):
    w = await _world(api)
    assert await _sees(api, "editor", w) == set(w)
    assert await _sees(api, "admin", w) == set(w)
    scheduled = (await api.data(operation("Program"), {"id": w["scheduled"]["id"]}, role="editor"))["program"]
    assert scheduled["status"] == "PUBLISHED"
    assert datetime.fromisoformat(scheduled["publishAt"]) > datetime.now(UTC)


async def test_episode_of_unpublished_program_is_not_public(api):
    w = await _world(api)
    orphan = w["ep_orphan"]
    assert (await api.data(operation("Episode"), {"id": orphan["id"]}))["episode"] is None
    assert orphan["id"] not in await _episode_ids(api, None, {"programId": w["draft"]["id"]})
    assert await _episode_ids(api, None, {"programId": w["draft"]["id"]}) == set()
    # Publishing the program makes its published episode public; its drafts stay hidden.
    await api.data(operation("PublishProgram"), {"id": w["draft"]["id"]}, role="editor")
    assert (await api.data(operation("Episode"), {"id": orphan["id"]}))["episode"]["title"] == "Orphan Episode"


async def test_program_episodes_connection_hides_drafts_from_the_public(api):
    w = await _world(api)
    variables = {"id": w["live"]["id"], "first": 10}
    public = (await api.data(operation("ProgramEpisodes"), variables))["program"]["episodes"]
    assert [e["node"]["id"] for e in public["edges"]] == [w["ep_live"]["id"]] and public["totalCount"] == 1
    editor = (await api.data(operation("ProgramEpisodes"), variables, role="editor"))["program"]["episodes"]
    assert {e["node"]["id"] for e in editor["edges"]} == {
        w["ep_live"]["id"],
        w["ep_draft"]["id"],
        w["ep_scheduled"]["id"],
    }


async def test_scheduled_publish_becomes_visible_when_its_time_passes(api):
    program = await _program(api, "Soon", publish=True)
    episode = await _episode(api, program["id"], "Premiere")
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    published = (await api.data(operation("PublishEpisode"), {"id": episode["id"], "at": at}, role="editor"))[
        "publishEpisode"
    ]
    assert published["status"] == "PUBLISHED"
    assert datetime.fromisoformat(published["publishAt"]) == datetime.fromisoformat(at)
    assert (await api.data(operation("Episode"), {"id": episode["id"]}))["episode"] is None
    assert episode["id"] not in await _episode_ids(api, None)

    # Nothing runs a job: visibility is decided at read time, so polling alone must see it appear.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    seen = None
    while seen is None and loop.time() < deadline:
        await asyncio.sleep(0.25)
        seen = (await api.data(operation("Episode"), {"id": episode["id"]}))["episode"]
    assert seen is not None, "scheduled episode never became public"
    assert episode["id"] in await _episode_ids(api, None)
    assert (await _node(api, episode["id"], "viewer"))["title"] == "Premiere"


async def test_scheduled_program_becomes_visible_by_slug(api):
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    program = await _program(api, "Opening Night", publish=True, at=at)
    assert (await api.data(operation("Program"), {"slug": "opening-night"}))["program"] is None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    seen = None
    while seen is None and loop.time() < deadline:
        await asyncio.sleep(0.25)
        seen = (await api.data(operation("Program"), {"slug": "opening-night"}))["program"]
    assert seen is not None and seen["id"] == program["id"]


async def test_unpublish_hides_again(api):
    w = await _world(api)
    episode = (await api.data(operation("UnpublishEpisode"), {"id": w["ep_live"]["id"]}, role="editor"))[
        "unpublishEpisode"
    ]
    assert episode == {"__typename": "Episode", "id": w["ep_live"]["id"], "status": "DRAFT", "publishAt": None}
    assert (await api.data(operation("Episode"), {"id": w["ep_live"]["id"]}))["episode"] is None
    assert await _episode_ids(api, None) == set()

    # Re-publish the episode, then hide its program: the episode goes with it.
    await api.data(operation("PublishEpisode"), {"id": w["ep_live"]["id"]}, role="editor")
    assert await _episode_ids(api, None) == {w["ep_live"]["id"]}
    program = (await api.data(operation("UnpublishProgram"), {"id": w["live"]["id"]}, role="editor"))[
        "unpublishProgram"
    ]
    assert program["status"] == "DRAFT"
    assert await _sees(api, None, w) == set()
    assert await _sees(api, "viewer", w) == set()
    assert await _sees(api, "editor", w) == set(w)


async def test_status_filter_is_for_editors(api):
    w = await _world(api)
    ids = {key: item["id"] for key, item in w.items()}
    assert await _program_ids(api, "editor", {"status": "DRAFT"}) == {ids["draft"]}
    assert await _program_ids(api, "editor", {"status": "PUBLISHED"}) == {ids["live"], ids["scheduled"]}
    assert await _episode_ids(api, "editor", {"status": "DRAFT"}) == {ids["ep_draft"]}
    assert await _episode_ids(api, "editor", {"status": "PUBLISHED"}) == {
        ids["ep_live"],
        ids["ep_scheduled"],
        ids["ep_orphan"],
        ids["ep_future_program"],
    }
    for role in (None, "viewer"):
        assert await _program_ids(api, role, {"status": "DRAFT"}) == set()
        assert await _episode_ids(api, role, {"status": "DRAFT"}) == set()
        # Asking for PUBLISHED does not reveal scheduled items either.
        assert await _program_ids(api, role, {"status": "PUBLISHED"}) == {ids["live"]}
        assert await _episode_ids(api, role, {"status": "PUBLISHED"}) == {ids["ep_live"]}


async def test_public_cannot_mutate_visibility(api):
    w = await _world(api)
    for role in (None, "viewer"):
        result = (await api.data(operation("PublishProgram"), {"id": w["draft"]["id"]}, role=role))["publishProgram"]
        assert result["__typename"] == "ForbiddenError"
        result = (await api.data(operation("UnpublishEpisode"), {"id": w["ep_live"]["id"]}, role=role))[
            "unpublishEpisode"
        ]
        assert result["__typename"] == "ForbiddenError"
    assert await _sees(api, None, w) == {"live", "ep_live"}

"""Sources editors manage through GraphQL, run by the worker: an RSS podcast feed on a loopback server brings in one
episode per item with its media, idempotently; a changed item updates its episode, an item gone upstream is
reported and kept, autoPublish publishes once the media is ready, and refused addresses fail the run with a reason.
The kinds describe their config for editors' forms, and a refused config field is named in the error's path."""

from __future__ import annotations

import datetime as dt

import pytest

from cms.api.ids import from_global_id, to_global_id
from cms.content.models import Episode, PublishStatus
from cms.core.settings import Settings
from cms.ingest.models import RunStatus, Source, SourceRun
from cms.media.models import Asset, AssetStatus
from tests.support import media
from tests.support.api import Api, operation
from tests.support.feeds import FeedServer, feed_server, podcast_feed
from tests.support.jobs import drain


@pytest.fixture
async def feeds() -> FeedServer:
    async with feed_server() as server:
        yield server  # type: ignore[misc]


def on_loopback(settings: Settings) -> Settings:
    """The worker's settings with the loopback feed server allowed (CMS_INGEST_ALLOW_HOSTS)."""
    return settings.model_copy(update={"ingest_allow_hosts": frozenset({"127.0.0.1"})})


async def make_program(api: Api) -> str:
    return (await api.data(operation("CreateProgram"), {"input": {"title": "Podcast"}}, role="editor"))[
        "createProgram"
    ]["id"]


async def create_source(api: Api, program_id: str, url: str, **extra: object) -> dict:
    variables = {"input": {"kind": "rss", "name": "The podcast", "programId": program_id, "config": {"url": url}}}
    variables["input"].update(extra)
    created = (await api.data(operation("CreateSource"), variables, role="editor"))["createSource"]
    assert created["__typename"] == "Source", created
    return created


async def run_now(api: Api, source_id: str, settings: Settings) -> dict:
    asked = (await api.data(operation("RunSource"), {"id": source_id}, role="editor"))["runSource"]
    assert asked["__typename"] == "Source", asked
    await drain(on_loopback(settings))
    source = (await api.data(operation("Source"), {"id": source_id, "runs": 10}, role="editor"))["source"]
    return source["lastRun"]


async def test_a_feed_comes_in_once_changes_update_and_gone_items_are_reported(
    api: Api, settings: Settings, feeds: FeedServer
) -> None:
    kinds = (await api.data(operation("SourceKinds"), {}, role="editor"))["sourceKinds"]
    assert next(kind for kind in kinds if kind["kind"] == "rss")["secretFields"] == []
    program_id = await make_program(api)
    clips = {"a": media.mp4_clip(seconds=1.0, seed=31), "b": media.mp4_clip(seconds=1.0, seed=32)}
    for name, data in clips.items():
        feeds.serve(f"/media/{name}.mp4", data, "video/mp4")
    items = [
        {"guid": f"ep-{name}", "title": f"Episode {name}", "enclosure": f"{feeds.url}/media/{name}.mp4"}
        for name in clips
    ] + [{"guid": "ep-text", "title": "Show notes only", "description": "No media here"}]
    url = feeds.serve("/feed.xml", podcast_feed("Podcast", items))
    source = await create_source(api, program_id, url)
    assert (source["config"], source["enabled"], source["scheduleMinutes"]) == ({"url": url}, True, None)

    first = await run_now(api, source["id"], settings)
    assert (first["status"], first["trigger"], first["found"], first["created"], first["gone"]) == (
        "SUCCEEDED",
        "manual",
        3,
        3,
        0,
    ), first
    source_pk = int(from_global_id(source["id"])[1])
    episodes = {e.external_id: e for e in await Episode.filter(source=f"source:{source_pk}")}
    assert sorted(episodes) == ["ep-a", "ep-b", "ep-text"]
    assert all(e.status == PublishStatus.DRAFT for e in episodes.values())
    assert episodes["ep-a"].title == "Episode a" and episodes["ep-a"].metadata["ingest"]["podcast"]["episode"] == 1
    for external_id in ("ep-a", "ep-b"):
        [asset] = await Asset.filter(episode_id=episodes[external_id].id)
        assert (asset.status, asset.kind.value) == (AssetStatus.READY, "VIDEO")
    assert not await Asset.filter(episode_id=episodes["ep-text"].id).exists()
    assert feeds.hits["/media/a.mp4"] == 1 and feeds.hits["/media/b.mp4"] == 1

    # Again, nothing new: the server answers 304 to the conditional GET; nothing is fetched or created again.
    again = await run_now(api, source["id"], settings)
    assert (again["status"], again["found"], again["created"], again["gone"]) == ("SUCCEEDED", 0, 0, 0), again
    assert feeds.not_modified["/feed.xml"] == 1
    assert await Episode.filter(source=f"source:{source_pk}").count() == 3

    # Upstream changes one title and drops an item: the episode follows, the dropped one is reported and kept.
    items[0]["title"] = "Episode a, remastered"
    feeds.serve("/feed.xml", podcast_feed("Podcast", items[:1] + items[2:]))
    changed = await run_now(api, source["id"], settings)
    assert (changed["found"], changed["created"], changed["updated"], changed["skipped"], changed["gone"]) == (
        2,
        0,
        1,
        1,
        1,
    ), changed
    await episodes["ep-a"].refresh_from_db()
    assert episodes["ep-a"].title == "Episode a, remastered"
    assert await Episode.exists(id=episodes["ep-b"].id)
    runs = (await api.data(operation("Source"), {"id": source["id"], "runs": 10}, role="editor"))["source"]["runs"]
    latest = runs["edges"][0]["node"]
    assert {"externalId": "ep-b", "reason": "no longer listed upstream (the episode is kept)"} in latest["problems"]
    assert len(runs["edges"]) == 3
    assert feeds.hits["/media/a.mp4"] == 1  # the media is not fetched again for a changed title


async def test_auto_publish_publishes_once_the_media_is_ready(api: Api, settings: Settings, feeds: FeedServer) -> None:
    program_id = await make_program(api)
    await api.data(operation("PublishProgram"), {"id": program_id}, role="editor")
    feeds.serve("/media/c.mp4", media.mp4_clip(seconds=1.0, seed=33), "video/mp4")
    url = feeds.serve(
        "/auto.xml", podcast_feed("Auto", [{"guid": "c", "title": "Live", "enclosure": f"{feeds.url}/media/c.mp4"}])
    )
    source = await create_source(api, program_id, url, autoPublish=True)
    run = await run_now(api, source["id"], settings)
    assert run["created"] == 1, run
    [episode] = await Episode.filter(external_id="c", source__startswith="source:")
    assert episode.status == PublishStatus.PUBLISHED
    public = (await api.data(operation("Episode"), {"id": to_global_id("Episode", episode.id)}))["episode"]
    assert public is not None and public["title"] == "Live"


async def test_refused_addresses_fail_the_run_with_a_reason(api: Api, settings: Settings, feeds: FeedServer) -> None:
    program_id = await make_program(api)
    # Allowed server, redirecting to the cloud metadata address: refused at the redirect.
    url = feeds.redirect("/moved.xml", "http://169.254.169.254/latest/meta-data/")
    source = await create_source(api, program_id, url)
    run = await run_now(api, source["id"], settings)
    assert run["status"] == "FAILED" and "169.254.169.254" in run["error"], run
    # Without the allow-list, the loopback server itself is refused.
    plain = await create_source(api, program_id, feeds.serve("/feed2.xml", podcast_feed("P", [])))
    await api.data(operation("RunSource"), {"id": plain["id"]}, role="editor")
    await drain(settings)
    refused = (await api.data(operation("Source"), {"id": plain["id"]}, role="editor"))["source"]["lastRun"]
    assert refused["status"] == "FAILED" and "127.0.0.1" in refused["error"], refused
    assert feeds.hits["/feed2.xml"] == 0


async def test_sources_are_checked_kept_to_editors_and_never_run_twice_at_once(
    api: Api, settings: Settings, feeds: FeedServer
) -> None:
    program_id = await make_program(api)
    bad = (
        await api.data(
            operation("CreateSource"),
            {"input": {"kind": "rss", "name": " ", "programId": program_id, "config": {"url": "file:///etc/passwd"}}},
            role="editor",
        )
    )["createSource"]
    assert bad["__typename"] == "ValidationError", bad
    paths = {tuple(f["path"]) for f in bad["fields"]}
    assert ("input", "name") in paths
    unknown = (
        await api.data(
            operation("CreateSource"),
            {"input": {"kind": "gopher", "name": "x", "programId": program_id, "config": {}}},
            role="editor",
        )
    )["createSource"]
    assert unknown["__typename"] == "ValidationError" and "installed" in unknown["fields"][0]["message"], unknown
    schedule = (
        await api.data(
            operation("CreateSource"),
            {
                "input": {
                    "kind": "rss",
                    "name": "x",
                    "programId": program_id,
                    "config": {"url": "https://a.example/f"},
                    "scheduleMinutes": 1,
                }
            },
            role="editor",
        )
    )["createSource"]
    assert schedule["__typename"] == "ValidationError", schedule

    source = await create_source(api, program_id, feeds.serve("/f.xml", podcast_feed("P", [])), scheduleMinutes=60)
    assert source["nextRunAt"] is not None
    viewer = await api.gql(operation("Sources"), {}, role="viewer")
    assert viewer["data"] is None or viewer["data"]["sources"] is None
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN", viewer
    assert (await api.data(operation("Source"), {"id": source["id"]}, role="viewer"))["source"] is None

    # A run in progress (its worker alive) refuses a second one.
    pk = int(from_global_id(source["id"])[1])
    await SourceRun.create(source_id=pk, trigger="schedule", status=RunStatus.RUNNING)
    busy = (await api.data(operation("RunSource"), {"id": source["id"]}, role="editor"))["runSource"]
    assert busy["__typename"] == "ValidationError" and "in progress" in busy["message"], busy
    # Its worker stops beating: the next run takes over and marks it failed.
    await SourceRun.filter(source_id=pk).update(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    run = await run_now(api, source["id"], settings)
    assert run["status"] == "SUCCEEDED", run
    lost = await SourceRun.filter(source_id=pk, status=RunStatus.FAILED).values_list("error", flat=True)
    assert lost == ["the worker running it stopped"]

    # Disabling clears the schedule; deleting keeps nothing of the source but its episodes' provenance.
    updated = (
        await api.data(operation("UpdateSource"), {"id": source["id"], "input": {"enabled": False}}, role="editor")
    )["updateSource"]
    assert (updated["enabled"], updated["nextRunAt"]) == (False, None), updated
    deleted = (await api.data(operation("DeleteSource"), {"id": source["id"]}, role="editor"))["deleteSource"]
    assert deleted["__typename"] == "Deleted"
    assert not await Source.exists(id=pk) and not await SourceRun.exists(source_id=pk)


def shape(kind: dict) -> list[dict]:
    return [{key: field[key] for key in ("name", "type", "required", "secret")} for field in kind["configFields"]]


async def test_each_kind_describes_its_config_for_editors(api: Api) -> None:
    kinds = {
        kind["kind"]: kind for kind in (await api.data(operation("SourceKinds"), {}, role="editor"))["sourceKinds"]
    }
    assert {"rss", "youtube", "telegram"} <= set(kinds)
    assert shape(kinds["rss"]) == [
        {"name": "url", "type": "URL", "required": True, "secret": False},
        {"name": "maxItems", "type": "INTEGER", "required": False, "secret": False},
    ]
    assert shape(kinds["youtube"]) == [
        {"name": "url", "type": "URL", "required": False, "secret": False},
        {"name": "channelId", "type": "STRING", "required": False, "secret": False},
        {"name": "playlistId", "type": "STRING", "required": False, "secret": False},
        {"name": "maxItems", "type": "INTEGER", "required": False, "secret": False},
        {"name": "maxDurationMinutes", "type": "INTEGER", "required": False, "secret": False},
        {"name": "apiKey", "type": "SECRET", "required": False, "secret": True},
    ]
    assert shape(kinds["telegram"]) == [
        {"name": "chatId", "type": "STRING", "required": True, "secret": False},
        {"name": "botToken", "type": "SECRET", "required": True, "secret": True},
        {"name": "mode", "type": "CHOICE", "required": False, "secret": False},
        {"name": "webhookSecret", "type": "SECRET", "required": False, "secret": True},
        {"name": "botApiUrl", "type": "URL", "required": False, "secret": False},
        {"name": "backfill", "type": "BOOLEAN", "required": False, "secret": False},
        {"name": "apiId", "type": "INTEGER", "required": False, "secret": False},
        {"name": "apiHash", "type": "SECRET", "required": False, "secret": True},
        {"name": "session", "type": "SECRET", "required": False, "secret": True},
    ]
    for kind in kinds.values():  # secretFields: the described secrets (what updateSource keeps write-only)
        assert kind["secretFields"] == sorted(f["name"] for f in kind["configFields"] if f["secret"]), kind
        assert kind["label"] and all(f["label"] and f["help"] for f in kind["configFields"]), kind
    rss_limit = kinds["rss"]["configFields"][1]
    assert (rss_limit["min"], rss_limit["max"], rss_limit["default"], rss_limit["choices"]) == (1, 5000, None, [])
    mode = next(f for f in kinds["telegram"]["configFields"] if f["name"] == "mode")
    assert (mode["choices"], mode["default"], mode["min"]) == (["polling", "webhook"], "polling", None)
    backfill = next(f for f in kinds["telegram"]["configFields"] if f["name"] == "backfill")
    assert backfill["default"] is False
    assert kinds["youtube"]["description"].startswith("Give one of")

    viewer = await api.gql(operation("SourceKinds"), {}, role="viewer")
    assert viewer["data"] is None or viewer["data"]["sourceKinds"] is None
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN", viewer


async def test_a_refused_config_field_is_named_in_the_error_path(api: Api) -> None:
    program_id = await make_program(api)

    async def create(kind: str, config: dict) -> dict:
        variables = {"input": {"kind": kind, "name": "Refused", "programId": program_id, "config": config}}
        created = (await api.data(operation("CreateSource"), variables, role="editor"))["createSource"]
        assert created["__typename"] == "ValidationError", created
        return created

    bad_url = await create("rss", {"url": "file:///etc/passwd"})
    assert bad_url["fields"] == [
        {"path": ["input", "config", "url"], "message": "the feed's address, starting with http:// or https://"}
    ]
    too_many = await create("rss", {"url": "https://feeds.example/a.xml", "maxItems": 0})
    assert too_many["fields"] == [{"path": ["input", "config", "maxItems"], "message": "a whole number from 1 to 5000"}]
    token = await create("telegram", {"chatId": "@cms_test_channel", "botToken": "not-a-token"})
    assert [f["path"] for f in token["fields"]] == [["input", "config", "botToken"]]
    assert "not-a-token" not in token["fields"][0]["message"]  # a secret is never echoed
    # A problem no single field owns stays on the config as a whole.
    unknown = await create("rss", {"url": "https://feeds.example/a.xml", "feed": "x"})
    assert [f["path"] for f in unknown["fields"]] == [["input", "config"]]
    assert "unknown fields ['feed']" in unknown["fields"][0]["message"]

    source = await create_source(api, program_id, "https://feeds.example/a.xml")
    changed = (
        await api.data(
            operation("UpdateSource"),
            {"id": source["id"], "input": {"config": {"url": "https://feeds.example/a.xml", "maxItems": 9999}}},
            role="editor",
        )
    )["updateSource"]
    assert changed["__typename"] == "ValidationError", changed
    assert changed["fields"] == [{"path": ["input", "config", "maxItems"], "message": "a whole number from 1 to 5000"}]

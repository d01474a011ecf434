"""The telegram source against a loopback stand-in for the Bot API (getUpdates, getFile, file downloads) serving
the JSON the Bot API documents: polling brings a channel's posts in once (an album as one episode with several
assets), the saved offset makes a re-run take nothing, the webhook route checks Telegram's secret header before
doing anything, a file over the public API's 20 MB is refused with the botApiUrl hint, and the bot token appears
in no error or log line. The MTProto backfill cannot reach Telegram here: its mapping from telethon messages is
tested without it (the live MTProto path is not)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telethon.tl import types as tl

from cms.api.ids import from_global_id
from cms.content.models import Episode
from cms.core.settings import Settings
from cms.ingest.http import SafeClient
from cms.ingest.models import RunStatus, Source, SourceRun
from cms.media.models import Asset, AssetStatus
from jobs.store.models import Job, JobStatus
from jobs.store.service import enqueue
from plugins.telegram.backfill import post_from_mtproto, take_batch
from plugins.telegram.botapi import BotApi, BotApiError
from plugins.telegram.config import check_config, parse_config
from plugins.telegram.items import ALBUM_SETTLE_SECONDS, items_from_posts, settle, title_and_description
from plugins.telegram.posts import post_from_update
from tests.support import media
from tests.support.api import Api, operation
from tests.support.jobs import drain
from tests.support.loopback import serving

TOKEN = "123456789:AAHfake-token_for_tests_only_0123456789"
OTHER_TOKEN = "987654321:BBHanother-token_nobody_issued_98765"
CHAT_ID = -1001234567890
CHANNEL = {"id": CHAT_ID, "title": "CMS Test Channel", "username": "cms_test_channel", "type": "channel"}
ALBUM = "13579246801357924"
SECRET = "s3cret-webhook_token-0123456789"
PDF = (  # the smallest well-formed PDF: one empty page
    b"%PDF-1.4\n"
    b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>\nendobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n"
    b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n"
)


# -- a loopback Bot API ----------------------------------------------------------------------------------------


class BotApiServer:
    """getUpdates (updates below the offset are confirmed and forgotten, as Telegram does), getFile and
    /file/bot<token>/<path>, for one bot token; every request counted by path."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.offsets: list[int | None] = []
        self.allowed_updates: list[Any] = []
        self.hits: Counter[str] = Counter()
        self.url = ""

    def add_file(self, file_id: str, file_path: str, data: bytes) -> None:
        self.files[file_id] = (file_path, data)

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        request = Request(scope, receive)
        path = request.url.path
        self.hits[path.replace(TOKEN, "<token>")] += 1
        response = self._answer(request, path)
        await response(scope, receive, send)

    def _answer(self, request: Request, path: str) -> Response:
        if method := re.fullmatch(r"/bot([^/]+)/(\w+)", path):
            if method[1] != TOKEN:
                return _error(401, "Unauthorized")
            if method[2] == "getUpdates":
                return self._get_updates(request)
            if method[2] == "getFile":
                found = self.files.get(request.query_params.get("file_id", ""))
                if found is None:
                    return _error(400, "Bad Request: invalid file_id")
                file_id = request.query_params["file_id"]
                result = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(found[1])}
                return JSONResponse({"ok": True, "result": {**result, "file_path": found[0]}})
            return _error(404, "Not Found")
        if download := re.fullmatch(r"/file/bot([^/]+)/(.+)", path):
            served = {file_path: data for file_path, data in self.files.values()}
            if download[1] != TOKEN or download[2] not in served:
                return _error(404, "Not Found")
            return Response(served[download[2]], media_type="application/octet-stream")
        return _error(404, "Not Found")

    def _get_updates(self, request: Request) -> JSONResponse:
        offset = request.query_params.get("offset")
        self.offsets.append(int(offset) if offset else None)
        self.allowed_updates.append(json.loads(request.query_params.get("allowed_updates", "null")))
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= int(offset)]
        limit = int(request.query_params.get("limit", "100"))
        return JSONResponse({"ok": True, "result": self.updates[:limit]})


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)


@contextlib.asynccontextmanager
async def bot_api_server() -> AsyncIterator[BotApiServer]:
    app = BotApiServer()
    async with serving(app) as url:
        app.url = url
        yield app


@pytest.fixture
async def bot() -> AsyncIterator[BotApiServer]:
    async with bot_api_server() as server:
        yield server


# -- Bot API payloads, as https://core.telegram.org/bots/api documents them ------------------------------------

DATE = 1_764_000_000  # long enough ago for an album to have settled


def channel_post(update_id: int, message_id: int, *, edited: bool = False, **fields: Any) -> dict[str, Any]:
    message = {
        "message_id": message_id,
        "sender_chat": CHANNEL,
        "chat": CHANNEL,
        "date": DATE + message_id,
        **fields,
    }
    if edited:
        message["edit_date"] = DATE + message_id + 600
    return {"update_id": update_id, ("edited_channel_post" if edited else "channel_post"): message}


def photo_sizes(file_id: str, width: int, height: int, size: int) -> list[dict[str, Any]]:
    """A photo as the Bot API sends it: a thumbnail and the full size (each with its own file_id)."""
    return [
        {"file_id": f"{file_id}-thumb", "file_unique_id": f"{file_id}-t", "file_size": 900, "width": 90, "height": 67},
        {"file_id": file_id, "file_unique_id": f"{file_id}-u", "file_size": size, "width": width, "height": height},
    ]


def video(file_id: str, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "duration": 1,
        "width": 320,
        "height": 240,
        "file_name": "clip.mp4",
        "mime_type": "video/mp4",
        "thumbnail": {
            "file_id": f"{file_id}-thumb",
            "file_unique_id": "t",
            "file_size": 900,
            "width": 90,
            "height": 67,
        },
        "file_id": file_id,
        "file_unique_id": f"{file_id}-u",
        "file_size": size,
        **extra,
    }


def channel_updates(bot: BotApiServer) -> list[dict[str, Any]]:
    """A photo album (two posts, the caption on the first), a video, a PDF, a text-only post, a post from another
    chat, and a sticker (text only here); their files served by `bot`."""
    first, second, clip = media.png_image(64, 48), media.png_image(80, 60), media.mp4_clip(seconds=1.0, seed=41)
    bot.add_file("AgACAgQAAx0Album1", "photos/file_1.jpg", first)
    bot.add_file("AgACAgQAAx0Album2", "photos/file_2.jpg", second)
    bot.add_file("BAACAgQAAx0Video", "videos/file_3.mp4", clip)
    bot.add_file("BQACAgQAAx0Pdf", "documents/file_4.pdf", PDF)
    stranger = {"id": -1009999999999, "title": "Elsewhere", "type": "channel"}
    return [
        channel_post(
            900001,
            101,
            media_group_id=ALBUM,
            photo=photo_sizes("AgACAgQAAx0Album1", 1280, 960, len(first)),
            caption="Launch day\nPhotos from the launch.\nMore soon.",
            caption_entities=[{"offset": 0, "length": 10, "type": "bold"}],
        ),
        channel_post(900002, 102, media_group_id=ALBUM, photo=photo_sizes("AgACAgQAAx0Album2", 1280, 853, len(second))),
        channel_post(900003, 103, video=video("BAACAgQAAx0Video", len(clip)), caption="A short clip"),
        channel_post(
            900004,
            104,
            document={
                "file_name": "notes.pdf",
                "mime_type": "application/pdf",
                "file_id": "BQACAgQAAx0Pdf",
                "file_unique_id": "AgADpdf",
                "file_size": len(PDF),
            },
            caption="Show notes",
        ),
        channel_post(
            900005, 105, text="Just words\nand more words", entities=[{"offset": 0, "length": 4, "type": "italic"}]
        ),
        {
            "update_id": 900006,
            "channel_post": {"message_id": 7, "sender_chat": stranger, "chat": stranger, "date": DATE, "text": "hi"},
        },
        channel_post(
            900007,
            106,
            sticker={
                "file_id": "CAACAgIAAx0Sticker",
                "file_unique_id": "AgADst",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
        ),
    ]


# -- GraphQL helpers -------------------------------------------------------------------------------------------


def on_loopback(settings: Settings) -> Settings:
    return settings.model_copy(update={"ingest_allow_hosts": frozenset({"127.0.0.1"})})


async def make_program(api: Api) -> str:
    created = await api.data(operation("CreateProgram"), {"input": {"title": "Channel"}}, role="editor")
    return created["createProgram"]["id"]


async def create_source(api: Api, program_id: str, config: dict[str, Any]) -> dict[str, Any]:
    variables = {"input": {"kind": "telegram", "name": "The channel", "programId": program_id, "config": config}}
    created = (await api.data(operation("CreateSource"), variables, role="editor"))["createSource"]
    assert created["__typename"] == "Source", created
    return created


async def run_now(api: Api, source_id: str, settings: Settings) -> dict[str, Any]:
    asked = (await api.data(operation("RunSource"), {"id": source_id}, role="editor"))["runSource"]
    assert asked["__typename"] == "Source", asked
    await drain(on_loopback(settings))
    return (await api.data(operation("Source"), {"id": source_id, "runs": 10}, role="editor"))["source"]["lastRun"]


def pk_of(source: dict[str, Any]) -> int:
    return int(from_global_id(source["id"])[1])


# -- polling, end to end ---------------------------------------------------------------------------------------


async def test_polling_brings_posts_in_once_with_an_album_as_one_episode(
    api: Api, settings: Settings, bot: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    kinds = (await api.data(operation("SourceKinds"), {}, role="editor"))["sourceKinds"]
    telegram = next(kind for kind in kinds if kind["kind"] == "telegram")
    assert set(telegram["secretFields"]) == {"botToken", "webhookSecret", "apiHash", "session"}
    bot.updates = channel_updates(bot)
    program_id = await make_program(api)
    source = await create_source(
        api, program_id, {"chatId": "@cms_test_channel", "botApiUrl": bot.url + "/", "botToken": TOKEN}
    )
    assert source["config"] == {"chatId": "@cms_test_channel", "botApiUrl": bot.url, "mode": "polling"}
    assert source["secretsSet"] == ["botToken"]

    with caplog.at_level(logging.DEBUG):
        first = await run_now(api, source["id"], settings)
    assert (first["status"], first["found"], first["created"], first["failed"], first["gone"]) == (
        "SUCCEEDED",
        5,
        5,
        0,
        0,
    ), first
    assert bot.offsets == [None] and bot.allowed_updates == [["channel_post", "edited_channel_post"]]
    episodes = {e.external_id: e for e in await Episode.filter(source=f"source:{pk_of(source)}")}
    album, clip, pdf, text, sticker = (
        f"{CHAT_ID}:album:{ALBUM}",
        f"{CHAT_ID}:103",
        f"{CHAT_ID}:104",
        f"{CHAT_ID}:105",
        f"{CHAT_ID}:106",
    )
    assert sorted(episodes) == sorted([album, clip, pdf, text, sticker])
    assert (episodes[album].title, episodes[album].description) == ("Launch day", "Photos from the launch.\nMore soon.")
    assert episodes[album].metadata["ingest"]["url"] == "https://t.me/cms_test_channel/101"
    assert (episodes[text].title, episodes[text].description) == ("Just words", "and more words")
    assert episodes[sticker].title == "Post 106"

    photos = await Asset.filter(episode_id=episodes[album].id).order_by("filename")
    assert [(a.filename, a.status, a.kind.value) for a in photos] == [
        ("101-photo.jpg", AssetStatus.READY, "IMAGE"),
        ("102-photo.jpg", AssetStatus.READY, "IMAGE"),
    ]
    [movie] = await Asset.filter(episode_id=episodes[clip].id)
    assert (movie.status, movie.kind.value) == (AssetStatus.READY, "VIDEO")
    [notes] = await Asset.filter(episode_id=episodes[pdf].id)
    assert (notes.status, notes.kind.value, notes.filename) == (AssetStatus.READY, "DOCUMENT", "104-notes.pdf")
    assert not await Asset.filter(episode_id__in=[episodes[text].id, episodes[sticker].id]).exists()
    assert bot.hits["/bot<token>/getFile"] == 4  # the largest photo size only, once per file
    assert TOKEN not in caplog.text
    assert "bot<bot token>/getUpdates" in caplog.text  # httpx's request lines, redacted

    # An item job that handed over part of an album is finished by its retry: the missing file only.
    await Asset.filter(episode_id=episodes[album].id, filename="102-photo.jpg").delete()
    [album_job] = [j for j in await Job.filter(kind="ingest_item") if j.payload["item"]["external_id"] == album]
    await enqueue("ingest_item", album_job.payload, dedupe_key="telegram-test:album-again")
    await drain(on_loopback(settings))
    photos = await Asset.filter(episode_id=episodes[album].id).order_by("filename")
    assert [(a.filename, a.status) for a in photos] == [
        ("101-photo.jpg", AssetStatus.READY),
        ("102-photo.jpg", AssetStatus.READY),
    ]
    bot.hits.clear()

    # Again: the saved offset confirms what was taken; nothing new, nothing fetched, nothing reported gone.
    again = await run_now(api, source["id"], settings)
    assert (again["status"], again["found"], again["created"], again["gone"]) == ("SUCCEEDED", 0, 0, 0), again
    assert bot.offsets == [None, 900008]
    assert bot.hits["/bot<token>/getFile"] == 0

    # An edited caption updates its episode's text (the media stays as it came in).
    bot.updates = [channel_post(900010, 103, edited=True, video=video("BAACAgQAAx0Video", 1), caption="Clip, v2")]
    edited = await run_now(api, source["id"], settings)
    assert (edited["found"], edited["created"], edited["updated"]) == (1, 0, 1), edited
    await episodes[clip].refresh_from_db()
    assert episodes[clip].title == "Clip, v2"
    assert await Asset.filter(episode_id=episodes[clip].id).count() == 1


async def test_a_wrong_token_fails_the_run_without_showing_the_token(
    api: Api, settings: Settings, bot: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    program_id = await make_program(api)
    source = await create_source(api, program_id, {"chatId": CHAT_ID, "botApiUrl": bot.url, "botToken": OTHER_TOKEN})
    with caplog.at_level(logging.DEBUG):
        run = await run_now(api, source["id"], settings)
    assert run["status"] == "FAILED" and "401 Unauthorized" in run["error"] and "botToken" in run["error"], run
    assert OTHER_TOKEN not in run["error"] and OTHER_TOKEN.split(":")[1] not in caplog.text
    [row] = await SourceRun.filter(source_id=pk_of(source))
    assert row.error is not None and OTHER_TOKEN not in row.error


# -- webhook ---------------------------------------------------------------------------------------------------


async def webhook_source(api: Api, bot_url: str | None = None) -> tuple[dict[str, Any], int]:
    config: dict[str, Any] = {"chatId": "@cms_test_channel", "botToken": TOKEN, "mode": "webhook"}
    config["webhookSecret"] = SECRET
    if bot_url:
        config["botApiUrl"] = bot_url
    source = await create_source(api, await make_program(api), config)
    assert sorted(source["secretsSet"]) == ["botToken", "webhookSecret"] and "webhookSecret" not in source["config"]
    return source, pk_of(source)


async def push(api: Api, source_pk: int | str, update: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await api.client.post(f"/ingest/telegram/{source_pk}", json=update, headers=headers)


async def test_the_webhook_takes_updates_only_with_the_secret_and_a_run_brings_them_in(
    api: Api, settings: Settings, bot: BotApiServer
) -> None:
    clip = media.mp4_clip(seconds=1.0, seed=42)
    bot.add_file("BAACAgQAAx0Hook", "videos/hook.mp4", clip)
    source, pk = await webhook_source(api, bot.url)
    update = channel_post(700001, 201, video=video("BAACAgQAAx0Hook", len(clip)), caption="Pushed\nby Telegram")

    missing = await push(api, pk, update, secret=None)
    wrong = await push(api, pk, update, secret="not-the-secret-at-all")
    unknown = await push(api, pk + 1000, update)
    assert (missing.status_code, wrong.status_code, unknown.status_code) == (401, 403, 404)
    row = await Source.get(id=pk)
    assert row.state == {} and not await Job.filter(kind="ingest_run").exists()  # no work was done

    taken = await push(api, source["id"], update)  # the GraphQL id works as well as the number
    assert (taken.status_code, taken.json()) == (200, {"ok": True, "kept": True})
    again = await push(api, pk, update)  # Telegram's retry of the same update keeps it once
    assert again.status_code == 200
    elsewhere = channel_post(700002, 9, text="not ours")
    elsewhere["channel_post"]["chat"] = {"id": -1005555555555, "title": "Other", "type": "channel"}
    assert (await push(api, pk, elsewhere)).json() == {"ok": True, "kept": False}
    row = await Source.get(id=pk)
    assert [p["message_id"] for p in row.state["pending"]] == [201]
    [job] = await Job.filter(kind="ingest_run")
    assert job.payload == {"id": pk, "trigger": "webhook"} and job.run_after is not None

    await drain(on_loopback(settings))  # the run comes a few seconds later, when the slot's posts have settled
    run = (await api.data(operation("Source"), {"id": source["id"]}, role="editor"))["source"]["lastRun"]
    assert (run["status"], run["trigger"], run["found"], run["created"]) == ("SUCCEEDED", "webhook", 1, 1), run
    [episode] = await Episode.filter(source=f"source:{pk}")
    assert (episode.external_id, episode.title, episode.description) == (f"{CHAT_ID}:201", "Pushed", "by Telegram")
    [asset] = await Asset.filter(episode_id=episode.id)
    assert (asset.status, asset.kind.value) == (AssetStatus.READY, "VIDEO")
    assert (await Source.get(id=pk)).state["pending"] == []

    # While a run is in progress the route asks Telegram to deliver again later (the run would drop the post).
    await SourceRun.create(source_id=pk, trigger="manual", status=RunStatus.RUNNING)
    busy = await push(api, pk, channel_post(700003, 202, text="later"))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert (await Source.get(id=pk)).state["pending"] == []


async def test_a_file_over_20_mb_on_the_public_api_fails_its_item_with_the_bot_api_url_hint(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    source, pk = await webhook_source(api)  # the public API: nothing is fetched, the size says it all
    big = channel_post(800001, 301, video=video("BAACAgQAAx0Big", 25 * 1024 * 1024), caption="A long film")
    assert (await push(api, pk, big)).status_code == 200
    with caplog.at_level(logging.DEBUG):
        await drain(on_loopback(settings))
    run = (await api.data(operation("Source"), {"id": source["id"]}, role="editor"))["source"]["lastRun"]
    assert (run["status"], run["created"]) == ("SUCCEEDED", 1), run
    [job] = await Job.filter(kind="ingest_item")
    assert job.status == JobStatus.DEAD and job.last_error is not None
    assert "25.0 MB" in job.last_error and "20 MB" in job.last_error and "set botApiUrl" in job.last_error
    assert TOKEN not in job.last_error and TOKEN not in caplog.text
    [episode] = await Episode.filter(source=f"source:{pk}")
    assert episode.title == "A long film" and not await Asset.filter(episode_id=episode.id).exists()


async def test_the_bot_api_client_caps_public_downloads_at_20_mb(tmp_path: Path, bot: BotApiServer) -> None:
    """getFile's size, or the download's own length, past 20 MB on api.telegram.org: refused with the hint. The
    name api.telegram.org resolves to the loopback server here."""
    port = bot.url.rsplit(":", 1)[1]
    config = parse_config(
        {"chatId": "@cms_test_channel", "botToken": TOKEN, "botApiUrl": f"http://api.telegram.org:{port}"}
    )
    assert config.public_api

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    bot.add_file("big", "videos/big.mp4", b"\0" * (20 * 1024 * 1024 + 1))
    bot.add_file("small", "videos/small.mp4", b"small")
    async with SafeClient(allow_hosts={"api.telegram.org"}, resolve=loopback) as client:
        api = BotApi(client, config)
        with pytest.raises(BotApiError) as refused:
            await api.download_file("big", tmp_path / "big.mp4", max_bytes=10**10, what="message 1's video")
        assert refused.value.permanent and "set botApiUrl" in str(refused.value) and TOKEN not in str(refused.value)
        assert bot.hits["/file/bot<token>/videos/big.mp4"] == 0  # getFile's size was enough
        got = await api.download_file("small", tmp_path / "small.mp4", max_bytes=10**10, what="message 2's video")
        assert got.read_bytes() == b"small"
        with pytest.raises(BotApiError) as missing:
            await api.download_file("nope", tmp_path / "nope.mp4", max_bytes=10**10, what="message 3's video")
        assert missing.value.permanent and "20 MB" in str(missing.value)  # 400 from getFile on the public API


# -- mapping, settling and config (no I/O) ---------------------------------------------------------------------


def test_updates_become_posts_and_items_as_the_bot_api_describes_them() -> None:
    config = parse_config({"chatId": "@CMS_Test_Channel", "botToken": TOKEN})
    server = BotApiServer()
    posts = [post for update in channel_updates(server) if (post := post_from_update(update, config)) is not None]
    assert [p.message_id for p in posts] == [101, 102, 103, 104, 105, 106]  # the other chat's post is not ours
    assert posts[0].media is not None and posts[0].media.file_id == "AgACAgQAAx0Album1"  # the largest size
    assert posts[3].media is not None and posts[3].media.kind == "document"
    assert posts[5].media is None  # a sticker: text only
    items = items_from_posts(posts)
    assert [item["external_id"] for item in items] == [
        f"{CHAT_ID}:album:{ALBUM}",
        f"{CHAT_ID}:103",
        f"{CHAT_ID}:104",
        f"{CHAT_ID}:105",
        f"{CHAT_ID}:106",
    ]
    album = items[0]
    assert album["media_count"] == 2 and [m["message_id"] for m in album["media"]] == [101, 102]
    assert album["published_at"] == datetime.fromtimestamp(DATE + 101, UTC).isoformat()
    assert json.loads(json.dumps(items)) == items  # JSON values only
    by_id = parse_config({"chatId": str(CHAT_ID), "botToken": TOKEN})
    assert post_from_update(channel_updates(server)[0], by_id) is not None


def test_an_album_waits_until_its_last_part_has_settled() -> None:
    config = parse_config({"chatId": "@cms_test_channel", "botToken": TOKEN})
    server = BotApiServer()
    now = 2_000_000_000.0
    first, second = channel_updates(server)[:2]
    arrived = post_from_update(first, config, seen=now - 10)
    fresh = post_from_update(second, config, seen=now - 0.5)
    single = post_from_update(channel_updates(server)[2], config, seen=now - 0.5)
    assert arrived is not None and fresh is not None and single is not None
    ready, held = settle([arrived, fresh, single], now=now)
    assert ready == [single] and held == [arrived, fresh]
    ready, held = settle(held, now=now + ALBUM_SETTLE_SECONDS)
    assert len(ready) == 2 and held == [] and len(items_from_posts(ready)) == 1
    ready, held = settle([arrived], now=now, open_groups=frozenset({ALBUM}))  # a full page may go on
    assert ready == [] and held == [arrived]


def test_captions_become_titles_and_descriptions() -> None:
    assert title_and_description("  Title\n\nBody\nmore ", fallback="Post 1") == ("Title", "Body\nmore")
    assert title_and_description("", fallback="Post 1") == ("Post 1", "")
    long_line = "word " * 100
    title, description = title_and_description(long_line + "\nrest", fallback="Post 1")
    assert len(title) <= 300 and title.endswith("…") and description == (long_line + "\nrest").strip()


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"botToken": TOKEN}, "chatId"),
        ({"chatId": "@ab", "botToken": TOKEN}, "chatId"),
        ({"chatId": "@cms_test_channel"}, "botToken"),
        ({"chatId": "@cms_test_channel", "botToken": "not-a-token"}, "botToken"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "mode": "push"}, "mode"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "mode": "webhook"}, "webhookSecret"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "webhookSecret": "short"}, "webhookSecret"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "botApiUrl": "ftp://x"}, "botApiUrl"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "botApiUrl": "http://u:p@x"}, "botApiUrl"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "backfill": True, "apiId": 1}, "apiHash, session"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "apiId": "12"}, "apiId"),
        ({"chatId": "@cms_test_channel", "botToken": TOKEN, "url": "x"}, "unknown fields ['url']"),
    ],
)
def test_config_is_checked_field_by_field(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_config(config)


def test_a_full_config_is_kept_as_given() -> None:
    given = {
        "chatId": -1001234567890,
        "botToken": TOKEN,
        "botApiUrl": "http://bot-api.internal:8081/",
        "mode": "webhook",
        "webhookSecret": SECRET,
        "backfill": True,
        "apiId": 12345,
        "apiHash": "0123456789abcdef0123456789abcdef",
        "session": "1BVtsOK4Bu...",
    }
    assert check_config(given) == {**given, "botApiUrl": "http://bot-api.internal:8081"}


# -- MTProto backfill: the mapping from telethon's messages ----------------------------------------------------


def _document(mime: str, *attributes: Any, size: int = 5000) -> tl.MessageMediaDocument:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    document = tl.Document(
        id=77,
        access_hash=1,
        file_reference=b"",
        date=when,
        mime_type=mime,
        size=size,
        dc_id=2,
        attributes=list(attributes),
    )
    return tl.MessageMediaDocument(document=document)


def _message(message_id: int, text: str, media: Any = None, grouped_id: int | None = None) -> tl.Message:
    when = datetime.fromtimestamp(DATE + message_id, UTC)
    return tl.Message(
        id=message_id, peer_id=tl.PeerChannel(1234567890), date=when, message=text, media=media, grouped_id=grouped_id
    )


def test_telethon_messages_become_the_same_posts_and_items() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    photo = tl.Photo(
        id=5,
        access_hash=1,
        file_reference=b"",
        date=when,
        sizes=[
            tl.PhotoStrippedSize("i", b"\x01"),
            tl.PhotoSize("m", 320, 240, 9000),
            tl.PhotoSizeProgressive("y", 1280, 960, [1000, 40000, 90000]),
        ],
        dc_id=2,
    )
    messages = [
        _message(101, "Launch day\nPhotos from the launch.", tl.MessageMediaPhoto(photo=photo), grouped_id=int(ALBUM)),
        _message(102, "", tl.MessageMediaPhoto(photo=photo), grouped_id=int(ALBUM)),
        _message(
            103,
            "A short clip",
            _document("video/mp4", tl.DocumentAttributeVideo(1.0, 320, 240), tl.DocumentAttributeFilename("clip.mp4")),
        ),
        _message(104, "Show notes", _document("application/pdf", tl.DocumentAttributeFilename("notes.pdf"))),
        _message(105, "A voice note", _document("audio/ogg", tl.DocumentAttributeAudio(3, voice=True))),
        _message(106, "A song", _document("audio/mpeg", tl.DocumentAttributeAudio(200, title="Song"))),
        _message(
            107, "A sticker", _document("image/webp", tl.DocumentAttributeSticker("x", tl.InputStickerSetEmpty()))
        ),
        _message(108, "An archive", _document("application/zip", tl.DocumentAttributeFilename("a.zip"))),
        _message(109, "Round", _document("video/mp4", tl.DocumentAttributeVideo(1.0, 240, 240, round_message=True))),
        _message(110, "Just words\nand more"),
    ]
    service = tl.MessageService(
        id=111, peer_id=tl.PeerChannel(1234567890), date=when, action=tl.MessageActionPinMessage()
    )
    posts = [
        post for m in [*messages, service] if (post := post_from_mtproto(m, username="cms_test_channel")) is not None
    ]
    assert len(posts) == 10 and all(p.chat_id == CHAT_ID and p.via == "mtproto" for p in posts)
    kinds = [p.media.kind if p.media else None for p in posts]
    assert kinds == ["photo", "photo", "video", "document", "voice", "audio", None, None, None, None]
    assert posts[0].media is not None and posts[0].media.size == 90000  # the largest photo size
    items = items_from_posts(posts)
    assert [item["external_id"] for item in items][:3] == [
        f"{CHAT_ID}:album:{ALBUM}",
        f"{CHAT_ID}:103",
        f"{CHAT_ID}:104",
    ]
    assert items[0]["title"] == "Launch day" and items[0]["media_count"] == 2
    assert items[0]["url"] == "https://t.me/cms_test_channel/101"
    assert all(entry["via"] == "mtproto" and entry["file_id"] is None for entry in items[0]["media"])

    # A full batch that ends inside an album leaves the album for the next batch.
    kept, after = take_batch(posts[:2] + posts[2:3] + posts[:1], full=True, last_id=999)
    assert [p.message_id for p in kept] == [101, 102, 103] and after == 103
    assert take_batch(posts[:2], full=False, last_id=999) == (posts[:2], 999)

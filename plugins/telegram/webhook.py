"""`POST /ingest/telegram/{source id}`: where Telegram pushes a webhook source's updates (setWebhook).

Telegram sends the `secret_token` given to setWebhook back in `X-Telegram-Bot-Api-Secret-Token`; it is compared
with the source's `webhookSecret` in constant time before the body is read (missing: 401, before any query;
wrong: 403; an unknown source: 404). An accepted channel post is appended to the source's `state["pending"]` under a row lock,
and a run is queued in the same transaction, a few seconds later and once per time slot: the posts of an album
arrive as separate updates within a second or so, and one run then takes them all as one item.

Two cases answer 503 with Retry-After, which makes Telegram deliver the update again later rather than lose it:
a run of the source is in progress (the run writes `state` back when it finishes, which would drop a post added
meanwhile), and `pending` is full (PENDING_MAX posts). Updates from other chats, or without a channel post, are
answered 200 and dropped, so Telegram does not send them again.
"""

from __future__ import annotations

import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from cms.api.ids import from_global_id
from cms.core.errors import DomainError
from cms.core.settings import Settings
from cms.http.body import BodyError, read_body
from cms.ingest.models import Source
from cms.ingest.sources import running
from jobs.source_runs import RUN
from jobs.store.service import enqueue
from plugins.telegram.config import parse_config
from plugins.telegram.items import ALBUM_SETTLE_SECONDS
from plugins.telegram.posts import Post, post_from_update

PATH = "/ingest/telegram/{source_id}"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
PENDING_MAX = 500  # posts waiting for a run; past this, Telegram keeps them (for up to 24 hours) and retries
RUN_SLOT_SECONDS = ALBUM_SETTLE_SECONDS + 1.0  # a run comes at least this long after any post of its slot
UPDATE_MAX_BYTES = 256 * 1024  # one update is a few KiB; a caption is at most 4,096 characters
_BUSY_RETRY_AFTER, _FULL_RETRY_AFTER = "5", "60"


def webhook_routes(settings: Settings) -> list[Route]:
    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if not given:
            return _answer(401, "the X-Telegram-Bot-Api-Secret-Token header is missing")
        source = await _webhook_source(str(request.path_params["source_id"]))
        if source is None:
            return _answer(404, "no telegram source here")
        expected = source.secrets.get("webhookSecret")
        if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
            return _answer(403, "the secret token does not match")
        try:
            config = parse_config({**source.config, **source.secrets})
        except ValueError as exc:
            return _answer(409, f"the source's config is not usable: {exc}")
        if config.mode != "webhook":
            return _answer(409, 'this source polls (mode "polling"); switch it to mode "webhook" first')
        try:
            update = json.loads(await read_body(request.scope, request.receive, limit=UPDATE_MAX_BYTES))
        except BodyError as exc:
            return _answer(exc.status, exc.message)
        except (ValueError, ClientDisconnect):
            return _answer(400, "the body is not a JSON update")
        post = post_from_update(update, config, seen=time.time())
        if post is None:
            return JSONResponse({"ok": True, "kept": False})  # not a post of this channel: nothing to retry
        outcome = await _keep(source.id, post, max_attempts=settings.job_max_attempts)
        if outcome == "busy":
            return _answer(503, "a run of this source is in progress", retry_after=_BUSY_RETRY_AFTER)
        if outcome == "full":
            return _answer(503, f"{PENDING_MAX} posts are waiting for a run", retry_after=_FULL_RETRY_AFTER)
        if outcome == "gone":
            return _answer(404, "no telegram source here")
        return JSONResponse({"ok": True, "kept": True})

    return [Route(PATH, receive, methods=["POST"])]


async def _webhook_source(raw_id: str) -> Source | None:
    """The telegram source named by its database id or its GraphQL id."""
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
        pk = int(raw_id)
    else:
        try:
            type_name, pk = from_global_id(raw_id)
        except DomainError:
            return None
        if type_name != "Source":
            return None
    return await Source.get_or_none(id=pk, kind="telegram")


async def _keep(source_id: int, post: Post, *, max_attempts: int) -> str:
    """Append the post to `pending` and queue the slot's run, in one transaction with the source's row locked (the
    lock also orders this against a run starting, which reads `state` under the same lock)."""
    async with in_transaction():
        source = await Source.select_for_update().get_or_none(id=source_id)
        if source is None:
            return "gone"
        if await running(source.id) is not None:
            return "busy"
        pending: list[Any] = list(source.state.get("pending") or [])
        if post.update_id is not None and any(
            isinstance(kept, dict) and kept.get("update_id") == post.update_id for kept in pending
        ):
            return "kept"  # Telegram delivered it again (our answer got lost): it is here already
        if len(pending) >= PENDING_MAX:
            return "full"
        pending.append(post.to_json())
        await Source.filter(id=source_id).update(state={**source.state, "pending": pending})
        if source.enabled:  # a disabled source keeps what arrives; a run after enabling it takes it in
            slot = int(time.time() // RUN_SLOT_SECONDS)
            await enqueue(
                RUN,
                {"id": source_id, "trigger": "webhook"},
                dedupe_key=f"telegram:run:{source_id}:{slot}",
                run_after=datetime.fromtimestamp((slot + 2) * RUN_SLOT_SECONDS, UTC),
                max_attempts=max_attempts,
            )
    return "kept"


def _answer(status: int, message: str, *, retry_after: str | None = None) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after else None
    return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)

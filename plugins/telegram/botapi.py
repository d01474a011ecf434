"""The Bot API methods the source uses (getUpdates, getFile, file downloads), over `SafeClient` only.

The bot token is part of every Bot API URL (`/bot<token>/<method>`, `/file/bot<token>/<path>`), so nothing that
holds a URL leaves this module unredacted: failures become `BotApiError` with the token replaced, raised `from
None` (a traceback would print the original exception's message), and `install_log_redaction` filters httpx's own
request log lines, which name the URL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from cms.core.errors import DomainError, TooLarge
from cms.ingest.http import FetchFailed, RefusedURL, SafeClient
from plugins.telegram.config import TelegramConfig

PUBLIC_FILE_MAX = 20 * 1024 * 1024  # what bots may download through api.telegram.org (getFile)
UPDATES_LIMIT = 100  # getUpdates' maximum page
ALLOWED_UPDATES = ("channel_post", "edited_channel_post")
LOCAL_SERVER_HINT = (
    "set botApiUrl to a local Bot API server (https://github.com/tdlib/telegram-bot-api, run with --local) "
    "to bring in larger files"
)
_TOKEN = re.compile(r"[0-9]{1,20}(?::|%3[Aa])[A-Za-z0-9_-]{30,100}")
_STATUS = {
    401: "the Bot API refused the bot token (401 Unauthorized): check botToken",
    403: "the Bot API refused access (403 Forbidden): is the bot still an administrator of the channel?",
    404: "the Bot API does not know this bot (404): check botToken, and botApiUrl when it is set",
    409: (
        "the Bot API refused getUpdates (409 Conflict): a webhook is set for this bot, or another poller uses the "
        'same bot; use mode "webhook", or remove the webhook (deleteWebhook), and give each source its own bot'
    ),
}


class BotApiError(Exception):
    """A Bot API call or download failed; the message never holds the token. `permanent`: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(redact(message))
        self.permanent = permanent


def redact(text: str) -> str:
    """`text` with anything shaped like a bot token (plain or with its colon percent-encoded) replaced."""
    return _TOKEN.sub("<bot token>", text)


class _RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """httpx logs every request's URL at INFO (`HTTP Request: GET https://.../bot<token>/getUpdates`), and the CLI
    logs INFO: filter the token out of those records (once per process)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactTokens) for existing in logger.filters):
        logger.addFilter(_RedactTokens())


class BotApi:
    def __init__(self, client: SafeClient, config: TelegramConfig) -> None:
        self._client, self._config = client, config

    async def get_updates(self, offset: int | None) -> list[dict[str, Any]]:
        """One page of channel posts and their edits after `offset` (which also confirms the earlier ones)."""
        params: dict[str, str | int] = {"limit": UPDATES_LIMIT, "timeout": 0}
        params["allowed_updates"] = json.dumps(ALLOWED_UPDATES)
        if offset is not None:
            params["offset"] = offset
        result = await self.call("getUpdates", params)
        if not isinstance(result, list):
            raise BotApiError("getUpdates answered without a list of updates", permanent=False)
        return [update for update in result if isinstance(update, dict) and isinstance(update.get("update_id"), int)]

    async def download_file(self, file_id: str, dest: Path, *, max_bytes: int, what: str) -> Path:
        """getFile, then the file itself into `dest`; `what` names the file in errors ("message 12's video")."""
        found = await self.call("getFile", {"file_id": file_id}, what=what)
        if not isinstance(found, dict):
            raise BotApiError(f"getFile for {what} answered without a file", permanent=False)
        size, file_path = found.get("file_size"), found.get("file_path")
        if self._config.public_api and isinstance(size, int) and size > PUBLIC_FILE_MAX:
            raise too_big(what, size)
        if not isinstance(file_path, str) or not file_path:
            raise BotApiError(f"getFile for {what} gave no file_path to download", permanent=True)
        cap = min(max_bytes, PUBLIC_FILE_MAX) if self._config.public_api else max_bytes
        url = f"{self._config.api_url}/file/bot{self._config.token}/{quote(self._relative(file_path), safe='/')}"
        try:
            await self._client.download(url, dest, max_bytes=cap)
        except TooLarge:
            if self._config.public_api:
                raise too_big(what, None) from None
            raise BotApiError(
                f"{what} is larger than CMS_INGEST_MAX_BYTES ({max_bytes} bytes)", permanent=True
            ) from None
        except FetchFailed as exc:  # the method statuses' meanings (_STATUS) are not a file server's
            permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
            shown = f"HTTP {exc.status}" if exc.status is not None else "no response"
            raise BotApiError(f"downloading {what} failed: {shown}", permanent=permanent) from None
        except Exception as exc:  # noqa: BLE001 - whatever it is, its message may hold the URL: redact it
            raise _failure(f"downloading {what}", exc) from None
        return dest

    async def call(self, method: str, params: Mapping[str, str | int], *, what: str = "") -> Any:
        """A method's `result`; BotApiError (redacted) when the call fails or Telegram says it did not work."""
        url = f"{self._config.api_url}/bot{self._config.token}/{method}?{urlencode(params)}"
        try:
            fetched = await self._client.get_document(url)
        except FetchFailed as exc:
            if method == "getFile" and exc.status == 400 and self._config.public_api:
                raise BotApiError(
                    f"getFile refused {what} (400 Bad Request); on api.telegram.org that means the file is over "
                    f"the 20 MB bots may download: {LOCAL_SERVER_HINT}",
                    permanent=True,
                ) from None
            raise _failure(method, exc) from None
        except Exception as exc:  # noqa: BLE001 - whatever it is, its message may hold the URL: redact it
            raise _failure(method, exc) from None
        try:
            body = json.loads(fetched.content)
        except ValueError:
            raise BotApiError(f"{method} answered with something that is not JSON", permanent=False) from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            description = body.get("description") if isinstance(body, dict) else None
            raise BotApiError(f"{method} failed: {str(description or 'no description')[:300]}", permanent=True)
        return body.get("result")

    def _relative(self, file_path: str) -> str:
        """A local Bot API server (--local) answers getFile with the file's absolute path on its disk,
        `<working dir>/<token>/<path>`: its documented file route serves `<path>` under /file/bot<token>/."""
        if not file_path.startswith("/"):
            return file_path
        marker = f"/{self._config.token}/"
        if marker not in file_path:
            raise BotApiError("getFile gave an absolute path outside the bot's folder on the server", permanent=True)
        return file_path.split(marker, 1)[1]


def too_big(what: str, size: int | None) -> BotApiError:
    shown = f"is {size / 1024**2:.1f} MB, over" if size is not None else "is over"
    return BotApiError(
        f"{what} {shown} the 20 MB bots may download from api.telegram.org: {LOCAL_SERVER_HINT}", permanent=True
    )


def _failure(what: str, exc: BaseException) -> BotApiError:
    """The redacted error for a failed request: permanent for refusals and answers that will not change."""
    if isinstance(exc, FetchFailed):
        if exc.status in _STATUS:
            return BotApiError(f"{what}: {_STATUS[exc.status]}", permanent=True)
        detail = f"HTTP {exc.status}" if exc.status is not None else "no response"
        permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
        return BotApiError(f"{what} failed: {detail}", permanent=permanent)
    if isinstance(exc, RefusedURL):
        return BotApiError(f"{what} refused: {exc.reason}", permanent=True)
    if isinstance(exc, DomainError):
        return BotApiError(f"{what} failed: {exc.message}", permanent=True)
    return BotApiError(f"{what} failed: {type(exc).__name__}: {exc}", permanent=False)

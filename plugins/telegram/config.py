"""The `telegram` source's config: checked field by field, so an editor learns exactly what is wrong.

Plain fields: `chatId` (a channel's @username or its numeric id, e.g. -1001234567890), `botApiUrl` (default the
public API), `mode` ("polling" or "webhook"), `backfill` (read the history through MTProto) and `apiId`.
Write-only fields (`SECRET_FIELDS`): `botToken`, `webhookSecret`, `apiHash` and `session`. `CONFIG_FIELDS` describes
them all for editors' forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cms.plugins.hookspecs import ConfigError, ConfigField, ConfigFieldType

PUBLIC_API = "https://api.telegram.org"
SECRET_FIELDS = ("botToken", "webhookSecret", "apiHash", "session")
MODES = ("polling", "webhook")
_FIELDS = frozenset({"chatId", "botApiUrl", "mode", "backfill", "apiId", *SECRET_FIELDS})

# BotFather's tokens: the bot's numeric id, a colon, then a base64url secret (35 characters today).
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{30,100}")
# Public usernames: 5 to 32 characters, letters, digits and underscores, starting with a letter.
_USERNAME = re.compile(r"@([A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9])")
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")
# setWebhook's secret_token: 1 to 256 characters, A-Z, a-z, 0-9, _ and - (the header Telegram sends back).
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
_API_HASH = re.compile(r"[0-9a-f]{32}")
_SESSION_MAX = 4096
API_ID_MAX = 2**31 - 1

# The config described for editors' forms, in the order a form shows it; check_config decides.
CONFIG_FIELDS = (
    ConfigField(
        "chatId",
        "Channel",
        ConfigFieldType.STRING,
        required=True,
        help="The channel's @username (e.g. @my_channel) or its numeric id (e.g. -1001234567890).",
    ),
    ConfigField(
        "botToken",
        "Bot token",
        ConfigFieldType.SECRET,
        required=True,
        help="The bot's token from @BotFather (123456789:AA...); the bot must be an administrator of the channel.",
    ),
    ConfigField(
        "mode",
        "Mode",
        ConfigFieldType.CHOICE,
        choices=MODES,
        default="polling",
        help="polling: ask Telegram for new posts on each run; webhook: Telegram pushes them as they come "
        "(needs the webhook secret).",
    ),
    ConfigField(
        "webhookSecret",
        "Webhook secret",
        ConfigFieldType.SECRET,
        help="Required in webhook mode: 16 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram sends it back "
        "with every update).",
    ),
    ConfigField(
        "botApiUrl",
        "Bot API server URL",
        ConfigFieldType.URL,
        default=PUBLIC_API,
        help=f"A local Bot API server lifts the 20 MB cap on files; empty: the public {PUBLIC_API}.",
    ),
    ConfigField(
        "backfill",
        "Read the channel's history (backfill)",
        ConfigFieldType.BOOLEAN,
        default=False,
        help="Needs the API id, API hash and session below (an MTProto user session reads the history).",
    ),
    ConfigField(
        "apiId",
        "API id",
        ConfigFieldType.INTEGER,
        min=1,
        max=API_ID_MAX,
        help="For backfill: the numeric api_id of your app at my.telegram.org.",
    ),
    ConfigField(
        "apiHash",
        "API hash",
        ConfigFieldType.SECRET,
        help="For backfill: the 32 hex digits of your app's api_hash at my.telegram.org.",
    ),
    ConfigField(
        "session",
        "Session",
        ConfigFieldType.SECRET,
        help="For backfill: a telethon StringSession string (see the telegram plugin's README).",
    ),
)


@dataclass(frozen=True)
class TelegramConfig:
    chat: int | str  # a numeric chat id, or a username without its "@", lower case
    token: str
    api_url: str
    mode: str
    webhook_secret: str | None
    backfill: bool
    api_id: int | None
    api_hash: str | None
    session: str | None

    @property
    def public_api(self) -> bool:
        """Files through api.telegram.org are capped at 20 MB for bots; a local Bot API server lifts the cap."""
        return urlsplit(self.api_url).hostname == "api.telegram.org"

    def matches(self, chat_id: int, username: str | None) -> bool:
        if isinstance(self.chat, int):
            return chat_id == self.chat
        return (username or "").lower() == self.chat


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config to store (secrets included: the caller keeps them apart); ConfigError (a ValueError) says what
    is wrong and in which field."""
    unknown = sorted(set(config) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown fields {unknown}: a telegram source takes {sorted(_FIELDS)}")
    checked: dict[str, Any] = {"chatId": _chat(config.get("chatId"))}
    token = config.get("botToken")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token.strip()):
        raise ConfigError("the bot's token from @BotFather (123456789:AA...), required", field="botToken")
    checked["botToken"] = token.strip()
    if config.get("botApiUrl") is not None:
        checked["botApiUrl"] = _api_url(config["botApiUrl"])
    mode = config.get("mode", "polling")
    if mode not in MODES:
        raise ConfigError('"polling" (getUpdates on each run) or "webhook" (Telegram pushes updates)', field="mode")
    checked["mode"] = mode
    secret = config.get("webhookSecret")
    if secret is not None:
        if not isinstance(secret, str) or not _WEBHOOK_SECRET.fullmatch(secret):
            raise ConfigError(
                "16 to 256 characters of A-Z, a-z, 0-9, _ and - (setWebhook's secret_token)", field="webhookSecret"
            )
        checked["webhookSecret"] = secret
    elif mode == "webhook":
        raise ConfigError("required in webhook mode (Telegram sends it back with every update)", field="webhookSecret")
    checked.update(_backfill(config))
    return checked


def parse_config(config: dict[str, Any]) -> TelegramConfig:
    """The typed config of a run (the stored config with its secrets), checked again: stored data can be old."""
    checked = check_config(config)
    chat = checked["chatId"]
    return TelegramConfig(
        chat=int(chat) if isinstance(chat, int) else chat.removeprefix("@").lower(),
        token=checked["botToken"],
        api_url=checked.get("botApiUrl", PUBLIC_API),
        mode=checked["mode"],
        webhook_secret=checked.get("webhookSecret"),
        backfill=checked.get("backfill", False),
        api_id=checked.get("apiId"),
        api_hash=checked.get("apiHash"),
        session=checked.get("session"),
    )


def _chat(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if _CHAT_ID.fullmatch(text) and int(text) != 0:
            return int(text)
        if _USERNAME.fullmatch(text) and "__" not in text:
            return text
    raise ConfigError(
        "the channel's @username (e.g. @my_channel) or its numeric id (e.g. -1001234567890)", field="chatId"
    )


def _api_url(value: Any) -> str:
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("the Bot API server's address, starting with http:// or https://", field="botApiUrl")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("no credentials, query or fragment; just the server's address", field="botApiUrl")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _backfill(config: dict[str, Any]) -> dict[str, Any]:
    """The MTProto fields: all three credentials when `backfill` is true, and each one checked when given."""
    checked: dict[str, Any] = {}
    backfill = config.get("backfill", False)
    if not isinstance(backfill, bool):
        raise ConfigError("true or false", field="backfill")
    api_id = config.get("apiId")
    if api_id is not None:
        if not isinstance(api_id, int) or isinstance(api_id, bool) or not 0 < api_id <= API_ID_MAX:
            raise ConfigError("the numeric api_id of your app at my.telegram.org", field="apiId")
        checked["apiId"] = api_id
    api_hash = config.get("apiHash")
    if api_hash is not None:
        if not isinstance(api_hash, str) or not _API_HASH.fullmatch(api_hash.strip()):
            raise ConfigError("the 32 hex digits of your app's api_hash at my.telegram.org", field="apiHash")
        checked["apiHash"] = api_hash.strip()
    session = config.get("session")
    if session is not None:
        if not isinstance(session, str) or not session.strip() or len(session) > _SESSION_MAX:
            raise ConfigError("a telethon StringSession string (see plugins/telegram/README.md)", field="session")
        checked["session"] = session.strip()
    if backfill:
        missing = [name for name in ("apiId", "apiHash", "session") if name not in checked]
        if missing:
            raise ConfigError(
                f"needs {', '.join(missing)} (an MTProto user session reads the history)", field="backfill"
            )
        checked["backfill"] = True
    return checked

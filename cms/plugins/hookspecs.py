"""Every plugin hook, typed and documented (pytest and Datasette are the model).

A plugin is any module or object whose functions are marked with `@hookimpl` and named like a hook below.
An implementation declares only the arguments it uses. Hooks are called through `cms.plugins.host.PluginHost`,
which calls each plugin separately: one plugin's exception is logged and never hides another plugin's result.
Hooks documented as "may return an awaitable" are called with `PluginHost.acall`, which awaits results.
docs/plugins.md has a section per hook; tests/unit/test_hookspecs_documented.py keeps both in step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from cms.core.settings import Settings

PROJECT = "cms"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- lifecycle -------------------------------------------------------------------------------------------------


@hookspec
def cms_startup(settings: Settings) -> Any:
    """Called once when the app or a standalone worker (`cms worker`) starts, after the database is open and before
    any job runs; may return an awaitable.

    Use it to open clients or warm caches. Settings are the app's one `Settings` object (read-only).
    An exception is logged with the plugin's name and does not stop the app or other plugins.
    """


@hookspec
def cms_shutdown() -> Any:
    """Called once when the app or a standalone worker stops, before the database closes; may return an awaitable.

    Close whatever `cms_startup` opened. Exceptions are logged and do not stop other plugins' shutdown.
    """


# -- HTTP and GraphQL ------------------------------------------------------------------------------------------


@hookspec
def cms_routes(settings: Settings) -> list[BaseRoute]:
    """Return Starlette routes (`Route`, `WebSocketRoute`, `Mount`) to add to the app.

    Called once while the app is built. Core routes come first and win on a clash, so prefix your paths
    (e.g. `/edge/...`). Routes run behind the app's middleware: `request.user` is the authenticated principal.
    Items that are not `starlette.routing.BaseRoute` are reported and skipped.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


@hookspec
def cms_graphql_query_types() -> list[type]:
    """Return `@strawberry.type` classes whose fields are merged into the root `Query` type.

    Called once while the schema is built. Field names share one namespace with the core and other
    plugins: prefix them (e.g. `rssFeeds`). Classes that are not Strawberry object types are reported and skipped.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


@hookspec
def cms_graphql_mutation_types() -> list[type]:
    """Return `@strawberry.type` classes whose fields are merged into the root `Mutation` type.

    Same rules as `cms_graphql_query_types`. Mutations should follow the API conventions: return a union of
    the result and typed errors, and call a service function rather than holding business logic.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


# -- ingest and jobs (consumed by the worker) -----------------------------------------------------------------


class ConfigFieldType(StrEnum):
    """What an ingest source's config field holds, and so which control a form shows for it."""

    STRING = "string"  # a line of text
    URL = "url"  # an http(s) address
    INTEGER = "integer"  # a whole number, between `min` and `max` when they are set
    BOOLEAN = "boolean"  # true or false
    CHOICE = "choice"  # one of `choices`
    SECRET = "secret"  # write-only text (an API key, a token): stored apart and never shown


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}")
_INT32 = (-(2**31), 2**31 - 1)  # GraphQL's Int


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One config field of an ingest source, described for editors: the admin app builds its form from these
    (GraphQL `SourceKind.configFields`). The description documents the config; `validate_config` still decides.

    `default` is the value the source uses when the field is left out (a JSON value of the field's type; never
    for a secret). `min`/`max` bound an `INTEGER`. `choices` are the values of a `CHOICE`. A `SECRET` field is
    secret; `secret=True` makes a field of another type write-only too. A mistake here raises ValueError when
    the description is built, so a plugin with a wrong description fails to load instead of misleading editors.
    """

    name: str
    label: str
    type: ConfigFieldType
    required: bool = False
    help: str = ""
    choices: Sequence[str] = ()
    default: Any = None
    secret: bool = False
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        kind = ConfigFieldType(self.type)  # also takes the plain value, "url"
        set_ = object.__setattr__  # frozen: normalised once, here
        set_(self, "type", kind)
        set_(self, "choices", tuple(self.choices))
        set_(self, "secret", bool(self.secret) or kind is ConfigFieldType.SECRET)
        where = f"config field {self.name!r}"
        if not isinstance(self.name, str) or not _FIELD_NAME.fullmatch(self.name):
            raise ValueError(f"{where}: a name is 1 to 100 letters, digits, '_' or '-', not starting with a digit")
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(f"{where}: needs a label")
        if not isinstance(self.help, str):
            raise ValueError(f"{where}: help is text")
        if (kind is ConfigFieldType.CHOICE) != bool(self.choices):
            raise ValueError(f"{where}: choices are given for a CHOICE field, and only for one")
        if not all(isinstance(choice, str) for choice in self.choices) or len(set(self.choices)) < len(self.choices):
            raise ValueError(f"{where}: choices are distinct strings")
        for bound in (self.min, self.max):
            if bound is not None and (kind is not ConfigFieldType.INTEGER or not _whole(bound)):
                raise ValueError(f"{where}: min and max are whole numbers, for an INTEGER field only")
            if bound is not None and not _INT32[0] <= bound <= _INT32[1]:
                raise ValueError(f"{where}: min and max fit in 32 bits (GraphQL's Int)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{where}: min is above max")
        if self.default is not None and not self._takes(self.default):
            raise ValueError(f"{where}: the default {self.default!r} is not a value of this field")

    def _takes(self, value: Any) -> bool:
        """Whether `value` fits the description (for `default`; the source's validate_config is the judge)."""
        if self.secret:
            return False  # a secret has no default: it would be shown
        if self.type is ConfigFieldType.INTEGER:
            return _whole(value) and (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        if self.type is ConfigFieldType.BOOLEAN:
            return isinstance(value, bool)
        if self.type is ConfigFieldType.CHOICE:
            return value in self.choices
        return isinstance(value, str)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ConfigError(ValueError):
    """Raised by an ingest source's `validate_config` to refuse a config: `field` names the config key at fault
    (None: the config as a whole, e.g. two fields that exclude each other). Editors see `message` beside that field
    (the API's ValidationError path `["input", "config", field]`); `str()` is `"<field>: <message>"` for logs.
    A plain ValueError works too: its message lands on the config as a whole."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


@hookspec
def cms_ingest_sources(settings: Settings) -> dict[str, object]:
    """Return ingest sources by kind name (e.g. `{"rss": RssSource(settings)}`); editors manage sources of these
    kinds (`createSource`), the worker runs them (`ingest_run`), and the `ingest_poll` job uses them too.

    A source object has this shape (a structural Protocol; no base class to inherit; methods may be sync)::

        class IngestSource(Protocol):
            kind: str                                   # the same name as its key (at most 40 characters)
            label: str = kind                           # optional: the kind's name for editors ("RSS feed")
            description: str = ""                       # optional: a sentence for editors about its config
            config_fields: Sequence[ConfigField] = ()   # optional: the config described, field by field (forms)
            secret_fields: tuple[str, ...] = ()         # optional: more write-only config keys (API keys)
            def validate_config(self, config: dict) -> dict:
                '''Optional: the config to store; raise ConfigError("what is wrong", field="url") (or a plain
                ValueError, for the config as a whole) to refuse it.'''
            async def discover(self, config: dict, state: dict) -> list[dict] | None:
                '''List items: dicts with "external_id" (required), "title", "url", "description", "filename".
                `state` (an optional parameter) is kept between runs (ETags, cursors): change it in place.
                Return None when nothing changed since the last run (a 304): no item is then reported gone.'''
            incremental: bool = False                   # optional: discover lists only what is new (no "gone")
            async def fetch(self, item: dict, dest: pathlib.Path, config: dict) -> pathlib.Path | list | None:
                '''Download one item's media into the folder `dest` and return the file's path, or a list of
                paths (an album: one asset each; say how many in the item's "media_count" so a retry finishes
                a partial one); None when the item has no media (the episode comes in without). `config`
                (optional parameter) is the source's config with its secrets.'''

    `config_fields` (`ConfigField`, `ConfigFieldType` above) describe the config for editors: names, labels, help,
    types, required, choices, ranges, defaults, secrets; editors' forms are built from them (GraphQL
    `SourceKind.configFields`). Keep them in step with `validate_config`, which still decides. Write-only fields
    are those described as secret plus any named in `secret_fields` (a source without a description lists them
    there). A description that is not a sequence of `ConfigField` with distinct names gets the source reported and
    skipped.

    Fetch from the outside world with `cms.ingest.http.SafeClient.from_settings(settings)`: it refuses private
    and loopback addresses (CMS_INGEST_ALLOW_HOSTS excepted), re-checks every redirect and caps size and time.

    A poll is the job `ingest_poll` with payload `{"source": <kind>, "program_id": <int>, "config": {...}}`
    (queue it with `jobs.store.service.enqueue`, e.g. from a cron job). It calls `discover(config)` and queues
    one `ingest_item` job per item, deduplicated on (kind, external_id): discovering an item again creates
    nothing. The item job creates a DRAFT episode in the program (source and external_id set, acting as the
    system identity `system:ingest:<kind>`), then calls `fetch` with an empty scratch folder (removed afterwards)
    and hands the file to the media intake, which persists and processes it like an upload. An exception is
    retried with backoff and finds the same episode; raise `jobs.store.service.PermanentFailure` when
    retrying cannot help. An unknown kind dead-letters the poll at once. Items must be JSON values.
    Kinds are one namespace: a kind a plugin registered earlier provides is reported and the later one ignored.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


@hookspec
def cms_job_kinds() -> dict[str, object]:
    """Return job functions by kind name (e.g. `{"rss.poll": poll_feed}`), run through the worker's job table.

    Each value is `async def job(ctx: dict, **payload) -> None`, called with the job's payload as keyword
    arguments and `ctx = {"settings": Settings, "storage": Storage, "plugins": PluginHost, "kind": str}` (the
    worker's settings, object storage and plugin host, and the job's kind). Queue one with
    `jobs.store.service.enqueue(kind, payload, dedupe_key=..., run_after=...)`. Plugin jobs get what core jobs
    get: a lease, retries with backoff up to `CMS_JOB_MAX_ATTEMPTS`, then the dead letter (admins see it in
    `jobs(status: DEAD)` and can `retryJob`); one attempt may run up to an hour. Raise
    `jobs.store.service.PermanentFailure` to dead-letter at once; a payload that does not fit the function's
    signature does too. Payloads are JSON values (ids and primitives) and a job must be safe to run twice.
    Namespace kinds with your plugin name (`<plugin>.<verb>`): core kinds win, a kind a plugin registered earlier
    provides is reported and ignored, and so is a value that is not callable.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


@hookspec
def cms_cron_jobs() -> list[object]:
    """Return periodic jobs for the worker, as `arq.cron.cron(...)` objects (e.g. `cron(poll_all, minute=...)`).

    They go to the arq worker's `cron_jobs` (of long-running workers; `cms worker --burst` schedules none). Give
    each a unique name (`cron(fn, name="<plugin>.<verb>", ...)`); a taken name or an item that is not a cron job
    is reported and skipped. The function gets arq's `ctx` (`job_id`, `job_try`, `redis`, ...) plus `settings`,
    `storage` and `plugins` as in `cms_job_kinds`. arq enqueues each tick under the id `<name>:<tick time>`, so
    several workers run a tick once (keep the default `unique=True`; docs/plugins.md notes arq's one gap). An
    exception is logged with the plugin's name and the worker goes on. Keep the function short and idempotent:
    queue real work as a job with `jobs.store.service.enqueue` (e.g. an `ingest_poll`) to get retries and the
    dead letter.
    """
    raise NotImplementedError  # a specification: pluggy reads it, never calls it


# -- playback -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def cms_playback_urls(
    asset: object, renditions: list[object], principal: object, base_url: str, settings: Settings
) -> object | None:
    """Return playback URLs for an asset, or None to let the next plugin (or the default) answer.

    firstresult: the first non-None answer wins. `asset` is the asset as the API shows it, `renditions` its ready
    renditions, `principal` the caller (check permissions yourself), `base_url` the public base URL of the app, `settings`
    the app's settings (keep no state between apps: one process may run several).
    The answer is a `cms.media.playback.Playback` (HLS master, poster and storyboard URLs, an image asset's sizes,
    and when they expire); edge and CDN plugins use this to sign URLs. The built-in `edge` plugin answers with URLs to its signed route.
    """


# -- content reactions (called after the change is committed; may return awaitables) --------------------------


@hookspec
def cms_content_published(kind: str, id: str) -> Any:
    """Called after a program or episode became public; may return an awaitable.

    `kind` is `"program"` or `"episode"`, `id` its database id (a string). Called from the worker when the item
    goes public: right after the commit for a publish effective now; for a publish scheduled for later, once its
    `publishAt` has passed (within seconds, also after the workers were down, for up to three days). Each
    publication (item and publish time) is announced once in normal operation and at least once after a crash:
    reactions must be idempotent (e.g. check before posting). A publish withdrawn or rescheduled before its time
    is not announced at the old time. The item's own status counts, not its program's.
    """


@hookspec
def cms_content_unpublished(kind: str, id: str) -> Any:
    """Called after a program or episode was unpublished; may return an awaitable.

    Same arguments as `cms_content_published`; called after the commit, at least once. Also called when a
    publish scheduled for later is withdrawn before its time (the item then never went public).
    """


@hookspec
def cms_asset_ready(asset_id: str) -> Any:
    """Called after a media asset finished processing and its renditions are playable; may return an awaitable.

    Delivered at least once, after the commit; reactions must be idempotent.
    """


@hookspec
def cms_comment_added(comment_id: str) -> Any:
    """Called after a comment was added; may return an awaitable.

    Delivered at least once, after the commit; load the comment through the public service API if needed.
    """

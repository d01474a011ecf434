"""Every plugin hook, typed and documented (pytest and Datasette are the model).

A plugin is any module or object whose functions are marked with `@hookimpl` and named like a hook below.
An implementation declares only the arguments it uses. Hooks are called through `cms.plugins.PluginHost`,
which calls each plugin separately: one plugin's exception is logged and never hides another plugin's result.
Hooks documented as "may return an awaitable" are called with `PluginHost.acall`, which awaits results.
docs/plugins.md has a section per hook; tests/unit/test_hookspecs_documented.py keeps both in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from cms.settings import Settings

PROJECT = "cms"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- lifecycle -------------------------------------------------------------------------------------------------


@hookspec
def cms_startup(settings: Settings) -> Any:
    """Called once when the app starts, after the database is open; may return an awaitable.

    Use it to open clients or warm caches. Settings are the app's one `Settings` object (read-only).
    An exception is logged with the plugin's name and does not stop the app or other plugins.
    """


@hookspec
def cms_shutdown() -> Any:
    """Called once when the app stops, before the database closes; may return an awaitable.

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


@hookspec
def cms_graphql_query_types() -> list[type]:
    """Return `@strawberry.type` classes whose fields are merged into the root `Query` type.

    Called once while the schema is built. Field names share one namespace with the core and other
    plugins: prefix them (e.g. `rssFeeds`). Classes that are not Strawberry object types are reported and skipped.
    """


@hookspec
def cms_graphql_mutation_types() -> list[type]:
    """Return `@strawberry.type` classes whose fields are merged into the root `Mutation` type.

    Same rules as `cms_graphql_query_types`. Mutations should follow the API conventions: return a union of
    the result and typed errors, and call a service function rather than holding business logic.
    """


# -- ingest and jobs (consumed by the worker) -----------------------------------------------------------------


@hookspec
def cms_ingest_sources() -> dict[str, object]:
    """Return ingest sources by kind name (e.g. `{"rss": RssSource()}`).

    A source object has this shape (a structural Protocol; no base class to inherit)::

        class IngestSource(Protocol):
            kind: str                                   # the same name as its key
            async def discover(self, config: dict) -> list[dict]:
                '''List new items: each a dict with at least "external_id", "title", "url".'''
            async def fetch(self, item: dict, dest: pathlib.Path) -> pathlib.Path:
                '''Download one item's media into `dest` (a staging folder) and return the file path.'''

    Sources must be idempotent on `external_id`: discovering the same item twice creates no duplicate.
    A kind already provided by another plugin is reported and the later one ignored.
    """


@hookspec
def cms_job_kinds() -> dict[str, object]:
    """Return job functions by kind name, run by the arq worker (e.g. `{"rss.poll": poll_feed}`).

    Each value is `async def job(ctx: dict, **payload) -> object`: payloads are ids and primitives
    (JSON-safe, never pickled objects) and a job must be safe to run twice. Namespace kinds with your plugin
    name (`<plugin>.<verb>`); a kind already taken is reported and ignored.
    """


@hookspec
def cms_cron_jobs() -> list[object]:
    """Return periodic jobs for the worker, as `arq.cron.cron(...)` objects (e.g. `cron(poll_all, minute=...)`).

    The function must also be idempotent: a cron run may overlap a retry of the previous run.
    """


# -- playback -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def cms_playback_urls(
    asset: object, renditions: list[object], principal: object, base_url: str, settings: Settings
) -> object | None:
    """Return playback URLs for an asset, or None to let the next plugin (or the default) answer.

    firstresult: the first non-None answer wins. `asset` is the asset as the API shows it, `renditions` its ready
    renditions, `principal` the caller (check permissions yourself), `base_url` the public base URL of the app, `settings`
    the app's settings (keep no state between apps: one process may run several).
    The answer is a `cms.media.playback.Playback` (HLS master, poster and storyboard URLs and when they expire);
    edge and CDN plugins use this to sign URLs. The built-in `edge` plugin answers with URLs to its signed route.
    """


# -- content reactions (called after the change is committed; may return awaitables) --------------------------


@hookspec
def cms_content_published(kind: str, id: str) -> Any:
    """Called after a program or episode became public; may return an awaitable.

    `kind` is `"program"` or `"episode"`, `id` its database id (a string). Called from the worker after the
    transaction committed, at least once: reactions must be idempotent (e.g. check before posting). A publish
    scheduled for later is announced when it is scheduled (its `publishAt` tells when it goes public).
    """


@hookspec
def cms_content_unpublished(kind: str, id: str) -> Any:
    """Called after a program or episode stopped being public; may return an awaitable.

    Same arguments and delivery rules as `cms_content_published`.
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

"""What the worker does for plugins: their reaction hooks (notify_plugins), job kinds and cron jobs.

notify_plugins hands a committed content event to the plugins' reaction hooks (at least once); the event -> hook
map below is the one place that says which events plugins hear about, and the job kind's triggers are its keys.

Plugin job kinds (cms_job_kinds) run through the same job table as core jobs (leases, retries, dead letter, `retryJob`): each
function `async def job(ctx, **payload)` is wrapped in a `JobKind` whose runner call builds `ctx`.
Plugin cron jobs (cms_cron_jobs) are arq `CronJob`s handed to the arq worker; arq enqueues each tick under a job id made of the
cron job's name and the tick's time, so several workers run one tick once.
Anything a plugin returns that cannot be used is reported with the plugin's name (as the PluginHost reports
failures) and skipped; the worker starts regardless.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from arq.cron import CronJob
from arq.worker import Retry

from cms.core.outbox import Event
from cms.plugins.host import PluginHost
from jobs import announce
from jobs.runner import JobDeps, JobKind, PermanentJobError
from jobs.store.service import KIND_MAX

log = logging.getLogger("cms.plugins")  # where PluginHost reports plugin failures


def cron_context(deps: JobDeps) -> dict[str, Any]:
    """What plugin cron functions find in their ctx (docs/plugins.md, cms_cron_jobs), besides arq's own keys."""
    return {"settings": deps.settings, "storage": deps.storage, "plugins": deps.plugins}


def job_context(deps: JobDeps, kind: str) -> dict[str, Any]:
    """The `ctx` a plugin job receives (docs/plugins.md, cms_job_kinds)."""
    return {**cron_context(deps), "kind": kind}


def adapt(kind: str, function: Callable[..., Any]) -> JobKind:
    """A runner `JobKind` calling `function(ctx, **payload)`; `PermanentFailure` dead-letters the job at once."""
    try:
        signature: inspect.Signature | None = inspect.signature(function)
    except ValueError:  # pragma: no cover - callables without an inspectable signature
        signature = None

    async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
        ctx = job_context(deps, kind)
        if signature is not None:
            try:
                signature.bind(ctx, **payload)
            except TypeError as exc:  # retrying the same payload cannot help
                raise PermanentJobError(f"the payload does not fit job kind {kind!r}: {exc}") from exc
        result = function(ctx, **payload)
        if inspect.isawaitable(result):
            await result

    return JobKind(name=kind, run=run)


def merge_job_kinds(core: Mapping[str, JobKind], host: PluginHost) -> Mapping[str, JobKind]:
    """Core kinds plus the plugins' (core kinds win; of two plugins, the one registered first keeps a kind).

    The result looks core kinds up in `core` at call time, so a kind replaced there later (tests do) is seen."""
    functions = host.named_registrations(
        "cms_job_kinds",
        noun="job kind",
        values="job functions",
        max_chars=KIND_MAX,
        reserved=core,
        problem=lambda function: None if callable(function) else "is not callable",
    )
    added = {kind: adapt(kind, function) for kind, function in functions.items()}
    return ChainMap(core, added)  # type: ignore[arg-type]  # core first: core kinds win


def cron_jobs(host: PluginHost, *, reserved: Iterable[str] = ()) -> list[CronJob]:
    """The plugins' arq cron jobs, each a copy of its own (arq keeps the next run time on the object) whose function
    reports an exception with the plugin's name instead of failing the arq job."""
    hook = "cms_cron_jobs"
    taken = set(reserved)
    found: list[CronJob] = []
    for plugin, result in host.in_registration_order(hook):
        if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
            host.report(plugin, hook, f"returned {type(result).__name__}, not a list of arq.cron.cron(...) objects")
            continue
        for item in result:
            if not isinstance(item, CronJob):
                host.report(plugin, hook, f"{item!r} is not an arq.cron.cron(...) object; skipped")
            elif item.name in taken:
                host.report(
                    plugin,
                    hook,
                    f"cron job name {item.name!r} is already taken; pass cron(..., name='<plugin>.<verb>')",
                )
            else:
                taken.add(item.name)
                found.append(dataclasses.replace(item, coroutine=_isolated(plugin, item), next_run=None))
    return found


def _isolated(plugin: str, cron_job: CronJob) -> Callable[..., Any]:
    function = cron_job.coroutine

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await function(ctx, *args, **kwargs)
        except Retry:  # arq's own "run me again" signal
            raise
        except Exception as exc:  # noqa: BLE001 - one plugin's cron failure must not disturb the worker
            log.error(
                "plugin %s failed in cron job %s: %s: %s", plugin, cron_job.name, type(exc).__name__, exc, exc_info=exc
            )
            return None

    run.__qualname__ = getattr(function, "__qualname__", cron_job.name)
    return run


# outbox event -> (hook, how to build its arguments from the event payload)
_HOOKS: dict[Event, tuple[str, Callable[[dict[str, Any]], dict[str, str]]]] = {
    Event.PROGRAM_UNPUBLISH: ("cms_content_unpublished", lambda p: {"kind": "program", "id": str(p["id"])}),
    Event.EPISODE_UNPUBLISH: ("cms_content_unpublished", lambda p: {"kind": "episode", "id": str(p["id"])}),
    Event.ASSET_READY: ("cms_asset_ready", lambda p: {"asset_id": str(p["asset_id"])}),
    Event.COMMENT_ADD: ("cms_comment_added", lambda p: {"comment_id": str(p["id"])}),
}
# Publishing is announced when the item goes live, once per publication (jobs/announce.py): at once when it is
# public already, by the worker's scan when its publish time comes.
_PUBLISH = {Event.PROGRAM_PUBLISH: "program", Event.EPISODE_PUBLISH: "episode"}


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    """A plugin that fails is logged by the host and does not fail the job: the others still hear the event."""
    event = payload.get("event", "")
    if event in _PUBLISH:
        await announce.announce_if_live(deps, kind=_PUBLISH[Event(event)], id=int(payload["id"]))
        return
    hook = _HOOKS.get(event)  # a str finds its StrEnum member
    if hook is None or deps.plugins is None:
        return
    name, arguments = hook
    await deps.plugins.acall(name, **arguments(payload))


KIND = JobKind(name="notify_plugins", run=run, timeout=timedelta(minutes=5), triggers=(*_HOOKS, *_PUBLISH))

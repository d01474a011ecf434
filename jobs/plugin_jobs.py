"""Plugin job kinds and cron jobs (cms_job_kinds, cms_cron_jobs), checked and adapted for the worker.

Plugin job kinds run through the same job table as core jobs (leases, retries, dead letter, `retryJob`): each
function `async def job(ctx, **payload)` is wrapped in a `JobKind` whose runner call builds `ctx`.
Plugin cron jobs are arq `CronJob`s handed to the arq worker; arq enqueues each tick under a job id made of the
cron job's name and the tick's time, so several workers run one tick once.
Anything a plugin returns that cannot be used is reported with the plugin's name (as the PluginHost reports
failures) and skipped; the worker starts regardless.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections import ChainMap
from collections.abc import Container, Iterable, Mapping
from typing import Any, Callable

from arq.cron import CronJob
from arq.worker import Retry

from cms.jobstore.service import KIND_MAX
from cms.plugins import PluginHost
from jobs.runner import JobDeps, JobKind, PermanentJobError

log = logging.getLogger("cms.plugins")  # where PluginHost reports plugin failures


def in_registration_order(host: PluginHost, hook: str) -> list[tuple[str, Any]]:
    """(plugin, result) pairs, the plugin registered first (built-ins before third-party ones) first: on a clash
    of names, the plugin that had the name first keeps it."""
    return list(reversed(host.call_with_names(hook)))  # pluggy calls the last registered first


def report(plugin: str, hook: str, problem: str) -> None:
    """The PluginHost's wording, so operators find every plugin problem the same way in the logs."""
    log.error("plugin %s failed in %s: %s", plugin, hook, problem)


def job_context(deps: JobDeps, kind: str) -> dict[str, Any]:
    """The `ctx` a plugin job receives (docs/plugins.md, cms_job_kinds)."""
    return {"settings": deps.settings, "storage": deps.storage, "plugins": deps.plugins, "kind": kind}


def adapt(kind: str, function: Callable[..., Any]) -> JobKind:
    """A runner `JobKind` calling `function(ctx, **payload)`; `PermanentFailure` dead-letters the job at once."""

    async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
        ctx = job_context(deps, kind)
        try:
            inspect.signature(function).bind(ctx, **payload)
        except TypeError as exc:  # retrying the same payload cannot help
            raise PermanentJobError(f"the payload does not fit job kind {kind!r}: {exc}") from exc
        except ValueError:  # pragma: no cover - callables without an inspectable signature
            pass
        result = function(ctx, **payload)
        if inspect.isawaitable(result):
            await result

    return JobKind(run=run)


def merge_job_kinds(core: Mapping[str, JobKind], host: PluginHost) -> Mapping[str, JobKind]:
    """Core kinds plus the plugins' (core kinds win; of two plugins, the one registered first keeps a kind).

    The result looks core kinds up in `core` at call time, so a kind replaced there later (tests do) is seen."""
    functions = named_registrations(
        host, "cms_job_kinds", noun="job kind", values="job functions", max_chars=KIND_MAX, reserved=core,
        problem=lambda function: None if callable(function) else "is not callable",
    )
    added = {kind: adapt(kind, function) for kind, function in functions.items()}
    return ChainMap(core, added)  # type: ignore[arg-type]  # core first: core kinds win


def named_registrations(
    host: PluginHost, hook: str, *, noun: str, values: str, max_chars: int, problem: Callable[[Any], str | None],
    reserved: Container[str] = (),
) -> dict[str, Any]:
    """Merge hook results that are dicts of named things (job kinds, ingest sources) in registration order.

    The first plugin to name a thing keeps it; bad names, `reserved` names and values for which `problem` returns a
    reason are reported in the PluginHost's wording and skipped."""
    found: dict[str, Any] = {}
    owners: dict[str, str] = {}
    article = "an" if noun[0] in "aeiou" else "a"
    for plugin, result in in_registration_order(host, hook):
        if not isinstance(result, Mapping):
            report(plugin, hook, f"returned {type(result).__name__}, not a dict of {values} by kind")
            continue
        for name, value in result.items():
            if not isinstance(name, str) or not name.strip() or len(name) > max_chars:
                report(plugin, hook, f"{name!r} is not {article} {noun} name (1 to {max_chars} characters); skipped")
            elif name in reserved:
                report(plugin, hook, f"{noun} {name!r} is a core kind; the plugin's is ignored")
            elif name in owners:
                report(plugin, hook, f"{noun} {name!r} is already provided by plugin {owners[name]}; ignored")
            elif (reason := problem(value)) is not None:
                report(plugin, hook, f"{noun} {name!r}: {value!r} {reason}; skipped")
            else:
                found[name], owners[name] = value, plugin
    return found


def cron_jobs(host: PluginHost, *, reserved: Iterable[str] = ()) -> list[CronJob]:
    """The plugins' arq cron jobs, each a copy of its own (arq keeps the next run time on the object) whose function
    reports an exception with the plugin's name instead of failing the arq job."""
    hook = "cms_cron_jobs"
    taken = set(reserved)
    found: list[CronJob] = []
    for plugin, result in in_registration_order(host, hook):
        if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
            report(plugin, hook, f"returned {type(result).__name__}, not a list of arq.cron.cron(...) objects")
            continue
        for item in result:
            if not isinstance(item, CronJob):
                report(plugin, hook, f"{item!r} is not an arq.cron.cron(...) object; skipped")
            elif item.name in taken:
                report(plugin, hook, f"cron job name {item.name!r} is already taken; pass cron(..., name='<plugin>.<verb>')")
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

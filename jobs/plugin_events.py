"""notify_plugins: hand a committed content event to the plugins' reaction hooks (at least once).

The event -> hook map below is the one place that says which events plugins hear about; the job kind's triggers
are derived from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cms.core.outbox import Event
from jobs import announce
from jobs.runner import JobDeps, JobKind

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
    hook = _HOOKS.get(event)  # type: ignore[call-overload]  # a str compares equal to its StrEnum member
    if hook is None or deps.plugins is None:
        return
    name, arguments = hook
    await deps.plugins.acall(name, **arguments(payload))


KIND = JobKind(name="notify_plugins", run=run, timeout=timedelta(minutes=5), triggers=(*_HOOKS, *_PUBLISH))

"""notify_plugins: hand a committed content event to the plugins' reaction hooks (at least once)."""

from __future__ import annotations

from typing import Any

from jobs import announce
from jobs.runner import JobDeps

# outbox event kind -> (hook, how to build its arguments from the event payload)
_HOOKS = {
    "program.unpublish": ("cms_content_unpublished", lambda p: {"kind": "program", "id": str(p["id"])}),
    "episode.unpublish": ("cms_content_unpublished", lambda p: {"kind": "episode", "id": str(p["id"])}),
    "asset.ready": ("cms_asset_ready", lambda p: {"asset_id": str(p["asset_id"])}),
    "comment.add": ("cms_comment_added", lambda p: {"comment_id": str(p["id"])}),
}
# Publishing is announced when the item goes live, once per publication (jobs/announce.py): at once when it is
# public already, by the worker's scan when its publish time comes.
_PUBLISH = {"program.publish": "program", "episode.publish": "episode"}


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    """A plugin that fails is logged by the host and does not fail the job: the others still hear the event."""
    event = payload.get("event", "")
    if event in _PUBLISH:
        await announce.announce_if_live(deps, kind=_PUBLISH[event], id=int(payload["id"]))
        return
    hook = _HOOKS.get(event)
    if hook is None or deps.plugins is None:
        return
    name, arguments = hook
    await deps.plugins.acall(name, **arguments(payload))

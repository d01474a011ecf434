"""notify_plugins: hand a committed content event to the plugins' reaction hooks (at least once)."""

from __future__ import annotations

from typing import Any

from jobs.runner import JobDeps

# outbox event kind -> (hook, how to build its arguments from the event payload)
_HOOKS = {
    "program.publish": ("cms_content_published", lambda p: {"kind": "program", "id": str(p["id"])}),
    "episode.publish": ("cms_content_published", lambda p: {"kind": "episode", "id": str(p["id"])}),
    "program.unpublish": ("cms_content_unpublished", lambda p: {"kind": "program", "id": str(p["id"])}),
    "episode.unpublish": ("cms_content_unpublished", lambda p: {"kind": "episode", "id": str(p["id"])}),
    "asset.ready": ("cms_asset_ready", lambda p: {"asset_id": str(p["asset_id"])}),
    "comment.add": ("cms_comment_added", lambda p: {"comment_id": str(p["id"])}),
}


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    """A plugin that fails is logged by the host and does not fail the job: the others still hear the event."""
    hook = _HOOKS.get(payload.get("event", ""))
    if hook is None or deps.plugins is None:
        return
    name, arguments = hook
    await deps.plugins.acall(name, **arguments(payload))

"""What every resolver gets: the caller, their loaders, and the request's correlation id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from strawberry.types import Info as _Info

from cms.api.loaders import Loaders
from cms.auth.principal import Principal
from cms.core.settings import Settings
from cms.media.storage import Storage
from cms.plugins.host import PluginHost
from cms.users import service as users
from cms.users.actors import Actor
from search.backend import SearchBackend


@dataclass(frozen=True)
class ContextParts:
    """The app's shared parts that resolvers use (from cms.services.Services)."""

    settings: Settings
    storage: Storage
    plugins: PluginHost | None = None
    search: SearchBackend | None = None
    ingest_sources: Mapping[str, Any] = field(default_factory=dict)  # the plugins' (cms.ingest.registry)


@dataclass
class Context:
    principal: Principal | None
    request_id: str
    settings: Settings
    storage: Storage
    base_url_of: Callable[[], str]  # worked out on first use: most operations never build a URL
    plugins: PluginHost | None = None
    search: SearchBackend | None = None
    ingest_sources: Mapping[str, Any] = field(default_factory=dict)
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init payload
    _actor: Actor | None = None

    @cached_property
    def base_url(self) -> str:
        """The base URL clients reach this server at (for the URLs the API hands out)."""
        return self.base_url_of()

    async def actor(self) -> Actor | None:
        """The signed-in caller with their user row (created on first use), or None when anonymous."""
        if self.principal is None:
            return None
        if self._actor is None:
            user = await users.ensure_user(principal=self.principal)
            self._actor = Actor(principal=self.principal, user=user, request_id=self.request_id)
        return self._actor


Info = _Info[Context, None]

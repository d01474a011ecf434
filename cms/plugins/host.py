"""The plugin host: a pluggy manager loading built-in and third-party plugins the same way, with error isolation.

Plugins come from the entry point group `cms.plugins` (the built-ins are entry points of this distribution) and
from an explicit `builtins` list of `(name, module_path)`. Nothing loads on import: `PluginHost(...).load()` is
called from `create_app`. A plugin that fails to import or register is logged, kept in `host.failures` and
skipped; a hook implementation that raises is logged with its plugin's name and other plugins' results stand.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pluggy
from starlette.routing import BaseRoute
from strawberry.types.base import has_object_definition

from cms.plugins import hookspecs

log = logging.getLogger("cms.plugins")

ENTRY_POINT_GROUP = "cms.plugins"
DISTRIBUTION = "media-cms"  # entry points declared by this distribution are the built-ins


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False


class GraphQLTypes(NamedTuple):
    query: list[type]
    mutation: list[type]


class PluginHost:
    def __init__(
        self,
        *,
        builtins: Iterable[tuple[str, str]] = (),
        disabled: Iterable[str] = (),
        entry_points: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.builtins = list(builtins)
        self.disabled = set(disabled)
        self.entry_points = entry_points
        self.failures: dict[str, str] = {}
        self._builtin_names: set[str] = set()
        self._loaded = False
        self._users = 0  # holders of `running()`

    # -- loading ------------------------------------------------------------------------------------------------

    def load(self) -> PluginHost:
        """Import and register every enabled plugin once; failures are isolated per plugin. Returns self."""
        if self._loaded:
            return self
        self._loaded = True
        for name, module_path in self.builtins:
            self._load_one(name, lambda path=module_path: importlib.import_module(path), builtin=True)
        if self.entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                builtin = ep.dist is not None and ep.dist.name == DISTRIBUTION
                self._load_one(ep.name, ep.load, builtin=builtin)
        return self

    def _load_one(self, name: str, importer: Callable[..., object], *, builtin: bool) -> None:
        if name in self.disabled:
            log.info("plugin %s is disabled", name)
            return
        if self.pm.has_plugin(name):
            log.debug("plugin %s already registered; skipping the duplicate", name)
            return
        try:
            self.register(importer(), name, builtin=builtin)
        except Exception as exc:  # noqa: BLE001 - one plugin must not stop the app
            self.failures[name] = f"{type(exc).__name__}: {exc}"
            log.error("plugin %s failed to load: %s", name, self.failures[name], exc_info=exc)

    def register(self, plugin: object, name: str | None = None, *, builtin: bool = False) -> str:
        """Register a plugin object or module now; raises when it is invalid (loading catches this per plugin)."""
        if name is not None and name in self.disabled:
            raise ValueError(f"plugin {name} is disabled")
        registered = self.pm.register(plugin, name)
        if registered is None:  # pragma: no cover - only for names blocked on the pluggy manager directly
            raise ValueError(f"plugin {name} is blocked")
        try:
            self._validate(plugin)
        except Exception:
            self.pm.unregister(plugin)
            raise
        if builtin:
            self._builtin_names.add(registered)
        return registered

    def _validate(self, plugin: object) -> None:
        for caller in self.pm.get_hookcallers(plugin) or []:
            impl = next(i for i in caller.get_hookimpls() if i.plugin is plugin)
            if not caller.has_spec() and not impl.optionalhook:
                raise pluggy.PluginValidationError(plugin, f"unknown hook {caller.name!r} (typo? see docs/plugins.md)")
            if impl.hookwrapper or impl.wrapper:
                raise pluggy.PluginValidationError(plugin, f"hook wrappers are not supported ({caller.name})")

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._builtin_names.discard(name)

    @property
    def plugins(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            module = plugin.__name__ if inspect.ismodule(plugin) else type(plugin).__module__
            hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])
            infos.append(PluginInfo(name, module, hooks, name in self._builtin_names))
        return sorted(infos, key=lambda info: info.name)

    # -- calling ------------------------------------------------------------------------------------------------

    def _impls(self, hook_name: str, kwargs: dict[str, Any]) -> list[pluggy.HookImpl]:
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None or not caller.has_spec():
            raise AttributeError(f"no hook named {hook_name!r} in cms.plugins.hookspecs")
        expected = set(caller.spec.argnames)
        if set(kwargs) != expected:
            raise TypeError(f"{hook_name} takes {sorted(expected)}, got {sorted(kwargs)}")
        # pluggy's own order: last registered first, tryfirst/trylast respected.
        return list(reversed(caller.get_hookimpls()))

    def report(self, plugin_name: str, hook_name: str, problem: str, *, exc: BaseException | None = None) -> None:
        """Log a plugin's problem in the one wording operators find every plugin failure by."""
        log.error("plugin %s failed in %s: %s", plugin_name, hook_name, problem, exc_info=exc)

    def _report(self, impl: pluggy.HookImpl, hook_name: str, exc: BaseException) -> None:
        self.report(impl.plugin_name, hook_name, f"{type(exc).__name__}: {exc}", exc=exc)

    def _pairs(self, hook_name: str, kwargs: dict[str, Any]) -> Iterator[tuple[pluggy.HookImpl, Any]]:
        """Yield (impl, result-or-exception) for each implementation, calling each with only the args it declares."""
        for impl in self._impls(hook_name, kwargs):
            try:
                yield impl, impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - isolate plugins from each other
                yield impl, exc

    def _results(self, hook_name: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """(plugin name, result) of each implementation that answered; failures are reported and skipped."""
        for impl, result in self._pairs(hook_name, kwargs):
            if inspect.isawaitable(result):
                _discard(result)
                result = TypeError(f"returned an awaitable; call {hook_name} through the async variant")
            if isinstance(result, Exception):
                self._report(impl, hook_name, result)
            elif result is not None:
                yield impl.plugin_name, result

    async def _aresults(self, hook_name: str, kwargs: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        for impl, result in self._pairs(hook_name, kwargs):
            if inspect.isawaitable(result):
                try:
                    result = await result
                except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, never raised
                    result = exc
            if isinstance(result, Exception):
                self._report(impl, hook_name, result)
            elif result is not None:
                yield impl.plugin_name, result

    def call_with_names(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        return list(self._results(hook_name, kwargs))

    async def acall_with_names(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        return [pair async for pair in self._aresults(hook_name, kwargs)]

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of a synchronous hook; returns the non-None results of those that succeeded."""
        return [result for _, result in self._results(hook_name, kwargs)]

    async def acall(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Like `call`, awaiting results that are awaitables (each plugin in turn, in hook order)."""
        return [result async for _, result in self._aresults(hook_name, kwargs)]

    def call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """For firstresult hooks: the first non-None result; a failing plugin is logged and the next one asked."""
        return next((result for _, result in self._results(hook_name, kwargs)), None)

    async def acall_first(self, hook_name: str, **kwargs: Any) -> Any:
        async for _, result in self._aresults(hook_name, kwargs):
            return result
        return None

    # -- helpers for the app ------------------------------------------------------------------------------------

    def routes(self, settings: Any) -> list[BaseRoute]:
        """All plugin routes, in hook order; items that are not routes are reported and skipped."""
        return self._flatten("cms_routes", lambda r: isinstance(r, BaseRoute), "a starlette route", settings=settings)

    def graphql_types(self) -> GraphQLTypes:
        """Strawberry types whose fields are merged into the root Query and Mutation types."""
        return GraphQLTypes(
            self._flatten("cms_graphql_query_types", _is_strawberry_type, "a @strawberry.type class"),
            self._flatten("cms_graphql_mutation_types", _is_strawberry_type, "a @strawberry.type class"),
        )

    async def startup(self, settings: Any) -> None:
        await self.acall("cms_startup", settings=settings)

    async def shutdown(self) -> None:
        await self.acall("cms_shutdown")

    @contextlib.asynccontextmanager
    async def running(self, settings: Any) -> AsyncIterator[PluginHost]:
        """`cms_startup` for the first user of this host, `cms_shutdown` after the last: a host shared by the app and
        its inline worker starts once."""
        if self._users == 0:
            await self.startup(settings)
        self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0:
                await self.shutdown()

    def in_registration_order(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """(plugin, result) pairs, the plugin registered first (built-ins before third-party ones) first: on a clash
        of names, the plugin that had the name first keeps it."""
        return list(reversed(self.call_with_names(hook_name, **kwargs)))  # pluggy calls the last registered first

    def named_registrations(
        self,
        hook_name: str,
        *,
        noun: str,
        values: str,
        max_chars: int,
        problem: Callable[[Any], str | None],
        reserved: Container[str] = (),
        **hook_args: Any,
    ) -> dict[str, Any]:
        """Merge hook results that are dicts of named things (job kinds, ingest sources) in registration order.

        The first plugin to name a thing keeps it; bad names, `reserved` names and values for which `problem`
        returns a reason are reported and skipped."""
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        article = "an" if noun[0] in "aeiou" else "a"
        for plugin, result in self.in_registration_order(hook_name, **hook_args):
            if not isinstance(result, Mapping):
                self.report(plugin, hook_name, f"returned {type(result).__name__}, not a dict of {values} by kind")
                continue
            for name, value in result.items():
                if not isinstance(name, str) or not name.strip() or len(name) > max_chars:
                    self.report(
                        plugin,
                        hook_name,
                        f"{name!r} is not {article} {noun} name (1 to {max_chars} characters); skipped",
                    )
                elif name in reserved:
                    self.report(plugin, hook_name, f"{noun} {name!r} is a core kind; the plugin's is ignored")
                elif name in owners:
                    self.report(
                        plugin, hook_name, f"{noun} {name!r} is already provided by plugin {owners[name]}; ignored"
                    )
                elif (reason := problem(value)) is not None:
                    self.report(plugin, hook_name, f"{noun} {name!r}: {value!r} {reason}; skipped")
                else:
                    found[name], owners[name] = value, plugin
        return found

    def _flatten(self, hook_name: str, valid: Callable[[Any], bool], what: str, **kwargs: Any) -> list[Any]:
        items = []
        for plugin_name, result in self.call_with_names(hook_name, **kwargs):
            for item in result:
                if valid(item):
                    items.append(item)
                else:
                    self.report(plugin_name, hook_name, f"{item!r} is not {what}")
        return items


def _is_strawberry_type(obj: object) -> bool:
    return isinstance(obj, type) and has_object_definition(obj)


def _discard(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning

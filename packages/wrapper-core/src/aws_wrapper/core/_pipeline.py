"""Compiles the plugin pipelines of one wrapper connection, once.

For each DB-API method the subscribed plugins are linked into a chain of small callables ending at the driver
call. A method nobody subscribes to gets ``None``: the connection then calls the driver directly (bypass).
Nothing is allocated per call except the driver-call thunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, TypeVar

from . import _chain_sync
from ._chain_sync import CallGuard, ErrorHandler
from .hostinfo import HostInfo, HostRole
from .methods import DbApiMethod
from .plugin import (
    ConnectionChange,
    ConnectProceed,
    HostChange,
    OldConnectionSuggestion,
    Plugin,
    RawConnection,
)

T = TypeVar("T")
ExecuteChain = Callable[[object, Callable[[], Any]], Any]
ConnectTerminal = Callable[[HostInfo, Mapping[str, Any], bool], RawConnection]


class _ConnectLink:
    __slots__ = ("_connect", "_next")

    def __init__(self, connect: Callable[..., RawConnection], next_: ConnectProceed) -> None:
        self._connect = connect
        self._next = next_

    def __call__(self, host: HostInfo, props: Mapping[str, Any], initial: bool) -> RawConnection:
        return self._connect(host, props, initial, self._next)


#: Calls a driver may serve from memory (see ``Plugin.monitors_network``).
LOCAL_CAPABLE = frozenset(
    {
        DbApiMethod.CURSOR_FETCHONE,
        DbApiMethod.CURSOR_FETCHMANY,
        DbApiMethod.CURSOR_FETCHALL,
        DbApiMethod.CURSOR_NEXT,
    }
)


def overrides(plugin: Plugin, name: str) -> bool:
    """Whether ``plugin`` takes part in pipeline ``name`` (its class overrides the base method)."""
    return getattr(type(plugin), name) is not getattr(Plugin, name)


class Pipelines:
    """The compiled pipelines of one wrapper connection."""

    def __init__(
        self,
        plugins: Sequence[Plugin],
        network_terminal: ExecuteChain | None = None,
        network_methods: frozenset[DbApiMethod] = frozenset(),
        closed: Callable[[], bool] = lambda: False,
        *,
        terminal_is_lock: bool = False,
        guard: Callable[[], CallGuard | None] = lambda: None,
        chains: ModuleType = _chain_sync,
    ) -> None:
        """``chains``: the module whose links make the chains, ``_chain_sync`` for sync connections and
        ``_chain_async`` (coroutine links, error handlers ``on_call_error_async``) for async ones."""
        self.plugins = tuple(plugins)
        self._chains = chains
        self._closed = closed
        self._network_terminal = network_terminal
        self._network_methods = network_methods
        self._guard = guard
        #: Some plugin wants core's in-flight mark (``marks_calls``).
        self.marks_calls = any(getattr(p, "marks_calls", False) for p in self.plugins)
        #: ``on_call_error`` of the plugins subscribed to each method (``error_methods``), in plugin order.
        self.error_handlers: dict[DbApiMethod, tuple[ErrorHandler, ...]] = chains.error_handlers(self.plugins)
        #: Network-bound methods core runs through the connection's :class:`CallGuard` instead of a pipeline:
        #: no plugin subscribes their ``execute``, and the only terminal work is the call lock.
        self.fused: frozenset[DbApiMethod] = frozenset()
        if network_terminal is None or terminal_is_lock:
            self.fused = frozenset(
                m
                for m in network_methods
                if not self._subscribers(m, local=False)
                and (self.marks_calls or self.error_handlers[m] or network_terminal is not None)
            )
        self.execute: dict[DbApiMethod, ExecuteChain | None] = {
            m: None if m in self.fused else self._compile(m) for m in DbApiMethod
        }
        #: Chains for calls the driver serves from memory: without ``monitors_network`` plugins or the
        #: socket-timeout terminal.
        self.local: dict[DbApiMethod, ExecuteChain | None] = {
            m: self._compile(m, local=True) for m in LOCAL_CAPABLE
        }
        self._connect_cache: dict[tuple[str, int], ConnectProceed] = {}

    def _subscribers(self, method: DbApiMethod, *, local: bool) -> list[Plugin]:
        subscribes = self._chains.subscribes
        return [p for p in self.plugins if subscribes(p, method) and not (local and p.monitors_network)]

    def _compile(self, method: DbApiMethod, *, local: bool = False) -> ExecuteChain | None:
        network = method in self._network_methods and not local
        chain: ExecuteChain | None = self._chains.compile_chain(
            self.plugins,
            method,
            self._network_terminal if network else None,
            network=network,
            local=local,
            marks_calls=self.marks_calls,
            closed=self._closed,
            guard=self._guard,
        )
        return chain

    # -- connect / force_connect -------------------------------------------------------------------------
    def connect_chain(
        self, name: str, terminal: ConnectTerminal, skip: Plugin | None = None
    ) -> ConnectProceed:
        key = (name, id(skip))
        chain = self._connect_cache.get(key)
        if chain is None:
            chain = terminal
            for plugin in reversed(self.plugins):
                if plugin is not skip and overrides(plugin, name):
                    chain = _ConnectLink(getattr(plugin, name), chain)
            self._connect_cache[key] = chain
        return chain

    # -- the other pipelines -----------------------------------------------------------------------------
    def init_host_provider(self, props: Mapping[str, Any]) -> None:
        participants = [p for p in self.plugins if overrides(p, "init_host_provider")]

        def run(index: int) -> None:
            if index < len(participants):
                participants[index].init_host_provider(props, lambda: run(index + 1))

        run(0)

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        result = OldConnectionSuggestion.NO_OPINION
        for plugin in self.plugins:
            if overrides(plugin, "notify_connection_changed"):
                answer = plugin.notify_connection_changed(changes)
                if answer is OldConnectionSuggestion.PRESERVE or (
                    answer is OldConnectionSuggestion.DISPOSE and result is OldConnectionSuggestion.NO_OPINION
                ):
                    result = answer
        return result

    def notify_host_list_changed(self, changes: Mapping[str, frozenset[HostChange]]) -> None:
        for plugin in self.plugins:
            if overrides(plugin, "notify_host_list_changed"):
                plugin.notify_host_list_changed(changes)

    def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
        return any(
            p.accepts_strategy(role, strategy) for p in self.plugins if overrides(p, "accepts_strategy")
        )

    def get_host_info_by_strategy(
        self, role: HostRole, strategy: str, hosts: Sequence[HostInfo]
    ) -> HostInfo | None:
        for plugin in self.plugins:
            if overrides(plugin, "get_host_info_by_strategy"):
                host = plugin.get_host_info_by_strategy(role, strategy, hosts)
                if host is not None:
                    return host
        return None

    def release_resources(self) -> list[BaseException]:
        errors: list[BaseException] = []
        for plugin in self.plugins:
            if overrides(plugin, "release_resources"):
                try:
                    plugin.release_resources()
                except Exception as exc:
                    errors.append(exc)
        return errors

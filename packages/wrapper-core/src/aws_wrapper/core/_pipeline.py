"""Compiles the plugin pipelines of one wrapper connection, once.

For each DB-API method the subscribed plugins are linked into a chain of small callables ending at the driver
call. A method nobody subscribes to gets ``None``: the connection then calls the driver directly (bypass).
Nothing is allocated per call except the driver-call thunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from .errors import InterfaceError
from .hostinfo import HostInfo, HostRole
from .methods import DbApiMethod
from .plugin import (
    ConnectionChange,
    ConnectProceed,
    ExecuteProceed,
    HostChange,
    OldConnectionSuggestion,
    Plugin,
    RawConnection,
)

T = TypeVar("T")
ExecuteChain = Callable[[object, Callable[[], Any]], Any]
ConnectTerminal = Callable[[HostInfo, Mapping[str, Any], bool], RawConnection]


def _terminal(target: object, call: Callable[[], T]) -> T:
    return call()


class _ConnectLink:
    __slots__ = ("_connect", "_next")

    def __init__(self, connect: Callable[..., RawConnection], next_: ConnectProceed) -> None:
        self._connect = connect
        self._next = next_

    def __call__(self, host: HostInfo, props: Mapping[str, Any], initial: bool) -> RawConnection:
        return self._connect(host, props, initial, self._next)


#: Calls a driver may serve from memory (see ``Plugin.monitors_network``).
LOCAL_CAPABLE = frozenset(
    {DbApiMethod.CURSOR_FETCHONE, DbApiMethod.CURSOR_FETCHMANY, DbApiMethod.CURSOR_FETCHALL, DbApiMethod.CURSOR_NEXT}
)


def _link(plugin: Plugin, method: DbApiMethod, next_: ExecuteProceed) -> ExecuteProceed:
    """One step of a chain, built once per connection: a closure over the plugin's bound ``execute``, the method
    and the next step (measured faster than a link object, and far faster than a keyword ``partial``)."""
    execute = plugin.execute

    def step(target: object, call: Callable[[], T]) -> T:
        result: T = execute(method, target, call, next_)
        return result

    return step


def _outer_link(
    plugin: Plugin, method: DbApiMethod, next_: ExecuteProceed, closed: Callable[[], bool]
) -> ExecuteProceed:
    """The outermost step of a chain: like :func:`_link`, and an error raised after the connection was closed
    meanwhile (close() from another thread) becomes one clear "closed" error. Costs nothing when nothing fails."""
    execute = plugin.execute

    def step(target: object, call: Callable[[], T]) -> T:
        try:
            result: T = execute(method, target, call, next_)
        except Exception as error:
            if closed():
                raise_closed(error)
            raise
        return result

    return step


def raise_closed(error: Exception) -> NoReturn:
    if isinstance(error, InterfaceError) and "closed" in str(error):
        raise error
    raise InterfaceError(
        "the connection was closed while this call was running (close() from another thread); the call did "
        f"not complete: {type(error).__name__}"
    ) from error


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
    ) -> None:
        self.plugins = tuple(plugins)
        self._closed = closed
        self._network_terminal = network_terminal
        self._network_methods = network_methods
        self.execute: dict[DbApiMethod, ExecuteChain | None] = {m: self._compile(m) for m in DbApiMethod}
        #: Chains for calls the driver serves from memory: without ``monitors_network`` plugins or the
        #: socket-timeout terminal.
        self.local: dict[DbApiMethod, ExecuteChain | None] = {
            m: self._compile(m, local=True) for m in LOCAL_CAPABLE
        }
        self._connect_cache: dict[tuple[str, int], ConnectProceed] = {}

    def _compile(self, method: DbApiMethod, *, local: bool = False) -> ExecuteChain | None:
        subscribed = [
            p
            for p in self.plugins
            if method in p.subscribed_methods and overrides(p, "execute") and not (local and p.monitors_network)
        ]
        terminal: ExecuteChain | None = None
        if self._network_terminal is not None and method in self._network_methods and not local:
            terminal = self._network_terminal
        if not subscribed:
            return terminal
        chain: ExecuteProceed = terminal or _terminal
        for plugin in reversed(subscribed[1:]):
            chain = _link(plugin, method, chain)
        return _outer_link(subscribed[0], method, chain, self._closed)

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

"""The plugin ABI: what a plugin (built-in or third party) implements.

A plugin takes part in a pipeline by overriding its method; the base class passes everything through, and a
pipeline is compiled only from the plugins that override it. For DB-API calls a plugin also lists the calls it
wants in ``subscribed_methods`` (decided per instance, e.g. from the driver's network-bound set).

Continuations are explicit: a plugin calls ``proceed(...)`` to hand the call to the next plugin (and finally the
driver) and may act before, after or around it. The chain for each method is built once per connection.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from .hostinfo import HostInfo, HostRole
from .methods import DbApiMethod

if TYPE_CHECKING:
    from .services import PluginContext
    from .settings import Setting

__all__ = [
    "PLUGIN_ABI",
    "RELATIVE_WEIGHT",
    "Plugin",
    "PluginFactory",
    "ExecuteProceed",
    "AsyncExecuteProceed",
    "ConnectProceed",
    "RawConnection",
    "ConnectionChange",
    "HostChange",
    "OldConnectionSuggestion",
]

#: Version of this ABI, (major, minor). Additions bump the minor: a factory declaring the same major and a minor up
#: to this one loads (``abi = 1`` means 1.0); another major, or a higher minor, is refused by the registry.
PLUGIN_ABI: tuple[int, int] = (1, 2)
#: Weight meaning "right after the plugin listed before me in ``plugins``".
RELATIVE_WEIGHT = -1

T = TypeVar("T")
RawConnection = Any  # a driver connection (psycopg.Connection, mysql.connector connection, ...)


class ExecuteProceed(Protocol):
    """Hands a DB-API call to the rest of the pipeline."""

    def __call__(self, target: object, call: Callable[[], T], /) -> T: ...


class AsyncExecuteProceed(Protocol):
    """ABI 1.2. Hands a DB-API call of an async connection to the rest of the pipeline."""

    def __call__(self, target: object, call: Callable[[], Awaitable[T]], /) -> Awaitable[T]: ...


class ConnectProceed(Protocol):
    """Hands a connect request to the rest of the pipeline; returns the driver connection."""

    def __call__(self, host: HostInfo, props: Mapping[str, Any], initial: bool, /) -> RawConnection: ...


class ConnectionChange(enum.Enum):
    INITIAL_CONNECTION = "initial_connection"
    CONNECTION_OBJECT_CHANGED = "connection_object_changed"
    HOSTNAME_CHANGED = "hostname_changed"
    PROMOTED_TO_WRITER = "promoted_to_writer"
    PROMOTED_TO_READER = "promoted_to_reader"


class HostChange(enum.Enum):
    HOST_ADDED = "host_added"
    HOST_DELETED = "host_deleted"
    WENT_UP = "went_up"
    WENT_DOWN = "went_down"
    CONVERTED_TO_WRITER = "converted_to_writer"
    CONVERTED_TO_READER = "converted_to_reader"


class OldConnectionSuggestion(enum.Enum):
    NO_OPINION = "no_opinion"
    PRESERVE = (
        "preserve"  # keep the old physical connection open (e.g. a read/write splitting plugin caches it)
    )
    DISPOSE = "dispose"


class Plugin:
    """Pass-through base. Override only the pipelines the plugin takes part in."""

    #: DB-API calls routed to :meth:`execute`. Empty: the plugin never sees DB-API calls.
    subscribed_methods: frozenset[DbApiMethod] = frozenset()
    #: True for a plugin that only cares about calls that may wait on the network (failover, failure monitoring).
    #: It is then left out of calls the driver serves from memory, e.g. fetching from a psycopg client-side
    #: cursor, whose rows arrived with ``execute``.
    monitors_network: bool = False
    #: ABI 1.1. True: core keeps ``context.connection.call_mark`` for this connection's network-bound calls (when
    #: the outermost call started, and the driver's transaction status just before it), without entering this
    #: plugin per call. For monitors that watch calls in flight from another thread (failure monitoring).
    marks_calls: bool = False
    #: ABI 1.1. DB-API calls whose errors reach :meth:`on_call_error`. Unlike ``subscribed_methods`` this costs
    #: nothing per call that succeeds: when no plugin subscribes the call's ``execute``, core runs it inline.
    error_methods: frozenset[DbApiMethod] = frozenset()

    def on_call_error(self, method: DbApiMethod, target: object, error: Exception) -> None:
        """ABI 1.1. A call of ``error_methods`` failed with ``error``; ``target`` is the driver connection or
        cursor. Return to let the error propagate (to the next plugin's handler, then the application); raise
        to replace it (``raise FailoverSuccessError(...) from error``). Handlers run in plugin order, at the
        plugin's place in the ``execute`` pipeline when another plugin subscribes the call."""

    def execute(
        self, method: DbApiMethod, target: object, call: Callable[[], T], proceed: ExecuteProceed
    ) -> T:
        """Around every subscribed DB-API call. ``target`` is the driver connection or cursor; ``call`` runs the
        driver call itself. Pass it on with ``return proceed(target, call)``.

        For calls with arguments (``Cursor.execute``, ``executemany``, ``callproc``, ``fetchmany``) ``call`` is a
        :func:`functools.partial`: ``call.args`` holds the SQL text and parameters, for plugins that inspect them."""
        return proceed(target, call)

    async def execute_async(
        self,
        method: DbApiMethod,
        target: object,
        call: Callable[[], Awaitable[T]],
        proceed: AsyncExecuteProceed,
    ) -> T:
        """ABI 1.2. :meth:`execute` for async connections: ``call()`` returns the driver's awaitable; pass it on
        with ``return await proceed(target, call)``. Write it once in a ``*_async.py`` module and let
        ``tools/async_to_sync.py`` generate :meth:`execute` (see docs/async.md).

        The default runs a plugin's sync :meth:`execute` (a plugin built for ABI 1.0 / 1.1) on a worker thread,
        with the driver call handed back to the event loop: correct, but a thread hop per call."""
        if type(self).execute is Plugin.execute:
            return await proceed(target, call)
        from .aio._bridge import execute_on_worker

        return await execute_on_worker(self, method, target, call, proceed)

    async def on_call_error_async(self, method: DbApiMethod, target: object, error: Exception) -> None:
        """ABI 1.2. :meth:`on_call_error` for async connections. The default runs :meth:`on_call_error` on a
        worker thread (a failover opens connections and waits for the topology monitor: nothing of it may block
        the event loop); the driver calls it makes run on the connection's loop."""
        from .aio._bridge import run_sync

        await run_sync(self.on_call_error, method, target, error)

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        """Around opening a physical connection for the application (``initial`` for the very first one)."""
        return proceed(host, props, initial)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        """Around opening a connection that must not be redirected (the wrapper's own monitoring/probing)."""
        return proceed(host, props, initial)

    def init_host_provider(self, props: Mapping[str, Any], proceed: Callable[[], None]) -> None:
        """Once per wrapper connection, before the first connect: a plugin may install its own host list
        provider through ``context.topology.provider``."""
        proceed()

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        return OldConnectionSuggestion.NO_OPINION

    def notify_host_list_changed(self, changes: Mapping[str, frozenset[HostChange]]) -> None:
        """``changes`` maps a host url (``host:port``) to what changed about it."""

    def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
        return False

    def get_host_info_by_strategy(
        self, role: HostRole, strategy: str, hosts: Sequence[HostInfo]
    ) -> HostInfo | None:
        """Pick a host for ``role`` with ``strategy`` among ``hosts``; None when this plugin does not handle it."""
        return None

    def release_resources(self) -> None:
        """The wrapper connection is closing: drop references, unregister from shared monitors."""


class PluginFactory:
    """Registered under the entry-point group ``aws_wrapper.plugins`` (entry-point name = ``code``).

    Subclasses set the class attributes and implement :meth:`create`.
    """

    code: ClassVar[str]
    #: Other spellings accepted in ``plugins=`` (spellings differing only in case, ``_`` or ``-`` match anyway).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Position in an auto-sorted list, lowest outermost; :data:`RELATIVE_WEIGHT` = right after its predecessor.
    weight: ClassVar[int] = RELATIVE_WEIGHT
    #: The settings this plugin owns (stripped from the driver's arguments, documented with the plugin).
    settings: ClassVar[tuple[Setting[Any], ...]] = ()
    #: Key prefixes this plugin owns (e.g. ``"monitoring-"``): stripped from the driver's arguments.
    setting_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Part of the default plugin list (used when ``plugins`` is not set) when installed.
    default: ClassVar[bool] = False
    #: The plugin ABI this factory needs: ``(major, minor)``, or an int major (``1`` = 1.0, as written for ABI 1.0).
    #: Declare the lowest version whose hooks the plugin uses, e.g. ``(1, 1)``; the default (this core's own
    #: version) is never refused.
    abi: ClassVar[int | tuple[int, int]] = PLUGIN_ABI

    def create(self, context: PluginContext) -> Plugin:
        raise NotImplementedError

"""Narrow services a plugin receives in its :class:`PluginContext`. Each is a small Protocol."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ._calls import CallMark
from .hostinfo import HostAvailability, HostInfo, HostRole
from .plugin import Plugin, RawConnection
from .records import record
from .telemetry import NULL_TELEMETRY, TelemetryFactory

if TYPE_CHECKING:
    from ._config import CoreConfig
    from .driver import DriverDialect
    from .monitors import MonitorService
    from .session_state import ConnectionSwitch, CustomSessionField, SessionKey
    from .storage import StorageService

__all__ = [
    "PluginContext",
    "ConnectionService",
    "CallMark",
    "TopologyService",
    "HostListProvider",
    "ConnectorService",
    "DialectService",
    "DatabaseDialect",
    "DialectManager",
    "ErrorClassifier",
    "SessionStateService",
    "SessionField",
]


class ErrorClassifier(Protocol):
    """Classifies driver exceptions. Implementations must look through ``__cause__``/``__context__`` chains and
    wrapper errors' ``driver_error``."""

    def is_network_error(self, error: BaseException) -> bool: ...

    def is_login_error(self, error: BaseException) -> bool: ...

    def is_read_only_error(self, error: BaseException) -> bool:
        """The server refused a write because it is (now) a reader, e.g. a demoted writer."""
        ...


class HostListProvider(Protocol):
    """Knows the hosts of the cluster behind one wrapper connection."""

    @property
    def cluster_id(self) -> str: ...

    @property
    def is_static(self) -> bool:
        """True when the host list never changes (a plain connection string)."""
        ...

    def refresh(self, conn: RawConnection | None) -> Sequence[HostInfo]:
        """The current topology, from a shared cache when fresh. ``conn`` may be used when nothing is cached."""
        ...

    def force_refresh(
        self,
        conn: RawConnection | None,
        *,
        verify_writer: bool,
        timeout: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> Sequence[HostInfo]:
        """A topology read now (shared between concurrent callers). With ``verify_writer``, returns only once a
        writer has been verified by connecting to it, or raises ``TimeoutError`` after ``timeout`` seconds, or
        soon after ``cancelled()`` turns true (the wrapper connection waiting was closed)."""
        ...

    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        """Which topology host ``conn`` is connected to (None if it cannot be told)."""
        ...

    def get_host_role(self, conn: RawConnection) -> HostRole: ...

    def release_resources(self) -> None: ...


class DatabaseDialect(Protocol):
    """What the wrapper knows about a kind of database server (engine + managed-service flavour)."""

    @property
    def code(self) -> str: ...

    @property
    def engine(self) -> str:
        """``"pg"`` or ``"mysql"``."""
        ...

    @property
    def default_port(self) -> int: ...

    @property
    def errors(self) -> ErrorClassifier: ...

    def create_host_list_provider(self, context: HostListContext) -> HostListProvider: ...


@record(frozen=True, repr=False)
class HostListContext:
    """What a dialect needs to build a host list provider for one wrapper connection."""

    props: Mapping[str, Any]
    initial_host: HostInfo
    driver: DriverDialect
    connector: ConnectorService
    storage: StorageService
    monitors: MonitorService
    aux_query_timeout: float

    def __repr__(self) -> str:
        from ._secrets import masked_dataclass_repr  # secrets in props are shown as '***'

        return masked_dataclass_repr(self)


class DialectManager(Protocol):
    """Chooses the database dialect (provided by aws-wrapper-dialects under the entry-point group
    ``aws_wrapper.dialect_manager``). Core falls back to a generic dialect when none is installed."""

    def initial(self, host: HostInfo, driver: DriverDialect, props: Mapping[str, Any]) -> DatabaseDialect:
        """Before any connection: from ``wrapper_dialect`` or the host name."""
        ...

    def refine(
        self, conn: RawConnection, current: DatabaseDialect, driver: DriverDialect, props: Mapping[str, Any]
    ) -> DatabaseDialect:
        """After a physical connect: probe the server; return ``current`` when nothing more specific matches.
        Must never leave a transaction open nor raise for a failed probe."""
        ...


class ConnectionService(Protocol):
    """The wrapper connection's current physical connection."""

    @property
    def current_connection(self) -> RawConnection | None: ...

    @property
    def current_host(self) -> HostInfo | None: ...

    @property
    def initial_host(self) -> HostInfo:
        """The host the application asked for (may be replaced by a verified instance)."""
        ...

    @initial_host.setter
    def initial_host(self, host: HostInfo) -> None: ...

    def set_current(self, conn: RawConnection, host: HostInfo) -> None:
        """Switch the wrapper connection to ``conn``: transfers session state, rolls back and closes the old
        connection (unless a plugin asks to preserve it) and notifies the plugins."""
        ...

    def is_in_transaction(self) -> bool: ...

    def abort(self, conn: RawConnection) -> None:
        """Make every call in flight on ``conn`` fail at once with a network error (safe from any thread)."""
        ...

    @property
    def closed(self) -> bool:
        """True once the wrapper connection's close() began (from any thread). A plugin starts no work on a
        closed connection (no failover, no switch: ``set_current`` refuses) and gives up work in progress."""
        ...

    @property
    def call_mark(self) -> CallMark | None:
        """ABI 1.1. The current physical connection's in-flight mark (a new object after every switch), kept by
        core when a plugin of this connection has ``marks_calls``; None otherwise. Read ``since`` / ``status`` from
        any thread; never write them."""
        ...

    def hold(self) -> AbstractContextManager[None]:
        """``with connection.hold():`` around work on the connection after a call failed (a failover): close()
        from another thread then aborts the connection and waits (about a second at most) for the work to end;
        the work checks ``closed`` and gives up."""
        ...

    def wait_closed(self, timeout: float) -> bool:
        """An interruptible pause: sleeps up to ``timeout`` seconds and returns True as soon as the connection is
        closed (False when the time ran out first)."""
        ...


class TopologyService(Protocol):
    @property
    def hosts(self) -> tuple[HostInfo, ...]:
        """The last known hosts (availability applied)."""
        ...

    @property
    def provider(self) -> HostListProvider: ...

    @provider.setter
    def provider(self, provider: HostListProvider) -> None: ...

    def refresh(self) -> tuple[HostInfo, ...]: ...

    def force_refresh(self, *, verify_writer: bool = False, timeout: float = 5.0) -> tuple[HostInfo, ...]: ...

    def identify_connection(self, conn: RawConnection) -> HostInfo | None: ...

    def get_host_role(self, conn: RawConnection) -> HostRole: ...

    def set_availability(self, aliases: Iterable[str], availability: HostAvailability) -> None:
        """Process-wide: every wrapper connection sees the change in ``hosts``."""
        ...


class ConnectorService(Protocol):
    def connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        """Open a physical connection to ``host`` through the connect pipeline (``skip`` leaves one plugin out).
        It does not become the current connection."""
        ...

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection: ...

    def report_reached(self, conn: RawConnection, host: HostInfo) -> None:
        """ABI 1.1: a plugin whose ``connect`` reached another host than it was asked for (a Limitless router,
        a blue/green target, a resolved DNS name) says so; the wrapper then treats ``host`` as the connection's
        host (``current_host``, failure monitoring, failover)."""
        ...

    def reached_host(self, conn: RawConnection) -> HostInfo | None:
        """The host reported for ``conn`` by :meth:`report_reached` (None when nobody reported one)."""
        ...


class HostFilter(Protocol):
    """Which hosts a wrapper connection may use (ABI 1.1): e.g. the members of an Aurora custom endpoint, or the
    instances of one region of a global database."""

    def allows(self, host: HostInfo) -> bool: ...


class HostSelectionService(Protocol):
    """Host choice for plugins (ABI 1.1): every plugin that picks a host goes through it, so that host filters
    and strategies registered by other plugins apply everywhere."""

    def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
        """Whether ``strategy`` is known: core's, one registered (entry point or ``register_strategy``), or one
        a plugin of this connection handles through the ``accepts_strategy`` pipeline."""
        ...

    def select(self, role: HostRole, strategy: str, hosts: Sequence[HostInfo] | None = None) -> HostInfo:
        """One host for ``role`` among ``hosts`` (default: the topology) that the connection's host filters
        allow and that is not marked down; raises ``NoHostAvailableError`` when there is none."""
        ...

    def order(self, role: HostRole, strategy: str, hosts: Sequence[HostInfo] | None = None) -> list[HostInfo]:
        """Every allowed host for ``role``, in the order ``strategy`` prefers them (repeated selection)."""
        ...

    def allowed(self, hosts: Sequence[HostInfo]) -> tuple[HostInfo, ...]:
        """``hosts`` without those a host filter of this connection refuses."""
        ...

    def add_filter(self, host_filter: HostFilter) -> None:
        """Add a filter for this wrapper connection (all filters must allow a host)."""
        ...

    def remove_filter(self, host_filter: HostFilter) -> None: ...


class DialectService(Protocol):
    @property
    def driver(self) -> DriverDialect: ...

    @property
    def database(self) -> DatabaseDialect: ...

    @property
    def errors(self) -> ErrorClassifier: ...


class SessionField(enum.Enum):
    """The built-in session fields. Custom ones (ABI 1.1) are
    :class:`~aws_wrapper.core.session_state.CustomSessionField` objects, named by their ``name`` in the
    :class:`SessionStateService` methods (which also accept these members' values, e.g. ``"read_only"``)."""

    AUTOCOMMIT = "autocommit"
    READ_ONLY = "read_only"
    ISOLATION_LEVEL = "isolation_level"


class SessionStateService(Protocol):
    """The session state of the wrapper connection: values set through the wrapper, their pristine values, and
    (ABI 1.1) custom fields that core transfers on every switch and resets before close like the built-in ones.

    A field is named by a :class:`SessionField` member, a field's name (a built-in value like ``"autocommit"``,
    a registered custom field, or an attribute the application assigned, e.g. ``"row_factory"``) or the
    :class:`~aws_wrapper.core.session_state.CustomSessionField` itself."""

    def current(self, field: SessionKey) -> object | None:
        """The value set through the wrapper (None: never set, or an unknown name)."""
        ...

    def pristine(self, field: SessionKey) -> object | None:
        """The value the first physical connection had before the first change (None: never set)."""
        ...

    def is_changed(self, field: SessionKey) -> bool:
        """ABI 1.1: whether a value was set (or recorded) through the wrapper."""
        ...

    def register_field(self, field: CustomSessionField) -> None:
        """ABI 1.1: track ``field`` on this wrapper connection (typically from ``PluginFactory.create``). It is
        also settable as ``conn.<name> = value``. Registering it again does nothing; another field under a taken
        name raises ValueError."""
        ...

    def set_field(self, field: SessionKey, value: object) -> None:
        """ABI 1.1: give the current physical connection ``value`` (``field.apply``) and record it: the pristine
        value is read first on the first change, the value is re-applied after every switch and the pristine one
        restored before close. A :class:`CustomSessionField` not registered yet is registered. Raises
        InterfaceError when the connection is closed."""
        ...

    def record(self, field: SessionKey, value: object, *, pristine: object = ...) -> None:
        """ABI 1.1: record a value the plugin gave the current physical connection itself. On the first change
        the pristine value is ``pristine`` or, when not given, read from the current connection now (so call it
        before the change in that case)."""
        ...

    @property
    def last_switch(self) -> ConnectionSwitch | None:
        """ABI 1.1: the old and the new physical connection of the switch that installed the current connection
        (e.g. in ``notify_connection_changed`` for ``CONNECTION_OBJECT_CHANGED``); None before the first switch."""
        ...


@record(frozen=True, repr=False)
class PluginContext:
    """Everything a plugin may use, handed to ``PluginFactory.create``."""

    props: Mapping[str, Any]
    config: CoreConfig
    connection: ConnectionService
    topology: TopologyService
    connector: ConnectorService
    dialects: DialectService
    session_state: SessionStateService
    storage: StorageService
    monitors: MonitorService
    #: ABI 1.1
    selection: HostSelectionService
    telemetry: TelemetryFactory = NULL_TELEMETRY

    def __repr__(self) -> str:
        from ._secrets import masked_dataclass_repr  # secrets in props are shown as '***'

        return masked_dataclass_repr(self)

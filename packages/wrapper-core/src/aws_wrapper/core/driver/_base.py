"""The driver dialect contract: everything the wrapper needs to know about one DB-API driver."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._locks import AbstractLock
from ..hostinfo import HostInfo
from ..methods import DbApiMethod
from ..plugin import RawConnection

if TYPE_CHECKING:
    from .._config import CoreConfig
    from ..services import ErrorClassifier

__all__ = ["DriverDialect", "ISOLATION_LEVELS"]

#: Canonical isolation level names used by the wrapper (session state, ``isolation_level`` property).
ISOLATION_LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")


class DriverDialect(Protocol):
    @property
    def code(self) -> str:
        """``"psycopg"`` or ``"mysql-connector-python"``."""
        ...

    @property
    def engine(self) -> str:
        """The database engine this driver speaks: ``"pg"`` or ``"mysql"``."""
        ...

    @property
    def default_port(self) -> int: ...

    @property
    def network_bound_methods(self) -> frozenset[DbApiMethod]: ...

    @property
    def errors(self) -> ErrorClassifier:
        """Driver-level classification (used until a database dialect provides a finer one)."""
        ...

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        """Whether ``connect_func`` is this driver's connect function."""
        ...

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        """Driver keyword arguments for ``host``: ``props`` holds only driver parameters (wrapper settings are
        already removed); host/port come from ``host``; ``database``, ``connect_timeout`` and ``tcp_keepalive*``
        from ``config`` are mapped to the driver's own names. ``config`` is ``CoreConfig.for_connect()``: its
        ``connect_timeout`` is the bound to apply (the 30 s default when unset), None meaning no limit (omit
        the driver's option)."""
        ...

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection: ...

    def connection_of(self, cursor: object) -> RawConnection:
        """The driver connection a driver cursor belongs to."""
        ...

    def is_closed(self, conn: RawConnection) -> bool: ...

    def is_in_transaction(self, conn: RawConnection) -> bool: ...

    def get_autocommit(self, conn: RawConnection) -> bool: ...

    def set_autocommit(self, conn: RawConnection, value: bool) -> None: ...

    def get_read_only(self, conn: RawConnection) -> bool: ...

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        """Must really change the session (later transactions are read-only on the server), not only a flag."""
        ...

    def get_isolation_level(self, conn: RawConnection) -> str | None:
        """One of :data:`ISOLATION_LEVELS`, or None for the server default."""
        ...

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None: ...

    def supports_abort(self, conn: RawConnection) -> bool: ...

    @property
    def serializes_calls(self) -> bool:
        """True when the driver holds a lock of its own around every call on a connection (then
        :meth:`connection_lock` returns it)."""
        ...

    def connection_lock(self, conn: RawConnection) -> AbstractLock | None:
        """The lock the driver itself holds while a call runs on ``conn`` (psycopg's ``Connection.lock``), or
        None when the driver has none: the wrapper then serializes its calls on its own lock and reports a
        second thread using the connection at the same time with a clear error."""
        ...

    def abort(self, conn: RawConnection) -> None:
        """Make a call blocked on ``conn`` in another thread fail at once with a network error. Thread-safe,
        never blocks on the network, never raises."""
        ...

    def close(self, conn: RawConnection) -> None:
        """Close quietly (errors are swallowed; a broken or aborted connection is fine)."""
        ...

    def rollback(self, conn: RawConnection) -> None: ...

    def query(
        self, conn: RawConnection, sql: str, params: Sequence[object] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one auxiliary query of the wrapper and return its rows. Leaves the transaction status as it was
        (commits a transaction the query itself opened). With ``timeout``, the connection is aborted when it is
        exceeded and the driver's network error propagates."""
        ...

    # Optional: ``transaction_status_source(conn) -> object | None`` -- an object whose ``transaction_status``
    # attribute is the driver's transaction status (psycopg's ``pgconn``), read before each network-bound call
    # into ``CallMark.status`` when a plugin marks calls; without it the status stays None.

    # Optional: ``fetches_locally(cursor) -> bool`` -- True when fetching from this driver cursor never waits on
    # the network (its rows arrived with ``execute``); plugins with ``monitors_network`` then skip its fetches.

    def ping(self, conn: RawConnection, timeout: float) -> bool:
        """True when the server answers a trivial query within ``timeout``."""
        ...

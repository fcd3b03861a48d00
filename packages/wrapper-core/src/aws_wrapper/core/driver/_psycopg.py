"""Driver dialect for psycopg 3 (``psycopg.Connection.connect``); psycopg is imported only when used.

Choices worth knowing:

* **abort** shuts the connection's socket down through a duplicate of its descriptor (``os.dup`` +
  ``shutdown(SHUT_RDWR)``) from whatever thread calls it. A call blocked in another thread fails at once with
  ``OperationalError: consuming input failed: server closed the connection unexpectedly`` (a network error) and
  the connection becomes ``closed``/``broken``; its owner closes it as usual. ``conn.close()`` from another thread
  is not used: it frees the libpq connection (``PQfinish``) while the owner may still be using it and releases the
  descriptor number for reuse. The duplicate pins the socket, and ``conn.closed`` is checked after pinning, so a
  descriptor number reused after a concurrent close is never touched.
* **read_only / isolation level** set psycopg's own attributes (applied by psycopg at ``BEGIN``) *and* the session
  defaults (``SET SESSION CHARACTERISTICS AS TRANSACTION ...``), so they also hold for statements run in autocommit
  mode, where psycopg's attributes alone have no effect. ``read_only=False`` maps to psycopg's ``None`` (plain
  ``BEGIN``) so that a connection to a hot standby can carry it (``BEGIN READ WRITE`` fails there). Like psycopg,
  they cannot be changed inside a transaction (psycopg's ``ProgrammingError``).
* **auxiliary queries** on an idle connection with autocommit off run with autocommit switched on for the
  duration (no ``BEGIN``/``COMMIT`` round trips, no transaction left open); inside a transaction they run in it.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._locks import AbstractLock
from .._watchdog import shutdown_socket_fd
from ..hostinfo import HostInfo
from ..methods import NETWORK_BOUND_METHODS, DbApiMethod
from ..plugin import RawConnection
from . import _psycopg_ops_sync as _ops
from ._base import ISOLATION_LEVELS
from ._classify import PSYCOPG_ERRORS
from ._common import DialectCommon

if TYPE_CHECKING:
    import socket

    from .._config import CoreConfig
    from ..services import ErrorClassifier

__all__ = ["PsycopgDialect", "canonical_isolation_level"]

logger = logging.getLogger("aws_wrapper.core")

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def canonical_isolation_level(level: str) -> str:
    """``"read_committed"``, ``"READ-COMMITTED"``, ``"Read Committed"`` → ``"READ COMMITTED"`` (validated)."""
    name = " ".join(level.replace("-", " ").replace("_", " ").upper().split())
    if name not in ISOLATION_LEVELS:
        raise ValueError(f"unknown isolation level {level!r}: expected one of {', '.join(ISOLATION_LEVELS)}")
    return name


def isolation_args(level: str | None) -> tuple[Any, str | None]:
    """psycopg's ``IsolationLevel`` member and the SQL name for ``level`` (None: the server's default)."""
    if level is None:
        return None, None
    from psycopg import IsolationLevel

    name = canonical_isolation_level(level)
    return IsolationLevel[name.replace(" ", "_")], name


def _seconds(value: float) -> int:
    """Whole seconds for a driver option, rounded up, at least 1."""
    return max(1, math.ceil(value))


#: Creating a psycopg cursor never touches the network (a named cursor is declared by its first execute).
_PSYCOPG_NETWORK_BOUND = NETWORK_BOUND_METHODS - {DbApiMethod.CONNECTION_CURSOR}


class PsycopgDialect(DialectCommon):
    """psycopg 3 (sync ``psycopg.Connection`` and subclasses)."""

    @property
    def code(self) -> str:
        return "psycopg"

    @property
    def engine(self) -> str:
        return "pg"

    @property
    def default_port(self) -> int:
        return 5432

    @property
    def network_bound_methods(self) -> frozenset[DbApiMethod]:
        return _PSYCOPG_NETWORK_BOUND

    def fetches_locally(self, cursor: Any) -> bool:
        """A client-side psycopg cursor holds its whole result after ``execute``; a server-side (named) cursor
        fetches from the server."""
        psycopg = sys.modules.get("psycopg")
        return psycopg is None or not isinstance(cursor, psycopg.ServerCursor)

    @property
    def errors(self) -> ErrorClassifier:
        return PSYCOPG_ERRORS

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        psycopg = sys.modules.get("psycopg")
        if psycopg is None:
            return False  # psycopg's connect cannot exist without its module being loaded
        owner = getattr(connect_func, "__self__", None)
        if isinstance(owner, type):
            return getattr(connect_func, "__name__", None) == "connect" and issubclass(
                owner, psycopg.Connection
            )
        func = getattr(connect_func, "__func__", connect_func)
        if func is getattr(psycopg.Connection.connect, "__func__", None):
            return True
        module = getattr(func, "__module__", None) or ""
        return module.startswith("psycopg.") and getattr(func, "__qualname__", None) == "Connection.connect"

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        args = dict(props)
        args["host"] = host.host
        if host.port > 0:
            args["port"] = int(host.port)
        if config.database is not None:
            args["dbname"] = config.database
        if config.connect_timeout is not None:
            args["connect_timeout"] = _seconds(config.connect_timeout)
        if config.tcp_keepalive is not None:
            args["keepalives"] = 1 if config.tcp_keepalive else 0
        if config.tcp_keepalive_time is not None:
            args["keepalives_idle"] = _seconds(config.tcp_keepalive_time)
        if config.tcp_keepalive_interval is not None:
            args["keepalives_interval"] = _seconds(config.tcp_keepalive_interval)
        if config.tcp_keepalive_probes is not None:
            args["keepalives_count"] = _seconds(config.tcp_keepalive_probes)
        return args

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        return connect_func(**args)

    def connection_of(self, cursor: object) -> RawConnection:
        return cursor.connection  # type: ignore[attr-defined]

    # -- state ------------------------------------------------------------------------------------------------

    def is_closed(self, conn: RawConnection) -> bool:
        return bool(conn.closed)

    def transaction_status_source(self, conn: RawConnection) -> Any:
        """libpq's connection (``pgconn``): reading its ``transaction_status`` costs no Python frame. Core samples
        it before each network-bound call for plugins that mark calls (see ``CallMark.status``)."""
        return getattr(conn, "pgconn", None)

    def is_in_transaction(self, conn: RawConnection) -> bool:
        # INTRANS, INERROR, ACTIVE, and UNKNOWN (a broken connection: whether a transaction was lost is unknown).
        return int(conn.info.transaction_status) != _IDLE

    def get_autocommit(self, conn: RawConnection) -> bool:
        return bool(conn.autocommit)

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        _ops.set_autocommit(conn, value)

    def get_read_only(self, conn: RawConnection) -> bool:
        return bool(conn.read_only)

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        _ops.set_read_only(conn, value)

    def get_isolation_level(self, conn: RawConnection) -> str | None:
        level = conn.isolation_level
        return None if level is None else str(level.name).replace("_", " ")

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None:
        _ops.set_isolation_level(conn, *isolation_args(level))

    # -- control ----------------------------------------------------------------------------------------------

    def supports_abort(self, conn: RawConnection) -> bool:
        return True

    @property
    def serializes_calls(self) -> bool:
        return True

    def connection_lock(self, conn: RawConnection) -> AbstractLock | None:
        lock: AbstractLock = conn.lock  # held by psycopg around every call that uses the libpq connection
        return lock

    def abort(self, conn: RawConnection) -> None:
        try:
            if conn.closed:
                return
            fd = conn.fileno()

            def still_owned(_sock: socket.socket) -> bool:
                # Closing is one-way: still open now means the pinned socket is the connection's.
                return not conn.closed

            done = shutdown_socket_fd(fd, still_owned)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "abort of psycopg connection fd=%s: %s", fd, "socket shut down" if done else "no-op"
                )
        except Exception:  # abort never raises: the connection is closed or broken already
            logger.debug("abort of a psycopg connection failed", exc_info=True)

    def ping(self, conn: RawConnection, timeout: float) -> bool:
        try:
            self.query(conn, "SELECT 1", timeout=timeout)
        except Exception as error:
            # An error answer (e.g. inside a failed transaction) still proves the server is there.
            return not PSYCOPG_ERRORS.is_network_error(error) and not conn.closed
        return True

    @staticmethod
    def _run(conn: RawConnection, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return _ops.run(conn, sql, params)

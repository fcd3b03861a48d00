"""Driver dialect for PyMySQL (``pymysql.connect``), the pure-Python MySQL driver aiomysql is built on: the sync
twin of aiomysql connections (monitoring connections of async wrapper connections), and a sync target driver of
its own. PyMySQL is imported only when used.

Choices worth knowing:

* **Arguments.** ``database`` and ``connect_timeout`` (seconds, fractions allowed) keep their names; PyMySQL's
  deprecated aliases ``db`` / ``passwd`` given by the application are passed as ``database`` / ``password``, and
  aiomysql's own ``echo`` / ``loop`` are left out (monitoring connections of aiomysql ones). There is no
  per-connection keepalive option (PyMySQL turns ``SO_KEEPALIVE`` on by itself), so ``tcp_keepalive*`` are not
  passed.
* **State without round trips.** Autocommit and "in a transaction" come from the server status PyMySQL keeps from
  the last answer; ``is_closed`` looks at the socket only (as for mysql-connector: gone, shut down, or closed by
  the peer according to a zero-timeout ``poll()``).
* **abort** shuts the socket down through a pinned duplicate of its descriptor, from any thread; a call blocked
  in another thread fails at once with error 2013 *Lost connection to MySQL server during query*.
* **Network operations** come from ``_pymysql_ops_sync.py``, generated from ``_pymysql_ops_async.py`` (whose
  coroutines serve aiomysql); read-only and isolation level are session settings as for mysql-connector.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .._watchdog import shutdown_socket_fd
from ..hostinfo import HostInfo
from ..plugin import RawConnection
from ._mysql import MySqlDialectBase, mark_aborted, socket_closed, was_aborted
from ._mysql_ops_sync import MySqlOps
from ._pymysql_ops_sync import PyMySqlOps

if TYPE_CHECKING:
    import socket

    from .._config import CoreConfig

__all__ = ["PyMySqlDialect", "pymysql_connect_args", "pymysql_socket"]

logger = logging.getLogger("aws_wrapper.core")

#: PyMySQL's deprecated argument names and the current ones.
_ALIASES = (("db", "database"), ("passwd", "password"))
#: aiomysql's own arguments, which PyMySQL rejects: dropped when PyMySQL is the sync twin of aiomysql connections
#: (monitoring connections are opened with the application's settings).
_AIOMYSQL_ONLY = ("echo", "loop")


def pymysql_connect_args(
    host: HostInfo, props: Mapping[str, Any], config: CoreConfig, database_key: str
) -> dict[str, Any]:
    """Keyword arguments of PyMySQL-family ``connect`` for ``host``; the database goes under ``database_key``
    (``database`` for PyMySQL, ``db`` for aiomysql)."""
    args = dict(props)
    args["host"] = host.host
    if host.port > 0:
        args["port"] = int(host.port)
    if config.database is not None:
        args[database_key] = config.database
    if config.connect_timeout is not None:
        args["connect_timeout"] = max(0.001, float(config.connect_timeout))
    return args


def pymysql_socket(conn: RawConnection) -> socket.socket | None:
    """The socket of a PyMySQL connection (None once closed)."""
    return getattr(conn, "_sock", None)


class PyMySqlDialect(MySqlDialectBase):
    """PyMySQL (``pymysql.connect`` / ``pymysql.Connection``)."""

    _ops: ClassVar[MySqlOps] = PyMySqlOps()

    @property
    def code(self) -> str:
        return "pymysql"

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        pymysql = sys.modules.get("pymysql")
        if pymysql is None:
            return False
        functions = (getattr(pymysql, "connect", None), getattr(pymysql, "Connect", None))
        if any(connect_func is f for f in functions if f is not None):
            return True
        cls = getattr(sys.modules.get("pymysql.connections"), "Connection", None)
        return isinstance(connect_func, type) and isinstance(cls, type) and issubclass(connect_func, cls)

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        args = pymysql_connect_args(host, props, config, "database")
        for name in _AIOMYSQL_ONLY:
            args.pop(name, None)
        for old, new in _ALIASES:
            if old in args:
                value = args.pop(old)
                args.setdefault(new, value)
        return args

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        return connect_func(**args)

    def connection_of(self, cursor: object) -> RawConnection:
        conn = getattr(cursor, "connection", None)
        if conn is None:
            raise ValueError(f"cursor {cursor!r} has no connection (closed)")
        return conn

    # -- state ------------------------------------------------------------------------------------------------

    def is_closed(self, conn: RawConnection) -> bool:
        if was_aborted(conn):
            return True
        sock = pymysql_socket(conn)
        return sock is None or socket_closed(sock.fileno())

    def get_autocommit(self, conn: RawConnection) -> bool:
        return bool(conn.get_autocommit())

    # -- control ----------------------------------------------------------------------------------------------

    def supports_abort(self, conn: RawConnection) -> bool:
        return pymysql_socket(conn) is not None

    def abort(self, conn: RawConnection) -> None:
        try:
            sock = pymysql_socket(conn)
            fd = -1 if sock is None else sock.fileno()

            def still_owned(_dup: socket.socket) -> bool:
                # A closed socket object reports -1: the pinned descriptor is still the connection's.
                return pymysql_socket(conn) is sock and sock is not None and sock.fileno() == fd

            done = shutdown_socket_fd(fd, still_owned)
            if done:
                mark_aborted(conn)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "abort of pymysql connection fd=%s: %s", fd, "socket shut down" if done else "no-op"
                )
        except Exception:  # abort never raises
            logger.debug("abort of a pymysql connection failed", exc_info=True)

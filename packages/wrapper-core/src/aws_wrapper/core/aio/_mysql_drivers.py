"""Async driver dialects for MySQL: ``mysql.connector.aio`` (sync twin: ``mysql.connector.connect``) and aiomysql
(sync twin: PyMySQL). Like the psycopg one (``_drivers.py``): one instance per async wrapper connection, every
network operation on an async driver connection run as the driver's coroutine on the connection's event loop
(``call_on_loop``), connections of the sync twin handed to the sync dialect, the coroutines written once in
``driver/_mysql_ops_async.py`` / ``driver/_pymysql_ops_async.py``. The drivers are imported only when used.

Choices worth knowing:

* **Calls are serialized by the wrapper** (the drivers have no lock): ``connection_lock`` is None and core's call
  lock guards every network-bound call, so a second task using the connection while a call runs gets
  :class:`InterfaceError` ("in use") instead of interleaving packets on the stream.
* **abort** shuts the socket under the connection's asyncio transport down through a pinned duplicate of its
  descriptor: from any thread, without the event loop. The read waiting on the loop sees the end of the stream
  and the driver raises its "lost connection" error (2013).
* **Driver cursors are awaited** (``await conn.cursor()``): ``awaits_cursor`` tells the wrapper's async cursor to
  create its driver cursor with the first execute, under the call lock. Buffered cursors (mysql.connector.aio's
  ``buffered=True``, aiomysql's default ones) fetch locally; unbuffered ones (``SSCursor``) fetch from the server.
* **Host monitors** are shared by the sync and async connections of one driver code, and abort with the dialect
  that started them: the sync mysql-connector dialect therefore also checks and aborts ``mysql.connector.aio``
  connections (aiomysql has a code of its own, ``aiomysql``).
* **mysql.connector.aio and servers without TLS**: the driver (9.x) fails to connect to them unless
  ``ssl_disabled=True`` is given; the dialect turns its ``TypeError`` into an :class:`InterfaceError` saying so
  (it never turns TLS off by itself).
* **read_only and isolation level** are server session variables: reading them is a query. The synchronous
  properties of :class:`AsyncAwsWrapperConnection` run on the event loop, which cannot wait for a query, so there
  they answer with the value last set or read through the wrapper on that connection; before any, they raise
  :class:`InterfaceError` naming the cure. Autocommit and the transaction status are kept locally by the drivers.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..driver import DriverDialect
from ..driver._mysql import (
    MySqlConnectorDialect,
    MySqlDialectBase,
    abort_stream,
    mark_aborted,
    stream_closed,
    stream_socket,
)
from ..driver._mysql_ops_async import MySqlOpsAsync
from ..driver._psycopg import canonical_isolation_level
from ..driver._pymysql import PyMySqlDialect, pymysql_connect_args
from ..driver._pymysql_ops_async import PyMySqlOpsAsync
from ..errors import InterfaceError
from ..plugin import RawConnection
from ._bridge import call_on_loop

if TYPE_CHECKING:
    from .._config import CoreConfig
    from ..hostinfo import HostInfo

__all__ = ["AsyncAioMySqlDialect", "AsyncMySqlConnectorDialect"]

logger = logging.getLogger("aws_wrapper.core")
T = TypeVar("T")

#: Per async driver connection: the session values last set or read through the wrapper (see the module
#: docstring), keyed "read_only" / "isolation_level".
_known: weakref.WeakKeyDictionary[Any, dict[str, object]] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()
_VARIABLES = {
    "read_only": "@@session.transaction_read_only (@@session.tx_read_only on MariaDB)",
    "isolation_level": "@@session.transaction_isolation (@@session.tx_isolation on MariaDB)",
}


def _remember(conn: RawConnection, name: str, value: object) -> None:
    try:
        with _known_lock:
            _known.setdefault(conn, {})[name] = value
    except TypeError:  # a connection class without weak references: nothing is remembered
        pass


def _forget(conn: RawConnection, name: str) -> None:
    try:
        with _known_lock:
            _known.get(conn, {}).pop(name, None)
    except TypeError:
        pass


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _AsyncMySql(MySqlDialectBase):
    """What both async MySQL dialects do: dispatch each operation by the kind of driver connection (the driver's
    async connection: its coroutine on the loop; a sync twin connection: the sync dialect's code)."""

    is_async = True
    #: The driver's ``conn.cursor()`` is awaited (``mysql.connector.aio``: a coroutine that may read an unread
    #: result from the server; aiomysql: an awaitable): the wrapper cursor creates it with its first execute.
    awaits_cursor = True
    _aops: ClassVar[MySqlOpsAsync]

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_loop(self, conn: RawConnection) -> bool:
        """Whether ``conn`` is a connection of the driver's async API."""
        raise NotImplementedError

    def _writer(self, conn: RawConnection) -> Any:
        """The ``asyncio.StreamWriter`` of an async driver connection (None when closed)."""
        raise NotImplementedError

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _call(self, coro: Any) -> Any:
        return call_on_loop(self._loop, coro)

    # -- network operations ------------------------------------------------------------------------------------
    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        result = connect_func(**args)
        if isinstance(result, Awaitable):
            return call_on_loop(self._loop, _awaited(result))
        return result

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        if self._on_loop(conn):
            self._call(self._aops.set_autocommit(conn, value))
        else:
            super().set_autocommit(conn, value)

    def get_read_only(self, conn: RawConnection) -> bool:
        if not self._on_loop(conn):
            return super().get_read_only(conn)
        if self._in_loop_thread():
            return bool(self._last_known(conn, "read_only"))
        value = bool(self._call(self._aops.read_only(conn)))
        _remember(conn, "read_only", value)
        return value

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        if not self._on_loop(conn):
            super().set_read_only(conn, value)
            return
        self._call(self._aops.set_read_only(conn, value))
        _remember(conn, "read_only", bool(value))

    def get_isolation_level(self, conn: RawConnection) -> str | None:
        if not self._on_loop(conn):
            return super().get_isolation_level(conn)
        if self._in_loop_thread():
            known = self._last_known(conn, "isolation_level")
            return None if known is None else str(known)
        value: str | None = self._call(self._aops.isolation_level(conn))
        _remember(conn, "isolation_level", value)
        return value

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None:
        if not self._on_loop(conn):
            super().set_isolation_level(conn, level)
            return
        name = None if level is None else canonical_isolation_level(level)
        self._call(self._aops.set_isolation_level(conn, name))
        if name is None:
            _forget(conn, "isolation_level")  # the server's default: known again once read
        else:
            _remember(conn, "isolation_level", name)

    def rollback(self, conn: RawConnection) -> None:
        if self._on_loop(conn):
            self._call(self._aops.rollback(conn))
        else:
            super().rollback(conn)

    def close(self, conn: RawConnection) -> None:
        if not self._on_loop(conn):
            super().close(conn)
            return
        if self._loop.is_closed():
            return
        try:
            self._call(self._aops.close(conn))
        except Exception:
            logger.debug("closing a %s connection failed", type(conn).__name__, exc_info=True)

    def _run(self, conn: RawConnection, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        if self._on_loop(conn):
            rows: list[tuple[Any, ...]] = self._call(self._aops.run(conn, sql, params))
            return rows
        return super()._run(conn, sql, params)

    # -- local state -------------------------------------------------------------------------------------------
    def _last_known(self, conn: RawConnection, name: str) -> object:
        """The value of ``name`` last set or read through the wrapper, for reads on the event loop's thread."""
        try:
            with _known_lock:
                values = _known.get(conn)
        except TypeError:
            values = None
        if values is not None and name in values:
            return values[name]
        raise InterfaceError(
            f"the {name} of this {self.code} connection is not known yet: reading it takes a query, which the "
            f"synchronous property cannot run on the event loop; set it with 'await conn.set_{name}(...)' first, "
            f"or query {_VARIABLES[name]} with a cursor"
        )

    def connection_lock(self, conn: RawConnection) -> None:
        return None  # the wrapper's call lock serializes calls (of tasks and threads alike)


class AsyncMySqlConnectorDialect(_AsyncMySql, MySqlConnectorDialect):
    """``mysql.connector.aio.connect`` (pure Python asyncio); its sync twin is ``mysql.connector.connect``."""

    _aops: ClassVar[MySqlOpsAsync] = MySqlOpsAsync()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._sync = MySqlConnectorDialect()

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        aio = sys.modules.get("mysql.connector.aio")
        return aio is not None and connect_func is getattr(aio, "connect", None)

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        try:
            return super().connect(connect_func, args)
        except TypeError as error:
            # mysql.connector.aio 9.x reads the TLS cipher of every connection unless TLS is disabled, and fails
            # with this TypeError on a server that does not offer TLS.
            if args.get("ssl_disabled") or "unpack non-iterable NoneType" not in str(error):
                raise
            raise InterfaceError(
                f"mysql.connector.aio could not connect to {args.get('host')!r}: the server does not offer TLS, "
                "which this driver version cannot handle unless told; pass ssl_disabled=True for such a server"
            ) from error

    def sync_twin(self) -> tuple[DriverDialect, Callable[..., Any]]:
        import mysql.connector

        return self._sync, mysql.connector.connect

    def fetches_locally(self, cursor: Any) -> bool:
        """A buffered cursor holds its whole result after ``execute``; an unbuffered one reads rows from the
        server as they are fetched."""
        module = sys.modules.get("mysql.connector.aio.cursor")
        buffered = getattr(module, "MySQLCursorBuffered", None)
        return isinstance(buffered, type) and isinstance(cursor, buffered)

    def _on_loop(self, conn: RawConnection) -> bool:
        module = sys.modules.get("mysql.connector.aio.abstracts")
        cls = getattr(module, "MySQLConnectionAbstract", None)
        return isinstance(cls, type) and isinstance(conn, cls)

    def _writer(self, conn: RawConnection) -> Any:
        return getattr(getattr(conn, "_socket", None), "_writer", None)

    def get_autocommit(self, conn: RawConnection) -> bool:
        if self._on_loop(conn):
            return bool(conn._autocommit)  # kept by the driver's set_autocommit (and at connect)
        return super().get_autocommit(conn)

    # is_closed, supports_abort and abort: the sync dialect handles mysql.connector.aio connections too (a host
    # monitor shared with sync connections of the same driver code aborts with whichever dialect created it).


class AsyncAioMySqlDialect(_AsyncMySql, PyMySqlDialect):
    """aiomysql (``aiomysql.connect``); its sync twin is PyMySQL (``pymysql.connect``), which aiomysql is built
    on."""

    _aops: ClassVar[MySqlOpsAsync] = PyMySqlOpsAsync()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._sync = PyMySqlDialect()

    @property
    def code(self) -> str:
        return "aiomysql"

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        aiomysql = sys.modules.get("aiomysql")
        return aiomysql is not None and connect_func is getattr(aiomysql, "connect", None)

    def sync_twin(self) -> tuple[DriverDialect, Callable[..., Any]]:
        pymysql = importlib.import_module("pymysql")
        return self._sync, pymysql.connect

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        args = pymysql_connect_args(host, props, config, "db")
        if "passwd" in args:  # PyMySQL's old name, which aiomysql does not take
            args.setdefault("password", args.pop("passwd"))
        if "database" in args:
            args.setdefault("db", args.pop("database"))
        return args

    def fetches_locally(self, cursor: Any) -> bool:
        """aiomysql's default cursors read the whole result in ``execute``; ``SSCursor`` (and its subclasses)
        stream rows from the server."""
        module = sys.modules.get("aiomysql.cursors")
        unbuffered = getattr(module, "SSCursor", None)
        return not (isinstance(unbuffered, type) and isinstance(cursor, unbuffered))

    def _on_loop(self, conn: RawConnection) -> bool:
        module = sys.modules.get("aiomysql.connection")
        cls = getattr(module, "Connection", None)
        return isinstance(cls, type) and isinstance(conn, cls)

    def _writer(self, conn: RawConnection) -> Any:
        return getattr(conn, "_writer", None)

    # -- state and control of aiomysql connections (PyMySQL's for the sync twin) -----------------------------------
    def is_closed(self, conn: RawConnection) -> bool:
        if self._on_loop(conn):
            return stream_closed(conn, self._writer(conn))
        return super().is_closed(conn)

    def supports_abort(self, conn: RawConnection) -> bool:
        if self._on_loop(conn):
            return stream_socket(self._writer(conn)) is not None
        return super().supports_abort(conn)

    def abort(self, conn: RawConnection) -> None:
        if not self._on_loop(conn):
            super().abort(conn)
            return
        try:
            done = abort_stream(self._writer(conn))
            if done:
                mark_aborted(conn)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "abort of aiomysql connection %r: %s", conn, "socket shut down" if done else "no-op"
                )
        except Exception:  # abort never raises
            logger.debug("abort of an aiomysql connection failed", exc_info=True)

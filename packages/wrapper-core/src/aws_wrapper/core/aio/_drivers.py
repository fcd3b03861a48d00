"""Driver dialects of async connections: the sync dialect's behaviour, with every network operation on an async
driver connection run as the driver's coroutine on the connection's event loop (see ``_bridge.call_on_loop``).

One instance per async wrapper connection (it knows the connection's loop). It serves two kinds of driver
connections: the application's async ones, and connections of the driver's sync API (``sync_twin``) that
``force_connect`` opens for monitors, which it hands to the sync dialect unchanged. What it does on the network is
written once, in the ``*_ops_async.py`` modules the sync dialects' generated ``*_ops_sync.py`` come from.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._locks import AbstractLock
from ..driver import DriverDialect
from ..driver import _psycopg_ops_async as _pg
from ..driver._psycopg import PsycopgDialect, isolation_args
from ..errors import ConfigurationError
from ..plugin import RawConnection
from ._bridge import call_on_loop

__all__ = ["AsyncPsycopgDialect", "async_driver_dialect_for"]


class AsyncPsycopgDialect(PsycopgDialect):
    """psycopg 3 ``AsyncConnection`` (``psycopg.AsyncConnection.connect``); its sync twin is
    ``psycopg.Connection.connect``."""

    is_async = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._sync = PsycopgDialect()

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        psycopg = sys.modules.get("psycopg")
        if psycopg is None:
            return False
        owner = getattr(connect_func, "__self__", None)
        return (
            isinstance(owner, type)
            and getattr(connect_func, "__name__", None) == "connect"
            and issubclass(owner, psycopg.AsyncConnection)
        )

    def sync_twin(self) -> tuple[DriverDialect, Callable[..., Any]]:
        import psycopg

        return self._sync, psycopg.Connection.connect

    def fetches_locally(self, cursor: Any) -> bool:
        psycopg = sys.modules.get("psycopg")
        return psycopg is None or not isinstance(cursor, (psycopg.ServerCursor, psycopg.AsyncServerCursor))

    def _on_loop(self, conn: RawConnection) -> bool:
        psycopg = sys.modules.get("psycopg")
        return psycopg is not None and isinstance(conn, psycopg.AsyncConnection)

    # -- network operations ------------------------------------------------------------------------------------
    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        result = connect_func(**args)
        if asyncio.iscoroutine(result):
            return call_on_loop(self._loop, result)
        return result

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        if self._on_loop(conn):
            call_on_loop(self._loop, _pg.set_autocommit(conn, value))
        else:
            self._sync.set_autocommit(conn, value)

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        if self._on_loop(conn):
            call_on_loop(self._loop, _pg.set_read_only(conn, value))
        else:
            self._sync.set_read_only(conn, value)

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None:
        if self._on_loop(conn):
            call_on_loop(self._loop, _pg.set_isolation_level(conn, *isolation_args(level)))
        else:
            self._sync.set_isolation_level(conn, level)

    def rollback(self, conn: RawConnection) -> None:
        if self._on_loop(conn):
            call_on_loop(self._loop, _pg.rollback(conn))
        else:
            self._sync.rollback(conn)

    def close(self, conn: RawConnection) -> None:
        if self._on_loop(conn):
            if not self._loop.is_closed():
                call_on_loop(self._loop, _pg.close(conn))
        else:
            self._sync.close(conn)

    def _run(self, conn: RawConnection, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:  # type: ignore[override]
        if self._on_loop(conn):
            return call_on_loop(self._loop, _pg.run(conn, sql, params))
        return self._sync._run(conn, sql, params)

    def connection_lock(self, conn: RawConnection) -> AbstractLock | None:
        # an AsyncConnection's own lock is an asyncio.Lock: not for threads; the async wrapper tracks its calls
        return None if self._on_loop(conn) else self._sync.connection_lock(conn)


def _candidates(loop: asyncio.AbstractEventLoop, every: bool) -> list[DriverDialect]:
    """The async dialects; without ``every`` the MySQL ones only when their driver is imported (their module is
    imported on first use)."""
    found: list[DriverDialect] = [AsyncPsycopgDialect(loop)]
    if every or "mysql.connector.aio" in sys.modules or "aiomysql" in sys.modules:
        from ._mysql_drivers import AsyncAioMySqlDialect, AsyncMySqlConnectorDialect

        found += [AsyncMySqlConnectorDialect(loop), AsyncAioMySqlDialect(loop)]
    return found


def async_driver_dialect_for(
    connect_func: Callable[..., Any], loop: asyncio.AbstractEventLoop, forced: str | None = None
) -> DriverDialect:
    """The async driver dialect for ``connect_func`` (the driver's async connect function)."""
    candidates = _candidates(loop, every=forced is not None)
    if forced is not None:
        for dialect in candidates:
            if dialect.code == forced:
                return dialect
        known = ", ".join(d.code for d in candidates)
        raise ConfigurationError(f"unknown async wrapper_driver_dialect {forced!r}: expected one of {known}")
    for dialect in candidates:
        if dialect.matches(connect_func):
            return dialect
    name = getattr(connect_func, "__qualname__", None) or repr(connect_func)
    raise ConfigurationError(
        f"no async driver dialect for {name}: AsyncAwsWrapperConnection.connect takes an async driver's connect "
        "function: psycopg.AsyncConnection.connect, mysql.connector.aio.connect or aiomysql.connect"
    )

"""The async wrapper cursor: the driver's async cursor with its network-bound calls routed like the sync
cursor's (the driver call itself, core's call guard, or the plugins' pipeline; see ``_chain_async.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .._cursor import _path, stale_error
from ..errors import InterfaceError
from ..methods import DbApiMethod

if TYPE_CHECKING:
    from .._chain_async import AsyncCallGuard, AsyncExecuteChain
    from ._connection import AsyncAwsWrapperConnection

__all__ = ["AsyncAwsWrapperCursor"]

_M = DbApiMethod
_monotonic = time.monotonic
_Path = Callable[[object, Callable[[], Any]], Any]


class AsyncAwsWrapperCursor:
    """An async DB-API cursor (``await cur.execute(...)``, ``await cur.fetchone()``, ``async for row in cur``,
    ``async with conn.cursor() as cur``) routed through the connection's plugins.

    After the connection switched to a new physical connection (failover), ``execute`` / ``executemany`` open a
    fresh driver cursor on the new connection; fetching results of a statement that ran on the old connection
    raises :class:`InterfaceError`. Other attributes (``description``, ``rowcount``, ``stream``, ``copy``, ...) are
    the driver cursor's.
    """

    __slots__ = (
        "__weakref__",
        "_args",
        "_conn",
        "_g_execute",
        "_gen",
        "_kwargs",
        "_p_executemany",
        "_p_fetchall",
        "_p_fetchmany",
        "_p_fetchone",
        "_raw",
        "_rt",
        "_x_execute",
    )

    def __init__(
        self, connection: AsyncAwsWrapperConnection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._conn = connection
        self._args = args
        self._kwargs = kwargs
        self._rt = connection._rt
        self._gen = -1
        self._raw: Any = None
        self._open_raw()

    def _open_raw(self) -> None:
        rt = self._rt
        conn = rt.current_connection
        if conn is None or rt.closed:
            raise InterfaceError("the connection is closed")
        if getattr(rt.driver, "awaits_cursor", False):
            # mysql.connector.aio, aiomysql: creating a driver cursor is awaited (and may read from the server):
            # the first execute creates it, through the call guard (_rebind)
            self._raw, self._gen = None, -1
            return
        # creating a psycopg async cursor is not a coroutine (nor a network call): it is not a pipeline call
        self._bind(conn.cursor(*self._args, **self._kwargs))

    def _bind(self, raw: Any) -> None:
        rt = self._rt
        self._raw = raw
        self._gen = rt.generation
        chains = rt.chains
        guard: AsyncCallGuard | None = rt.guard  # type: ignore[assignment]
        fused = rt.pipelines.fused
        self._x_execute: AsyncExecuteChain | None = chains[_M.CURSOR_EXECUTE]
        self._g_execute = guard if _M.CURSOR_EXECUTE in fused else None
        self._p_executemany = _path(chains, fused, guard, _M.CURSOR_EXECUTEMANY)
        fetches_locally = getattr(rt.driver, "fetches_locally", None)
        if fetches_locally is not None and fetches_locally(raw):
            chains, fused, guard = rt.pipelines.local, frozenset(), None
        self._p_fetchone = _path(chains, fused, guard, _M.CURSOR_FETCHONE)
        self._p_fetchmany = _path(chains, fused, guard, _M.CURSOR_FETCHMANY)
        self._p_fetchall = _path(chains, fused, guard, _M.CURSOR_FETCHALL)

    def _stale(self) -> None:
        if self._raw is None and not self._conn.closed:
            raise InterfaceError("no statement has been executed on this cursor")
        raise stale_error(self._conn.closed)

    async def _rebind(self) -> None:
        old = self._raw
        rt = self._rt
        if getattr(rt.driver, "awaits_cursor", False):
            conn = rt.current_connection
            if conn is None or rt.closed:
                raise InterfaceError("the connection is closed")
            make = partial(conn.cursor, *self._args, **self._kwargs)
            self._bind(await rt.run_call(_M.CONNECTION_CURSOR, conn, make))
        else:
            self._open_raw()
        if old is None:
            return
        try:
            await old.close()
        except Exception:
            pass

    # -- DB-API ------------------------------------------------------------------------------------------------
    @property
    def connection(self) -> AsyncAwsWrapperConnection:
        return self._conn

    @property
    def target_cursor(self) -> Any:
        """The driver cursor (changes after a failover)."""
        return self._raw

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> AsyncAwsWrapperCursor:
        if self._gen != self._rt.generation:
            await self._rebind()
        raw = self._raw
        chain = self._x_execute
        if chain is not None:
            await chain(raw, partial(raw.execute, query, params, **kwargs))
            return self
        guard = self._g_execute
        if guard is not None:
            mark = guard.mark
            if guard.lock is not None or mark is None or mark.since:
                await guard.run(_M.CURSOR_EXECUTE, raw, partial(raw.execute, query, params, **kwargs))
                return self
            # the guard's work inline (AsyncCallGuard.run without its frame): the default plugins' hot path
            source = guard.source
            if source is not None:
                mark.status = source.transaction_status  # type: ignore[attr-defined]
            mark.since = _monotonic()
            try:
                await raw.execute(query, params, **kwargs)
            except Exception as error:
                mark.since = 0.0
                await guard.failed(_M.CURSOR_EXECUTE, raw, error)
            finally:
                mark.since = 0.0
            return self
        if self._rt.closed:
            raise InterfaceError("the connection is closed")
        await raw.execute(query, params, **kwargs)
        return self

    async def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        if self._gen != self._rt.generation:
            await self._rebind()
        raw = self._raw
        await self._call(
            self._p_executemany, _M.CURSOR_EXECUTEMANY, partial(raw.executemany, query, params_seq, **kwargs)
        )

    async def fetchone(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        path = self._p_fetchone
        if path is None:
            return await self._raw.fetchone()
        return await path(self._raw, self._raw.fetchone)

    async def fetchmany(self, size: int = 0) -> list[Any]:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        call = partial(raw.fetchmany, size) if size else raw.fetchmany
        rows: list[Any] = await self._call(self._p_fetchmany, _M.CURSOR_FETCHMANY, call)
        return rows

    async def fetchall(self) -> list[Any]:
        if self._gen != self._rt.generation:
            self._stale()
        rows: list[Any] = await self._call(self._p_fetchall, _M.CURSOR_FETCHALL, self._raw.fetchall)
        return rows

    async def _call(self, path: _Path | None, method: DbApiMethod, call: Callable[[], Any]) -> Any:
        if path is None:
            return await call()
        return await path(self._raw, call)

    async def close(self) -> None:
        if self._raw is None:
            return
        try:
            await self._raw.close()
        except Exception:
            if not self._conn.closed:
                raise

    def __aiter__(self) -> AsyncAwsWrapperCursor:
        return self

    async def __anext__(self) -> Any:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    async def __aenter__(self) -> AsyncAwsWrapperCursor:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._raw, name)

    def __repr__(self) -> str:
        return f"<AsyncAwsWrapperCursor of {self._conn!r}>"

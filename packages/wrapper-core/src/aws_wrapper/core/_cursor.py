"""The wrapper cursor. Hot path: a bypassed method costs one attribute read and one call more than the driver."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import InterfaceError
from .methods import DbApiMethod

if TYPE_CHECKING:
    from ._connection import AwsWrapperConnection

__all__ = ["AwsWrapperCursor"]

_M = DbApiMethod


class AwsWrapperCursor:
    """A DB-API cursor routed through the connection's plugin pipeline.

    After the connection switched to a new physical connection (failover, read/write switch), ``execute`` /
    ``executemany`` / ``callproc`` transparently open a fresh driver cursor on the new connection; fetching results
    of a statement that ran on the old connection raises :class:`InterfaceError`.
    """

    def __init__(
        self, connection: AwsWrapperConnection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._conn = connection
        self._args = args
        self._kwargs = kwargs
        rt = connection._rt
        chains = rt.chains
        self._x_execute = chains[_M.CURSOR_EXECUTE]
        self._x_executemany = chains[_M.CURSOR_EXECUTEMANY]
        self._rt = rt
        self._gen = -1
        self._raw: Any = None
        self._open_raw()
        fetches_locally = getattr(rt.driver, "fetches_locally", None)
        if fetches_locally is not None and fetches_locally(self._raw):
            chains = rt.pipelines.local  # rows are in memory: no network monitoring around fetches
        self._x_fetchone = chains[_M.CURSOR_FETCHONE]
        self._x_fetchmany = chains[_M.CURSOR_FETCHMANY]
        self._x_fetchall = chains[_M.CURSOR_FETCHALL]
        self._x_next = chains[_M.CURSOR_NEXT]
        if not rt.plugins:
            # No plugin can replace the physical connection: fetches go straight to the driver cursor (the
            # bound C-level method; nothing of the wrapper runs). Execute stays wrapped (it returns this cursor).
            raw = self._raw
            fetchone, fetchall = getattr(raw, "fetchone", None), getattr(raw, "fetchall", None)
            if self._x_fetchone is None and fetchone is not None:
                self.fetchone = fetchone  # type: ignore[method-assign]
            if self._x_fetchall is None and fetchall is not None:
                self.fetchall = fetchall  # type: ignore[method-assign]

    def _open_raw(self) -> None:
        rt = self._rt
        conn = rt.current_connection
        if conn is None or rt.closed:
            raise InterfaceError("the connection is closed")
        chain = rt.chains[_M.CONNECTION_CURSOR]
        call = partial(conn.cursor, *self._args, **self._kwargs)
        self._raw = call() if chain is None else chain(conn, call)
        self._gen = rt.generation

    def _stale(self) -> None:
        if self._conn.closed:
            raise InterfaceError("the connection is closed")
        raise InterfaceError(
            "this cursor's results belong to a connection that has been replaced (failover or read/write switch); "
            "execute the statement again"
        )

    def _rebind(self) -> None:
        old = self._raw
        self._open_raw()
        try:
            old.close()
        except Exception:
            pass

    # -- DB-API --------------------------------------------------------------------------------------------
    @property
    def connection(self) -> AwsWrapperConnection:
        return self._conn

    @property
    def target_cursor(self) -> Any:
        """The driver cursor (changes after a failover)."""
        return self._raw

    @property
    def description(self) -> Any:
        return self._raw.description

    @property
    def rowcount(self) -> int:
        rowcount: int = self._raw.rowcount
        return rowcount

    @property
    def lastrowid(self) -> Any:
        return self._raw.lastrowid

    @property
    def arraysize(self) -> int:
        size: int = self._raw.arraysize
        return size

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._raw.arraysize = value

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._rt.generation:
            self._rebind()
        raw = self._raw
        chain = self._x_execute
        if chain is None:
            result = raw.execute(query, params, *args, **kwargs) if args or kwargs else raw.execute(query, params)
        elif args or kwargs:
            result = chain(raw, partial(raw.execute, query, params, *args, **kwargs))
        else:
            result = chain(raw, partial(raw.execute, query, params))
        return self if result is raw else result

    def executemany(self, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._rt.generation:
            self._rebind()
        raw = self._raw
        chain = self._x_executemany
        call = partial(raw.executemany, query, params_seq, *args, **kwargs)
        result = call() if chain is None else chain(raw, call)
        return self if result is raw else result

    def callproc(self, procname: str, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._rt.generation:
            self._rebind()
        raw = self._raw
        if not hasattr(raw, "callproc"):
            from .errors import UnsupportedOperationError

            raise UnsupportedOperationError(f"the driver cursor {type(raw).__name__} has no callproc")
        return self._run(_M.CURSOR_CALLPROC, partial(raw.callproc, procname, *args, **kwargs))

    def fetchone(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        chain = self._x_fetchone
        raw = self._raw
        return raw.fetchone() if chain is None else chain(raw, raw.fetchone)

    def fetchmany(self, size: int | None = None) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        call = raw.fetchmany if size is None else partial(raw.fetchmany, size)
        chain = self._x_fetchmany
        return call() if chain is None else chain(raw, call)

    def fetchall(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        chain = self._x_fetchall
        raw = self._raw
        return raw.fetchall() if chain is None else chain(raw, raw.fetchall)

    def nextset(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        if not hasattr(raw, "nextset"):
            return None
        return self._run(_M.CURSOR_NEXTSET, raw.nextset)

    def setinputsizes(self, sizes: Any) -> None:
        self._run(_M.CURSOR_SETINPUTSIZES, partial(self._raw.setinputsizes, sizes))

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        raw = self._raw
        call = (
            partial(raw.setoutputsize, size) if column is None else partial(raw.setoutputsize, size, column)
        )
        self._run(_M.CURSOR_SETOUTPUTSIZE, call)

    def close(self) -> None:
        raw = self._raw
        if self._gen != self._rt.generation or self._conn.closed:
            try:
                raw.close()
            except Exception:
                pass
            return
        self._run(_M.CURSOR_CLOSE, raw.close)

    def _run(self, method: DbApiMethod, call: Any) -> Any:
        chain = self._rt.chains[method]
        return call() if chain is None else chain(self._raw, call)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        chain = self._x_next
        raw = self._raw
        if chain is None:
            return next(raw) if hasattr(raw, "__next__") else _next_row(raw)
        return chain(raw, partial(next, raw) if hasattr(raw, "__next__") else partial(_next_row, raw))

    def __enter__(self) -> AwsWrapperCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._raw, name)


def _next_row(raw: Any) -> Any:
    row = raw.fetchone()
    if row is None:
        raise StopIteration
    return row

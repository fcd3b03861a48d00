"""The wrapper cursor. Hot path: a bypassed method costs one attribute read and one call more than the driver.

Each call compiles, per cursor and physical connection, to one of three paths: the driver call itself (nothing to
do), core's inline call guard (in-flight mark, error handlers, call lock: see ``_chain_async.py``), or the plugins'
``execute`` pipeline. The class defines no ``__getattr__`` (CPython cannot specialize attribute access on a class
that has one, which cost every call several hundred nanoseconds): attributes of the driver cursor the wrapper does
not define are forwarded by properties of a subclass made once per driver cursor class.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import InterfaceError
from .methods import DbApiMethod

if TYPE_CHECKING:
    from ._chain_async import AsyncCallGuard
    from ._chain_sync import CallGuard
    from ._connection import AwsWrapperConnection
    from ._pipeline import ExecuteChain

__all__ = ["AwsWrapperCursor"]

_M = DbApiMethod
_monotonic = time.monotonic


class AwsWrapperCursor:
    """A DB-API cursor routed through the connection's plugin pipeline.

    After the connection switched to a new physical connection (failover, read/write switch), ``execute`` /
    ``executemany`` / ``callproc`` transparently open a fresh driver cursor on the new connection; fetching results
    of a statement that ran on the old connection raises :class:`InterfaceError`.
    """

    __slots__ = (
        "__weakref__",
        "_args",
        "_conn",
        "_g_execute",
        "_g_fetchone",
        "_gen",
        "_kwargs",
        "_mark",
        "_p_executemany",
        "_p_fetchall",
        "_p_fetchmany",
        "_p_fetchone",
        "_p_next",
        "_raw",
        "_rt",
        "_x_execute",
    )

    if TYPE_CHECKING:  # for type checkers only: at run time the forwarding subclass defines these attributes

        def __getattr__(self, name: str) -> Any: ...

    def __init__(
        self, connection: AwsWrapperConnection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._conn = connection
        self._args = args
        self._kwargs = kwargs
        self._rt = connection._rt
        self._gen = -1
        self._raw: Any = None
        self._open_raw()
        base = type(self)
        if base in _MODES:
            self.__class__ = _forwarding_class(base, type(self._raw))

    def _open_raw(self) -> None:
        rt = self._rt
        conn = rt.current_connection
        if conn is None or rt.closed:
            raise InterfaceError("the connection is closed")
        self._raw = raw = rt.run_call(
            _M.CONNECTION_CURSOR, conn, partial(conn.cursor, *self._args, **self._kwargs)
        )
        self._gen = rt.generation
        # Compile this cursor's call paths for the current physical connection. ``_x_execute`` / ``_g_execute``:
        # the pipeline or the inline guard of execute; ``_p_<method>``: None (the driver call itself) or a
        # callable ``(target, call)`` (the pipeline, or the connection's guard).
        chains = rt.chains
        guard = rt.guard
        fused = rt.pipelines.fused
        self._x_execute = chains[_M.CURSOR_EXECUTE]
        self._g_execute = guard if _M.CURSOR_EXECUTE in fused else None
        self._mark = None if guard is None else guard.mark
        self._p_executemany = _path(chains, fused, guard, _M.CURSOR_EXECUTEMANY)
        fetches_locally = getattr(rt.driver, "fetches_locally", None)
        if fetches_locally is not None and fetches_locally(raw):
            # rows are in memory: no network monitoring, no guard around fetches
            chains, fused, guard = rt.pipelines.local, frozenset(), None
        self._p_fetchone = _path(chains, fused, guard, _M.CURSOR_FETCHONE)
        self._g_fetchone = (
            guard if chains[_M.CURSOR_FETCHONE] is None and _M.CURSOR_FETCHONE in fused else None
        )
        self._p_fetchmany = _path(chains, fused, guard, _M.CURSOR_FETCHMANY)
        self._p_fetchall = _path(chains, fused, guard, _M.CURSOR_FETCHALL)
        self._p_next = _path(chains, fused, guard, _M.CURSOR_NEXT)

    def _stale(self) -> None:
        raise stale_error(self._conn.closed)

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
        if chain is not None:
            call = partial(raw.execute, query, params, *args, **kwargs)
            result = chain(raw, call)
        else:
            guard = self._g_execute
            if guard is None:
                result = (
                    raw.execute(query, params, *args, **kwargs)
                    if args or kwargs
                    else raw.execute(query, params)
                )
            elif guard.mark is None and guard.lock is None and not (args or kwargs):
                try:  # only error handlers: nothing to do unless the call fails
                    result = raw.execute(query, params)
                except Exception as error:
                    guard.failed(_M.CURSOR_EXECUTE, raw, error)
            else:
                # the marked and locked paths run inline in _InlineCursor / _LockedCursor; they come here only for
                # a rebind, a nested call or extra arguments
                result = guard.run(
                    _M.CURSOR_EXECUTE, raw, partial(raw.execute, query, params, *args, **kwargs)
                )
        return self if result is raw else result

    def executemany(self, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._rt.generation:
            self._rebind()
        raw = self._raw
        call = partial(raw.executemany, query, params_seq, *args, **kwargs)
        path = self._p_executemany
        result = call() if path is None else path(raw, call)
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
        raw = self._raw
        path = self._p_fetchone
        return raw.fetchone() if path is None else path(raw, raw.fetchone)

    def fetchmany(self, size: int | None = None) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        call = raw.fetchmany if size is None else partial(raw.fetchmany, size)
        path = self._p_fetchmany
        return call() if path is None else path(raw, call)

    def fetchall(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        path = self._p_fetchall
        return raw.fetchall() if path is None else path(raw, raw.fetchall)

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
        return self._rt.run_call(method, self._raw, call)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._gen != self._rt.generation:
            self._stale()
        raw = self._raw
        step = partial(next, raw) if hasattr(raw, "__next__") else partial(_next_row, raw)
        path = self._p_next
        return step() if path is None else path(raw, step)

    def __enter__(self) -> AwsWrapperCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _next_row(raw: Any) -> Any:
    row = raw.fetchone()
    if row is None:
        raise StopIteration
    return row


def stale_error(closed: bool) -> InterfaceError:
    """What fetching from a cursor whose physical connection was replaced (or closed) raises; sync and async."""
    if closed:
        return InterfaceError("the connection is closed")
    return InterfaceError(
        "this cursor's results belong to a connection that has been replaced (failover or read/write switch); "
        "execute the statement again"
    )


def _path(
    chains: Mapping[DbApiMethod, ExecuteChain | None],
    fused: frozenset[DbApiMethod],
    guard: CallGuard | AsyncCallGuard | None,
    method: DbApiMethod,
) -> ExecuteChain | None:
    """The call path of ``method``: the pipeline, the guard (as ``(target, call)``), or None (the driver call).
    Serves the async cursor too (its chains and guard are coroutines)."""
    chain = chains[method]
    if chain is not None or guard is None or method not in fused:
        return chain
    return partial(guard.run, method)


class _DirectCursor(AwsWrapperCursor):
    """The cursor of a wrapper connection without plugins (and a driver with its own call lock): nothing can
    replace its physical connection, so ``fetchone`` is the driver cursor's own bound method, held in a slot, and
    ``execute`` only checks that the connection is still open."""

    __slots__ = ("fetchone",)  # shadows AwsWrapperCursor.fetchone on purpose

    def __init__(
        self, connection: AwsWrapperConnection, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        super().__init__(connection, args, kwargs)
        fetchone = getattr(self._raw, "fetchone", None)
        if fetchone is not None:
            self.fetchone = fetchone  # type: ignore[method-assign]

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._rt.generation:
            self._rebind()  # raises: only close() changes the generation of a connection without plugins
        raw = self._raw
        result = raw.execute(query, params, *args, **kwargs) if args or kwargs else raw.execute(query, params)
        return self if result is raw else result


class _InlineCursor(AwsWrapperCursor):
    """The cursor when the only work around ``execute`` is core's call guard without a call lock (the default
    plugins on psycopg): the guard runs inline, checked through the connection's mark (``live``)."""

    __slots__ = ()

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        mark = self._mark
        if mark is None or not mark.live or mark.since or args or kwargs:
            # replaced or closed connection (rebinds or raises), a nested call, or extra arguments
            return AwsWrapperCursor.execute(self, query, params, *args, **kwargs)
        raw = self._raw
        source: Any = self._g_execute.source  # type: ignore[union-attr]
        if source is not None:
            mark.status = source.transaction_status
        mark.since = _monotonic()
        try:
            result = raw.execute(query, params)
        except Exception as error:
            mark.since = 0.0
            self._g_execute.failed(_M.CURSOR_EXECUTE, raw, error)  # type: ignore[union-attr]
        mark.since = 0.0
        return self if result is raw else result

    def fetchone(self) -> Any:
        mark = self._mark
        if mark is None or not mark.live:
            return AwsWrapperCursor.fetchone(self)
        raw = self._raw
        path = self._p_fetchone
        return raw.fetchone() if path is None else path(raw, raw.fetchone)


class _LockedCursor(AwsWrapperCursor):
    """The cursor when the only work around ``execute`` / ``fetchone`` is core's call guard with the wrapper's call
    lock (mysql-connector, which has no lock of its own): :meth:`CallGuard.run` inline, one frame less."""

    __slots__ = ()

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        guard = self._g_execute
        if guard is None or args or kwargs or self._gen != self._rt.generation:
            return AwsWrapperCursor.execute(self, query, params, *args, **kwargs)
        raw = self._raw
        lock: Any = guard.lock
        if not lock.acquire(False):
            guard.busy()
        failure = None
        try:
            mark = guard.mark
            if mark is None or mark.since:
                result = raw.execute(query, params)
            else:
                source: Any = guard.source
                if source is not None:
                    mark.status = source.transaction_status
                mark.since = _monotonic()
                try:
                    result = raw.execute(query, params)
                finally:
                    mark.since = 0.0
        except Exception as error:
            failure = error
        finally:
            lock.release()
        if failure is not None:
            guard.failed(_M.CURSOR_EXECUTE, raw, failure)
        return self if result is raw else result

    def fetchone(self) -> Any:
        guard = self._g_fetchone
        if guard is None or self._gen != self._rt.generation:
            return AwsWrapperCursor.fetchone(self)
        raw = self._raw
        lock: Any = guard.lock
        if not lock.acquire(False):
            guard.busy()
        failure = None
        try:
            mark = guard.mark
            if mark is None or mark.since:
                row = raw.fetchone()
            else:
                source: Any = guard.source
                if source is not None:
                    mark.status = source.transaction_status
                mark.since = _monotonic()
                try:
                    row = raw.fetchone()
                finally:
                    mark.since = 0.0
        except Exception as error:
            failure = error
        finally:
            lock.release()
        if failure is not None:
            guard.failed(_M.CURSOR_FETCHONE, raw, failure)
        return row


_MODES = (AwsWrapperCursor, _DirectCursor, _InlineCursor, _LockedCursor)


def new_cursor(
    connection: AwsWrapperConnection, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> AwsWrapperCursor:
    """A cursor of ``connection``, of the fastest class that is correct for it (the mode depends on the plugins
    and the driver, fixed for the connection's life)."""
    rt = connection._rt
    guard = rt.guard
    cls: type[AwsWrapperCursor] = AwsWrapperCursor
    if not rt.plugins and guard is None and rt.chains[_M.CURSOR_FETCHONE] is None:
        cls = _DirectCursor
    elif (
        guard is not None
        and guard.lock is None
        and guard.mark is not None
        and rt.chains[_M.CURSOR_EXECUTE] is None
        and _M.CURSOR_EXECUTE in rt.pipelines.fused
    ):
        cls = _InlineCursor
    elif guard is not None and guard.lock is not None and rt.chains[_M.CURSOR_EXECUTE] is None:
        cls = _LockedCursor
    return cls(connection, args, kwargs)


_FORWARDING: dict[tuple[type, type], type[AwsWrapperCursor]] = {}
_FORWARDING_LOCK = threading.Lock()


def _forwarding_class(base: type[AwsWrapperCursor], raw_type: type) -> type[AwsWrapperCursor]:
    """The subclass of ``base`` for driver cursors of ``raw_type``: a property per attribute of the driver cursor
    that the wrapper does not define, reading and assigning it on the current driver cursor. Made once per driver
    cursor class."""
    key = (base, raw_type)
    cls = _FORWARDING.get(key)
    if cls is not None:
        return cls
    with _FORWARDING_LOCK:
        cls = _FORWARDING.get(key)
        if cls is None:
            own = set(dir(base))
            names = sorted(
                n for n in _attribute_names(raw_type) if not n.startswith(("__", "_abc_")) and n not in own
            )
            namespace: dict[str, Any] = {name: _forward(name) for name in names}
            namespace["__slots__"] = ()
            namespace["__module__"] = AwsWrapperCursor.__module__
            namespace["__qualname__"] = AwsWrapperCursor.__qualname__
            namespace["__doc__"] = AwsWrapperCursor.__doc__
            cls = type(AwsWrapperCursor.__name__, (base,), namespace)
            _FORWARDING[key] = cls
    return cls


def _attribute_names(raw_type: type) -> set[str]:
    """The class attributes of ``raw_type`` and the instance attributes its ``__init__`` methods name. Read from
    the class and the code objects, never from a live cursor: looking at an instance's ``__dict__`` would turn off
    CPython's fast attribute access for that cursor."""
    names = set(dir(raw_type))
    for klass in raw_type.__mro__:
        init = vars(klass).get("__init__")
        code = getattr(init, "__code__", None)
        if code is None:
            continue
        known = getattr(init, "__globals__", {})
        names.update(n for n in code.co_names if n not in known and not hasattr(builtins, n))
    return names


def _forward(name: str) -> property:
    def get(self: AwsWrapperCursor) -> Any:
        return getattr(self._raw, name)

    def set_(self: AwsWrapperCursor, value: Any) -> None:
        setattr(self._raw, name, value)

    def delete(self: AwsWrapperCursor) -> None:
        delattr(self._raw, name)

    return property(get, set_, delete, f"The driver cursor's ``{name}``.")

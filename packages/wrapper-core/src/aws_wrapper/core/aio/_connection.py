"""The async wrapper connection: psycopg's ``AsyncConnection`` surface over the same runtime, plugins and settings
as :class:`~aws_wrapper.core.AwsWrapperConnection`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from .. import _chain_async
from .._connection import CLOSE_WAIT, _canonical_isolation, close_runtime, open_runtime
from .._runtime import Runtime
from ..errors import InterfaceError
from ..methods import DbApiMethod
from ..plugin import Plugin
from ..services import SessionField
from ..session_state import AttributeSessionField, CustomSessionField
from ._bridge import run_sync
from ._cursor import AsyncAwsWrapperCursor
from ._drivers import async_driver_dialect_for

__all__ = ["AsyncAwsWrapperConnection"]

logger = logging.getLogger("aws_wrapper.core")
P = TypeVar("P", bound=Plugin)
_M = DbApiMethod


class AsyncAwsWrapperConnection:
    """An async DB-API connection whose calls run through the configured plugins.

    Create it with ``await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, conninfo, **kw)``.
    The settings, plugins, errors and session-state rules are those of the sync wrapper. Per call, the wrapper's
    work is native asyncio; what may wait (connecting, a failover, restoring session state) runs the wrapper's
    sync code on a worker thread whose driver calls come back to this connection's event loop, so other tasks
    keep running. Attributes the wrapper does not define are read from the current driver connection; assigning
    one (``conn.row_factory = dict_row``) assigns it on the driver connection and again after every switch.
    """

    _rt: Runtime

    @classmethod
    async def connect(
        cls, target: Callable[..., Any] | None = None, conninfo: str = "", *args: Any, **kwargs: Any
    ) -> AsyncAwsWrapperConnection:
        """Open an async wrapper connection; ``target`` is the async driver's connect function
        (``psycopg.AsyncConnection.connect``). Cancelling the task while it connects closes whatever was opened."""
        loop = asyncio.get_running_loop()

        def driver_for(func: Callable[..., Any], forced: str | None) -> Any:
            return async_driver_dialect_for(func, loop, forced)

        rt = await run_sync(
            open_runtime, target, conninfo, args, kwargs, driver_for, _chain_async, discard=close_runtime
        )
        self = cls.__new__(cls)
        self._bind(rt)
        return self

    def _bind(self, rt: Runtime) -> None:
        self._rt = rt
        self.closed = False

    # -- DB-API ------------------------------------------------------------------------------------------------
    @property
    def target_connection(self) -> Any:
        """The current driver connection (a different object after a failover)."""
        return self._rt.current_connection

    @property
    def is_closed(self) -> bool:
        conn = self._rt.current_connection
        return self.closed or conn is None or self._rt.driver.is_closed(conn)

    def cursor(self, *args: Any, **kwargs: Any) -> AsyncAwsWrapperCursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return AsyncAwsWrapperCursor(self, args, kwargs)

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> AsyncAwsWrapperCursor:
        """Shortcut (as psycopg's ``AsyncConnection.execute``): a new cursor that ran ``query``."""
        cur = self.cursor()
        await cur.execute(query, params, **kwargs)
        return cur

    async def commit(self) -> None:
        conn = self._live()
        await self._rt.run_call(_M.CONNECTION_COMMIT, conn, conn.commit)

    async def rollback(self) -> None:
        conn = self._live()
        await self._rt.run_call(_M.CONNECTION_ROLLBACK, conn, conn.rollback)

    async def close(self) -> None:
        """Close the physical connection (restoring its pristine session state first when configured).

        Safe from any task: a call of another task running on the connection is aborted (it fails with
        :class:`InterfaceError` saying the connection was closed), a failover in progress gives up."""
        rt = self._rt
        first, conn = rt.begin_close()
        self.closed = True
        if not first:
            return
        try:
            if conn is not None:
                await self._drain(conn)
                await rt.run_call(_M.CONNECTION_CLOSE, conn, partial(run_sync, rt.dispose, conn))
        finally:
            await run_sync(rt.release)

    async def _drain(self, conn: Any) -> None:
        """A call of another task in flight on ``conn``: abort the connection so that the call fails at once, and
        wait (at most ``CLOSE_WAIT``) for it to leave the driver before the driver connection is closed."""
        lock = getattr(conn, "lock", None)
        if lock is None or not lock.locked():
            return
        self._rt.abort(conn)
        deadline = time.monotonic() + CLOSE_WAIT
        while lock.locked() and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    # -- session state -------------------------------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return bool(self._rt.driver.get_autocommit(self._live()))

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        _read_only_attribute("autocommit")

    @property
    def read_only(self) -> bool:
        return bool(self._rt.driver.get_read_only(self._live()))

    @read_only.setter
    def read_only(self, value: bool) -> None:
        _read_only_attribute("read_only")

    @property
    def isolation_level(self) -> str | None:
        """The transaction isolation level as a canonical name (``"READ COMMITTED"``, ...); None = server default."""
        result = self._rt.driver.get_isolation_level(self._live())
        return None if result is None else str(result)

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        _read_only_attribute("isolation_level")

    async def set_autocommit(self, value: bool) -> None:
        await self._set_field(SessionField.AUTOCOMMIT, bool(value), _M.CONNECTION_AUTOCOMMIT_SETTER)

    async def set_read_only(self, value: bool) -> None:
        await self._set_field(SessionField.READ_ONLY, bool(value), _M.CONNECTION_SET_READ_ONLY)

    async def set_isolation_level(self, value: str | None) -> None:
        level = None if value is None else _canonical_isolation(value)
        await self._set_field(SessionField.ISOLATION_LEVEL, level, _M.CONNECTION_SET_ISOLATION_LEVEL)

    async def set_field(self, field: str | CustomSessionField, value: object) -> None:
        """Set a custom session field (registered by a plugin, or given here) or a driver attribute: recorded,
        applied now (on a worker thread: a field's ``apply`` may talk to the server) and after every switch."""
        rt = self._rt
        key = rt.session.fields.get(field, None) if isinstance(field, str) else field
        if key is None:
            key = AttributeSessionField.of(str(field))
        await run_sync(rt.set_field, key, value)

    async def _set_field(self, field: SessionField, value: object, method: DbApiMethod) -> None:
        # rt.set_field reads the current connection when it runs (on a worker thread: the driver call it makes
        # goes to this connection's loop)
        rt = self._rt
        await rt.run_call(method, rt.current_connection, partial(run_sync, rt.set_field, field, value))

    # -- plumbing ------------------------------------------------------------------------------------------------
    def _live(self) -> Any:
        conn = self._rt.current_connection
        if self.closed or conn is None:
            raise InterfaceError("the connection is closed")
        return conn

    def plugin(self, cls: type[P]) -> P | None:
        """The plugin instance of class ``cls`` in this connection's pipeline, if any."""
        for plugin in self._rt.plugins:
            if isinstance(plugin, cls):
                return plugin
        return None

    async def __aenter__(self) -> AsyncAwsWrapperConnection:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        """psycopg semantics: commit on success, roll back on error, then close."""
        try:
            if not self.closed and not self.is_closed and self._rt.is_in_transaction():
                if exc_type is None:
                    await self.commit()
                else:
                    await self.rollback()
        finally:
            await self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_rt", "closed"):
            raise AttributeError(name)
        rt = self._rt
        conn = rt.current_connection
        field = rt.session.fields.get(name)
        if field is not None and not isinstance(field, AttributeSessionField):
            return rt.session.peek(field).value
        if conn is None:
            raise AttributeError(name)
        return getattr(conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """As the sync wrapper: a driver attribute assigned here (``conn.row_factory = dict_row``) is session state,
        set on the driver connection now and on every new one after a switch. A custom session field that talks to
        the server is set with ``await conn.set_field(name, value)``."""
        if name[:1] == "_" or name == "closed" or hasattr(type(self), name) or name in self.__dict__:
            object.__setattr__(self, name, value)
            return
        rt = self._rt
        field = rt.session.fields.get(name)
        if field is not None and not isinstance(field, AttributeSessionField):
            raise TypeError(
                f"{name!r} is a custom session field: set it with 'await conn.set_field({name!r}, value)' on an "
                "async connection"
            )
        rt.set_field(AttributeSessionField.of(name), value)

    def __repr__(self) -> str:
        host = self._rt.current_host
        state = "closed" if self.closed else f"on {host.url if host else '?'}"
        return f"<AsyncAwsWrapperConnection {self._rt.driver.code} {state}>"


def _read_only_attribute(name: str) -> None:
    raise AttributeError(
        f"the {name} attribute is read-only on async connections: use 'await conn.set_{name}(value)' instead"
    )

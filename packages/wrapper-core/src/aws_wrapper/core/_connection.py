"""The wrapper connection: PEP 249 surface over a plugin pipeline and a replaceable physical connection."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

from ._config import CoreConfig
from ._cursor import AwsWrapperCursor, new_cursor
from ._runtime import Runtime
from .conninfo import parse_conninfo
from .driver import ISOLATION_LEVELS, DriverDialect, driver_dialect_for
from .errors import AwsConnectError, ConfigurationError, InterfaceError
from .methods import DbApiMethod
from .plugin import Plugin
from .registry import REGISTRY
from .services import SessionField
from .session_state import AttributeSessionField

__all__ = ["AwsWrapperConnection", "connect"]

logger = logging.getLogger("aws_wrapper.core")
P = TypeVar("P", bound=Plugin)
_M = DbApiMethod
#: How long close() waits for a call running on the connection in another thread to give up once aborted.
CLOSE_WAIT = 1.0


class AwsWrapperConnection:
    """A DB-API connection whose calls run through the configured plugins.

    Create it with :meth:`connect`. Attributes the wrapper does not define are read from the current driver
    connection (``conn.info``, ``conn.add_notice_handler``, ...); assigning one (``conn.row_factory = dict_row``)
    assigns it on the driver connection and again on every new one after a switch (see :meth:`__setattr__`).
    """

    _rt: Runtime

    @staticmethod
    def connect(
        target: Callable[..., Any] | None = None, conninfo: str = "", *args: Any, **kwargs: Any
    ) -> AwsWrapperConnection:
        """Open a wrapper connection.

        ``target`` is the driver's connect function (``psycopg.Connection.connect``, ``mysql.connector.connect``);
        ``conninfo`` a libpq ``key=value`` string or a URL; keyword arguments are merged over it (they win).
        Wrapper settings and driver parameters share the same namespace; the wrapper removes its own settings
        before calling the driver.
        """
        rt = open_runtime(target, conninfo, args, kwargs, driver_dialect_for)
        self = AwsWrapperConnection.__new__(AwsWrapperConnection)
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
    def threadsafety(self) -> int:
        """PEP 249 level of this connection: 2 (may be shared by threads; the driver serializes calls, as psycopg
        does) or 1 (one thread at a time, as mysql-connector; a concurrent call raises InterfaceError)."""
        return 2 if self._rt.driver.serializes_calls else 1

    @property
    def is_closed(self) -> bool:
        conn = self._rt.current_connection
        return self.closed or conn is None or self._rt.driver.is_closed(conn)

    def cursor(self, *args: Any, **kwargs: Any) -> AwsWrapperCursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return new_cursor(self, args, kwargs)

    def execute(self, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> AwsWrapperCursor:
        """Shortcut (as psycopg's ``Connection.execute``): a new cursor that ran ``query``."""
        cur = self.cursor()
        cur.execute(query, params, *args, **kwargs)
        return cur

    def commit(self) -> None:
        conn = self._live()
        self._rt.run_call(_M.CONNECTION_COMMIT, conn, conn.commit)

    def rollback(self) -> None:
        conn = self._live()
        self._rt.run_call(_M.CONNECTION_ROLLBACK, conn, conn.rollback)

    def close(self) -> None:
        """Close the physical connection (restoring its pristine session state first when configured).

        Safe from any thread: a call running on the connection in another thread is aborted (it fails with
        :class:`InterfaceError` saying the connection was closed), a failover in progress gives up, and nothing
        is left open. Returns within about a second even then."""
        rt = self._rt
        first, conn = rt.begin_close()
        self.closed = True
        if not first:
            return
        try:
            if conn is not None:
                rt.drain(conn, CLOSE_WAIT)
                self._call(_M.CONNECTION_CLOSE, partial(rt.dispose, conn))
        finally:
            rt.release()

    # -- session state -------------------------------------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        conn = self._live()
        return bool(self._call(_M.CONNECTION_AUTOCOMMIT, partial(self._rt.driver.get_autocommit, conn)))

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._set_field(SessionField.AUTOCOMMIT, bool(value), _M.CONNECTION_AUTOCOMMIT_SETTER)

    @property
    def read_only(self) -> bool:
        conn = self._live()
        return bool(self._call(_M.CONNECTION_IS_READ_ONLY, partial(self._rt.driver.get_read_only, conn)))

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._set_field(SessionField.READ_ONLY, bool(value), _M.CONNECTION_SET_READ_ONLY)

    @property
    def isolation_level(self) -> str | None:
        """The transaction isolation level as a canonical name (``"READ COMMITTED"``, ...); None = server default."""
        conn = self._live()
        result = self._call(_M.CONNECTION_ISOLATION_LEVEL, partial(self._rt.driver.get_isolation_level, conn))
        return None if result is None else str(result)

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        level = None if value is None else _canonical_isolation(value)
        self._set_field(SessionField.ISOLATION_LEVEL, level, _M.CONNECTION_SET_ISOLATION_LEVEL)

    def set_autocommit(self, value: bool) -> None:
        self.autocommit = value

    def set_read_only(self, value: bool) -> None:
        self.read_only = value

    def _set_field(self, field: SessionField, value: object, method: DbApiMethod) -> None:
        # rt.set_field reads the current connection when it runs: a plugin may have switched it meanwhile
        self._call(method, partial(self._rt.set_field, field, value))

    # -- plumbing ------------------------------------------------------------------------------------------------
    def _live(self) -> Any:
        conn = self._rt.current_connection
        if self.closed or conn is None:
            raise InterfaceError("the connection is closed")
        return conn

    def _call(self, method: DbApiMethod, call: Callable[[], Any]) -> Any:
        rt = self._rt
        return rt.run_call(method, rt.current_connection, call)

    def plugin(self, cls: type[P]) -> P | None:
        """The plugin instance of class ``cls`` in this connection's pipeline, if any."""
        for plugin in self._rt.plugins:
            if isinstance(plugin, cls):
                return plugin
        return None

    def tpc_begin(self, xid: Any) -> None:
        self._call(_M.CONNECTION_TPC_BEGIN, partial(self._live().tpc_begin, xid))

    def tpc_prepare(self) -> None:
        self._call(_M.CONNECTION_TPC_PREPARE, self._live().tpc_prepare)

    def tpc_commit(self, xid: Any = None) -> None:
        conn = self._live()
        self._call(
            _M.CONNECTION_TPC_COMMIT, conn.tpc_commit if xid is None else partial(conn.tpc_commit, xid)
        )

    def tpc_rollback(self, xid: Any = None) -> None:
        conn = self._live()
        self._call(
            _M.CONNECTION_TPC_ROLLBACK, conn.tpc_rollback if xid is None else partial(conn.tpc_rollback, xid)
        )

    def tpc_recover(self) -> Any:
        return self._call(_M.CONNECTION_TPC_RECOVER, self._live().tpc_recover)

    def __enter__(self) -> AwsWrapperConnection:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """psycopg semantics on PostgreSQL (commit on success, roll back on error, then close); on MySQL, like
        mysql-connector, roll back an open transaction and close."""
        try:
            if not self.closed and not self.is_closed:
                in_tx = self._rt.is_in_transaction()
                if in_tx and exc_type is None and self._rt.driver.engine == "pg":
                    self.commit()
                elif in_tx:
                    self.rollback()
        finally:
            self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_rt", "closed"):
            raise AttributeError(name)
        rt = self._rt
        conn = rt.current_connection
        field = rt.session.fields.get(name)
        if field is not None and not isinstance(field, AttributeSessionField):
            # a custom session field: its value on the current driver connection (recorded one without ``read``)
            if field.read is None or conn is None:
                return rt.session.peek(field).value
            return field.read(self._live())
        if conn is None:
            raise AttributeError(name)
        return getattr(conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Attributes the wrapper defines (its properties such as ``autocommit``, its methods, ``closed``, every
        name starting with ``_`` and any attribute already in the instance dict) are set on the wrapper.

        Any other assignment is session state: a custom session field of that name is set
        (``CustomSessionField``); otherwise the attribute is assigned on the current driver connection
        (``conn.row_factory = dict_row``) and again on every new physical connection after a switch (failover,
        read/write split), and its pristine value is restored before close. Not on the query path: nothing the
        wrapper does per call assigns an attribute of the connection."""
        if name[:1] == "_" or name == "closed" or hasattr(type(self), name) or name in self.__dict__:
            object.__setattr__(self, name, value)
            return
        rt = self._rt
        field = rt.session.fields.get(name)
        rt.set_field(AttributeSessionField.of(name) if field is None else field, value)

    def __repr__(self) -> str:
        host = self._rt.current_host
        state = "closed" if self.closed else f"on {host.url if host else '?'}"
        return f"<AwsWrapperConnection {self._rt.driver.code} {state}>"


def open_runtime(
    target: Callable[..., Any] | None,
    conninfo: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    driver_for: Callable[[Callable[..., Any], str | None], DriverDialect],
    chains: ModuleType | None = None,
) -> Runtime:
    """Everything a wrapper connection's ``connect`` does, sync or async: check the arguments, parse the settings,
    load the plugins, open and install the first physical connection and read the topology. On failure nothing
    is left open. (An async connection runs this on a worker thread; its driver calls go to its event loop.)"""
    if target is None:
        raise ConfigurationError(
            "a target driver connect function is required, e.g. psycopg.Connection.connect"
        )
    if not callable(target):
        raise ConfigurationError(f"target must be the driver's connect function, got {target!r}")
    if args:
        raise ConfigurationError("connect() takes the target, a conninfo string and keyword arguments only")
    props: dict[str, Any] = parse_conninfo(conninfo)
    props.update(kwargs)
    config = CoreConfig.parse(props)
    driver = driver_for(target, config.wrapper_driver_dialect)
    factories = REGISTRY.resolve(config.plugins, auto_sort=config.auto_sort)
    rt = (
        Runtime(target, props, config, driver)
        if chains is None
        else Runtime(target, props, config, driver, chains)
    )
    rt.install_plugins(factories)
    try:
        rt.pipelines.init_host_provider(rt.props)
        if rt.current_connection is None:
            conn = rt.open_initial()
            if conn is None:
                raise AwsConnectError(f"no connection could be opened to {rt.initial_host.url!r}")
            rt.set_current(conn, rt.current_host or rt.reached_host(conn) or rt.initial_host)
        try:
            rt.refresh()
        except Exception as exc:  # a topology that cannot be read yet must not fail the connect
            logger.debug("initial topology refresh failed: %s", exc)
    except BaseException:
        try:
            close_runtime(rt)  # closes a physical connection already installed, and releases the plugins
        except Exception as exc:
            logger.debug("cleanup after a failed connect failed: %s", exc)
        raise
    return rt


def close_runtime(rt: Runtime) -> None:
    """Close a wrapper connection's physical connection and release its plugins, outside any pipeline (after a
    failed connect, or an async connection cancelled while it connected). The first close wins."""
    first, conn = rt.begin_close()
    if not first:
        return
    try:
        if conn is not None:
            rt.drain(conn, CLOSE_WAIT)
            rt.dispose(conn)
    finally:
        rt.release()


def _canonical_isolation(value: object) -> str:
    name = " ".join(
        str(getattr(value, "name", value)).strip().upper().replace("_", " ").replace("-", " ").split()
    )
    if name not in ISOLATION_LEVELS:
        raise ConfigurationError(
            f"invalid isolation level {value!r}: expected one of {', '.join(ISOLATION_LEVELS)}"
        )
    return name


connect = AwsWrapperConnection.connect

"""Small fakes for logic tests: a DB-API-shaped in-memory driver and recording plugins.

Behaviour against real servers is tested in ``tests-integration/core``; these only exercise the wrapper's logic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core.driver import register_driver_dialect
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.methods import ALL_METHODS, NETWORK_BOUND_METHODS, DbApiMethod
from aws_wrapper.core.plugin import (
    ConnectionChange,
    ConnectProceed,
    ExecuteProceed,
    OldConnectionSuggestion,
    Plugin,
    PluginFactory,
    RawConnection,
)
from aws_wrapper.core.registry import PluginRegistry
from aws_wrapper.core.services import PluginContext

T = TypeVar("T")
#: ``use_registry(*factories)``: the fixture that makes ``connect`` resolve plugins from only those factories.
UseRegistry = Callable[..., PluginRegistry]


class FakeNetworkError(Exception):
    """What the fake driver raises for a lost connection."""


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self.connection = conn
        self.closed = False
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.description: list[tuple[str, ...]] | None = None
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, query: str, params: Any = None) -> FakeCursor:
        conn = self.connection
        conn.check_open()
        conn.log.append(f"execute {query}")
        conn.statements.append((query, params))
        if not conn.autocommit:
            conn.in_tx = True
        if query.startswith("SELECT"):
            self._rows = [(1,)] if params is None else [tuple(params)]
            self.description = [("col",)]
            self.rowcount = len(self._rows)
        else:
            self._rows = []
            self.description = None
            self.rowcount = 1
        return self

    def executemany(self, query: str, params_seq: Sequence[Any]) -> None:
        for params in params_seq:
            self.execute(query, params)
        self.rowcount = len(params_seq)

    def fetchone(self) -> tuple[Any, ...] | None:
        self.connection.check_open()
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self) -> None:
        self.closed = True


class FakeConnection:
    """Session fields are plain attributes; ``log`` records what the wrapper did to it."""

    def __init__(self, host: str, port: int, **kwargs: Any) -> None:
        self.lock = threading.Lock()
        self.host = host
        self.port = port
        self.kwargs = kwargs
        self.closed = False
        self.autocommit = False
        self.read_only = False
        self.isolation_level: str | None = None
        self.in_tx = False
        self.log: list[str] = []
        self.statements: list[tuple[str, Any]] = []
        self.custom_attribute = "delegated"

    def check_open(self) -> None:
        if self.closed:
            raise FakeNetworkError("connection is closed")

    def cursor(self, *args: Any, **kwargs: Any) -> FakeCursor:
        self.check_open()
        return FakeCursor(self)

    def commit(self) -> None:
        self.check_open()
        self.log.append("commit")
        self.in_tx = False

    def rollback(self) -> None:
        self.check_open()
        self.log.append("rollback")
        self.in_tx = False

    def close(self) -> None:
        self.log.append(
            f"close autocommit={self.autocommit} read_only={self.read_only} isolation={self.isolation_level}"
        )
        self.closed = True


class FakeDriver:
    """Connections made by this module's :func:`fake_connect`."""

    def __init__(self) -> None:
        self.connected: list[FakeConnection] = []
        self.fail_next_connect: BaseException | None = None

    @property
    def code(self) -> str:
        return "fake"

    @property
    def engine(self) -> str:
        return "pg"

    @property
    def default_port(self) -> int:
        return 5432

    @property
    def network_bound_methods(self) -> frozenset[DbApiMethod]:
        return NETWORK_BOUND_METHODS

    @property
    def errors(self) -> FakeClassifier:
        return FakeClassifier()

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        return connect_func is fake_connect

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        args = dict(props)
        args["host"] = host.host
        args["port"] = host.port
        if config.database is not None:
            args["dbname"] = config.database
        return args

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        error, self.fail_next_connect = self.fail_next_connect, None
        if error is not None:
            raise error
        conn = connect_func(**args)
        self.connected.append(conn)
        return conn

    def connection_of(self, cursor: object) -> RawConnection:
        assert isinstance(cursor, FakeCursor)
        return cursor.connection

    def is_closed(self, conn: RawConnection) -> bool:
        return bool(conn.closed)

    def is_in_transaction(self, conn: RawConnection) -> bool:
        return bool(conn.in_tx)

    def get_autocommit(self, conn: RawConnection) -> bool:
        return bool(conn.autocommit)

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        conn.log.append(f"set autocommit={value}")
        conn.autocommit = value

    def get_read_only(self, conn: RawConnection) -> bool:
        return bool(conn.read_only)

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        conn.log.append(f"set read_only={value}")
        conn.read_only = value

    def get_isolation_level(self, conn: RawConnection) -> str | None:
        level: str | None = conn.isolation_level
        return level

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None:
        conn.log.append(f"set isolation={level}")
        conn.isolation_level = level

    @property
    def serializes_calls(self) -> bool:
        return True  # like psycopg: each fake connection has a lock

    def connection_lock(self, conn: RawConnection) -> Any:
        return conn.lock

    def supports_abort(self, conn: RawConnection) -> bool:
        return True

    def abort(self, conn: RawConnection) -> None:
        conn.closed = True

    def close(self, conn: RawConnection) -> None:
        if not conn.closed:
            conn.close()

    def rollback(self, conn: RawConnection) -> None:
        conn.rollback()

    def query(
        self, conn: RawConnection, sql: str, params: Sequence[object] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        return [(1,)]

    def ping(self, conn: RawConnection, timeout: float) -> bool:
        return not conn.closed


class FakeClassifier:
    def is_network_error(self, error: BaseException) -> bool:
        return isinstance(error, FakeNetworkError)

    def is_login_error(self, error: BaseException) -> bool:
        return False

    def is_read_only_error(self, error: BaseException) -> bool:
        return False


def fake_connect(**kwargs: Any) -> FakeConnection:
    """The fake driver's connect function (the ``target`` of ``AwsWrapperConnection.connect``)."""
    return FakeConnection(**kwargs)


FAKE_DRIVER = FakeDriver()
_installed = False


def install_fake_driver() -> FakeDriver:
    """Make ``fake_connect`` a known driver (once per process) and return its dialect."""
    global _installed
    if not _installed:
        register_driver_dialect(FAKE_DRIVER)
        _installed = True
    FAKE_DRIVER.connected.clear()
    FAKE_DRIVER.fail_next_connect = None
    return FAKE_DRIVER


# -- plugins ------------------------------------------------------------------------------------------------------


def recording_factory(
    name: str,
    weight: int,
    log: list[str],
    methods: frozenset[DbApiMethod] = ALL_METHODS,
    *,
    default: bool = False,
    abi: int | tuple[int, int] | None = None,
) -> type[PluginFactory]:
    """A factory whose plugin logs ``name:before:<method>`` / ``name:after:<method>`` around calls and
    ``name:connect`` around connects."""

    class RecordingPlugin(Plugin):
        subscribed_methods = methods

        def __init__(self, context: PluginContext) -> None:
            self.context = context

        def execute(
            self, method: DbApiMethod, target: object, call: Callable[[], T], proceed: ExecuteProceed
        ) -> T:
            log.append(f"{name}:before:{method.api_name}")
            try:
                return proceed(target, call)
            finally:
                log.append(f"{name}:after:{method.api_name}")

        def connect(
            self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
        ) -> RawConnection:
            log.append(f"{name}:connect:{host.url}:{initial}")
            try:
                return proceed(host, props, initial)
            finally:
                log.append(f"{name}:connected")

    class RecordingFactory(PluginFactory):
        code = name

        def create(self, context: PluginContext) -> Plugin:
            return RecordingPlugin(context)

    RecordingFactory.weight = weight
    RecordingFactory.default = default
    if abi is not None:
        RecordingFactory.abi = abi
    RecordingFactory.__name__ = f"{name}Factory"
    return RecordingFactory


def registry_with(*factories: type[PluginFactory]) -> PluginRegistry:
    """A registry that sees only ``factories`` (an entry-point group nobody declares)."""
    registry = PluginRegistry(group="aws_wrapper.tests.no_such_group")
    for factory in factories:
        registry.register(factory)
    return registry


class ContextPlugin(Plugin):
    """Keeps its :class:`PluginContext` so a test can drive the runtime (e.g. switch the connection)."""

    answer = OldConnectionSuggestion.NO_OPINION

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        self.changes: list[frozenset[ConnectionChange]] = []

    def switch(self, host: HostInfo | None = None) -> RawConnection:
        """Open a new physical connection (through the connect pipeline) and make it the current one."""
        target = host or self.context.connection.initial_host
        conn = self.context.connector.connect(target)
        self.context.connection.set_current(conn, target)
        return conn

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        self.changes.append(changes)
        return self.answer


class ContextPluginFactory(PluginFactory):
    code = "test_context"

    def create(self, context: PluginContext) -> Plugin:
        return ContextPlugin(context)

"""Small fakes of the narrow core services, for logic tests of the failover plugins.

Behaviour against real servers is tested in ``tests-integration/failover``; these only exercise the logic.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core._selection import HostSelection
from aws_wrapper.core.hostinfo import HostAvailability, HostInfo, HostRole
from aws_wrapper.core.methods import NETWORK_BOUND_METHODS, DbApiMethod
from aws_wrapper.core.plugin import ConnectionChange, HostChange, Plugin, RawConnection
from aws_wrapper.core.services import CallMark, PluginContext, SessionField
from aws_wrapper.core.session_state import ConnectionSwitch, CustomSessionField, SessionKey
from aws_wrapper.core.storage import STORAGE


class FakeNetworkError(Exception):
    """What the fake classifier calls a network error."""


class FakeLoginError(Exception):
    pass


class FakeReadOnlyError(Exception):
    pass


class FakeSqlError(Exception):
    """An ordinary SQL error (syntax, constraint): never handled by failover."""


@dataclass(eq=False)
class FakeConn:
    host: HostInfo
    role: HostRole
    closed: bool = False
    aborted: bool = False
    in_tx: bool = False
    autocommit: bool = True
    rolled_back: int = 0

    def __hash__(self) -> int:
        return id(self)


class FakeClassifier:
    def is_network_error(self, error: BaseException) -> bool:
        return isinstance(error, FakeNetworkError) or isinstance(error.__cause__, FakeNetworkError)

    def is_login_error(self, error: BaseException) -> bool:
        return isinstance(error, FakeLoginError)

    def is_read_only_error(self, error: BaseException) -> bool:
        return isinstance(error, FakeReadOnlyError)


class FakeDriver:
    code = "fake"
    engine = "pg"
    default_port = 5432
    network_bound_methods = NETWORK_BOUND_METHODS
    errors = FakeClassifier()

    def is_closed(self, conn: FakeConn) -> bool:
        return conn.closed

    def is_in_transaction(self, conn: FakeConn) -> bool:
        return conn.in_tx

    def rollback(self, conn: FakeConn) -> None:
        if conn.closed:
            raise FakeNetworkError("closed")
        conn.rolled_back += 1
        conn.in_tx = False

    def close(self, conn: FakeConn) -> None:
        conn.closed = True

    def abort(self, conn: FakeConn) -> None:
        conn.aborted = True
        conn.closed = True


@dataclass
class Server:
    """How a fake host answers a connection attempt."""

    role: HostRole = HostRole.READER
    down: bool = False  # refuses at once
    hang: float = 0.0  # seconds before answering (a blackholed host: raise after the hang)
    login_error: bool = False


class World:
    """A fake cluster and the services of one wrapper connection on it."""

    def __init__(self, hosts: Sequence[HostInfo], *, initial: HostInfo | None = None, **props: Any) -> None:
        self.marks: dict[int, CallMark] = {}
        self.lock = threading.Lock()
        self.hosts: tuple[HostInfo, ...] = tuple(hosts)
        self.servers: dict[str, Server] = {h.url: Server(role=h.role) for h in hosts}
        self.props: dict[str, Any] = dict(props)
        self.driver = FakeDriver()
        self.initial_host = initial or hosts[0].with_(host_id=None)
        self.current: FakeConn | None = None
        self.current_host: HostInfo | None = None
        self.switches: list[tuple[FakeConn, HostInfo]] = []
        self.attempts: list[tuple[float, str, Mapping[str, Any]]] = []
        self.opened: list[FakeConn] = []
        self.availability: dict[str, HostAvailability] = {}
        self.force_refreshes: list[tuple[bool, float]] = []
        self.verify_writer: Callable[[float], Sequence[HostInfo]] | None = None  # custom force_refresh(True)
        self.read_only_session: object | None = None
        self.set_current_error: Exception | None = None
        self.closed = False  # the wrapper connection was closed (close() from another thread)
        self.host_list_listeners: list[Plugin] = []
        self.connection_listeners: list[Plugin] = []
        self.connector = _Connector(self)
        self._context: PluginContext | None = None

    # -- the cluster ----------------------------------------------------------------------------------------
    def server(self, host: HostInfo | str) -> Server:
        return self.servers[host if isinstance(host, str) else host.url]

    def promote(self, url: str) -> None:
        """``url`` becomes the writer, every other host a reader (the topology follows)."""
        for key, server in self.servers.items():
            server.role = HostRole.WRITER if key == url else HostRole.READER
        self.hosts = tuple(
            h.with_(role=HostRole.WRITER if h.url == url else HostRole.READER, last_update=time.time())
            for h in self.hosts
        )

    def open(self, host: HostInfo, props: Mapping[str, Any] | None = None) -> FakeConn:
        with self.lock:
            self.attempts.append((time.monotonic(), host.url, dict(props or {})))
        server = self.servers.get(host.url) or Server(role=HostRole.WRITER)
        if server.hang:
            time.sleep(server.hang)
            raise FakeNetworkError(f"connect to {host.url} timed out")
        if server.down:
            raise FakeNetworkError(f"connection to {host.url} refused")
        if server.login_error:
            raise FakeLoginError("password authentication failed")
        conn = FakeConn(host, server.role)
        with self.lock:
            self.opened.append(conn)
        return conn

    def connect_current(self, host: HostInfo | None = None) -> FakeConn:
        target = host or self.hosts[0]
        conn = self.open(target)
        self.current, self.current_host = conn, target
        return conn

    # -- PluginContext ----------------------------------------------------------------------------------------
    def context(self) -> PluginContext:
        if self._context is None:
            self._context = self._make_context()
        return self._context

    def _make_context(self) -> PluginContext:
        return PluginContext(
            props=self.props,
            config=CoreConfig.parse(self.props),
            connection=_Connection(self),
            topology=_Topology(self),
            connector=self.connector,
            dialects=_Dialects(self),
            session_state=_Session(self),
            storage=STORAGE,
            monitors=None,  # type: ignore[arg-type]  # not used by these plugins
            selection=HostSelection(lambda: Pipelines(()), lambda: self.hosts, self.props),
        )


class _Connection:
    def __init__(self, world: World) -> None:
        self.w = world

    @property
    def current_connection(self) -> RawConnection | None:
        return self.w.current

    @property
    def current_host(self) -> HostInfo | None:
        return self.w.current_host

    @property
    def initial_host(self) -> HostInfo:
        return self.w.initial_host

    @initial_host.setter
    def initial_host(self, host: HostInfo) -> None:
        self.w.initial_host = host

    def set_current(self, conn: RawConnection, host: HostInfo) -> None:
        if self.w.set_current_error is not None:
            error, self.w.set_current_error = self.w.set_current_error, None
            raise error
        old = self.w.current
        self.w.current, self.w.current_host = conn, host
        self.w.switches.append((conn, host))
        if old is not None and old is not conn:
            old.closed = True
        for plugin in self.w.connection_listeners:
            plugin.notify_connection_changed(frozenset({ConnectionChange.CONNECTION_OBJECT_CHANGED}))

    def is_in_transaction(self) -> bool:
        return self.w.current is not None and self.w.current.in_tx

    def abort(self, conn: RawConnection) -> None:
        self.w.driver.abort(conn)

    @property
    def closed(self) -> bool:
        return self.w.closed

    @property
    def call_mark(self) -> CallMark | None:
        """What core keeps for a plugin with ``marks_calls`` (one mark per physical connection)."""
        conn = self.w.current
        if conn is None:
            return None
        mark = self.w.marks.get(id(conn))
        if mark is None:
            mark = self.w.marks[id(conn)] = CallMark(conn)
        return mark

    def hold(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def wait_closed(self, timeout: float) -> bool:
        if not self.w.closed and timeout > 0:
            time.sleep(timeout)
        return self.w.closed


class _Topology:
    def __init__(self, world: World) -> None:
        self.w = world
        self._seen: tuple[HostInfo, ...] = world.hosts

    @property
    def hosts(self) -> tuple[HostInfo, ...]:
        return tuple(
            h.with_(availability=self.w.availability.get(h.url, HostAvailability.AVAILABLE))
            for h in self._seen
        )

    @property
    def provider(self) -> Any:
        return _Provider(self)

    @provider.setter
    def provider(self, provider: Any) -> None:
        raise NotImplementedError

    def _update(self) -> tuple[HostInfo, ...]:
        old = {h.url: h for h in self._seen}
        self._seen = self.w.hosts
        changes: dict[str, frozenset[HostChange]] = {}
        for h in self._seen:
            before = old.get(h.url)
            if before is not None and before.role is not h.role:
                kind = (
                    HostChange.CONVERTED_TO_WRITER
                    if h.role is HostRole.WRITER
                    else HostChange.CONVERTED_TO_READER
                )
                changes[h.url] = frozenset({kind})
        if changes:
            for plugin in self.w.host_list_listeners:
                plugin.notify_host_list_changed(changes)
        return self.hosts

    def refresh(self) -> tuple[HostInfo, ...]:
        return self._update()

    def force_refresh(self, *, verify_writer: bool = False, timeout: float = 5.0) -> tuple[HostInfo, ...]:
        self.w.force_refreshes.append((verify_writer, timeout))
        if verify_writer and self.w.verify_writer is not None:
            self.w.hosts = tuple(self.w.verify_writer(timeout))
        return self._update()

    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        for h in self.w.hosts:
            if h.url == conn.host.url:
                return h
        return None

    def get_host_role(self, conn: RawConnection) -> HostRole:
        if conn.closed:
            raise FakeNetworkError("connection closed")
        role: HostRole = self.w.server(conn.host).role if conn.host.url in self.w.servers else conn.role
        return role

    def set_availability(self, aliases: Iterable[str], availability: HostAvailability) -> None:
        for alias in aliases:
            self.w.availability[alias] = availability


class _Provider:
    def __init__(self, topology: _Topology) -> None:
        self.t = topology

    cluster_id = "fake-cluster"
    is_static = False

    def refresh(self, conn: RawConnection | None) -> Sequence[HostInfo]:
        return self.t.w.hosts

    def force_refresh(
        self, conn: RawConnection | None, *, verify_writer: bool, timeout: float
    ) -> Sequence[HostInfo]:
        return self.t.w.hosts


class _Connector:
    def __init__(self, world: World) -> None:
        self.w = world
        self.skips: list[Plugin | None] = []
        self.reached: dict[int, HostInfo] = {}

    def connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        self.skips.append(skip)
        return self.w.open(host, props)

    force_connect = connect

    def report_reached(self, conn: RawConnection, host: HostInfo) -> None:
        self.reached[id(conn)] = host

    def reached_host(self, conn: RawConnection) -> HostInfo | None:
        return self.reached.get(id(conn))


class _Dialects:
    def __init__(self, world: World) -> None:
        self.w = world

    @property
    def driver(self) -> Any:
        return self.w.driver

    @property
    def database(self) -> Any:
        raise NotImplementedError

    @property
    def errors(self) -> FakeClassifier:
        return self.w.driver.errors


class _Session:
    def __init__(self, world: World) -> None:
        self.w = world

    def current(self, field_: SessionKey) -> object | None:
        return self.w.read_only_session if field_ is SessionField.READ_ONLY else None

    def pristine(self, field_: SessionKey) -> object | None:
        return None

    # ABI 1.1 (not used by these plugins)
    def is_changed(self, field_: SessionKey) -> bool:
        return self.current(field_) is not None

    def register_field(self, field_: CustomSessionField) -> None:
        pass

    def set_field(self, field_: SessionKey, value: object) -> None:
        pass

    def record(self, field_: SessionKey, value: object, *, pristine: object = None) -> None:
        pass

    @property
    def last_switch(self) -> ConnectionSwitch | None:
        return None


def cluster(n: int = 3, port: int = 5432) -> list[HostInfo]:
    """``n`` instances ``10.0.0.1..n`` (loopback-free names are fine: nothing connects), the first the writer."""
    return [
        HostInfo(
            f"instance-{i}",
            port,
            HostRole.WRITER if i == 1 else HostRole.READER,
            host_id=f"instance-{i}",
            last_update=time.time(),
        )
        for i in range(1, n + 1)
    ]


def raising(error: BaseException) -> Callable[[object, Callable[[], Any]], Any]:
    """A ``proceed`` continuation whose driver call fails with ``error``."""

    def proceed(target: object, call: Callable[[], Any]) -> Any:
        raise error

    return proceed


def passing(target: object, call: Callable[[], Any]) -> Any:
    return call()


@dataclass
class Timer:
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


_ = DbApiMethod  # re-exported for the tests' convenience

"""Small fakes for the logic tests of the monitor and the plugin: a host whose answers the test controls, a driver
dialect that talks to it, and a plugin context. Real drivers and servers are exercised in tests-integration/efm."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, cast

from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core._selection import HostSelection
from aws_wrapper.core.driver import DriverDialect
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.methods import NETWORK_BOUND_METHODS, DbApiMethod
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.core.plugin import Plugin, RawConnection
from aws_wrapper.core.services import CallMark, PluginContext
from aws_wrapper.core.storage import STORAGE


class FakeHost:
    """A database host. ``silent``: it answers nothing (like a blackholed proxy); ``refuse``: connects fail at
    once. ``release()`` ends every simulated wait (test teardown)."""

    def __init__(self, name: str = "db-1", port: int = 5432) -> None:
        self.info = HostInfo(name, port)
        self.silent = False
        self.refuse = False
        self.login_fails = False
        self.connect_time = 30.0  # how long a connect to a silent host hangs
        self.opened = 0
        self.pings = 0
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def open(self) -> FakeConnection:
        if self.refuse:
            raise ConnectionRefusedError(f"{self.info.url} refused the connection")
        if self.login_fails:
            raise PermissionError(f"{self.info.url}: password authentication failed")
        if self.silent:
            self._released.wait(self.connect_time)
            raise TimeoutError(f"connect to {self.info.url} timed out")
        self.opened += 1
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.broken = threading.Event()
        self.closed = False

    def wait_aborted(self, timeout: float) -> float | None:
        """Block like a query on this connection; return when it was aborted (monotonic time) or None."""
        return time.monotonic() if self.broken.wait(timeout) else None


class FakeErrors:
    """Network errors of the fake driver: timeouts and refused or reset connections."""

    def is_network_error(self, error: BaseException) -> bool:
        return isinstance(error, (TimeoutError, ConnectionError))

    def is_login_error(self, error: BaseException) -> bool:
        return isinstance(error, PermissionError)

    def is_read_only_error(self, error: BaseException) -> bool:
        return False


class FakeDriver:
    """The parts of a driver dialect the monitor and the plugin use."""

    errors = FakeErrors()

    code = "fake"
    engine = "pg"
    default_port = 5432

    def __init__(self, *, abortable: bool = True) -> None:
        self.abortable = abortable
        self.aborted: list[FakeConnection] = []
        self.closed: list[FakeConnection] = []
        self._lock = threading.Lock()

    @property
    def network_bound_methods(self) -> frozenset[DbApiMethod]:
        return NETWORK_BOUND_METHODS - {DbApiMethod.CONNECTION_CLOSE}

    @property
    def serializes_calls(self) -> bool:
        return False

    def connection_lock(self, conn: RawConnection) -> Any:
        return None

    def supports_abort(self, conn: RawConnection) -> bool:
        return self.abortable

    def ping(self, conn: RawConnection, timeout: float) -> bool:
        fake: FakeConnection = conn
        fake.host.pings += 1
        if fake.broken.is_set() or fake.closed:
            return False
        if fake.host.silent:
            fake.broken.wait(timeout)
            fake.broken.set()  # a real dialect aborts a probe that timed out
            return False
        return True

    def abort(self, conn: RawConnection) -> None:
        fake: FakeConnection = conn
        with self._lock:
            self.aborted.append(fake)
        fake.broken.set()

    def close(self, conn: RawConnection) -> None:
        fake: FakeConnection = conn
        fake.closed = True
        with self._lock:
            self.closed.append(fake)

    def as_dialect(self) -> DriverDialect:
        return cast(DriverDialect, self)


class FakeOpener:
    """Opens monitoring connections to one fake host (what the plugin does through the pipeline)."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def open_monitoring_connection(self, host: HostInfo) -> RawConnection:
        return self.host.open()


class _Provider:
    def __init__(self, static: bool, identified: HostInfo | None) -> None:
        self.is_static = static
        self.identified = identified


class FakeRuntime:
    """Plays every service of a plugin context that the EFM plugin touches."""

    def __init__(
        self,
        driver: FakeDriver,
        hosts: Mapping[str, FakeHost],
        *,
        static: bool = True,
        identified: HostInfo | None = None,
    ) -> None:
        self.fake_driver = driver
        self.fake_hosts = dict(hosts)
        self.provider = _Provider(static, identified)
        self.current_connection: FakeConnection | None = None
        self.current_host: HostInfo | None = None
        #: What core keeps for a plugin with ``marks_calls``: a new mark per physical connection.
        self.call_mark: CallMark | None = None
        self.force_connects: list[tuple[HostInfo, dict[str, Any]]] = []

    # DialectService
    @property
    def driver(self) -> DriverDialect:
        return self.fake_driver.as_dialect()

    # TopologyService
    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        return self.provider.identified

    # ConnectorService
    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        self.force_connects.append((host, dict(props or {})))
        return self.fake_hosts[host.url].open()

    def switch(self, host: FakeHost) -> FakeConnection:
        conn = host.open()
        self.current_connection, self.current_host = conn, host.info
        self.call_mark = CallMark(conn)
        return conn


def make_context(runtime: FakeRuntime, **props: Any) -> PluginContext:
    service: Any = runtime
    return PluginContext(
        props=props,
        config=CoreConfig.parse(props),
        connection=service,
        topology=service,
        connector=service,
        dialects=service,
        session_state=service,
        storage=STORAGE,
        monitors=MONITORS,
        selection=HostSelection(lambda: Pipelines(()), lambda: (), props),
    )

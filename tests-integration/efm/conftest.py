"""Fixtures of the EFM end-to-end tests: the machine's own PostgreSQL and MariaDB servers, each reached through a
fault proxy of aws-wrapper-testing so that a test can blackhole the host in the middle of a query."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, HostAvailability, release_resources
from aws_wrapper.core.conninfo import parse_conninfo
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.efm import THREAD_PREFIX
from aws_wrapper.testing import FaultProxy

#: libpq-style settings of the machine's servers (override with the environment variables).
PG_DSN = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
MYSQL_DSN = os.environ.get("AWS_WRAPPER_TEST_MYSQL_DSN", "host=127.0.0.1 port=3306 user=root database=test")

pytestmark = pytest.mark.integration


@dataclass
class Engine:
    """One database engine + driver flavour the EFM tests run against."""

    name: str
    server: dict[str, Any]
    connect: Callable[..., Any]
    driver_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pg(self) -> bool:
        return self.name == "pg"

    def sleep_sql(self, seconds: float) -> str:
        return f"SELECT pg_sleep({seconds})" if self.is_pg else f"SELECT SLEEP({seconds})"

    def kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Wrapper keywords for the server itself (no proxy); ``overrides`` win."""
        base = {k: v for k, v in self.server.items() if k not in ("host", "port")}
        base.update(self.driver_kwargs)
        base.update(host=self.server.get("host", "127.0.0.1"), port=int(self.server["port"]), autocommit=True)
        base.update(overrides)
        return base

    def wrapper(self, proxy: FaultProxy | None = None, **settings: Any) -> AwsWrapperConnection:
        """A wrapper connection (through ``proxy`` when given) with the given wrapper settings."""
        kwargs = self.kwargs(**settings)
        if proxy is not None:
            kwargs.update(host=proxy.listen_host, port=proxy.listen_port)
        return AwsWrapperConnection.connect(self.connect, **kwargs)

    def raw(self, **overrides: Any) -> Any:
        """A plain driver connection to the server (administration in tests)."""
        return self.connect(**self.kwargs(**overrides))

    def is_network_error(self, error: BaseException) -> bool:
        """What the driver raises for a connection aborted under a blocked call."""
        if self.is_pg:
            import psycopg

            return isinstance(error, psycopg.OperationalError) and "consuming input failed" in str(error)
        return getattr(error, "errno", None) in (2013, 2055)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 2):
            return True
    except OSError:
        return False


def _pg_engine() -> Engine:
    psycopg = pytest.importorskip("psycopg")
    server: dict[str, Any] = dict(parse_conninfo(PG_DSN))
    server.setdefault("port", 5432)
    if not _reachable(str(server.get("host", "127.0.0.1")), int(server["port"])):
        pytest.skip(f"no PostgreSQL server at {PG_DSN!r} (set AWS_WRAPPER_TEST_PG_DSN)")
    # An aborted client's pg_sleep would otherwise hold a server slot until it ends (the machine's server is shared).
    return Engine("pg", server, psycopg.Connection.connect, {"options": "-c client_connection_check_interval=500"})


def _mysql_engine(pure: bool) -> Engine:
    connector = pytest.importorskip("mysql.connector")
    server: dict[str, Any] = dict(parse_conninfo(MYSQL_DSN))
    server.setdefault("port", 3306)
    if not _reachable(str(server.get("host", "127.0.0.1")), int(server["port"])):
        pytest.skip(f"no MySQL/MariaDB server at {MYSQL_DSN!r} (set AWS_WRAPPER_TEST_MYSQL_DSN)")
    if not pure:
        try:
            import mysql.connector.connection_cext  # noqa: F401
        except ImportError:
            pytest.skip("mysql-connector's C extension is not available")
    return Engine("mysql-pure" if pure else "mysql-cext", server, connector.connect, {"use_pure": pure})


@pytest.fixture(params=["pg", "mysql-pure", "mysql-cext"])
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "pg":
        return _pg_engine()
    return _mysql_engine(request.param == "mysql-pure")


@pytest.fixture
def pg_engine() -> Engine:
    return _pg_engine()


@pytest.fixture
def mysql_engine() -> Engine:
    return _mysql_engine(True)


@pytest.fixture
def proxy(engine: Engine) -> Iterator[FaultProxy]:
    """A fault proxy on 127.0.0.1 (free port) in front of ``engine``'s server."""
    server = engine.server
    fault = FaultProxy("127.0.0.1", 0, str(server.get("host", "127.0.0.1")), int(server["port"])).start()
    try:
        yield fault
    finally:
        fault.stop()
        AVAILABILITY.set({f"127.0.0.1:{fault.listen_port}"}, HostAvailability.AVAILABLE)


def efm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Each test ends as an application should: release_resources(); then no EFM thread may be left."""
    yield
    release_resources()
    assert wait_for(lambda: not efm_threads(), 3.0), f"efm threads left: {efm_threads()}"


def select_one(conn: AwsWrapperConnection) -> None:
    """Run ``SELECT 1`` and read its result (mysql-connector refuses the next statement while a result is unread)."""
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall()[0][0] == 1
    cur.close()

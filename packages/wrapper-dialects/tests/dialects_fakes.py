"""A small in-memory cluster that answers the Aurora PostgreSQL dialect's queries (logic tests only; behaviour
against real servers is tested in ``tests-integration/dialects``)."""

from __future__ import annotations

import datetime
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.plugin import Plugin, RawConnection
from aws_wrapper.core.services import ErrorClassifier, HostListContext
from aws_wrapper.core.storage import STORAGE
from aws_wrapper.dialects import AURORA_PG, Dialect


class FakeNetworkError(ConnectionError):
    """A lost or refused connection (a ``ConnectionError``: core's classifiers count it as network)."""


class FakeServerError(Exception):
    """A query the server rejects."""


class FakeCluster:
    """Instances named by id; reachable as host ``<id>`` on port 5432. The writer answers writer queries."""

    def __init__(self, ids: Sequence[str] = ("a", "b", "c"), writer: str | None = "a") -> None:
        self.lock = threading.Lock()
        self.ids = list(ids)
        self.writer = writer
        self.reported_writer: str | None = None  # what the topology says (None: the real writer)
        self.down: set[str] = set()
        self.silent: set[str] = set()  # queries on these hosts block until the connection is aborted
        self.queries: Counter[str] = Counter()
        self.connects: Counter[str] = Counter()
        self.extra: dict[str, list[tuple[Any, ...]] | Exception] = {}
        self.topology_latency = 0.0  # seconds a topology query takes (outside the lock)

    def reported(self) -> str | None:
        return self.reported_writer if self.reported_writer is not None else self.writer

    def answer(self, instance: str, sql: str, dialect: Dialect) -> list[tuple[Any, ...]]:
        if self.topology_latency and sql == dialect.topology_query:
            time.sleep(self.topology_latency)
        with self.lock:
            self.queries[sql] += 1
            extra = self.extra.get(sql)
            writer = self.reported()
            now = datetime.datetime.now(datetime.timezone.utc)
            if isinstance(extra, Exception):
                raise extra
            if extra is not None:
                return list(extra)
            if sql == dialect.topology_query:
                return [(i, i == writer, 10.0, 0.0 if i == writer else 200.0, now) for i in self.ids]
            if sql == dialect.writer_id_query:
                return [(instance,)] if instance == writer and instance == self.writer else []
            if sql == dialect.is_reader_query:
                return [(instance != self.writer,)]
            if sql == dialect.host_id_query:
                return [(instance, instance)]
            raise FakeServerError(f"unexpected query {sql!r}")


class FakeConn:
    def __init__(self, cluster: FakeCluster, instance: str) -> None:
        self.cluster = cluster
        self.instance = instance
        self.closed = False
        self.autocommit = False
        self.in_tx = False
        self.aborted = threading.Event()


class FakeDriver:
    """Just what the dialects package uses of core's ``DriverDialect``."""

    code = "psycopg"
    engine = "pg"
    default_port = 5432

    def __init__(self, dialect: Dialect = AURORA_PG) -> None:
        self.dialect = dialect
        self.rollbacks = 0

    @property
    def errors(self) -> ErrorClassifier:
        return self.dialect.errors

    def query(
        self, conn: RawConnection, sql: str, params: Sequence[object] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        fake: FakeConn = conn
        if fake.closed:
            raise FakeNetworkError("the connection is closed")
        cluster = fake.cluster
        if fake.instance in cluster.silent:
            fake.aborted.wait(timeout if timeout is not None else 30)
            fake.closed = True
            raise FakeNetworkError("consuming input failed: aborted")
        if fake.instance in cluster.down:
            fake.closed = True
            raise FakeNetworkError("server closed the connection unexpectedly")
        return cluster.answer(fake.instance, sql, self.dialect)

    def is_closed(self, conn: RawConnection) -> bool:
        return bool(conn.closed)

    def is_in_transaction(self, conn: RawConnection) -> bool:
        return bool(conn.in_tx)

    def rollback(self, conn: RawConnection) -> None:
        self.rollbacks += 1
        conn.in_tx = False

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        conn.autocommit = value

    def abort(self, conn: RawConnection) -> None:
        conn.aborted.set()
        conn.closed = True

    def close(self, conn: RawConnection) -> None:
        conn.closed = True


class FakeConnector:
    """Opens fake connections to instance ``host.host`` (refused when the instance is down)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        return self.force_connect(host, props)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        cluster = self.cluster
        with cluster.lock:
            cluster.connects[host.host] += 1
            if host.host in cluster.down or host.host not in cluster.ids:
                raise FakeNetworkError(f"connection refused: {host.host}")
        return FakeConn(cluster, host.host)

    def report_reached(self, conn: RawConnection, host: HostInfo) -> None:
        pass

    def reached_host(self, conn: RawConnection) -> HostInfo | None:
        return None


def context(
    cluster: FakeCluster,
    driver: FakeDriver,
    monitors: MonitorService,
    host: str = "a",
    **props: Any,
) -> HostListContext:
    props.setdefault("cluster_instance_host_pattern", "?")
    props.setdefault("cluster_id", "fake-cluster")
    return HostListContext(
        props={"host": host, **props},
        initial_host=HostInfo(host, 5432),
        driver=driver,  # type: ignore[arg-type]
        connector=FakeConnector(cluster),
        storage=STORAGE,
        monitors=monitors,
        aux_query_timeout=1.0,
    )

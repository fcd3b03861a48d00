"""Fixtures of the failover end-to-end tests: local Aurora clusters (aws-wrapper-testing) on both engines."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.testing import LocalCluster

pytestmark = pytest.mark.integration

#: The dialect of the local MariaDB cluster: Aurora MySQL with the topology view in a user schema.
MYSQL_DIALECT = "aurora-mysql-local"


@pytest.fixture(scope="session", autouse=True)
def _local_mysql_dialect() -> None:
    from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

    register_dialect(aurora_mysql_on_mariadb(code=MYSQL_DIALECT), replace=True)


@dataclass
class Db:
    """One engine's cluster and how the tests talk to it."""

    engine: str
    cluster: LocalCluster
    made: list[AwsWrapperConnection] = field(default_factory=list)

    @property
    def is_pg(self) -> bool:
        return self.engine == "pg"

    @property
    def driver(self) -> Callable[..., Any]:
        if self.is_pg:
            import psycopg

            return psycopg.Connection.connect
        import mysql.connector

        return mysql.connector.connect

    def settings(self, target: Any = None, via: str = "writer", **settings: Any) -> dict[str, Any]:
        info = self.cluster.conninfo(target, via=via)
        kwargs: dict[str, Any] = {
            "host": info["host"],
            "port": info["port"],
            "user": info["user"],
            "cluster_instance_host_pattern": "?",
            "connect_timeout": 3,
        }
        if self.is_pg:
            kwargs["dbname"] = info["dbname"]
        else:
            kwargs.update(database=info["database"], password="", wrapper_dialect=MYSQL_DIALECT)
        kwargs.update(settings)
        return kwargs

    def connect(self, target: Any = None, via: str = "writer", **settings: Any) -> AwsWrapperConnection:
        """A wrapper connection (through the writer endpoint by default), in autocommit mode unless told."""
        settings.setdefault("plugins", "failover")
        settings.setdefault("autocommit", True)
        conn = AwsWrapperConnection.connect(self.driver, **self.settings(target, via, **settings))
        self.made.append(conn)
        return conn

    # -- facts, asked over a connection -------------------------------------------------------------------------
    def one(self, conn: Any, sql: str) -> Any:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]

    def is_writer(self, conn: Any) -> bool:
        if self.is_pg:
            return self.one(conn, "SELECT pg_is_in_recovery()") is False
        return int(self.one(conn, "SELECT @@read_only")) == 0

    def instance(self, conn: Any) -> str:
        sql = (
            "SELECT pg_catalog.aurora_db_instance_identifier()" if self.is_pg else "SELECT @@aurora_server_id"
        )
        return str(self.one(conn, sql))

    def begin(self) -> str:
        return "BEGIN" if self.is_pg else "START TRANSACTION"

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the current writer, in the test database, outside the wrapper."""
        info = self.cluster.conninfo(self.cluster.writer)
        if self.is_pg:
            import psycopg

            with psycopg.connect(
                host=info["host"],
                port=info["port"],
                user=info["user"],
                dbname=info["dbname"],
                autocommit=True,
            ) as conn:
                cur = conn.execute(sql)
                return list(cur.fetchall()) if cur.description is not None else []
        import mysql.connector

        link: Any = mysql.connector.connect(
            host=info["host"],
            port=info["port"],
            user=info["user"],
            database=info["database"],
            autocommit=True,
        )
        try:
            cur = link.cursor()
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            link.close()

    def create_table(self, name: str) -> None:
        kind = "serial" if self.is_pg else "int auto_increment"
        self.admin(f"DROP TABLE IF EXISTS {name}")
        self.admin(f"CREATE TABLE {name} (id {kind} PRIMARY KEY, worker int, seq int, note text)")

    def close_all(self) -> None:
        for conn in self.made:
            with contextlib.suppress(Exception):
                conn.close()
        self.made.clear()


@pytest.fixture(params=["pg", "mysql"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    cluster: LocalCluster = request.getfixturevalue(f"{request.param}_cluster")
    database = Db(request.param, cluster)
    try:
        yield database
    finally:
        database.close_all()


@pytest.fixture
def pg(pg_cluster: LocalCluster) -> Iterator[Db]:
    database = Db("pg", pg_cluster)
    try:
        yield database
    finally:
        database.close_all()


@pytest.fixture(autouse=True)
def _release_after_each_test() -> Iterator[None]:
    """Every test starts without monitors, caches or hosts marked down by an earlier one."""
    yield
    release_resources()
    AVAILABILITY.clear()
    # connection attempts of a failover end with their connect timeout at the latest: nothing may linger
    deadline = time.monotonic() + 6.0
    while failover_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert failover_threads() == []


def failover_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("aws-wrapper-failover") and t.is_alive()
    ]

"""Fixtures of the asyncio end-to-end tests: async wrapper connections to the local clusters, and an event-loop
heartbeat that records how late a 10 ms timer fires while the wrapper works."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aws_wrapper.core import release_resources
from aws_wrapper.core.aio import AsyncAwsWrapperConnection
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
class AsyncDb:
    """One engine's cluster and how the async tests talk to it."""

    engine: str
    cluster: LocalCluster
    made: list[AsyncAwsWrapperConnection] = field(default_factory=list)

    @property
    def is_pg(self) -> bool:
        return self.engine == "pg"

    @property
    def driver(self) -> Any:
        if self.is_pg:
            import psycopg

            return psycopg.AsyncConnection.connect
        import mysql.connector.aio

        return mysql.connector.aio.connect

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
            # ssl_disabled: mysql.connector.aio 9.x cannot connect to a server without TLS otherwise (a driver bug)
            kwargs.update(
                database=info["database"], password="", wrapper_dialect=MYSQL_DIALECT, ssl_disabled=True
            )
        kwargs.update(settings)
        return kwargs

    async def connect(
        self, target: Any = None, via: str = "writer", **settings: Any
    ) -> AsyncAwsWrapperConnection:
        """An async wrapper connection (through the writer endpoint by default), autocommit on unless told."""
        settings.setdefault("plugins", "failover")
        autocommit = settings.pop("autocommit", True)
        conn = await AsyncAwsWrapperConnection.connect(self.driver, **self.settings(target, via, **settings))
        self.made.append(conn)
        if autocommit:
            await conn.set_autocommit(True)
        return conn

    async def one(self, conn: Any, sql: str) -> Any:
        if self.is_pg:
            from psycopg.rows import tuple_row

            cur = conn.cursor(row_factory=tuple_row)  # whatever row factory the test set on the connection
        else:
            cur = conn.cursor()
        try:
            await cur.execute(sql)
            row = await cur.fetchone()
        finally:
            await cur.close()
        return None if row is None else row[0]

    async def instance(self, conn: Any) -> str:
        sql = (
            "SELECT pg_catalog.aurora_db_instance_identifier()" if self.is_pg else "SELECT @@aurora_server_id"
        )
        return str(await self.one(conn, sql))

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the current writer, in the test database, outside the wrapper (sync driver)."""
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

    async def close_all(self) -> None:
        for conn in self.made:
            try:
                await conn.close()
            except Exception:
                pass
        self.made.clear()


class Heartbeat:
    """A task that sleeps 10 ms in a loop and records the worst gap between two wake-ups: how long the event loop
    was kept from running other tasks."""

    PERIOD = 0.010

    def __init__(self) -> None:
        self.worst = 0.0
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.PERIOD)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last)
            self.beats += 1
            last = now

    def start(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


@pytest.fixture(autouse=True)
def _release_after_each_test() -> Iterator[None]:
    """Every test starts without monitors, caches or hosts marked down by an earlier one."""
    yield
    release_resources()
    AVAILABILITY.clear()
    deadline = time.monotonic() + 6.0
    while _failover_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _failover_threads() == []


def _failover_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("aws-wrapper-failover") and t.is_alive()
    ]

"""Async wrapper connections on real servers: session state (autocommit, read-only, isolation, a driver attribute)
set through the wrapper and carried over a failover; core's plugins written once (execute_time, dev) running
natively; a plugin built for ABI 1.0 (sync ``execute`` only) still working; cancellation."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from aws_wrapper.core import FailoverSuccessError, InterfaceError
from aws_wrapper.core.aio import AsyncAwsWrapperConnection
from aws_wrapper.core.plugins import ExceptionSimulatorManager, ExecuteTimePlugin
from aws_wrapper.testing import LocalCluster

from .conftest import AsyncDb

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(synchronous=True)]

PG_DSN = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")


async def _connect(**settings: Any) -> AsyncAwsWrapperConnection:
    return await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, PG_DSN, **settings)


async def _one(conn: AsyncAwsWrapperConnection, sql: str) -> Any:
    cur = await conn.execute(sql)
    row = await cur.fetchone()
    return None if row is None else (row["v"] if isinstance(row, dict) else row[0])


def test_session_state_is_set_on_the_server_and_survives_a_failover(pg_cluster: LocalCluster) -> None:
    db = AsyncDb("pg", pg_cluster)

    async def main() -> None:
        conn = await db.connect(plugins="failover", autocommit=False)
        await conn.set_autocommit(True)
        await conn.set_isolation_level("repeatable read")
        conn.row_factory = dict_row
        assert (
            await _one(conn, "SELECT current_setting('default_transaction_isolation') AS v")
            == "repeatable read"
        )
        old = await db.instance(conn)
        await asyncio.to_thread(pg_cluster.crash)
        await asyncio.to_thread(pg_cluster.promote)
        with pytest.raises(FailoverSuccessError):
            await conn.execute("SELECT 1")
        assert await db.instance(conn) != old
        assert conn.autocommit is True
        assert conn.isolation_level == "REPEATABLE READ"
        assert (
            await _one(conn, "SELECT current_setting('default_transaction_isolation') AS v")
            == "repeatable read"
        )
        cur = await conn.execute("SELECT 7 AS v")
        assert await cur.fetchone() == {"v": 7}  # the driver attribute was set on the new connection too
        await db.close_all()

    asyncio.run(main())


def test_read_only_and_assignment_rules() -> None:
    async def main() -> None:
        conn = await _connect(plugins="", autocommit=True)
        try:
            await conn.set_read_only(True)
            assert conn.read_only is True
            assert await _one(conn, "SHOW transaction_read_only") == "on"
            with pytest.raises(AttributeError, match="set_autocommit"):
                conn.autocommit = True
            await conn.set_read_only(False)
            assert await _one(conn, "SHOW transaction_read_only") == "off"
        finally:
            await conn.close()
        with pytest.raises(InterfaceError, match="closed"):
            conn.cursor()

    asyncio.run(main())


def test_execute_time_runs_natively_and_dev_injects_errors() -> None:
    async def main() -> None:
        conn = await _connect(plugins="execute_time,dev")
        try:
            timer = conn.plugin(ExecuteTimePlugin)
            assert timer is not None
            cur = conn.cursor()
            for value in range(3):
                await cur.execute("SELECT %s::int", (value,))
                assert await cur.fetchone() == (value,)
            assert timer.count() >= 6  # 3 executes + 3 fetchones (and the connect's own calls)
            assert timer.totals_ns
            assert timer.last_ns > 0
            ExceptionSimulatorManager.raise_on_next_call(RuntimeError("injected"), "Cursor.execute")
            with pytest.raises(RuntimeError, match="injected"):
                await cur.execute("SELECT 1")
            await cur.execute("SELECT 2")
            assert await cur.fetchone() == (2,)
        finally:
            ExceptionSimulatorManager.reset()
            await conn.close()

    asyncio.run(main())


def test_a_sync_only_plugin_runs_on_an_async_connection() -> None:
    from aws_wrapper_test_abi import CountingPlugin

    async def main() -> int:
        conn = await _connect(plugins="test_abi_10")
        try:
            cur = conn.cursor()
            for value in range(4):
                await cur.execute("SELECT %s::int", (value,))
                assert await cur.fetchone() == (value,)
            plugin = conn.plugin(CountingPlugin)
            assert plugin is not None
            return plugin.executes
        finally:
            await conn.close()

    assert asyncio.run(main()) == 4


def test_cancelling_a_blocked_execute_leaves_the_connection_usable() -> None:
    async def main() -> None:
        conn = await _connect(autocommit=True)
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(conn.execute("SELECT pg_sleep(10)"), 0.3)
            assert await _one(conn, "SELECT 41 + 1") == 42
        finally:
            await conn.close()

    asyncio.run(main())


def test_cancelling_during_a_failover_never_half_switches(pg_cluster: LocalCluster) -> None:
    db = AsyncDb("pg", pg_cluster)

    async def main() -> list[str]:
        outcomes = []
        for delay in (0.0, 0.005, 0.02):
            conn = await db.connect(plugins="failover")
            old = await asyncio.to_thread(pg_cluster.crash)
            await asyncio.to_thread(pg_cluster.promote)
            task = asyncio.create_task(conn.execute("SELECT 1"))
            await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
                outcomes.append("done")
            except asyncio.CancelledError:
                outcomes.append("cancelled")
            except FailoverSuccessError:
                outcomes.append("failed over")
            # usable or closed, never half-switched: the installed host is the one the connection is on
            if not conn.is_closed:
                host = conn._rt.current_host
                assert host is not None
                cur = await conn.execute("SELECT pg_catalog.aurora_db_instance_identifier()")
                row = await cur.fetchone()
                assert row is not None
                assert str(row[0]) == pg_cluster.writer.instance_id
            await conn.close()
            await asyncio.to_thread(pg_cluster.restart, old)  # back as a replica for the next round
        return outcomes

    outcomes = asyncio.run(main())
    print(f"\ncancelled at 0 / 5 / 20 ms into a failover: {outcomes}")


def test_socket_timeout_aborts_a_hanging_async_call() -> None:
    from aws_wrapper.core import QueryTimeoutError

    async def main() -> float:
        conn = await _connect(plugins="", autocommit=True, socket_timeout=1)
        try:
            start = asyncio.get_running_loop().time()
            with pytest.raises(QueryTimeoutError, match="socket_timeout=1"):
                await conn.execute("SELECT pg_sleep(5)")
            return asyncio.get_running_loop().time() - start
        finally:
            await conn.close()

    elapsed = asyncio.run(main())
    print(f"\nasync call aborted by socket_timeout=1 after {elapsed:.3f} s")
    assert 0.9 <= elapsed < 3

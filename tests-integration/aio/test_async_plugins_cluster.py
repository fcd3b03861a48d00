"""Every existing plugin on async connections, on the local PostgreSQL cluster: the full list (initial connection,
connection tracker, stale DNS, failover, host monitoring, connect time, execute time, dev) through a writer crash,
and one EFM monitor per host shared by sync and async connections."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from aws_wrapper.core import AwsWrapperConnection, FailoverSuccessError
from aws_wrapper.core.aio import AsyncAwsWrapperConnection
from aws_wrapper.core.plugins import ConnectTimePlugin, ExecuteTimePlugin
from aws_wrapper.efm import HostMonitoringPlugin, active_monitors
from aws_wrapper.failover import FailoverPlugin
from aws_wrapper.testing import LocalCluster

from .conftest import AsyncDb

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(synchronous=True)]

EVERY = "initial_connection,aurora_connection_tracker,stale_dns,failover,host_monitoring,connect_time,execute_time,dev"


def test_every_plugin_through_a_writer_crash(pg_cluster: LocalCluster) -> None:
    db = AsyncDb("pg", pg_cluster)

    async def main() -> tuple[int, int, int]:
        conn = await db.connect(plugins=EVERY)
        bystander = await db.connect(plugins=EVERY)  # another connection to the same writer
        cur = conn.cursor()
        for value in range(5):
            await cur.execute("SELECT %s::int", (value,))
            assert await cur.fetchone() == (value,)
        old = await db.instance(conn)
        await asyncio.to_thread(pg_cluster.crash)
        await asyncio.to_thread(pg_cluster.promote)
        with pytest.raises(FailoverSuccessError):
            await cur.execute("SELECT 1")
        assert await db.instance(conn) != old
        await cur.execute("SELECT 2")
        assert await cur.fetchone() == (2,)
        with pytest.raises(FailoverSuccessError):  # the bystander fails over too, on its next call
            await bystander.execute("SELECT 1")
        assert await db.instance(bystander) != old
        connects = conn.plugin(ConnectTimePlugin)
        timer = conn.plugin(ExecuteTimePlugin)
        failover = conn.plugin(FailoverPlugin)
        assert connects is not None
        assert timer is not None
        assert failover is not None
        await db.close_all()
        return connects.count, timer.count(), failover.failover_count

    connects, calls, failovers = asyncio.run(main())
    print(f"\nevery plugin, async: {connects} physical connects, {calls} timed calls, {failovers} failover")
    assert connects >= 2  # the initial connection and the failover's
    assert calls >= 12
    assert failovers == 1


def test_one_monitor_per_host_for_sync_and_async_connections(pg_cluster: LocalCluster) -> None:
    db = AsyncDb("pg", pg_cluster)
    settings = db.settings(plugins="host_monitoring", autocommit=True)
    sync_conn = AwsWrapperConnection.connect(psycopg.Connection.connect, **settings)
    try:
        sync_conn.cursor().execute("SELECT 1")

        async def main() -> tuple[object, object]:
            conn = await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, **settings)
            try:
                await conn.execute("SELECT pg_sleep(0.3)")
                mine, theirs = conn.plugin(HostMonitoringPlugin), sync_conn.plugin(HostMonitoringPlugin)
                assert mine is not None
                assert theirs is not None
                return mine.monitor, theirs.monitor
            finally:
                await conn.close()

        mine, theirs = asyncio.run(main())
        assert mine is not None
        assert mine is theirs
        assert len(active_monitors()) == 1
        sync_conn.cursor().execute("SELECT 1")  # the sync connection is still monitored and healthy
    finally:
        sync_conn.close()

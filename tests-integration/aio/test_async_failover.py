"""Failover of async wrapper connections on the local clusters: a writer crash outside and inside a transaction,
session state carried over, and an event loop that keeps serving other tasks while it happens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aws_wrapper.core import FailoverSuccessError, TransactionResolutionUnknownError
from aws_wrapper.testing import LocalCluster

from .conftest import AsyncDb, Heartbeat

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(synchronous=True),
    pytest.mark.mysql_cluster(synchronous=True),
]

#: A blocked event loop shows as a gap of seconds (connect and failover timeouts); a healthy one stays near 10 ms.
#: The figure is printed; the bound only catches blocking.
BLOCKED = 0.5


@pytest.fixture(params=["pg", "mysql"])
def adb(request: pytest.FixtureRequest) -> AsyncDb:
    """Both engines: psycopg's AsyncConnection on PostgreSQL, mysql.connector.aio on MariaDB."""
    cluster: LocalCluster = request.getfixturevalue(f"{request.param}_cluster")
    return AsyncDb(request.param, cluster)


def test_async_failover_outside_a_transaction(adb: AsyncDb) -> None:
    async def main() -> tuple[str, str, float, int]:
        conn = await adb.connect(plugins="failover")
        old = await adb.instance(conn)
        beat = Heartbeat().start()
        await asyncio.to_thread(adb.cluster.crash)
        await asyncio.to_thread(adb.cluster.promote)
        cur = conn.cursor()
        with pytest.raises(FailoverSuccessError) as info:
            await cur.execute("SELECT 1")
        assert info.value.driver_error is not None
        new = await adb.instance(conn)
        await cur.execute("SELECT 2")
        assert await cur.fetchone() == (2,)
        assert conn.autocommit is True  # session state carried over
        await beat.stop()
        await adb.close_all()
        return old, new, beat.worst, beat.beats

    old, new, worst, beats = asyncio.run(main())
    print(
        f"\n{adb.engine} async failover {old} -> {new}: heartbeat worst gap {worst * 1000:.1f} ms over {beats} beats"
    )
    assert old != new
    assert worst < BLOCKED


def test_async_failover_inside_a_transaction(adb: AsyncDb) -> None:
    adb.create_table("atx")

    async def main() -> Any:
        conn = await adb.connect(plugins="failover", autocommit=False)
        cur = conn.cursor()
        await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 1)")
        await asyncio.to_thread(adb.cluster.crash)
        await asyncio.to_thread(adb.cluster.promote)
        with pytest.raises(TransactionResolutionUnknownError):
            await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 2)")
        assert conn.autocommit is False
        await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 3)")
        await conn.commit()
        await adb.close_all()

    asyncio.run(main())
    rows = adb.admin("SELECT seq FROM atx ORDER BY seq")
    assert rows == [(3,)]


def test_async_session_state_survives_a_failover(adb: AsyncDb) -> None:
    """autocommit and the isolation level set through the async wrapper are on the new connection after a crash."""
    isolation_sql = (
        "SELECT current_setting('default_transaction_isolation')"
        if adb.is_pg
        else "SELECT @@session.tx_isolation"
    )

    async def main() -> tuple[str, str]:
        conn = await adb.connect(plugins="failover", autocommit=False)
        await conn.set_autocommit(True)
        await conn.set_isolation_level("serializable")
        before = str(await adb.one(conn, isolation_sql))
        await asyncio.to_thread(adb.cluster.crash)
        await asyncio.to_thread(adb.cluster.promote)
        with pytest.raises(FailoverSuccessError):
            await conn.execute("SELECT 1")
        assert conn.autocommit is True
        assert conn.isolation_level == "SERIALIZABLE"
        after = str(await adb.one(conn, isolation_sql))
        await adb.close_all()
        return before, after

    before, after = asyncio.run(main())
    assert before.replace("-", " ").lower() == "serializable"
    assert after == before

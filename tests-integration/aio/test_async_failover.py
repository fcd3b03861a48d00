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
]

#: A blocked event loop shows as a gap of seconds (connect and failover timeouts); a healthy one stays near 10 ms.
#: The figure is printed; the bound only catches blocking.
BLOCKED = 0.5


@pytest.fixture
def apg(pg_cluster: LocalCluster) -> AsyncDb:
    return AsyncDb("pg", pg_cluster)


def test_async_failover_outside_a_transaction(apg: AsyncDb) -> None:
    async def main() -> tuple[str, str, float, int]:
        conn = await apg.connect(plugins="failover")
        old = await apg.instance(conn)
        beat = Heartbeat().start()
        apg.cluster.crash()
        apg.cluster.promote()
        cur = conn.cursor()
        with pytest.raises(FailoverSuccessError) as info:
            await cur.execute("SELECT 1")
        assert info.value.driver_error is not None
        new = await apg.instance(conn)
        await cur.execute("SELECT 2")
        assert await cur.fetchone() == (2,)
        assert conn.autocommit is True  # session state carried over
        await beat.stop()
        await apg.close_all()
        return old, new, beat.worst, beat.beats

    old, new, worst, beats = asyncio.run(main())
    print(f"\nasync failover {old} -> {new}: heartbeat worst gap {worst * 1000:.1f} ms over {beats} beats")
    assert old != new
    assert worst < BLOCKED


def test_async_failover_inside_a_transaction(apg: AsyncDb) -> None:
    apg.create_table("atx")

    async def main() -> Any:
        conn = await apg.connect(plugins="failover", autocommit=False)
        cur = conn.cursor()
        await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 1)")
        apg.cluster.crash()
        apg.cluster.promote()
        with pytest.raises(TransactionResolutionUnknownError):
            await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 2)")
        assert conn.autocommit is False
        await cur.execute("INSERT INTO atx (worker, seq) VALUES (1, 3)")
        await conn.commit()
        await apg.close_all()

    asyncio.run(main())
    rows = apg.admin("SELECT seq FROM atx ORDER BY seq")
    assert rows == [(3,)]

"""The event loop keeps serving other tasks while the wrapper works: a 10 ms heartbeat task runs during a
failover, during EFM's detection of a blackholed host under a long query, and during a connect to a host that does
not answer. The worst gap of each is printed (the figure of record); the test fails only on a gap that means the
loop was blocked (the waits involved are seconds long)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aws_wrapper.core import HostAvailability
from aws_wrapper.core.aio import AsyncAwsWrapperConnection
from aws_wrapper.core.conninfo import parse_conninfo
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.testing import FaultProxy, LocalCluster

from .conftest import AsyncDb, Heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(synchronous=True)]

PG_DSN = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
#: A gap this long means the loop was blocked by a wait (connect, failover and detection waits are seconds).
BLOCKED = 0.5
EFM_FAST = {
    "plugins": "efm",
    "failure_detection_time_ms": 1000,
    "failure_detection_interval_ms": 500,
    "failure_detection_count": 2,
}


@pytest.fixture
def pg_proxy() -> Iterator[FaultProxy]:
    server = parse_conninfo(PG_DSN)
    proxy = FaultProxy(
        "127.0.0.1", 0, str(server.get("host", "127.0.0.1")), int(server.get("port", 5432))
    ).start()
    try:
        yield proxy
    finally:
        proxy.stop()
        AVAILABILITY.set({f"127.0.0.1:{proxy.listen_port}"}, HostAvailability.AVAILABLE)


def _via(proxy: FaultProxy, **settings: Any) -> dict[str, Any]:
    server = parse_conninfo(PG_DSN)
    kwargs: dict[str, Any] = {k: v for k, v in server.items() if k not in ("host", "port")}
    kwargs.update(host=proxy.listen_host, port=proxy.listen_port, autocommit=True)
    kwargs["options"] = "-c client_connection_check_interval=500"  # an aborted pg_sleep frees its server slot
    kwargs.update(settings)
    return kwargs


def test_heartbeat_during_failover(pg_cluster: LocalCluster) -> None:
    db = AsyncDb("pg", pg_cluster)

    async def main() -> tuple[float, int, float]:
        conn = await db.connect(plugins="failover")
        beat = Heartbeat().start()
        await asyncio.sleep(0.1)

        def lose_writer() -> None:
            pg_cluster.crash()
            pg_cluster.promote()

        crash = asyncio.get_running_loop().run_in_executor(None, lose_writer)
        start = time.perf_counter()
        failed_over = False
        while time.perf_counter() - start < 15 and not failed_over:
            try:
                await conn.execute("SELECT 1")
            except Exception as exc:
                failed_over = type(exc).__name__ == "FailoverSuccessError"
                if not failed_over:
                    raise
            await asyncio.sleep(0.005)
        await crash
        took = time.perf_counter() - start
        await conn.execute("SELECT 1")
        await asyncio.sleep(0.05)
        await beat.stop()
        await db.close_all()
        return beat.worst, beat.beats, took

    worst, beats, took = asyncio.run(main())
    print(f"\nheartbeat during failover: worst gap {worst * 1000:.1f} ms over {beats} beats ({took:.2f} s)")
    assert beats > 5
    assert worst < BLOCKED


@pytest.fixture
def mysql_proxy() -> Iterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", 0, "127.0.0.1", 3306).start()
    try:
        yield proxy
    finally:
        proxy.stop()
        AVAILABILITY.set({f"127.0.0.1:{proxy.listen_port}"}, HostAvailability.AVAILABLE)


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_heartbeat_during_efm_detection_of_a_blackholed_host(
    engine: str, request: pytest.FixtureRequest
) -> None:
    proxy: FaultProxy = request.getfixturevalue(f"{engine}_proxy")
    if engine == "pg":
        target: Any = psycopg.AsyncConnection.connect
        settings = _via(proxy, **EFM_FAST)
        sleep = "SELECT pg_sleep(60)"
    else:
        import mysql.connector.aio

        target = mysql.connector.aio.connect
        settings = dict(
            host=proxy.listen_host,
            port=proxy.listen_port,
            user="root",
            password="",
            ssl_disabled=True,
            **EFM_FAST,
        )
        sleep = "SELECT SLEEP(60)"

    async def main() -> tuple[float, int, float, BaseException | None]:
        conn = await AsyncAwsWrapperConnection.connect(target, **settings)
        beat = Heartbeat().start()
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, lambda: loop.run_in_executor(None, proxy.blackhole))
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            await conn.execute(sleep)
        except Exception as exc:
            error = exc
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.05)
        await beat.stop()
        await conn.close()
        return beat.worst, beat.beats, elapsed, error

    worst, beats, elapsed, error = asyncio.run(main())
    print(
        f"\n{engine}: heartbeat during EFM detection: query failed after {elapsed:.3f} s ({error!r}); "
        f"worst gap {worst * 1000:.1f} ms over {beats} beats"
    )
    assert error is not None
    # the driver's network error: psycopg's "consuming input failed", mysql-connector's 2013 lost connection
    assert "consuming input failed" in str(error) or getattr(error, "errno", None) == 2013, repr(error)
    assert 1.0 <= elapsed <= 2.2  # outage at 0.5 s, grace 1 s, then 2 probes of 0.5 s
    assert worst < BLOCKED


def test_heartbeat_during_connect_to_a_silent_host(pg_proxy: FaultProxy) -> None:
    pg_proxy.blackhole()

    async def main() -> tuple[float, int, float, BaseException | None]:
        beat = Heartbeat().start()
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            await AsyncAwsWrapperConnection.connect(
                psycopg.AsyncConnection.connect, **_via(pg_proxy, plugins="failover,efm", connect_timeout=2)
            )
        except Exception as exc:
            error = exc
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.05)
        await beat.stop()
        return beat.worst, beat.beats, elapsed, error

    worst, beats, elapsed, error = asyncio.run(main())
    print(
        f"\nheartbeat during a connect to a silent host: failed after {elapsed:.3f} s ({type(error).__name__}); "
        f"worst gap {worst * 1000:.1f} ms over {beats} beats"
    )
    assert error is not None
    assert elapsed >= 1.5
    assert worst < BLOCKED

"""EFM end to end on real servers: a blackholed host under a long query, a healthy long query, monitor lifetime."""

from __future__ import annotations

import threading
import time

import pytest

from aws_wrapper.core import AwsWrapperConnection, HostAvailability, HostInfo, release_resources
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.efm import HostMonitor, HostMonitoringPlugin, active_monitors
from aws_wrapper.testing import FaultProxy

from .conftest import Engine, efm_threads, select_one, wait_for

pytestmark = pytest.mark.integration

# grace 1 s, probes every 0.5 s, dead after 1 s without an answer
FAST = {
    "plugins": "efm",
    "failure_detection_time_ms": 1000,
    "failure_detection_interval_ms": 500,
    "failure_detection_count": 2,
}


def monitor_of(conn: AwsWrapperConnection) -> HostMonitor:
    plugin = conn.plugin(HostMonitoringPlugin)
    assert plugin is not None
    assert plugin.monitor is not None
    return plugin.monitor


@pytest.mark.parametrize(
    ("time_ms", "interval_ms", "count", "outage_at"),
    [
        (1000, 500, 2, 0.5),  # silent before the grace time ends
        (1000, 500, 2, 1.6),  # silent while probing
        (1000, 1000, 3, 0.3),  # connects to the silent host time out at about one probe period
    ],
)
def test_blackholed_long_query_fails_fast_with_a_network_error(
    engine: Engine, proxy: FaultProxy, time_ms: int, interval_ms: int, count: int, outage_at: float
) -> None:
    conn = engine.wrapper(
        proxy,
        plugins="efm",
        failure_detection_time_ms=time_ms,
        failure_detection_interval_ms=interval_ms,
        failure_detection_count=count,
    )
    timer = threading.Timer(outage_at, proxy.blackhole)
    try:
        cur = conn.cursor()
        start = time.monotonic()
        timer.start()
        with pytest.raises(Exception) as info:
            cur.execute(engine.sleep_sql(60))
        elapsed = time.monotonic() - start
    finally:
        timer.cancel()
        conn.close()
    assert engine.is_network_error(info.value), repr(info.value)
    # bound: max(0, grace - outage_at) + count x interval after the outage began
    grace, window = time_ms / 1000, count * interval_ms / 1000
    bound = outage_at + max(0.0, grace - outage_at) + window
    print(f"{engine.name}: outage at {outage_at} s, query failed at {elapsed:.3f} s (bound {bound:.3f} s)")
    assert grace <= elapsed <= bound + 0.15
    assert AVAILABILITY.is_down(HostInfo("127.0.0.1", proxy.listen_port))  # seen by failover and selectors


def test_healthy_long_query_is_never_aborted(engine: Engine, proxy: FaultProxy) -> None:
    settings = dict(FAST, failure_detection_time_ms=300, failure_detection_interval_ms=200)
    conn = engine.wrapper(proxy, **settings)
    try:
        cur = conn.cursor()
        cur.execute(engine.sleep_sql(2.5))
        rows = cur.fetchall()
        stats = monitor_of(conn).stats()
    finally:
        conn.close()
    assert len(rows) == 1
    assert stats.probes >= 8  # probed every 0.2 s for 2.2 s, over one monitoring connection
    assert stats.failed_probes == 0
    assert stats.aborted == 0
    assert stats.connects == 1
    assert not AVAILABILITY.is_down(HostInfo("127.0.0.1", proxy.listen_port))


def test_slow_network_is_not_mistaken_for_a_dead_host(pg_engine: Engine) -> None:
    """Every packet delayed by 150 ms: probes are slow but answered within their 0.5 s."""
    server = pg_engine.server
    with FaultProxy("127.0.0.1", 0, str(server["host"]), int(server["port"])) as slow:
        conn = pg_engine.wrapper(slow, **FAST)
        try:
            slow.latency(0.15)
            cur = conn.cursor()
            cur.execute(pg_engine.sleep_sql(3))
            assert len(cur.fetchall()) == 1
            stats = monitor_of(conn).stats()
        finally:
            slow.heal()
            conn.close()
    assert stats.probes >= 3
    assert stats.aborted == 0


def test_monitor_stops_when_its_connections_close(engine: Engine, proxy: FaultProxy) -> None:
    conns = [engine.wrapper(proxy, **FAST) for _ in range(3)]
    for conn in conns:
        select_one(conn)
    monitors = active_monitors()
    assert len(monitors) == 1
    assert monitors[0].connections == 3
    assert wait_for(lambda: active_monitors()[0].monitoring_connection_open, 2.0)
    assert proxy.connection_count() == 4  # three application connections and one monitoring connection
    for conn in conns:
        conn.close()
    closed = time.monotonic()
    assert wait_for(lambda: not active_monitors() and not efm_threads(), 3.0)
    stopped_after = time.monotonic() - closed
    print(f"{engine.name}: monitor stopped {stopped_after:.2f} s after the last connection closed")
    assert stopped_after < 2.5
    assert wait_for(lambda: proxy.connection_count() == 0, 2.0)  # the monitoring connection is gone too


def test_release_resources_stops_monitors_of_open_connections(engine: Engine, proxy: FaultProxy) -> None:
    conn = engine.wrapper(proxy, **FAST)
    try:
        select_one(conn)
        assert wait_for(
            lambda: bool(active_monitors()) and active_monitors()[0].monitoring_connection_open, 2.0
        )
        assert efm_threads()
        started = time.monotonic()
        release_resources()
        took = time.monotonic() - started
        assert took < 1.0
        assert efm_threads() == []
        assert active_monitors() == []
    finally:
        conn.close()


def test_release_resources_during_a_probe(pg_engine: Engine) -> None:
    """A probe with a 10 s timeout is waiting on a blackholed host: release_resources() still returns within 1 s
    and the monitor thread is gone."""
    server = pg_engine.server
    with FaultProxy("127.0.0.1", 0, str(server["host"]), int(server["port"])) as silent:
        conn = pg_engine.wrapper(
            silent,
            plugins="efm",
            failure_detection_time_ms=0,
            failure_detection_interval_ms=10_000,
            failure_detection_count=3,
        )
        query = threading.Thread(target=_run_quietly, args=(conn, pg_engine.sleep_sql(30)), daemon=True)
        try:
            assert wait_for(
                lambda: bool(active_monitors()) and active_monitors()[0].monitoring_connection_open, 3
            )
            silent.blackhole()
            query.start()
            assert wait_for(lambda: active_monitors()[0].probes >= 1, 3.0)
            started = time.monotonic()
            release_resources()
            took = time.monotonic() - started
            assert took < 1.0
            monitor_threads = [t for t in efm_threads() if "-monitor" in t.name]
            assert monitor_threads == []
        finally:
            silent.heal()
            silent.reset_all()
            query.join(5)
            conn.close()
        AVAILABILITY.set({f"127.0.0.1:{silent.listen_port}"}, HostAvailability.AVAILABLE)


def _run_quietly(conn: AwsWrapperConnection, sql: str) -> None:
    try:
        conn.cursor().execute(sql)
    except Exception:
        pass

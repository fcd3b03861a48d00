"""What a panic costs while the cluster has no writer: the probes poll fast (every 10 ms over one connection per
live instance, with the cheap reader query) only while a caller waits for a verified writer, retry the dead
instance no more often than every 100 ms, and fall back to the high refresh rate when nobody waits. Prints the
figures of a 2 s window of each kind."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from dialects_support import connect_by_address

from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.dialects import (
    STATS,
    TopologyMonitor,
)
from aws_wrapper.dialects._monitor import MONITOR_KIND
from aws_wrapper.testing import LocalCluster
from aws_wrapper.testing.pytest_plugin import ClusterFactory

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_aurora_mysql")]

WINDOW = 2.0
_TICK = os.sysconf("SC_CLK_TCK")


def _topology_cpu() -> float:
    """CPU seconds used so far by the topology monitor's threads of this process (Linux /proc)."""
    total = 0
    for thread in threading.enumerate():
        if not thread.name.startswith("aws-wrapper-topology") or thread.native_id is None:
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread just ended
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


class QueryCounter:
    """Counts the queries that the topology monitor's threads run (the driver dialect is shared)."""

    def __init__(self, monitor: TopologyMonitor, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        query = monitor.driver.query

        def counting(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name.startswith("aws-wrapper-topology"):
                with self._lock:
                    self.count += 1
            return query(*args, **kwargs)

        monkeypatch.setattr(monitor.driver, "query", counting)


@dataclass
class Window:
    connects: int
    checks: int
    queries: int
    topology_queries: int
    thread_cpu: float
    process_cpu: float

    def __str__(self) -> str:
        return (
            f"{self.connects} connection attempts, {self.checks} role checks, {self.queries} queries "
            f"({self.topology_queries} topology), monitor threads {self.thread_cpu * 1000:.0f} ms CPU, process "
            f"{self.process_cpu * 1000:.0f} ms CPU (incl. the in-process fault proxies)"
        )


def _measure(monitor: TopologyMonitor, counter: QueryCounter) -> Window:
    connects, checks, queries = STATS.monitor_connections, monitor.probe_checks, counter.count
    topology_queries = STATS.topology_queries
    thread_cpu, process_cpu = _topology_cpu(), time.process_time()
    time.sleep(WINDOW)
    return Window(
        STATS.monitor_connections - connects,
        monitor.probe_checks - checks,
        counter.count - queries,
        STATS.topology_queries - topology_queries,
        max(0.0, _topology_cpu() - thread_cpu),
        time.process_time() - process_cpu,
    )


def _connect(cluster: LocalCluster, engine: str) -> Any:
    return connect_by_address(cluster, engine, cluster_id=f"panic-cost-{engine}")


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("pg", marks=pytest.mark.pg_cluster),
        pytest.param("mysql", marks=pytest.mark.mysql_cluster),
    ],
)
def test_no_writer_window_cost(
    local_cluster: ClusterFactory, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = local_cluster(engine, instances=3, flavour="aurora", instance_ids="address")
    conn = _connect(cluster, engine)
    try:
        runtime = conn._rt
        runtime.force_refresh(verify_writer=True, timeout=10)
        monitor = MONITORS.get(MONITOR_KIND, f"panic-cost-{engine}")
        assert isinstance(monitor, TopologyMonitor)
        counter = QueryCounter(monitor, monkeypatch)

        # 1. the writer dies and a caller waits for a verified writer: fast polling
        old = cluster.crash()
        result: list[Any] = []

        def wait() -> None:
            try:
                result.append(runtime.force_refresh(verify_writer=True, timeout=20))
            except Exception as exc:
                result.append(exc)
            result.append(time.monotonic())

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.3)  # the probes have connected
        waiting = _measure(monitor, counter)
        assert not result, result
        new = cluster.promote()
        waiter.join(20)
        promoted = cluster.last_event("writer_promoted", new.instance_id)
        assert promoted is not None
        assert result, "force_refresh did not return"
        assert not isinstance(result[0], Exception), result
        assert result[0][0].host == cluster.endpoint(new).host
        delay = result[1] - promoted.t
        cluster.restart(old)  # back as a replica

        # 2. the writer dies again and nobody waits: the monitor notices (it reads every 100 ms for 30 s after a
        # writer change) and probes at the high refresh rate
        cluster.crash()
        time.sleep(0.5)
        assert monitor.verified_writer is None
        idle = _measure(monitor, counter)
        print(
            f"\n{engine}: verified writer {delay * 1000:.0f} ms after the promoted replica accepted writes"
            f"\n{engine}: {WINDOW:g} s without writer, a caller waiting: {waiting}"
            f"\n{engine}: {WINDOW:g} s without writer, nobody waiting:  {idle}"
        )
        # two live instances polled every 10 ms (wide margins: the machine may be busy), the dead one retried
        # about every 100 ms over its connect timeout, the topology read at the high refresh rate by one reader
        assert 100 <= waiting.checks <= 2 * WINDOW / 0.01 + 20, waiting
        assert waiting.connects <= WINDOW / 0.1 + 3, waiting
        assert waiting.topology_queries <= WINDOW / 0.1 + 5, waiting
        assert waiting.queries <= waiting.checks + waiting.topology_queries + 10, (
            waiting
        )  # one query per check
        assert idle.checks <= 2 * WINDOW / 0.1 + 10, idle
        assert idle.connects <= WINDOW / 0.1 + 5, idle
        assert delay < 0.15
    finally:
        conn.close()

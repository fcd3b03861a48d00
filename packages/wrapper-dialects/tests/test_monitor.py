"""The shared topology monitor and the provider on top of it, against the in-memory fake cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dialects_fakes import FakeCluster, FakeConn, FakeDriver, context

from aws_wrapper.core.hostinfo import HostRole
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.storage import STORAGE
from aws_wrapper.dialects import AURORA_PG, TopologyHostListProvider, TopologyMonitor, _monitor

TOPOLOGY = AURORA_PG.topology_query


@pytest.fixture
def monitors() -> Iterator[MonitorService]:
    STORAGE.clear()
    service = MonitorService()
    yield service
    service.stop_all(timeout=3)
    STORAGE.clear()


Make = Callable[..., TopologyHostListProvider]


@pytest.fixture
def make(monitors: MonitorService) -> Iterator[Make]:
    created: list[TopologyHostListProvider] = []

    def make(cluster: FakeCluster, host: str = "a", **props: Any) -> TopologyHostListProvider:
        props.setdefault("topology_refresh_ms", 30000)
        provider = AURORA_PG.create_host_list_provider(
            context(cluster, FakeDriver(), monitors, host, **props)
        )
        assert isinstance(provider, TopologyHostListProvider)
        created.append(provider)
        return provider

    yield make
    for provider in created:
        provider.release_resources()


def _wait(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _roles(hosts: Any) -> list[tuple[str, HostRole]]:
    return [(h.host, h.role) for h in hosts]


def test_refresh_reads_once_then_serves_the_shared_topology(make: Make) -> None:
    cluster = FakeCluster()
    first = make(cluster)
    hosts = first.refresh(FakeConn(cluster, "a"))
    assert _roles(hosts) == [("a", HostRole.WRITER), ("b", HostRole.READER), ("c", HostRole.READER)]
    before = cluster.queries[TOPOLOGY]
    others = [make(cluster) for _ in range(20)]
    for provider in others:
        assert provider.refresh(FakeConn(cluster, "b")) == hosts
    assert cluster.queries[TOPOLOGY] - before <= 1  # the monitor's first read at most; no read per connection
    assert len({id(p.monitor()) for p in [first, *others]}) == 1


@pytest.mark.parametrize("connections", [1, 40])
def test_topology_queries_do_not_grow_with_connections(make: Make, connections: int) -> None:
    cluster = FakeCluster()
    providers = [make(cluster, topology_refresh_ms=100) for _ in range(connections)]
    for provider in providers:
        provider.refresh(FakeConn(cluster, "a"))
    start = cluster.queries[TOPOLOGY]
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for provider in providers:
            provider.refresh(None)
        time.sleep(0.005)
    queries = cluster.queries[TOPOLOGY] - start
    assert 5 <= queries <= 14, queries  # ~10 per second (period 100 ms), whatever the connection count


def test_force_refresh_is_shared_by_concurrent_callers(make: Make) -> None:
    cluster = FakeCluster()
    providers = [make(cluster) for _ in range(30)]
    providers[0].refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: providers[0].monitor().verified_writer is not None)
    start = cluster.queries[TOPOLOGY]
    cluster.topology_latency = (
        0.05  # every caller asks while a read is in flight: the next read serves them all
    )
    barrier = threading.Barrier(len(providers))
    results: list[object] = []

    def call(p: TopologyHostListProvider) -> None:
        barrier.wait()
        results.append(p.force_refresh(None, verify_writer=False, timeout=2))

    threads = [threading.Thread(target=call, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30
    reads = cluster.queries[TOPOLOGY] - start
    # one read serves every caller that asked before it started (30 reads without sharing): the read in flight
    # when the callers ask, then one for all of them (and at most a periodic one of the monitor in between)
    assert 1 <= reads <= 4, f"{reads} topology reads for 30 concurrent callers"


def test_verify_writer_with_a_healthy_writer_needs_no_new_connection(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    connects = sum(cluster.connects.values())
    started = time.monotonic()
    hosts = provider.force_refresh(None, verify_writer=True, timeout=2)
    assert time.monotonic() - started < 0.2
    assert hosts[0].host == "a"
    assert sum(cluster.connects.values()) == connects


def test_verify_writer_finds_the_new_writer_after_a_crash(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster, cluster_topology_high_refresh_rate_ms=50)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    with cluster.lock:
        cluster.down.add("a")
        cluster.writer = "b"
    started = time.monotonic()
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    elapsed = time.monotonic() - started
    assert hosts[0].host == "b"
    assert hosts[0].role is HostRole.WRITER
    assert elapsed < 0.5, elapsed
    assert provider.monitor().verified_writer is not None
    assert provider.monitor().verified_writer.host == "b"  # type: ignore[union-attr]


def test_verify_writer_gets_past_a_silent_monitoring_connection(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    with cluster.lock:
        cluster.silent.add("a")  # the old writer's host stops answering; connections to it hang
        cluster.down.add("a")
        cluster.writer = "c"
    started = time.monotonic()
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    assert hosts[0].host == "c"
    assert time.monotonic() - started < 1.0


def test_promotion_is_noticed_within_the_high_refresh_period(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)  # high refresh rate 100 ms (default)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    with cluster.lock:
        cluster.down.add("a")
        cluster.writer = None  # nobody is the writer yet: readers only
    result: list[Any] = []
    waiter = threading.Thread(
        target=lambda: result.append(provider.force_refresh(None, verify_writer=True, timeout=5))
    )
    waiter.start()
    time.sleep(0.6)
    assert not result
    with cluster.lock:
        cluster.writer = "b"
    promoted = time.monotonic()
    waiter.join(5)
    assert result
    assert result[0][0].host == "b"
    assert time.monotonic() - promoted < 0.3


def test_no_writer_topology_is_invalid_and_does_not_spin(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    good = provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    with cluster.lock:
        cluster.reported_writer = "nobody"  # every server now reports a topology without writer
    connects = sum(cluster.connects.values())
    with pytest.raises(TimeoutError, match="no verified writer"):
        provider.force_refresh(None, verify_writer=True, timeout=1.0)
    assert provider.refresh(None) == good  # the last valid topology is kept
    assert provider.force_refresh(None, verify_writer=False, timeout=0.3) == good
    assert sum(cluster.connects.values()) - connects <= 6  # one connection per host, kept open


def test_dead_hosts_are_retried_at_the_high_refresh_rate_not_in_a_loop(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    with cluster.lock:
        cluster.down.update(("a", "b", "c"))
    before = dict(cluster.connects)
    with pytest.raises(TimeoutError):
        provider.force_refresh(None, verify_writer=True, timeout=1.0)
    for host in "abc":
        attempts = cluster.connects[host] - before.get(host, 0)
        assert 3 <= attempts <= 15, (host, attempts)  # ~1 per 100 ms, never a tight loop


def test_a_new_instance_joins_the_topology(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    with cluster.lock:
        cluster.ids.append("d")
    hosts = provider.force_refresh(None, verify_writer=False, timeout=2)
    assert [h.host for h in hosts] == ["a", "b", "c", "d"]


def test_identify_connection_and_role(make: Make) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    identified = provider.identify_connection(FakeConn(cluster, "c"))
    assert identified is not None
    assert (identified.host, identified.role) == ("c", HostRole.READER)
    assert provider.get_host_role(FakeConn(cluster, "a")) is HostRole.WRITER
    assert provider.get_host_role(FakeConn(cluster, "b")) is HostRole.READER


def test_monitor_stops_when_unused_and_restarts_on_demand(make: Make, monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    monitor = provider.monitor()
    monitor.idle_timeout = 0.2
    provider.refresh(FakeConn(cluster, "a"))
    assert monitors.count() == 1
    provider.release_resources()
    assert monitor.stopped.wait(3)
    assert _wait(lambda: monitors.count() == 0)
    again = make(cluster)
    assert again.refresh(None)[0].host == "a"  # the cached topology survives the restart
    assert again.monitor() is not monitor
    assert monitors.count() == 1


def test_stop_all_ends_every_thread(make: Make, monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider = make(cluster)
    provider.refresh(FakeConn(cluster, "a"))
    with cluster.lock:
        cluster.down.add("a")
    # a panic is running with probe threads when everything is stopped
    with pytest.raises(TimeoutError):
        provider.force_refresh(None, verify_writer=True, timeout=0.3)
    monitor = provider.monitor()
    monitors.stop_all(timeout=3)
    assert monitor.stopped.is_set()
    assert not any(t.name.startswith("aws-wrapper-topology") for t in threading.enumerate())


def test_monitor_kind_is_registered_per_cluster_id(make: Make, monitors: MonitorService) -> None:
    cluster = FakeCluster()
    one = make(cluster, cluster_id="one")
    two = make(cluster, cluster_id="two")
    one.refresh(FakeConn(cluster, "a"))
    two.refresh(FakeConn(cluster, "a"))
    assert isinstance(one.monitor(), TopologyMonitor)
    assert one.monitor() is not two.monitor()
    assert monitors.count() == 2


# -- panic probing: fast while someone waits, gentle otherwise ------------------------------------------------------
def _verified(make: Make, cluster: FakeCluster, **props: Any) -> TopologyHostListProvider:
    provider = make(cluster, **props)
    provider.refresh(FakeConn(cluster, "a"))
    assert _wait(lambda: provider.monitor().verified_writer is not None)
    return provider


def _waiter(provider: TopologyHostListProvider, timeout: float) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def wait() -> None:
        try:
            result.append(provider.force_refresh(None, verify_writer=True, timeout=timeout))
        except Exception as exc:
            result.append(exc)
        result.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, result


def test_a_writer_request_made_before_the_panic_probes_every_host_at_once(make: Make) -> None:
    cluster = FakeCluster()
    provider = _verified(make, cluster)
    with cluster.lock:
        cluster.silent.add("a")  # the old writer accepts connections but answers no query
        cluster.writer = "c"
    started = time.monotonic()
    # the request comes before the panic round starts (the monitoring connection is aborted after 0.2 s): the
    # round must not spend its first second re-verifying the silent old writer alone
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    elapsed = time.monotonic() - started
    assert hosts[0].host == "c"
    assert elapsed < 0.7, elapsed
    with cluster.lock:
        cluster.silent.clear()  # lets the probe blocked on "a" end


def test_probes_poll_every_10ms_while_a_caller_waits_and_at_the_high_rate_otherwise(make: Make) -> None:
    cluster = FakeCluster()
    provider = _verified(make, cluster)  # high refresh rate 100 ms (default)
    monitor = provider.monitor()
    with cluster.lock:
        cluster.down.add("a")
        cluster.writer = None  # no writer at all: readers only
    checks, connects = monitor.probe_checks, dict(cluster.connects)
    writer_queries = cluster.queries[AURORA_PG.writer_id_query]
    with pytest.raises(TimeoutError):
        provider.force_refresh(None, verify_writer=True, timeout=1.0)
    waiting_checks = monitor.probe_checks - checks
    # two reachable hosts checked every 10 ms while the caller waits (the machine may be slow: a wide margin)
    assert 60 <= waiting_checks <= 230, waiting_checks
    # the dead host is retried about every 100 ms, not at the poll rate
    assert 3 <= cluster.connects["a"] - connects.get("a", 0) <= 12
    # one connection per reachable host, kept open
    assert cluster.connects["b"] - connects.get("b", 0) == 1
    assert cluster.connects["c"] - connects.get("c", 0) == 1
    # the cheap reader query polls; the writer-id query runs once per new connection, not every tick
    assert cluster.queries[AURORA_PG.writer_id_query] - writer_queries <= 4
    # nobody waits any more: back to the high refresh rate (the request that timed out does not count)
    checks = monitor.probe_checks
    time.sleep(1.0)
    idle_checks = monitor.probe_checks - checks
    assert 8 <= idle_checks <= 30, idle_checks


def test_reconnects_stay_100ms_apart_with_a_faster_high_refresh_rate(make: Make) -> None:
    cluster = FakeCluster()
    provider = _verified(make, cluster, cluster_topology_high_refresh_rate_ms=20)
    with cluster.lock:
        cluster.down.update(("a", "b", "c"))
    before = dict(cluster.connects)
    with pytest.raises(TimeoutError):
        provider.force_refresh(None, verify_writer=True, timeout=1.0)
    for host in "abc":
        attempts = cluster.connects[host] - before.get(host, 0)
        assert 3 <= attempts <= 12, (host, attempts)


def test_promotion_is_seen_within_tens_of_ms_with_default_settings(make: Make) -> None:
    delays: list[float] = []
    for trial in range(7):
        cluster = FakeCluster()
        provider = _verified(make, cluster, cluster_id=f"promotion-{trial}")
        with cluster.lock:
            cluster.down.add("a")
            cluster.writer = None
        thread, result = _waiter(provider, timeout=5)
        time.sleep(0.25)
        assert not result
        with cluster.lock:
            cluster.writer = "b"
        promoted = time.monotonic()
        thread.join(5)
        assert result, "force_refresh did not return"
        assert not isinstance(result[0], Exception), result
        assert result[0][0].host == "b"
        delays.append(result[1] - promoted)
    delays.sort()
    assert delays[3] < 0.025, delays  # median (with polling at the high refresh rate, 100 ms: ~50 ms)


def test_a_new_waiter_wakes_probes_that_slowed_down(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_monitor, "HIGH_RATE_WINDOW_S", 0.2)  # probes slow to 1 s after 0.2 s of panic
    cluster = FakeCluster()
    provider = _verified(make, cluster)
    monitor = provider.monitor()
    with cluster.lock:
        cluster.down.add("a")
        cluster.writer = None
    provider.force_refresh(None, verify_writer=False, timeout=0.5)  # the read fails: a panic nobody waits for
    assert _wait(lambda: monitor.verified_writer is None)
    time.sleep(0.6)  # past the window: probes check once per second
    checks = monitor.probe_checks
    time.sleep(0.5)
    assert monitor.probe_checks - checks <= 3
    with cluster.lock:
        cluster.writer = "c"
    started = time.monotonic()
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    assert hosts[0].host == "c"
    assert time.monotonic() - started < 0.1  # the waiter woke the sleeping probes at once

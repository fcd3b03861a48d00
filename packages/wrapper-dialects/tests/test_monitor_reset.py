"""ABI 1.1: the topology monitor starts over on ``MonitorService.reset`` and keeps no wrapper connection alive
(against the in-memory fake cluster; the end-to-end tests are in ``tests-integration/core``)."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from dialects_fakes import FakeCluster, FakeConn, FakeConnector, FakeDriver, context

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.plugin import Plugin, RawConnection
from aws_wrapper.core.records import replace
from aws_wrapper.core.storage import STORAGE
from aws_wrapper.dialects import AURORA_PG, TopologyHostListProvider
from aws_wrapper.dialects._monitor import MONITOR_KIND


@pytest.fixture
def monitors() -> Iterator[MonitorService]:
    STORAGE.clear()
    service = MonitorService()
    yield service
    service.stop_all(timeout=3)
    STORAGE.clear()


def _wait(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class CountingConnector(FakeConnector):
    """A connection's connector (its runtime's pipeline, in the real wrapper) that counts what it opens."""

    def __init__(self, cluster: FakeCluster, name: str) -> None:
        super().__init__(cluster)
        self.name = name
        self.opened: list[tuple[str, Mapping[str, Any] | None]] = []

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        self.opened.append((host.host, props))
        return super().force_connect(host, props)


def _provider(
    cluster: FakeCluster, monitors: MonitorService, name: str, **props: Any
) -> tuple[TopologyHostListProvider, CountingConnector]:
    props.setdefault("topology_refresh_ms", 30000)
    ctx = context(cluster, FakeDriver(), monitors, "a", **props)
    connector = CountingConnector(cluster, name)
    ctx = replace(ctx, connector=connector)
    provider = AURORA_PG.create_host_list_provider(ctx)
    assert isinstance(provider, TopologyHostListProvider)
    return provider, connector


def test_reset_drops_the_connection_and_verifies_the_writer_again(monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider, connector = _provider(cluster, monitors, "one")
    provider.refresh(FakeConn(cluster, "a"))
    monitor = provider.monitor()
    assert _wait(lambda: monitor.verified_writer is not None)
    first = monitor._conn
    assert isinstance(first, FakeConn)
    opened = len(connector.opened)

    assert monitors.reset(MONITOR_KIND, "fake-cluster") == 1
    assert monitor.resets == 1
    assert first.aborted.is_set()
    assert _wait(lambda: monitor.verified_writer is not None and monitor._conn is not first)
    assert len(connector.opened) > opened  # a new monitoring connection, through the user's connector
    assert first.closed
    assert monitor.topology is not None
    assert provider in monitor._users  # the user stays attached
    assert monitors.count(MONITOR_KIND) == 1


def test_a_writer_wait_after_a_reset_needs_a_new_verification(monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider, connector = _provider(cluster, monitors, "one")
    provider.refresh(FakeConn(cluster, "a"))
    monitor = provider.monitor()
    assert _wait(lambda: monitor.verified_writer is not None)
    opened = len(connector.opened)
    monitor.reset()
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    assert hosts[0].host == "a"
    assert len(connector.opened) > opened


def test_a_reset_during_a_panic_starts_a_new_round(monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider, _ = _provider(cluster, monitors, "one", cluster_topology_high_refresh_rate_ms=50)
    provider.refresh(FakeConn(cluster, "a"))
    monitor = provider.monitor()
    assert _wait(lambda: monitor.verified_writer is not None)
    with cluster.lock:
        cluster.down.add("a")
        cluster.writer = None  # nobody is the writer: the panic goes on
    monitor.refresh_now(0.2)  # the read over the monitoring connection fails: a panic starts
    assert _wait(lambda: monitor._round is not None)
    old_round = monitor._round
    monitor.reset()
    assert old_round is not None
    assert old_round.done.is_set()
    assert _wait(lambda: monitor._round is not None and monitor._round is not old_round)
    with cluster.lock:
        cluster.down.discard("a")
        cluster.writer = "b"
    hosts = provider.force_refresh(None, verify_writer=True, timeout=3)
    assert hosts[0].host == "b"


def test_the_monitor_keeps_no_closed_connection_alive(monitors: MonitorService) -> None:
    cluster = FakeCluster()
    first, first_connector = _provider(cluster, monitors, "first", **{"topology-monitoring-user": "u1"})
    first.refresh(FakeConn(cluster, "a"))
    monitor = first.monitor()
    assert _wait(lambda: monitor.verified_writer is not None)
    assert first_connector.opened
    second, second_connector = _provider(cluster, monitors, "second", **{"topology-monitoring-user": "u2"})
    assert second.monitor() is monitor

    first.release_resources()  # the first wrapper connection closes
    gone = weakref.ref(first_connector)
    provider_gone = weakref.ref(first)
    del first, first_connector
    gc.collect()
    assert gone() is None
    assert provider_gone() is None

    monitor.reset()  # the next monitoring connection comes through the second connection, with its settings
    assert _wait(lambda: monitor.verified_writer is not None and bool(second_connector.opened))
    props = second_connector.opened[0][1]
    assert props is not None
    assert props["user"] == "u2"


def test_without_any_user_left_the_monitor_cannot_connect(monitors: MonitorService) -> None:
    cluster = FakeCluster()
    provider, _ = _provider(cluster, monitors, "only")
    provider.refresh(FakeConn(cluster, "a"))
    monitor = provider.monitor()
    assert _wait(lambda: monitor.verified_writer is not None)
    provider.release_resources()
    del provider, _
    gc.collect()
    with pytest.raises(ConnectionError, match=r"no connection of cluster 'fake-cluster' is left"):
        monitor._open(HostInfo("a", 5432))

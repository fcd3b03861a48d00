"""ABI 1.1 on a real cluster: a plugin from a separately installed distribution (``test_monitor_reset`` of
tests-integration/fixtures/abi11-monitors) resets the shared monitors, and the server shows that the topology and
EFM monitors reconnected; a closed wrapper connection is not kept alive by the shared monitor, which goes on
through another connection's pipeline and settings."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from dialects_support import connect_kwargs

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.dialects import TopologyHostListProvider, TopologyMonitor
from aws_wrapper.efm import MONITOR_APPLICATION_NAME, HostMonitor, HostMonitoringPlugin, active_monitors
from aws_wrapper.testing import LocalCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(instances=2, flavour="aurora", instance_ids="address"),
]

TOPOLOGY_APP = "abi11-topology"


def _plugin_module() -> Any:
    try:
        import aws_wrapper_test_abi11_monitors
    except ImportError:
        pytest.fail(
            "aws-wrapper-test-abi11-monitors is not installed: pip install -e tests-integration/fixtures/abi11-monitors"
        )
    return aws_wrapper_test_abi11_monitors


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    release_resources()
    yield
    release_resources()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _connect(cluster: LocalCluster, application: str, plugins: str) -> AwsWrapperConnection:
    kwargs = connect_kwargs(
        cluster,
        cluster_instance_host_pattern="?",
        plugins=plugins,
        autocommit=True,
        **{"topology-monitoring-application_name": application},
    )
    return AwsWrapperConnection.connect(psycopg.Connection.connect, **kwargs)


def _topology_monitor(conn: AwsWrapperConnection) -> TopologyMonitor:
    provider = conn._rt.provider
    assert isinstance(provider, TopologyHostListProvider)
    return provider.monitor()


def _backends(cluster: LocalCluster, application: str) -> set[int]:
    """Backend pids of the writer's sessions named ``application`` (pg_stat_activity)."""
    with psycopg.connect(
        **cluster.conninfo(cluster.writer), autocommit=True, application_name="abi11-admin"
    ) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchall()
    return {int(row[0]) for row in rows}


def _one_backend(cluster: LocalCluster, application: str, not_in: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """Waits until exactly one session named ``application`` is open on the writer, not one of ``not_in``."""
    seen: set[int] = set()

    def ready() -> bool:
        nonlocal seen
        seen = _backends(cluster, application)
        return len(seen) == 1 and not seen & not_in

    assert _wait(ready), (
        f"sessions named {application!r} on the writer: {sorted(seen)} (old: {sorted(not_in)})"
    )
    return next(iter(seen))


def test_a_plugin_resets_the_topology_and_efm_monitors(pg_cluster: LocalCluster) -> None:
    module = _plugin_module()
    conn = _connect(pg_cluster, TOPOLOGY_APP, "test_monitor_reset,efm")
    try:
        topology = _topology_monitor(conn)
        assert _wait(lambda: topology.verified_writer is not None)
        efm_plugin = conn.plugin(HostMonitoringPlugin)
        assert efm_plugin is not None
        efm = efm_plugin.monitor
        assert isinstance(efm, HostMonitor)
        topology_pid = _one_backend(pg_cluster, TOPOLOGY_APP)
        efm_pid = _one_backend(pg_cluster, MONITOR_APPLICATION_NAME)

        cur = conn.cursor()
        cur.execute(
            f"SELECT 1 {module.RESET_MARKER}"
        )  # the plugin resets every monitor before the statement runs
        assert cur.fetchall() == [(1,)]
        reset_plugin = conn.plugin(module.MonitorResetPlugin)
        assert reset_plugin is not None
        assert len(reset_plugin.resets) == 1
        assert reset_plugin.resets[0] >= 2  # at least this cluster's topology and EFM monitors
        assert topology.resets == 1
        assert efm.resets == 1

        # the server shows new monitoring sessions; the old ones are gone
        new_topology_pid = _one_backend(pg_cluster, TOPOLOGY_APP, not_in={topology_pid})
        new_efm_pid = _one_backend(pg_cluster, MONITOR_APPLICATION_NAME, not_in={efm_pid})
        print(
            f"topology monitoring backend {topology_pid} -> {new_topology_pid}, "
            f"efm monitoring backend {efm_pid} -> {new_efm_pid}"
        )
        # same monitors, users kept: the connection is still watched and served, nothing was re-registered
        assert _topology_monitor(conn) is topology
        assert efm_plugin.monitor is efm
        assert _wait(lambda: topology.verified_writer is not None)
        assert [s.connections for s in active_monitors() if s.key == efm.key] == [1]
        assert (
            conn._rt.force_refresh(verify_writer=True, timeout=10)[0].host
            == pg_cluster.endpoint(pg_cluster.writer).host
        )
        cur.execute("SELECT 2")
        assert cur.fetchall() == [(2,)]
    finally:
        conn.close()


def _close_and_collect(conns: dict[str, AwsWrapperConnection], name: str) -> None:
    """Close ``conns[name]`` (and forget it) and check that nothing keeps its runtime (services, pipeline,
    plugins) alive."""
    conn = conns.pop(name)
    runtime = weakref.ref(conn._rt)
    conn.close()
    del conn
    gc.collect()
    left = runtime()
    assert left is None, [type(r).__name__ for r in gc.get_referrers(left)]


def _reset(conn: AwsWrapperConnection) -> None:
    plugin = conn.plugin(_plugin_module().MonitorResetPlugin)
    assert plugin is not None
    assert plugin.reset_monitors() >= 2


def test_closed_connections_are_not_kept_by_the_shared_monitor(pg_cluster: LocalCluster) -> None:
    """The monitor neither pins the connection attached last (whose pipeline it used to open connections with)
    nor the first one (whose settings it used for ever)."""
    conns: dict[str, AwsWrapperConnection] = {}
    try:
        conns["first"] = _connect(pg_cluster, "abi11-first", "test_monitor_reset,efm")
        topology = _topology_monitor(conns["first"])
        assert _wait(lambda: topology.verified_writer is not None)
        _one_backend(pg_cluster, "abi11-first")  # the monitor connected through the first connection
        conns["second"] = _connect(pg_cluster, "abi11-second", "test_monitor_reset,efm")
        assert _topology_monitor(conns["second"]) is topology  # one monitor per cluster
        _close_and_collect(conns, "second")  # the connection attached last

        _reset(conns["first"])
        _one_backend(pg_cluster, "abi11-first")  # reconnected through the first connection, with its settings
        assert _wait(lambda: topology.verified_writer is not None)

        conns["third"] = _connect(pg_cluster, "abi11-third", "test_monitor_reset,efm")
        assert _topology_monitor(conns["third"]) is topology
        _close_and_collect(conns, "first")  # the connection that created the monitor
        assert MONITORS.count() >= 2  # the shared monitors go on for the third connection
        _reset(conns["third"])
        # the new monitoring session was opened through the third connection's pipeline, with its settings
        _one_backend(pg_cluster, "abi11-third")
        assert _wait(lambda: not _backends(pg_cluster, "abi11-first"))
        assert _wait(lambda: topology.verified_writer is not None)
        cur = conns["third"].cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        for conn in conns.values():
            conn.close()

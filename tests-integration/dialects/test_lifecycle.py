"""The topology monitor starts with the first connection of a cluster, stops once its connections are closed
(after ``idle_timeout``), and ``release_resources()`` leaves no thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from dialects_support import connect_kwargs

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.dialects import TopologyMonitor
from aws_wrapper.dialects._monitor import MONITOR_KIND
from aws_wrapper.testing.pytest_plugin import ClusterFactory

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster]


def _topology_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("aws-wrapper-topology")]


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_monitor_lifecycle(local_cluster: ClusterFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TopologyMonitor, "idle_timeout", 0.3)
    release_resources()
    cluster = local_cluster("pg", instances=2, flavour="aurora", instance_ids="address")
    kwargs = connect_kwargs(cluster, cluster_instance_host_pattern="?", plugins="")
    assert not _topology_threads()
    try:
        conns = [AwsWrapperConnection.connect(psycopg.Connection.connect, **kwargs) for _ in range(3)]
        assert MONITORS.count(MONITOR_KIND) == 1  # one per cluster, not per connection
        assert len(_topology_threads()) >= 1
        time.sleep(0.6)  # longer than idle_timeout: open connections keep it running
        assert MONITORS.count(MONITOR_KIND) == 1
        for conn in conns:
            conn.close()
        assert _wait(lambda: MONITORS.count(MONITOR_KIND) == 0)
        assert _wait(lambda: not _topology_threads())

        conn = AwsWrapperConnection.connect(psycopg.Connection.connect, **kwargs)
        assert MONITORS.count(MONITOR_KIND) == 1
        assert (
            conn._rt.force_refresh(verify_writer=True, timeout=10)[0].host
            == cluster.endpoint(cluster.writer).host
        )
        release_resources()  # with the connection still open
        assert MONITORS.count(MONITOR_KIND) == 0
        assert _wait(lambda: not _topology_threads(), timeout=2)
        conn.close()
    finally:
        release_resources()

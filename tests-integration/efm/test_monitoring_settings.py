"""Issue 9, item 6b: the ``monitoring-`` values the wrapper interprets are validated when the plugin is created.

Before, ``monitoring-connect_timeout=-1`` was accepted: the connect succeeded, and the shared monitor's own
connection then failed in its helper thread on every attempt, so the host only counted as "alive because it
answers", for every connection sharing that monitor. Now the connect fails at once with ``ConfigurationError``
naming the full key, before any server is contacted (the host is blackholed: any contact would hang).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.efm import HostMonitoringPlugin
from aws_wrapper.testing import FaultProxy

from .conftest import Engine, efm_threads, select_one, wait_for

pytestmark = pytest.mark.integration

MALFORMED = [
    ("monitoring-connect_timeout", -1, "must be at least"),
    ("monitoring-connect_timeout", "soon", "expected a number"),
    ("monitoring-socket_timeout", 0, "must be at least"),
    ("monitoring-tcp_keepalive", "maybe", "expected a boolean"),
    ("monitoring-tcp_keepalive_time", 0, "must be at least 1"),
]


def test_malformed_monitoring_values_fail_before_any_server_is_contacted(
    engine: Engine, proxy: FaultProxy
) -> None:
    proxy.blackhole()  # a connect attempt would now hang for connect_timeout (2 s)
    timings = []
    message = ""
    for key, value, expected in MALFORMED:
        settings: dict[str, Any] = {"plugins": "host_monitoring", "connect_timeout": 2, key: value}
        started = time.monotonic()
        with pytest.raises(ConfigurationError) as caught:
            engine.wrapper(proxy, **settings)
        elapsed = time.monotonic() - started
        timings.append(elapsed)
        message = str(caught.value)
        assert f"invalid value {value!r} for setting {key!r}" in message, message
        assert expected in message, message
        assert elapsed < 0.5, (key, elapsed)
    assert proxy.connection_count() == 0  # nothing reached the host
    assert not efm_threads()
    print(
        f"\n{engine.name}: {len(MALFORMED)} malformed monitoring- values rejected before connecting, slowest in "
        f"{max(timings) * 1000:.1f} ms; e.g. {message!r}"
    )


def test_valid_monitoring_values_reach_the_monitoring_connection(engine: Engine, proxy: FaultProxy) -> None:
    settings: dict[str, Any] = {
        "plugins": "host_monitoring",
        "failure_detection_time_ms": 1000,
        "failure_detection_interval_ms": 500,
        "failure_detection_count": 2,
        "monitoring-connect_timeout": "2",
        "monitoring-socket_timeout": 1.5,
    }
    conn = engine.wrapper(proxy, **settings)
    try:
        select_one(conn)
        plugin = conn.plugin(HostMonitoringPlugin)
        assert plugin is not None
        monitor = plugin.monitor
        assert monitor is not None
        assert wait_for(lambda: monitor.stats().monitoring_connection_open, 3.0), monitor.stats()
        assert monitor.stats().healthy
    finally:
        conn.close()

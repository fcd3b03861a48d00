from __future__ import annotations

import threading
import time

import pytest

from aws_wrapper.core.errors import AwsWrapperError
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.custom_endpoint import MONITOR_KIND, CustomEndpointMonitor

from ._fakes import FakeRdsClient


def _monitor(client: FakeRdsClient, rate: float = 0.05, idle: float = 60.0) -> CustomEndpointMonitor:
    return CustomEndpointMonitor(
        "two.host", "two", "us-east-1", client, refresh_rate=rate, idle_expiration=idle
    )


def _wait(condition: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_refresh_reads_the_members_on_the_monitor_thread() -> None:
    client = FakeRdsClient()
    client.set("two", static=["instance-1", "instance-2"])
    monitor = _monitor(client).start()
    try:
        info = monitor.wait_for_info(2.0)
        assert info.static_members == {"instance-1", "instance-2"}
        assert client.threads[0].startswith("aws-wrapper-custom-endpoint-two")
        client.set("two", static=["instance-3"])
        _wait(lambda: monitor.info is not None and monitor.info.static_members == {"instance-3"})
    finally:
        monitor.stop()
        monitor.join(2.0)
    assert not monitor.alive


def test_cached_info_costs_no_request() -> None:
    client = FakeRdsClient()
    client.set("two", static=["instance-1"])
    monitor = _monitor(client, rate=60.0).start()
    try:
        monitor.wait_for_info(2.0)
        before = client.requests
        for _ in range(100):
            monitor.wait_for_info(2.0)
        assert client.requests == before == 1
    finally:
        monitor.stop()
        monitor.join(2.0)


def test_wait_times_out_with_the_last_error() -> None:
    client = FakeRdsClient()
    client.error = RuntimeError("access denied")
    monitor = _monitor(client).start()
    try:
        started = time.monotonic()
        with pytest.raises(AwsWrapperError) as info:
            monitor.wait_for_info(0.2)
        assert 0.15 <= time.monotonic() - started < 1.5
        text = str(info.value)
        assert "'two'" in text
        assert "us-east-1" in text
        assert "access denied" in text
        assert "wait_for_custom_endpoint_info_timeout_ms" in text
        client.error = None
        client.set("two", excluded=["instance-4"])
        assert monitor.wait_for_info(3.0).excluded_members == {"instance-4"}  # retried within about a second
    finally:
        monitor.stop()
        monitor.join(2.0)


def test_unknown_endpoint_is_an_error_not_members() -> None:
    client = FakeRdsClient()
    monitor = _monitor(client).start()
    try:
        with pytest.raises(AwsWrapperError, match="returned 0 custom endpoints"):
            monitor.wait_for_info(0.3)
    finally:
        monitor.stop()
        monitor.join(2.0)


def test_stop_ends_the_thread_and_unregisters() -> None:
    client = FakeRdsClient()
    client.set("two", static=["a"])
    registry = MonitorService()
    key = ("two.host", "us-east-1")
    monitor = registry.get_or_create(
        MONITOR_KIND,
        key,
        lambda: CustomEndpointMonitor(
            "two.host",
            "two",
            "us-east-1",
            client,
            refresh_rate=0.05,
            idle_expiration=60,
            registry=registry,
            key=key,
        ).start(),
    )
    monitor.wait_for_info(2.0)
    registry.stop_all(2.0)
    assert not monitor.alive
    assert registry.count(MONITOR_KIND) == 0
    requests = client.requests
    time.sleep(0.15)
    assert client.requests == requests


def test_an_idle_monitor_stops_itself() -> None:
    client = FakeRdsClient()
    client.set("two", static=["a"])
    registry = MonitorService()
    key = ("two.host", "us-east-1")

    class User:
        pass

    user = User()
    monitor = registry.get_or_create(
        MONITOR_KIND,
        key,
        lambda: CustomEndpointMonitor(
            "two.host",
            "two",
            "us-east-1",
            client,
            refresh_rate=0.02,
            idle_expiration=0.1,
            registry=registry,
            key=key,
        ),
    )
    monitor.use(user)
    monitor.start()
    time.sleep(0.2)
    assert monitor.alive  # used
    monitor.unuse(user)
    _wait(lambda: not monitor.alive)
    assert registry.count(MONITOR_KIND) == 0


def test_reset_reads_again_at_once() -> None:
    client = FakeRdsClient()
    client.set("two", static=["a"])
    monitor = _monitor(client, rate=60.0).start()
    try:
        monitor.wait_for_info(2.0)
        client.set("two", static=["b"])
        monitor.reset()
        assert monitor.info is not None  # the known members stay in force meanwhile
        _wait(lambda: monitor.info is not None and monitor.info.static_members == {"b"})
        assert client.requests == 2
    finally:
        monitor.stop()
        monitor.join(2.0)
    assert threading.active_count() >= 1

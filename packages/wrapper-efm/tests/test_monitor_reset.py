"""ABI 1.1: a host monitor starts over on ``MonitorService.reset`` (fake host; real servers: tests-integration/core)."""

from __future__ import annotations

import time

from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.efm import EfmConfig, HostMonitor
from aws_wrapper.efm._monitor import MONITOR_KIND, Slot

from ._fakes import FakeConnection, FakeDriver, FakeHost, FakeOpener


def _wait(predicate: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return bool(callable(predicate) and predicate())


def _monitor(service: MonitorService, host: FakeHost, driver: FakeDriver) -> HostMonitor:
    cfg = EfmConfig(True, 300, 100, 3, 600_000)
    key = ("fake", host.info.url, *cfg.key)
    return service.get_or_create(
        MONITOR_KIND, key, lambda: HostMonitor(key, host.info, cfg, driver.as_dialect(), service)
    )


def test_reset_replaces_the_monitoring_connection_and_keeps_watching(
    host: FakeHost, driver: FakeDriver
) -> None:
    service = MonitorService()
    monitor = _monitor(service, host, driver)
    opener = FakeOpener(host)
    conn = FakeConnection(host)
    slot = Slot(conn, opener)
    assert monitor.register(slot)
    assert _wait(lambda: monitor.stats().monitoring_connection_open)
    first = monitor._conn
    assert isinstance(first, FakeConnection)

    assert service.reset(MONITOR_KIND) == 1
    assert _wait(lambda: monitor._conn is not None and monitor._conn is not first)
    assert first.closed
    assert host.opened == 2
    stats = monitor.stats()
    assert (stats.resets, stats.connections, stats.failed_probes) == (1, 1, 0)

    # still watching the registered connection: an outage is detected as before
    slot.since = time.monotonic()
    host.silent = True
    assert conn.wait_aborted(3.0) is not None
    slot.since = 0.0
    service.stop_all(timeout=2)


def test_reset_forgets_a_dead_host_and_gives_it_a_full_window(host: FakeHost, driver: FakeDriver) -> None:
    service = MonitorService()
    monitor = _monitor(service, host, driver)
    opener = FakeOpener(host)
    conn = FakeConnection(host)
    slot = Slot(conn, opener)
    assert monitor.register(slot)
    slot.since = time.monotonic()
    host.silent = True
    assert conn.wait_aborted(3.0) is not None
    assert not monitor.healthy
    assert AVAILABILITY.is_down(host.info)

    host.silent = False
    slot.since = time.monotonic() - 10  # a call stuck long before the reset
    monitor.reset()
    assert _wait(lambda: monitor.stats().healthy and monitor.stats().monitoring_connection_open)
    assert not AVAILABILITY.is_down(host.info)
    assert monitor.aborted == 1  # the stuck call is not aborted at once: the host answers again
    slot.since = 0.0
    service.stop_all(timeout=2)


def test_reset_of_a_stopped_monitor_does_nothing(host: FakeHost, driver: FakeDriver) -> None:
    service = MonitorService()
    monitor = _monitor(service, host, driver)
    monitor.stop()
    monitor.reset()
    assert monitor.resets == 0

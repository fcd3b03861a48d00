"""The monitor's decisions, timed with small settings against a fake host (real servers: tests-integration/efm)."""

from __future__ import annotations

import gc
import time

import pytest

from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.efm import EfmConfig, HostMonitor, active_monitors
from aws_wrapper.efm._monitor import Slot

from ._fakes import FakeConnection, FakeDriver, FakeHost, FakeOpener
from .conftest import efm_threads

TOLERANCE = 0.06  # seconds allowed past a detection bound on a busy 2-core machine


def new_monitor(
    host: FakeHost, driver: FakeDriver, time_ms: int, interval_ms: int, count: int, disposal_ms: int = 600_000
) -> HostMonitor:
    cfg = EfmConfig(True, time_ms, interval_ms, count, disposal_ms)
    return HostMonitor(("fake", host.info.url, *cfg.key), host.info, cfg, driver.as_dialect(), MONITORS)


def watched(monitor: HostMonitor, host: FakeHost) -> tuple[Slot, FakeConnection, FakeOpener]:
    """A user connection to ``host`` registered with ``monitor`` (the opener must outlive the slot's use)."""
    opener = FakeOpener(host)
    conn = FakeConnection(host)
    slot = Slot(conn, opener)
    assert monitor.register(slot)
    return slot, conn, opener


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return bool(callable(predicate) and predicate())


def call_with_outage(slot: Slot, conn: FakeConnection, host: FakeHost, delay: float, limit: float) -> float:
    """Mark a call in flight, silence the host ``delay`` s into it; seconds from the call's start to the abort."""
    start = time.monotonic()
    slot.since = start
    try:
        time.sleep(delay)
        host.silent = True
        aborted = conn.wait_aborted(limit)
    finally:
        slot.since = 0.0
    assert aborted is not None, "the call was never aborted"
    return aborted - start


def test_outage_before_grace_is_detected_at_grace_plus_window(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=300, interval_ms=100, count=3)
    slot, conn, _opener = watched(monitor, host)
    time.sleep(0.05)  # the monitoring connection is opened before any call needs it
    assert host.opened == 1
    elapsed = call_with_outage(slot, conn, host, delay=0.1, limit=3.0)
    bound = 0.3 + 3 * 0.1
    assert bound - 0.03 <= elapsed <= bound + TOLERANCE
    assert driver.aborted == [conn]
    assert AVAILABILITY.is_down(host.info)
    assert not monitor.healthy


@pytest.mark.parametrize("delay", [0.33, 0.41, 0.5])
def test_outage_after_grace_is_detected_within_one_window_whatever_the_phase(
    host: FakeHost, driver: FakeDriver, delay: float
) -> None:
    monitor = new_monitor(host, driver, time_ms=200, interval_ms=200, count=1)  # window 0.2 s
    slot, conn, _opener = watched(monitor, host)
    elapsed = call_with_outage(slot, conn, host, delay=delay, limit=3.0)
    assert elapsed <= delay + 0.2 + TOLERANCE
    assert elapsed >= 0.2  # never before the grace time


def test_outage_after_grace_with_count_two(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=200, interval_ms=100, count=2)
    slot, conn, _opener = watched(monitor, host)
    elapsed = call_with_outage(slot, conn, host, delay=0.45, limit=3.0)
    assert 0.45 < elapsed <= 0.45 + 0.2 + TOLERANCE


def test_host_silent_before_the_monitor_connects_is_detected(host: FakeHost, driver: FakeDriver) -> None:
    host.silent = True  # even the monitoring connection hangs: a pending connect counts as a failed probe
    monitor = new_monitor(host, driver, time_ms=200, interval_ms=100, count=2)
    slot, conn, _opener = watched(monitor, host)
    elapsed = call_with_outage(slot, conn, host, delay=0.0, limit=3.0)
    assert 0.4 - 0.03 <= elapsed <= 0.4 + TOLERANCE
    assert monitor.stats().connects >= 1
    assert host.opened == 0


def test_healthy_long_call_is_never_aborted(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=100, interval_ms=100, count=1)
    slot, conn, _opener = watched(monitor, host)
    slot.since = time.monotonic()
    try:
        assert conn.wait_aborted(1.2) is None
    finally:
        slot.since = 0.0
    stats = monitor.stats()
    assert stats.probes >= 10  # probed every half interval (count 1) for about a second
    assert stats.failed_probes == 0
    assert stats.aborted == 0
    assert stats.healthy
    assert not AVAILABILITY.is_down(host.info)
    assert host.opened == 1  # one monitoring connection for the whole call


def test_only_calls_past_the_grace_time_are_aborted(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=300, interval_ms=100, count=1)
    old_slot, old_conn, _o1 = watched(monitor, host)
    young_slot, young_conn, _o2 = watched(monitor, host)
    start = time.monotonic()
    old_slot.since = start
    host.silent = True
    time.sleep(0.2)
    young_slot.since = time.monotonic()
    try:
        assert old_conn.wait_aborted(2.0) is not None
        assert time.monotonic() - start <= 0.4 + TOLERANCE
        assert not young_conn.broken.is_set()
        # the young call reaches its grace time on a host known dead: one probe period, then aborted
        assert young_conn.wait_aborted(2.0) is not None
        assert time.monotonic() - young_slot.since <= 0.3 + 0.05 + TOLERANCE
    finally:
        old_slot.since = young_slot.since = 0.0
    assert driver.aborted.count(old_conn) == 1  # aborted once, not at every probe


def test_host_answering_again_is_marked_available(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=100, interval_ms=100, count=1)
    slot, conn, _opener = watched(monitor, host)
    call_with_outage(slot, conn, host, delay=0.0, limit=3.0)
    assert AVAILABILITY.is_down(host.info)
    host.silent = False
    host.release()  # the pending connect gives up; the next one succeeds
    slot2 = Slot(FakeConnection(host), _opener)
    assert monitor.register(slot2)
    slot2.since = time.monotonic()
    try:
        assert wait_until(lambda: monitor.healthy, 2.0)
    finally:
        slot2.since = 0.0
    assert not AVAILABILITY.is_down(host.info)


def test_monitor_stops_soon_after_its_last_connection_leaves(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=30_000, interval_ms=5_000, count=3)
    slot, _conn, _opener = watched(monitor, host)
    assert wait_until(lambda: monitor.stats().monitoring_connection_open, 1.0)
    assert any(s.key == monitor.key for s in active_monitors())
    monitor.unregister(slot)
    started = time.monotonic()
    assert wait_until(lambda: not monitor.running, 3.0)
    assert time.monotonic() - started < 2.5
    assert not monitor.register(Slot())  # a stopped monitor refuses: the plugin then gets a new one
    assert all(s.key != monitor.key for s in active_monitors())
    assert conn_closed(driver)


def conn_closed(driver: FakeDriver) -> bool:
    return len(driver.closed) == 1  # its monitoring connection was closed on the way out


def test_slot_of_a_dropped_connection_is_forgotten(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=1_000, interval_ms=1_000, count=1, disposal_ms=200)
    slot, _conn, _opener = watched(monitor, host)
    assert monitor.stats().connections == 1
    del slot
    gc.collect()
    assert wait_until(lambda: not monitor.running, 3.0)


def test_stop_ends_the_thread_promptly_even_during_a_probe(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=0, interval_ms=10_000, count=3)
    slot, _conn, _opener = watched(monitor, host)
    time.sleep(0.05)
    host.silent = True
    slot.since = time.monotonic()
    assert wait_until(lambda: monitor.probes >= 1, 1.0)  # a 10 s probe is in progress
    started = time.monotonic()
    monitor.stop()
    monitor.join(1.0)
    assert not monitor.running
    assert time.monotonic() - started < 1.0
    slot.since = 0.0


def test_disposal_closes_the_idle_monitoring_connection_and_a_call_reopens_it(
    host: FakeHost, driver: FakeDriver
) -> None:
    monitor = new_monitor(host, driver, time_ms=400, interval_ms=100, count=1, disposal_ms=100)
    slot, _conn, _opener = watched(monitor, host)
    assert wait_until(lambda: len(driver.closed) == 1, 2.0)  # opened at start, closed once idle
    assert not monitor.stats().monitoring_connection_open
    assert monitor.running
    slot.since = time.monotonic()
    try:
        assert wait_until(lambda: monitor.stats().monitoring_connection_open, 1.0)  # before the grace ends
    finally:
        slot.since = 0.0
    assert host.opened == 2


def test_refused_connects_count_as_failed_probes(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=100, interval_ms=100, count=2)
    host.refuse = True
    slot, conn, _opener = watched(monitor, host)
    start = time.monotonic()
    slot.since = start
    try:
        assert conn.wait_aborted(2.0) is not None
    finally:
        slot.since = 0.0
    assert time.monotonic() - start <= 0.3 + TOLERANCE
    assert monitor.stats().failed_probes >= 1


def test_no_efm_thread_left_after_stop(host: FakeHost, driver: FakeDriver) -> None:
    monitor = new_monitor(host, driver, time_ms=100, interval_ms=100, count=1)
    _slot, _conn, _opener = watched(monitor, host)
    time.sleep(0.05)
    monitor.stop()
    monitor.join(1.0)
    assert efm_threads() == []


def test_host_refusing_the_monitoring_login_still_counts_as_alive(
    host: FakeHost, driver: FakeDriver, caplog: pytest.LogCaptureFixture
) -> None:
    """A misconfigured monitoring user must not get healthy connections aborted: the host did answer."""
    host.login_fails = True
    monitor = new_monitor(host, driver, time_ms=100, interval_ms=100, count=1)
    slot, conn, _opener = watched(monitor, host)
    slot.since = time.monotonic()
    with caplog.at_level("WARNING", logger="aws_wrapper.efm"):
        try:
            assert conn.wait_aborted(0.8) is None
        finally:
            slot.since = 0.0
    assert monitor.healthy
    assert monitor.stats().aborted == 0
    assert caplog.text.count("cannot be opened") == 1


def test_connect_timing_out_at_the_end_of_a_probe_does_not_cost_a_probe(
    host: FakeHost, driver: FakeDriver
) -> None:
    """The monitoring connect's own timeout is about one probe period, so a connect begun in one probe gives up just
    after the next probe started: that probe must try again instead of counting the stale failure at once."""
    host.connect_time = 0.23  # a little longer than a probe period, as with real drivers
    monitor = new_monitor(host, driver, time_ms=300, interval_ms=200, count=3)
    slot, conn, _opener = watched(monitor, host)
    time.sleep(0.05)
    elapsed = call_with_outage(slot, conn, host, delay=0.05, limit=3.0)
    bound = 0.3 + 3 * 0.2
    assert bound - 0.03 <= elapsed <= bound + TOLERANCE

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.core.hostinfo import HostAvailability
from aws_wrapper.efm import THREAD_PREFIX, _monitor

from ._fakes import FakeDriver, FakeHost


def stop_efm_monitors(timeout: float = 2.0) -> None:
    """Stop this package's monitors only (other packages' monitors are not ours to stop)."""
    with _monitor._live_lock:
        monitors = list(_monitor._live)
    for monitor in monitors:
        monitor.stop()
    for monitor in monitors:
        monitor.join(timeout)


def efm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.fixture
def hosts() -> Iterator[dict[str, FakeHost]]:
    """Fake hosts by name, released (every simulated wait ends) and marked available again afterwards."""
    made: dict[str, FakeHost] = {}
    yield made
    for host in made.values():
        host.release()
    stop_efm_monitors()
    for host in made.values():
        AVAILABILITY.set(host.info.all_aliases, HostAvailability.AVAILABLE)


@pytest.fixture
def host(hosts: dict[str, FakeHost]) -> FakeHost:
    hosts["db-1"] = FakeHost("db-1")
    return hosts["db-1"]


@pytest.fixture
def driver() -> FakeDriver:
    return FakeDriver()

"""The state of one panic of the topology monitor (see ``_monitor``): shared by the monitor thread and the probe
threads of that panic."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import RawConnection

from ._topology import Topology

__all__ = ["PanicRound", "backoff_delay"]


class PanicRound:
    """One panic of a topology monitor: its probe threads, what they found, and the condition they sleep on."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)  # probes sleep on it: the end, or a new waiter, wakes them
        self.threads: dict[str, threading.Thread] = {}
        self.found: tuple[RawConnection, HostInfo, Topology, float] | None = None
        self.reader_slot: str | None = None
        self.next_read = -math.inf  # when the reader slot reads the topology next
        self.failed: set[str] = set()  # hosts that could not be reached or are not the writer
        self.expanded = False

    def finish(self) -> None:
        with self.lock:
            self.done.set()
            self.wake.notify_all()

    def kick(self) -> None:
        """Make sleeping probes re-plan their next check (a caller started waiting for a writer)."""
        with self.lock:
            self.wake.notify_all()

    def sleep_until(self, due: Callable[[], float]) -> bool:
        """Wait until ``due()`` (re-evaluated whenever woken); False when the round has ended."""
        with self.lock:
            while not self.done.is_set():
                remaining = due() - time.monotonic()
                if remaining <= 0:
                    return True
                self.wake.wait(remaining)
            return False

    def claim_writer(self, conn: RawConnection, host: HostInfo, topology: Topology, at: float) -> bool:
        with self.lock:
            if self.found is not None or self.done.is_set():
                return False
            self.found = (conn, host, topology, at)
            return True

    def has_writer(self) -> bool:
        return self.found is not None

    def result(self) -> tuple[RawConnection, HostInfo, Topology, float] | None:
        return self.found

    def claim_reader(self, url: str) -> bool:
        with self.lock:
            if self.reader_slot is None:
                self.reader_slot = url
            return self.reader_slot == url

    def release_reader(self, url: str) -> None:
        with self.lock:
            if self.reader_slot == url:
                self.reader_slot = None


def backoff_delay(failures: int) -> float:
    """Delay of a probe after a failure that is not a network error: exponential, 100 ms to 10 s, with jitter."""
    return min(0.1 * (1 << min(failures, 6)), 10.0) * random.uniform(0.5, 1.0)

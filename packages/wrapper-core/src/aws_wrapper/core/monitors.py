"""Registry of shared background monitors (one per key per process) with a common stop path.

A monitor starts its daemon thread lazily, stops itself when it has had no users for a while (and calls
:meth:`MonitorService.discard`), and is stopped by :func:`aws_wrapper.core.release_resources`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

__all__ = ["Monitor", "MonitorService", "MONITORS"]

logger = logging.getLogger("aws_wrapper.core")


class Monitor(Protocol):
    def stop(self) -> None:
        """Ask the monitor to stop (idempotent, non-blocking)."""
        ...

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for its threads to end."""
        ...


M = TypeVar("M", bound=Monitor)


class MonitorService:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._monitors: dict[tuple[str, Hashable], Monitor] = {}

    def get_or_create(self, kind: str, key: Hashable, factory: Callable[[], M]) -> M:
        """The live monitor of ``kind`` for ``key``, or a new one from ``factory`` (called under the lock)."""
        from .lifecycle import ensure_exit_hook

        with self._lock:
            monitor = self._monitors.get((kind, key))
            if monitor is None:
                ensure_exit_hook()
                monitor = self._monitors[(kind, key)] = factory()
            return monitor  # type: ignore[return-value]

    def get(self, kind: str, key: Hashable) -> Monitor | None:
        with self._lock:
            return self._monitors.get((kind, key))

    def discard(self, kind: str, key: Hashable, monitor: Monitor) -> None:
        """Forget ``monitor`` if it is still the one registered (a stopping monitor calls this itself)."""
        with self._lock:
            if self._monitors.get((kind, key)) is monitor:
                del self._monitors[(kind, key)]

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(1 for k in self._monitors if kind is None or k[0] == kind)

    def stop_all(self, timeout: float = 2.0) -> None:
        with self._lock:
            monitors = list(self._monitors.values())
            self._monitors.clear()
        for monitor in monitors:
            monitor.stop()
        deadline = time.monotonic() + timeout
        for monitor in monitors:
            monitor.join(max(0.0, deadline - time.monotonic()))
        if monitors and logger.isEnabledFor(logging.DEBUG):
            logger.debug("stopped %d monitor(s)", len(monitors))


MONITORS = MonitorService()

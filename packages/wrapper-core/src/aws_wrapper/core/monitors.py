"""Registry of shared background monitors (one per key per process) with a common stop path.

A monitor starts its daemon thread lazily, stops itself when it has had no users for a while (and calls
:meth:`MonitorService.discard`), and is stopped by :func:`aws_wrapper.core.release_resources`.

ABI 1.1: :meth:`MonitorService.reset` tells monitors to start over (upstream's monitor-reset event, sent on a
blue/green switchover): every selected monitor that implements the optional ``reset()`` of
:class:`ResettableMonitor` drops its connections and cached state and keeps its users.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

__all__ = ["Monitor", "ResettableMonitor", "MonitorService", "MONITORS"]

logger = logging.getLogger("aws_wrapper.core")


class Monitor(Protocol):
    def stop(self) -> None:
        """Ask the monitor to stop (idempotent, non-blocking)."""
        ...

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for its threads to end."""
        ...


class ResettableMonitor(Monitor, Protocol):
    """A monitor that can be told to start over (ABI 1.1; the method is optional for a monitor)."""

    def reset(self) -> None:
        """Drop the monitoring connections and every cached answer (topology, verified writer, host health) and
        start over, keeping the registered users. Thread-safe and non-blocking: connections in use by the
        monitor's threads are aborted, and closed by those threads."""
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

    def reset(
        self,
        kind: str | None = None,
        key: Hashable | None = None,
        *,
        where: Callable[[str, Hashable], bool] | None = None,
    ) -> int:
        """Tell the registered monitors of ``kind`` (every kind when None) and ``key`` (every key when None), and
        for which ``where(kind, key)`` holds, to start over (see :class:`ResettableMonitor`); monitors without a
        ``reset()`` are left alone. Returns how many were reset. Users stay registered: nobody reconnects.

        E.g. a blue/green plugin on a switchover: ``context.monitors.reset()``, or only one cluster's topology
        monitor: ``context.monitors.reset("aws_wrapper.dialects.topology", cluster_id)``."""
        with self._lock:
            selected = [
                (k, monitor)
                for k, monitor in self._monitors.items()
                if (kind is None or k[0] == kind) and (key is None or k[1] == key)
            ]
        count = 0
        for (monitor_kind, monitor_key), monitor in selected:
            reset = getattr(monitor, "reset", None)
            if reset is None or (where is not None and not where(monitor_kind, monitor_key)):
                continue
            try:
                reset()
            except Exception:  # one failing monitor must not keep the others from starting over
                logger.warning("resetting monitor %s %r failed", monitor_kind, monitor_key, exc_info=True)
                continue
            count += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("reset %d monitor(s) (kind %r, key %r)", count, kind, key)
        return count

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

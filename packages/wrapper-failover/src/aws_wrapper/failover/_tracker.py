"""``aurora_connection_tracker``: after a writer change, abort the connections still open to the old writer.

Every connection the pipeline opens is recorded (weakly) under the instance it reached. When a wrapper
connection sees the cluster's writer change (a host list change after a refresh, which failover always does),
the connections to the previous writer that were opened *before* the change are aborted, process-wide: idle
connections held by other wrapper connections or pools then fail fast and fail over at their next call, instead
of writing to a demoted writer. The connection of the wrapper connection that noticed the change is never
touched, and a connection is only ever filed under an instance it was verified to reach (upstream #1276 closed
its own fresh cluster-endpoint connection).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.lifecycle import on_release
from aws_wrapper.core.methods import DbApiMethod
from aws_wrapper.core.plugin import (
    ConnectProceed,
    HostChange,
    Plugin,
    PluginFactory,
    RawConnection,
)
from aws_wrapper.core.services import PluginContext

from ._common import writer_of
from ._tracker_calls_async import TrackerCallsAsync
from ._tracker_calls_sync import TrackerCalls

__all__ = ["ConnectionTracker", "TRACKER", "ConnectionTrackerPlugin", "ConnectionTrackerPluginFactory"]

logger = logging.getLogger("aws_wrapper.failover.aurora_connection_tracker_plugin")
T = TypeVar("T")


class ConnectionTracker:
    """Process-wide: open connections per instance url, and the last writer seen per cluster."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_instance: dict[str, weakref.WeakKeyDictionary[Any, float]] = {}
        self._writers: dict[str, tuple[str, float | None]] = {}  # cluster id -> (writer url, its last_update)
        self._hooked = False

    def track(self, url: str, conn: RawConnection) -> None:
        with self._lock:
            if not self._hooked:
                on_release(self.clear)
                self._hooked = True
            conns = self._by_instance.get(url)
            if conns is None:
                conns = self._by_instance[url] = weakref.WeakKeyDictionary()
            try:
                conns[conn] = time.monotonic()
            except TypeError:  # a driver object that cannot be weakly referenced is simply not tracked
                pass

    def untrack(self, conn: RawConnection) -> None:
        with self._lock:
            for conns in self._by_instance.values():
                try:
                    conns.pop(conn, None)
                except TypeError:
                    return

    def tracked(self, url: str) -> int:
        with self._lock:
            conns = self._by_instance.get(url)
            return 0 if conns is None else len(conns)

    def writer_seen(self, cluster_id: str, writer: HostInfo) -> str | None:
        """Record ``writer`` as the writer of ``cluster_id``; returns the previous writer's url when this is a
        change (a report older than the recorded one, by topology timestamp, is ignored)."""
        with self._lock:
            previous = self._writers.get(cluster_id)
            if previous is not None:
                url, stamp = previous
                if url == writer.url:
                    if writer.last_update is not None:
                        self._writers[cluster_id] = (url, writer.last_update)
                    return None
                if stamp is not None and writer.last_update is not None and writer.last_update < stamp:
                    return None  # a stale view of the topology: not a change
            self._writers[cluster_id] = (writer.url, writer.last_update)
            return None if previous is None else previous[0]

    def invalidate(
        self,
        url: str,
        opened_before: float,
        keep: RawConnection | None,
        abort: Callable[[RawConnection], None],
    ) -> int:
        """Abort the connections to ``url`` opened before ``opened_before`` (``time.monotonic()``), except
        ``keep``. Returns how many were aborted."""
        with self._lock:
            conns = self._by_instance.get(url)
            if not conns:
                return 0
            victims = [c for c, opened in list(conns.items()) if opened < opened_before and c is not keep]
            for conn in victims:
                conns.pop(conn, None)
        for conn in victims:
            try:
                abort(conn)
            except Exception as exc:  # the dialects' abort must not raise; be defensive anyway
                logger.debug("aborting a connection to %s failed: %s", url, exc)
        return len(victims)

    def clear(self) -> None:
        with self._lock:
            self._by_instance.clear()
            self._writers.clear()


TRACKER = ConnectionTracker()


class ConnectionTrackerPlugin(TrackerCallsAsync, TrackerCalls):
    subscribed_methods = frozenset({DbApiMethod.CONNECTION_CLOSE})

    def __init__(self, context: PluginContext, tracker: ConnectionTracker = TRACKER) -> None:
        self._ctx = context
        self._tracker = tracker

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        conn = proceed(host, props, initial)
        url = self._instance_url(host, conn)
        if url is not None:
            self._tracker.track(url, conn)
        self._observe()
        return conn

    def _closing_connection(self) -> RawConnection | None:
        return self._ctx.connection.current_connection

    def _untrack(self, conn: RawConnection) -> None:
        self._tracker.untrack(conn)

    def notify_host_list_changed(self, changes: Mapping[str, frozenset[HostChange]]) -> None:
        self._observe()

    def _observe(self) -> None:
        """Compare the writer of the current topology with the last one seen for this cluster."""
        ctx = self._ctx
        writer = writer_of(ctx.topology.hosts)
        if writer is None or writer.host_id is None:
            return  # not a topology (a plain host or the initial endpoint): nothing to compare
        previous = self._tracker.writer_seen(ctx.topology.provider.cluster_id, writer)
        if previous is None:
            return
        aborted = self._tracker.invalidate(
            previous, time.monotonic(), ctx.connection.current_connection, ctx.dialects.driver.abort
        )
        if aborted and logger.isEnabledFor(logging.INFO):
            logger.info(
                "the writer moved from %s to %s: aborted %d connection(s)", previous, writer.url, aborted
            )

    def _instance_url(self, host: HostInfo, conn: RawConnection) -> str | None:
        if host.host_id:  # a topology instance (endpoints and user-given hosts carry no instance id)
            return host.url
        try:
            instance = self._ctx.topology.identify_connection(conn)
        except Exception as exc:
            logger.debug("cannot tell which instance %s reached: %s", host.url, exc)
            return None
        if instance is None or not instance.host_id:
            return None
        return instance.url


class ConnectionTrackerPluginFactory(PluginFactory):
    code: ClassVar[str] = "aurora_connection_tracker"
    aliases: ClassVar[tuple[str, ...]] = ("auroraConnectionTracker", "connection_tracker")
    weight: ClassVar[int] = 100
    default: ClassVar[bool] = True

    def create(self, context: PluginContext) -> Plugin:
        return ConnectionTrackerPlugin(context)

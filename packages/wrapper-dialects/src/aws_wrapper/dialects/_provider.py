"""The topology host list provider of one wrapper connection, backed by the shared per-cluster monitor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.services import ConnectorService, HostListContext

from ._dialect import Dialect
from ._errors import is_query_refused
from ._monitor import MONITOR_KIND, TopologyMonitor
from ._settings import TopologyConfig, monitoring_props
from ._topology import Topology, TopologyReader

__all__ = ["TopologyHostListProvider"]

logger = logging.getLogger("aws_wrapper.dialects.host_list_provider")


class TopologyHostListProvider:
    """Implements core's ``HostListProvider`` for dialects with a topology.

    ``refresh`` returns the cluster's shared topology (read once per cluster and refresh period, not once per
    connection); ``force_refresh`` asks the monitor for a read now, or (``verify_writer``) waits until a writer
    has been verified.
    """

    def __init__(self, dialect: Dialect, context: HostListContext) -> None:
        self.dialect = dialect
        self.context = context
        self.config = TopologyConfig.parse(context.props, context.initial_host)
        self.reader = TopologyReader(dialect, self.config, context.initial_host, context.driver)
        self._monitor: TopologyMonitor | None = None
        self._monitoring_props: dict[str, Any] | None = None
        self._released = False

    @property
    def cluster_id(self) -> str:
        return self.config.cluster_id

    @property
    def is_static(self) -> bool:
        return False

    @property
    def connector(self) -> ConnectorService:
        return self.context.connector

    @property
    def monitoring_props(self) -> Mapping[str, Any]:
        """The properties of the monitoring connections this connection opens for the shared monitor: its own,
        with ``topology-monitoring-`` ones overriding (computed once)."""
        props = self._monitoring_props
        if props is None:
            props = self._monitoring_props = monitoring_props(self.context.props)
        return props

    @property
    def topology(self) -> Topology | None:
        """The cluster's last valid topology (writer first), None before the first read."""
        return self.monitor().topology

    def refresh(self, conn: RawConnection | None) -> Sequence[HostInfo]:
        monitor = self.monitor()
        topology = monitor.topology
        if topology is None and conn is not None:
            topology = monitor.bootstrap(conn, self.context.aux_query_timeout)
        return topology.hosts if topology is not None else (self.context.initial_host,)

    def force_refresh(
        self,
        conn: RawConnection | None,
        *,
        verify_writer: bool,
        timeout: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> Sequence[HostInfo]:
        monitor = self.monitor()
        if verify_writer:
            return monitor.wait_for_writer(timeout, cancelled).hosts
        topology = monitor.refresh_now(timeout)
        if topology is None and conn is not None:
            topology = monitor.bootstrap(conn, self.context.aux_query_timeout)
        return topology.hosts if topology is not None else (self.context.initial_host,)

    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        timeout = self.context.aux_query_timeout
        try:
            keys = self.reader.instance_keys(conn, timeout)
        except Exception as exc:
            if is_query_refused(exc):  # e.g. the wrong dialect: reported once per cluster
                self.monitor().note_refused(exc, "a connection of the application")
            raise
        if not keys:
            return None
        monitor = self.monitor()
        topology = monitor.topology
        if topology is None and not self.context.driver.is_in_transaction(conn):
            # the first topology of the cluster, read over this connection at once (a refused query is known
            # at once too) rather than waiting for the monitor to connect
            topology = monitor.bootstrap(conn, timeout)
        host = topology.find(keys) if topology is not None else None
        if host is None:
            topology = monitor.refresh_now(timeout)  # at once when the server refuses the topology queries
            host = topology.find(keys) if topology is not None else None
        if host is None:
            role = self.get_host_role(conn)
            host = self.config.pattern.host_for(keys[0], self.context.initial_host.port).with_(
                role=role, host_id=keys[0]
            )
        return host

    def get_host_role(self, conn: RawConnection) -> HostRole:
        return self.reader.role(conn, self.context.aux_query_timeout)

    def release_resources(self) -> None:
        self._released = True
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.detach(self)

    # -- the shared monitor -----------------------------------------------------------------------------------------
    def monitor(self) -> TopologyMonitor:
        """This cluster's live monitor (created and started when needed)."""
        monitor = self._monitor
        if monitor is not None and not monitor.stopped.is_set():
            return monitor
        monitors = self.context.monitors
        while True:
            monitor = monitors.get_or_create(MONITOR_KIND, self.cluster_id, self._new_monitor)
            if monitor.attach(self):
                break
            monitors.discard(MONITOR_KIND, self.cluster_id, monitor)  # it is stopping: replace it
        if self._released:
            monitor.detach(self)  # used after release: serve this call, do not keep the monitor alive
        else:
            self._monitor = monitor
        return monitor

    def _new_monitor(self) -> TopologyMonitor:
        props = self.monitoring_props
        # the monitor must not keep self (nor this connection's runtime) alive: it opens its connections through
        # whichever user is attached (see TopologyMonitor._opener)
        monitors, cluster_id = self.context.monitors, self.cluster_id
        return TopologyMonitor(
            self.cluster_id,
            self.reader,
            refresh_s=self.config.refresh_s,
            high_refresh_s=self.config.high_refresh_s,
            query_timeout=_seconds(props.get("socket_timeout"), self.context.aux_query_timeout),
            errors_is_login=self.dialect.errors.is_login_error,
            errors_is_network=self.dialect.errors.is_network_error,
            on_stop=lambda m: monitors.discard(MONITOR_KIND, cluster_id, m),
        )


def _seconds(value: object, default: float) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default

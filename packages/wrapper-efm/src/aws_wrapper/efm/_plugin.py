"""The ``host_monitoring`` plugin: marks network-bound calls in flight; its host's shared monitor does the rest."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.core.plugin import (
    ConnectionChange,
    ConnectProceed,
    OldConnectionSuggestion,
    Plugin,
    PluginFactory,
    RawConnection,
)
from aws_wrapper.core.services import PluginContext

from ._monitor import MONITOR_KIND, HostMonitor, MonitorKey, Slot
from ._settings import MONITORING_PREFIX, SETTINGS, EfmConfig, monitoring_props

__all__ = ["HostMonitoringPlugin", "HostMonitoringPluginFactory"]

logger = logging.getLogger("aws_wrapper.efm.host_monitoring_plugin")
T = TypeVar("T")
_monotonic = time.monotonic
_warned_drivers: set[str] = set()


class HostMonitoringPlugin(Plugin):
    """Enhanced failure monitoring for one wrapper connection (see ``docs/efm.md``).

    It is not entered per call: with ``marks_calls`` core keeps the connection's in-flight mark (the start time of
    the call in flight) inline, and the slot the monitor reads is that mark. The slot is registered with the
    monitor of the connection's host when the connection is opened or replaced, and unregistered when the wrapper
    connection closes.
    """

    monitors_network = True  # not around fetches a driver serves from memory

    def __init__(self, context: PluginContext, config: EfmConfig) -> None:
        self._context = context
        self.config = config
        self._driver = context.dialects.driver
        self._explicit = context.config.plugins is not None
        self._enabled = config.enabled
        self._slot = Slot()  # not watched by any monitor until a connection is open
        self._monitor: HostMonitor | None = None
        self._monitoring_props: dict[str, Any] | None = None
        self.marks_calls = config.enabled  # core keeps context.connection.call_mark around every network call
        # Telemetry: counted by the monitor thread when it aborts this connection (never per call).
        self._telemetry = context.telemetry
        self._aborted = context.telemetry.counter("host_monitoring.connections.aborted")

    # -- connections ----------------------------------------------------------------------------------------
    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        conn = proceed(host, props, initial)
        if self._enabled and not self._driver.supports_abort(conn):
            self._refuse(conn)
        return conn

    def _refuse(self, conn: RawConnection) -> None:
        code = self._driver.code
        reason = (
            f"enhanced failure monitoring needs to abort a connection from another thread, which {code} cannot "
            f"do for this connection"
        )
        if code == "mysql-connector-python":
            reason += " (the C extension)"
        advice = (
            "set use_pure=True, or failure_detection_enabled=False, or leave host_monitoring out of plugins"
        )
        if self._explicit:
            self._driver.close(conn)
            raise ConfigurationError(f"{reason}: {advice}")
        self._enabled = False  # only part of the default plugins: run without it rather than fail
        if code not in _warned_drivers:
            _warned_drivers.add(code)
            logger.warning("%s; host monitoring is off for such connections (%s)", reason, advice)

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        if self._enabled:
            current = self._context.connection
            conn, host = current.current_connection, current.current_host
            if conn is not None and host is not None:
                self._bind(conn, host)
        return OldConnectionSuggestion.NO_OPINION

    def _bind(self, conn: RawConnection, host: HostInfo) -> None:
        """Watch ``conn`` with the monitor of the host it is connected to (a new slot each time, so that a
        call still marked on the old connection cannot be mistaken for one on the new)."""
        monitored = self._monitored_host(conn, host)
        cfg = self.config
        key: MonitorKey = (self._driver.code, monitored.url, *cfg.key)
        mark = self._context.connection.call_mark
        slot = Slot(conn, self, mark if mark is not None and mark.connection is conn else None)
        while True:
            monitor = MONITORS.get_or_create(
                MONITOR_KIND, key, lambda: HostMonitor(key, monitored, cfg, self._driver, MONITORS)
            )
            if monitor.register(slot):
                break
            MONITORS.discard(MONITOR_KIND, key, monitor)  # it stopped meanwhile: make room for a new one
        old_slot, old_monitor = self._slot, self._monitor
        self._slot, self._monitor = slot, monitor
        if old_monitor is not None:
            old_monitor.unregister(old_slot)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("efm: connection to %s watched by the monitor of %s", host.url, monitored.url)

    def _monitored_host(self, conn: RawConnection, host: HostInfo) -> HostInfo:
        """The instance behind ``conn``: ``host`` itself for a static host list; otherwise the topology is asked
        (a cluster endpoint may point elsewhere by the time the monitor connects)."""
        topology = self._context.topology
        try:
            if topology.provider.is_static:
                return host
            found = topology.identify_connection(conn)
        except Exception as exc:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("efm: could not identify the instance behind %s: %s", host.url, exc)
            return host
        return found if found is not None else host

    def open_monitoring_connection(self, host: HostInfo) -> RawConnection:
        """Called by the monitor's helper thread: a connection to ``host`` with the ``monitoring-`` properties,
        through this connection's pipeline (so authentication plugins apply), never redirected."""
        props = self._monitoring_props
        if props is None:
            props = self._monitoring_props = monitoring_props(
                self._context.props, self.config, self._driver.engine
            )
        return self._context.connector.force_connect(host, props, skip=self)

    def connection_aborted(self, host: HostInfo) -> None:
        """Called by the monitor's thread after it aborted this connection's call in flight to ``host``: counts
        ``host_monitoring.connections.aborted`` and records a span ``host monitoring: connection aborted``."""
        telemetry = self._telemetry
        if not telemetry.enabled:
            return
        self._aborted.inc(attributes={"host": host.url})
        with telemetry.open_span("host monitoring: connection aborted") as span:
            span.set_attribute("host", host.url)

    def release_resources(self) -> None:
        monitor, slot = self._monitor, self._slot
        self._monitor, self._slot = None, Slot()
        if monitor is not None:
            monitor.unregister(slot)

    # -- diagnostics ---------------------------------------------------------------------------------------
    @property
    def monitor(self) -> HostMonitor | None:
        """The monitor watching this connection (None before connecting, after closing, or when disabled)."""
        return self._monitor


class HostMonitoringPluginFactory(PluginFactory):
    """``host_monitoring``: enhanced failure monitoring (also accepted as ``host_monitoring_v2``, ``efm``,
    ``efm2``)."""

    code = "host_monitoring"
    aliases = ("host_monitoring_v2", "efm", "efm2")
    weight = 500
    default = True
    settings = SETTINGS
    setting_prefixes = (MONITORING_PREFIX,)

    def create(self, context: PluginContext) -> Plugin:
        return HostMonitoringPlugin(context, EfmConfig.parse(context.props))

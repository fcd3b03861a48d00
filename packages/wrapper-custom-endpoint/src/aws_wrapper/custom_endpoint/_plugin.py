"""The ``custom_endpoint`` plugin: a connection made through an Aurora custom endpoint (``<name>.cluster-custom-
<id>.<region>.rds.amazonaws.com``) only ever uses the endpoint's members — for failover, reader selection and any
other host choice made through ``context.selection``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from aws_wrapper.core.services import PluginContext
from aws_wrapper.dialects import RdsUrlType, parse_endpoint

from ._client import rds_client
from ._info import CustomEndpointInfo
from ._monitor import MONITOR_KIND, CustomEndpointMonitor
from ._settings import REGION, SETTINGS, CustomEndpointConfig

__all__ = ["CustomEndpointPlugin", "CustomEndpointPluginFactory"]

logger = logging.getLogger("aws_wrapper.custom_endpoint")


class CustomEndpointPlugin(Plugin):
    """Acts only when the connection's host is a custom endpoint: starts (or joins) the endpoint's shared monitor,
    waits for its members on connect (``wait_for_custom_endpoint_info``), and is the connection's host filter."""

    def __init__(self, context: PluginContext, config: CustomEndpointConfig) -> None:
        self._context = context
        self.config = config
        self.monitor: CustomEndpointMonitor | None = None
        self._filtering = False
        #: upstream's metric: connects that had to wait for the endpoint's members
        self._waits = context.telemetry.counter("customEndpoint.waitForInfo.counter")

    def __repr__(self) -> str:
        return f"CustomEndpointPlugin({self.config!r}, monitor={self.monitor!r})"

    @property
    def info(self) -> CustomEndpointInfo | None:
        monitor = self.monitor
        return None if monitor is None else monitor.info

    # -- HostFilter ------------------------------------------------------------------------------------------------
    def allows(self, host: HostInfo) -> bool:
        monitor = self.monitor
        info = None if monitor is None else monitor.info
        return True if info is None else info.allows(host)

    # -- pipelines ---------------------------------------------------------------------------------------------------
    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        endpoint = parse_endpoint(host.host)
        if endpoint.type is not RdsUrlType.RDS_CUSTOM_CLUSTER:
            return proceed(host, props, initial)
        monitor = self._monitor_for(host.host, endpoint.name, self.config.region or endpoint.region)
        if self.config.wait_for_info:
            if monitor.info is None:
                self._waits.inc()
            monitor.wait_for_info(self.config.wait_timeout)
        return proceed(host, props, initial)

    def release_resources(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            monitor.unuse(self)
        if self._filtering:
            self._context.selection.remove_filter(self)
            self._filtering = False

    # -- internals ---------------------------------------------------------------------------------------------------
    def _monitor_for(self, host: str, identifier: str, region: str) -> CustomEndpointMonitor:
        if not region:
            raise ConfigurationError(
                f"cannot tell the AWS region of custom endpoint {host!r}: set {REGION.name!r}"
            )
        monitor = self.monitor
        if monitor is not None and monitor.alive and monitor.host == host.lower():
            monitor.use(self)
            return monitor
        monitors = self._context.monitors
        key = (host.lower(), region)
        existing = monitors.get(MONITOR_KIND, key)
        if isinstance(existing, CustomEndpointMonitor) and existing.alive:
            monitor = existing
        else:
            if existing is not None:
                monitors.discard(MONITOR_KIND, key, existing)
            client = rds_client(region)  # on this (the connecting) thread, never on the monitor's
            config = self.config

            def create() -> CustomEndpointMonitor:
                return CustomEndpointMonitor(
                    host.lower(),
                    identifier,
                    region,
                    client,
                    refresh_rate=config.refresh_rate,
                    idle_expiration=config.idle_expiration,
                    registry=monitors,
                    key=key,
                ).start()

            monitor = monitors.get_or_create(MONITOR_KIND, key, create)
        monitor.use(self)
        self.monitor = monitor
        if not self._filtering:
            self._context.selection.add_filter(self)
            self._filtering = True
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("connection uses custom endpoint monitor %r", monitor)
        return monitor


class CustomEndpointPluginFactory(PluginFactory):
    code = "custom_endpoint"
    aliases = ("customEndpoint",)
    weight = 40
    settings = SETTINGS
    abi = (1, 1)

    def create(self, context: PluginContext) -> Plugin:
        return CustomEndpointPlugin(context, CustomEndpointConfig.parse(context.props))

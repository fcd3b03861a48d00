"""``connect_time``: how long each physical connect takes."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from ..hostinfo import HostInfo
from ..plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from ..services import PluginContext

__all__ = ["ConnectTimePlugin", "ConnectTimePluginFactory"]

logger = logging.getLogger("aws_wrapper.core.plugins.connect_time_plugin")


class ConnectTimePlugin(Plugin):
    """Times every physical connect of its wrapper connection (the initial one and any later one, e.g. by
    failover), successful or not.

    Read the figures with ``conn.plugin(ConnectTimePlugin)``: ``count``, ``last_ns``, ``total_ns``,
    ``last_host`` and ``failures``.
    """

    def __init__(self) -> None:
        self.count = 0
        self.failures = 0
        self.last_ns = 0
        self.total_ns = 0
        self.last_host: HostInfo | None = None

    @property
    def average_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._timed(host, props, initial, proceed, "connect")

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._timed(host, props, initial, proceed, "force_connect")

    def _timed(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed, kind: str
    ) -> RawConnection:
        start = time.perf_counter_ns()
        ok = False
        try:
            conn = proceed(host, props, initial)
            ok = True
            return conn
        finally:
            elapsed = time.perf_counter_ns() - start
            self.count += 1
            self.last_ns = elapsed
            self.total_ns += elapsed
            self.last_host = host
            if not ok:
                self.failures += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s to %s %s in %.3f ms", kind, host.url, "succeeded" if ok else "failed", elapsed / 1e6
                )


class ConnectTimePluginFactory(PluginFactory):
    code = "connect_time"

    def create(self, context: PluginContext) -> Plugin:
        return ConnectTimePlugin()

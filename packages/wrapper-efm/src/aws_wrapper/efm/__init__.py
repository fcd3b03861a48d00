"""aws-wrapper-efm: enhanced failure monitoring (plugin ``host_monitoring``, also ``efm``, ``efm2``,
``host_monitoring_v2``).

A network-bound call that runs longer than ``failure_detection_time_ms`` gets its host probed by the host's shared
monitor; once the host has not answered for ``failure_detection_count`` x ``failure_detection_interval_ms`` it is
marked unavailable and the connections of such calls are aborted, so the calls fail at once with a network error
(which the failover plugin turns into a failover). See ``docs/efm.md``.
"""

from __future__ import annotations

from ._monitor import MONITOR_KIND, THREAD_PREFIX, HostMonitor, MonitorStats, active_monitors
from ._plugin import HostMonitoringPlugin, HostMonitoringPluginFactory
from ._settings import (
    FAILURE_DETECTION_COUNT,
    FAILURE_DETECTION_ENABLED,
    FAILURE_DETECTION_INTERVAL_MS,
    FAILURE_DETECTION_TIME_MS,
    MONITOR_APPLICATION_NAME,
    MONITOR_DISPOSAL_TIME_MS,
    MONITORING_PREFIX,
    SETTINGS,
    EfmConfig,
)
from .version import __version__

__all__ = [
    "HostMonitoringPluginFactory",
    "HostMonitoringPlugin",
    "HostMonitor",
    "MonitorStats",
    "active_monitors",
    "EfmConfig",
    "SETTINGS",
    "FAILURE_DETECTION_ENABLED",
    "FAILURE_DETECTION_TIME_MS",
    "FAILURE_DETECTION_INTERVAL_MS",
    "FAILURE_DETECTION_COUNT",
    "MONITOR_DISPOSAL_TIME_MS",
    "MONITORING_PREFIX",
    "MONITOR_APPLICATION_NAME",
    "MONITOR_KIND",
    "THREAD_PREFIX",
    "__version__",
]

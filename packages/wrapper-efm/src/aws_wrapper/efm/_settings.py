"""The settings of enhanced failure monitoring (catalogue 2.9) and their parsed, frozen form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.records import record, replace
from aws_wrapper.core.settings import Setting, boolean, core_settings, integer

__all__ = [
    "FAILURE_DETECTION_ENABLED",
    "FAILURE_DETECTION_TIME_MS",
    "FAILURE_DETECTION_INTERVAL_MS",
    "FAILURE_DETECTION_COUNT",
    "MONITOR_DISPOSAL_TIME_MS",
    "MONITORING_PREFIX",
    "MONITOR_APPLICATION_NAME",
    "SETTINGS",
    "EfmConfig",
    "monitoring_props",
    "validate_monitoring_settings",
]

_DAY_MS = 86_400_000

FAILURE_DETECTION_ENABLED = boolean(
    "failure_detection_enabled", True, "Master switch: monitor network-bound calls of this connection."
)
FAILURE_DETECTION_TIME_MS = integer(
    "failure_detection_time_ms",
    30_000,
    "Grace period: how long a network-bound call may run before its host is probed.",
    min=0,
    max=_DAY_MS,
)
FAILURE_DETECTION_INTERVAL_MS = integer(
    "failure_detection_interval_ms",
    5_000,
    "Time between probes of a host (also the time one probe may take).",
    min=100,
    max=3_600_000,
)
FAILURE_DETECTION_COUNT = integer(
    "failure_detection_count",
    3,
    "The host is declared dead after it answered no probe for count x interval.",
    min=1,
    max=1_000,
)
MONITOR_DISPOSAL_TIME_MS = integer(
    "monitor_disposal_time_ms",
    600_000,
    "A monitor closes its monitoring connection after this long without a monitored call.",
    min=0,
    max=7 * _DAY_MS,
)

#: Properties starting with this prefix configure the monitoring connection (prefix stripped).
MONITORING_PREFIX = "monitoring-"

SETTINGS: tuple[Setting[Any], ...] = (
    FAILURE_DETECTION_ENABLED,
    FAILURE_DETECTION_TIME_MS,
    FAILURE_DETECTION_INTERVAL_MS,
    FAILURE_DETECTION_COUNT,
    MONITOR_DISPOSAL_TIME_MS,
)

#: ``application_name`` of PostgreSQL monitoring connections unless ``monitoring-application_name`` is set.
MONITOR_APPLICATION_NAME = "aws-wrapper-efm"


@record(frozen=True)
class EfmConfig:
    """The parsed EFM settings of one wrapper connection. Times in milliseconds as configured; the properties
    give seconds."""

    enabled: bool = True
    time_ms: int = 30_000
    interval_ms: int = 5_000
    count: int = 3
    disposal_ms: int = 600_000

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> EfmConfig:
        """The EFM settings of ``props``; also validates the ``monitoring-`` properties the wrapper interprets
        (see :func:`validate_monitoring_settings`). Raises ``ConfigurationError`` naming the key and the value."""
        validate_monitoring_settings(props)
        return cls(
            enabled=FAILURE_DETECTION_ENABLED.get(props),
            time_ms=FAILURE_DETECTION_TIME_MS.get(props),
            interval_ms=FAILURE_DETECTION_INTERVAL_MS.get(props),
            count=FAILURE_DETECTION_COUNT.get(props),
            disposal_ms=MONITOR_DISPOSAL_TIME_MS.get(props),
        )

    @property
    def grace(self) -> float:
        """Seconds a call runs before its host is probed."""
        return self.time_ms / 1000.0

    @property
    def interval(self) -> float:
        return self.interval_ms / 1000.0

    @property
    def window(self) -> float:
        """Seconds without any answer from the host after which it is declared dead (count x interval)."""
        return self.count * self.interval_ms / 1000.0

    @property
    def probe_period(self) -> float:
        """Seconds between probe starts, and the time one probe may take. One interval, except with a count of
        1, where half an interval keeps the detection time within one interval whenever the outage starts."""
        return self.interval if self.count > 1 else self.interval / 2.0

    @property
    def disposal(self) -> float:
        return self.disposal_ms / 1000.0

    @property
    def key(self) -> tuple[int, int, int]:
        """The settings that decide detection: connections differing in them get separate monitors."""
        return (self.time_ms, self.interval_ms, self.count)


def validate_monitoring_settings(props: Mapping[str, object]) -> None:
    """Parse each ``monitoring-<name>`` property whose ``<name>`` is a setting of core (connect_timeout,
    socket_timeout, tcp_keepalive, tcp_keepalive_time / _interval / _probes, auxiliary_query_timeout_sec, ...) as
    that setting, under the full key. The monitoring connection is opened later, in a monitor thread shared by
    every connection to the host, where a malformed value would only degrade detection for all of them; here it
    fails the connect that brought it, before any server is contacted. Driver parameters (``monitoring-user``,
    ``monitoring-application_name``, ...) pass through untouched."""
    settings = core_settings()
    for key, value in props.items():
        if not key.startswith(MONITORING_PREFIX):
            continue
        setting = settings.get(key[len(MONITORING_PREFIX) :])
        if setting is not None:
            replace(setting, name=key).get({key: value})


def monitoring_props(props: Mapping[str, Any], config: EfmConfig, engine: str) -> dict[str, Any]:
    """Connection properties for a monitoring connection: the user's, overridden by the ``monitoring-`` ones
    (prefix stripped). Unless given with the prefix, ``connect_timeout`` is one probe period (drivers round it up
    to whole seconds; the monitor does not rely on it, it stops waiting after one probe period anyway) and, on
    PostgreSQL, ``application_name`` marks the connection as the wrapper's."""
    result: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name, value in props.items():
        if name.startswith(MONITORING_PREFIX):
            overrides[name[len(MONITORING_PREFIX) :]] = value
        else:
            result[name] = value
    result.pop("socket_timeout", None)  # the monitor bounds its own probes
    result.update(overrides)
    if "connect_timeout" not in overrides:
        result["connect_timeout"] = max(1.0, config.probe_period)
    if engine == "pg" and "application_name" not in overrides:
        result["application_name"] = MONITOR_APPLICATION_NAME
    return result

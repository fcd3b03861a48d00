"""Settings of the topology host list provider (catalogue 2.3), parsed once per connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.records import record, replace
from aws_wrapper.core.settings import Setting, core_settings, integer, optional, text

from ._hosts import HostPattern, default_pattern, derive_cluster_id

__all__ = [
    "TOPOLOGY_REFRESH_MS",
    "HIGH_REFRESH_RATE_MS",
    "CLUSTER_ID",
    "CLUSTER_INSTANCE_HOST_PATTERN",
    "GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS",
    "TOPOLOGY_SETTINGS",
    "MONITORING_PREFIX",
    "TopologyConfig",
    "monitoring_props",
    "validate_settings",
    "validate_prefixed",
]

TOPOLOGY_REFRESH_MS = integer(
    "topology_refresh_ms",
    30000,
    "Period of the background topology refresh (one query per cluster, shared by all connections).",
    min=1,
)
HIGH_REFRESH_RATE_MS = integer(
    "cluster_topology_high_refresh_rate_ms",
    100,
    "Period used while a writer is being looked for, and for 30 s after a new writer was found.",
    min=10,
)
CLUSTER_ID = optional(
    text(
        "cluster_id",
        "",
        "Key of the shared topology cache and monitor. Unset: derived from the endpoint (see docs).",
    )
)
CLUSTER_INSTANCE_HOST_PATTERN = optional(
    text(
        "cluster_instance_host_pattern",
        "",
        "Instance host template, '?' = instance id, e.g. '?.my-domain.com[:port]'. Unset: from the endpoint.",
    )
)
GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS = optional(
    text(
        "global_cluster_instance_host_patterns",
        "",
        "Global databases: comma-separated 'region:pattern' entries, one per region.",
    )
)
TOPOLOGY_SETTINGS: tuple[Setting[Any], ...] = (
    TOPOLOGY_REFRESH_MS,
    HIGH_REFRESH_RATE_MS,
    CLUSTER_ID,
    CLUSTER_INSTANCE_HOST_PATTERN,
    GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS,
)
#: Keys with this prefix configure the topology monitor's own connections (the prefix is stripped).
MONITORING_PREFIX = "topology-monitoring-"
#: Defaults of the monitoring connections when neither the prefixed nor the plain key is set.
MONITORING_DEFAULTS = {"connect_timeout": 5, "socket_timeout": 5}


@record(frozen=True)
class TopologyConfig:
    cluster_id: str
    pattern: HostPattern
    pattern_given: bool
    region_patterns: Mapping[str, HostPattern]
    refresh_s: float
    high_refresh_s: float

    @classmethod
    def parse(cls, props: Mapping[str, object], initial: HostInfo) -> TopologyConfig:
        raw_pattern = CLUSTER_INSTANCE_HOST_PATTERN.get(props)
        pattern = HostPattern.parse(raw_pattern) if raw_pattern else default_pattern(initial.host)
        cluster_id = CLUSTER_ID.get(props) or derive_cluster_id(initial, pattern)
        return cls(
            cluster_id=cluster_id,
            pattern=pattern,
            pattern_given=bool(raw_pattern),
            region_patterns=_region_patterns(GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS.get(props)),
            refresh_s=TOPOLOGY_REFRESH_MS.get(props) / 1000.0,
            high_refresh_s=HIGH_REFRESH_RATE_MS.get(props) / 1000.0,
        )


def _region_patterns(raw: str | None) -> dict[str, HostPattern]:
    name = GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS.name
    result: dict[str, HostPattern] = {}
    for entry in (raw or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        region, sep, pattern = entry.partition(":")
        if not sep or not region.strip() or not pattern.strip():
            raise ConfigurationError(
                f"invalid value {raw!r} for setting {name!r}: entry {entry!r} is not 'region:pattern'"
            )
        result[region.strip().lower()] = HostPattern.parse(pattern, name, whole=raw)
    return result


def validate_settings(props: Mapping[str, object]) -> None:
    """Parse every setting this package owns, whatever the host and the dialect turn out to be: called before any
    server is contacted (core's Runtime asks the dialect manager for the initial dialect first), so that a
    malformed value fails the connect at once instead of being ignored on a plain host or rejected only after
    connecting to an Aurora instance. Raises :class:`ConfigurationError` naming the setting and the value."""
    TOPOLOGY_REFRESH_MS.get(props)
    HIGH_REFRESH_RATE_MS.get(props)
    CLUSTER_ID.get(props)
    raw_pattern = CLUSTER_INSTANCE_HOST_PATTERN.get(props)
    if raw_pattern:
        HostPattern.parse(raw_pattern)
    _region_patterns(GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS.get(props))
    validate_prefixed(props, MONITORING_PREFIX)


def validate_prefixed(props: Mapping[str, object], prefix: str) -> None:
    """Parse each ``<prefix><name>`` property whose ``<name>`` is one of core's settings (connect_timeout,
    socket_timeout, tcp_keepalive..., auxiliary_query_timeout_sec, ...) as that setting: the monitoring
    connections interpret them, and an error must name the key the user wrote (the prefixed one)."""
    settings = core_settings()
    for key, value in props.items():
        if not key.startswith(prefix):
            continue
        setting = settings.get(key[len(prefix) :])
        if setting is not None:
            replace(setting, name=key).get({key: value})


def monitoring_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties of a topology monitoring connection: the user's, with ``topology-monitoring-<key>``
    overriding ``<key>``, and 5 s connect / socket timeouts unless set either way."""
    result = {k: v for k, v in props.items() if not k.startswith(MONITORING_PREFIX)}
    for key, value in props.items():
        if key.startswith(MONITORING_PREFIX):
            result[key[len(MONITORING_PREFIX) :]] = value
    for key, value in MONITORING_DEFAULTS.items():
        if result.get(key) is None:
            result[key] = value
    return result

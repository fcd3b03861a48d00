"""Settings of the failover plugins (catalogue 2.6, 2.7 and 2.14) and their parsed, frozen forms."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.records import record
from aws_wrapper.core.settings import Setting, boolean, choice, integer, number, optional, text

__all__ = [
    "FailoverMode",
    "FailoverConfig",
    "InitialConnectionConfig",
    "FAILOVER_SETTINGS",
    "INITIAL_CONNECTION_SETTINGS",
]


class FailoverMode(enum.Enum):
    """Where a failed connection may land."""

    STRICT_WRITER = "strict_writer"  # only a verified writer
    STRICT_READER = (
        "strict_reader"  # only a verified reader (the writer when the cluster has no reader at all)
    )
    READER_OR_WRITER = "reader_or_writer"  # a reader if one answers, else the writer

    @classmethod
    def parse(cls, value: object) -> FailoverMode:
        """Accepts ``strict_writer`` / ``strict-writer`` / ``STRICT_WRITER`` and so on; anything else is an error
        (upstream silently mapped every unknown spelling, the documented hyphenated ones included, to
        reader-or-writer)."""
        if isinstance(value, FailoverMode):
            return value
        return cls(_MODE.parse(value))


ENABLE_FAILOVER = boolean(
    "enable_failover", True, "Master switch: false leaves every call untouched (the plugin stays loaded)."
)
_MODE = choice(
    "failover_mode",
    "strict_writer",
    [m.value for m in FailoverMode],
    "Where a failed connection may land: strict_writer, strict_reader or reader_or_writer (hyphens accepted). "
    "Unset: reader_or_writer for a reader cluster endpoint (cluster-ro-), strict_writer otherwise.",
)
FAILOVER_MODE = optional(_MODE)
FAILOVER_TIMEOUT = number(
    "failover_timeout_sec",
    300.0,
    "Total time allowed to find and connect to a new host; then FailoverFailedError.",
    min=0.1,
)
READER_STRATEGY = text(
    "failover_reader_host_selector_strategy",
    "random",
    "Order in which reader candidates are preferred in reader failover (random, round_robin, weighted_random, "
    "highest_weight, or a strategy a plugin provides).",
)
ENABLE_CONNECT_FAILOVER = boolean(
    "enable_connect_failover",
    False,
    "When the very first connect fails with a network error, fail over instead of raising.",
)
READER_CONNECT_TIMEOUT = number(
    "failover_reader_connect_timeout_sec",
    30.0,
    "Upper bound of one connection attempt during failover (the attempt also never outlives the failover "
    "timeout; the driver's connect_timeout applies when smaller).",
    min=0.1,
)
TOPOLOGY_REFRESH_RATE = number(
    "failover_cluster_topology_refresh_rate_sec",
    2.0,
    "Accepted for compatibility with upstream's first failover design; topology is read by the shared "
    "topology monitor (topology_refresh_ms / cluster_topology_high_refresh_rate_ms).",
    min=0.0,
)
WRITER_RECONNECT_INTERVAL = number(
    "failover_writer_reconnect_interval_sec",
    2.0,
    "Accepted for compatibility with upstream's first failover design; this implementation retries a "
    "candidate every 100 ms at most.",
    min=0.0,
)
ADDITIONAL_TOP_TRACE = boolean(
    "telemetry_failover_additional_top_trace",
    False,
    "Accepted for compatibility; used once a telemetry package is installed.",
)

FAILOVER_SETTINGS: tuple[Setting[Any], ...] = (
    ENABLE_FAILOVER,
    FAILOVER_MODE,
    FAILOVER_TIMEOUT,
    READER_STRATEGY,
    ENABLE_CONNECT_FAILOVER,
    READER_CONNECT_TIMEOUT,
    TOPOLOGY_REFRESH_RATE,
    WRITER_RECONNECT_INTERVAL,
    ADDITIONAL_TOP_TRACE,
)


@record(frozen=True)
class FailoverConfig:
    enabled: bool
    mode: FailoverMode | None  # None: decided from the endpoint type
    timeout: float
    reader_strategy: str
    connect_failover: bool
    attempt_timeout: float

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> FailoverConfig:
        mode = FAILOVER_MODE.get(props)
        strategy = READER_STRATEGY.get(props).strip()
        if not strategy:
            raise _invalid(READER_STRATEGY, props, "must not be empty")
        TOPOLOGY_REFRESH_RATE.get(props)  # validated, not used
        WRITER_RECONNECT_INTERVAL.get(props)
        ADDITIONAL_TOP_TRACE.get(props)
        return cls(
            enabled=ENABLE_FAILOVER.get(props),
            mode=None if mode is None else FailoverMode(mode),
            timeout=FAILOVER_TIMEOUT.get(props),
            reader_strategy=strategy,
            connect_failover=ENABLE_CONNECT_FAILOVER.get(props),
            attempt_timeout=READER_CONNECT_TIMEOUT.get(props),
        )


READER_INITIAL_STRATEGY = text(
    "reader_initial_connection_host_selector_strategy",
    "random",
    "Strategy used to pick a reader when connecting through a reader cluster endpoint.",
)
RETRY_TIMEOUT_MS = integer(
    "open_connection_retry_timeout_ms",
    30000,
    "How long the initial connection keeps retrying until it reaches a verified writer (or reader).",
    min=0,
)
RETRY_INTERVAL_MS = integer(
    "open_connection_retry_interval_ms",
    1000,
    "Pause between two attempts of the initial connection strategy.",
    min=1,
)

INITIAL_CONNECTION_SETTINGS: tuple[Setting[Any], ...] = (
    READER_INITIAL_STRATEGY,
    RETRY_TIMEOUT_MS,
    RETRY_INTERVAL_MS,
)


@record(frozen=True)
class InitialConnectionConfig:
    reader_strategy: str
    retry_timeout: float  # seconds
    retry_interval: float  # seconds

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> InitialConnectionConfig:
        strategy = READER_INITIAL_STRATEGY.get(props).strip()
        if not strategy:
            raise _invalid(READER_INITIAL_STRATEGY, props, "must not be empty")
        return cls(
            reader_strategy=strategy,
            retry_timeout=RETRY_TIMEOUT_MS.get(props) / 1000.0,
            retry_interval=RETRY_INTERVAL_MS.get(props) / 1000.0,
        )


def _invalid(setting: Setting[Any], props: Mapping[str, object], why: str) -> Exception:
    from aws_wrapper.core.errors import ConfigurationError

    return ConfigurationError(
        f"invalid value {props.get(setting.name)!r} for setting {setting.name!r}: {why}"
    )

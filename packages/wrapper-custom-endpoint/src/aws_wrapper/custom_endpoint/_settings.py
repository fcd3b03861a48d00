"""The settings of the ``custom_endpoint`` plugin (catalogue 2.13: upstream's names and defaults) and their parsed,
frozen form. ``custom_endpoint_region`` (upstream JDBC's ``customEndpointRegion``) overrides the region parsed
from the host name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.records import record
from aws_wrapper.core.settings import Setting, boolean, integer, optional, text

__all__ = [
    "REFRESH_RATE_MS",
    "IDLE_EXPIRATION_MS",
    "WAIT_FOR_INFO",
    "WAIT_FOR_INFO_TIMEOUT_MS",
    "REGION",
    "SETTINGS",
    "CustomEndpointConfig",
]

REFRESH_RATE_MS = integer(
    "custom_endpoint_info_refresh_rate_ms",
    30_000,
    "How often (ms) the custom endpoint's members are read from the RDS API.",
    min=1,
)
IDLE_EXPIRATION_MS = integer(
    "custom_endpoint_idle_monitor_expiration_ms",
    900_000,
    "How long (ms) a custom endpoint monitor without any open wrapper connection lives on.",
    min=1,
)
WAIT_FOR_INFO = boolean(
    "wait_for_custom_endpoint_info",
    True,
    "Make a connect through a custom endpoint wait until the endpoint's members are known.",
)
WAIT_FOR_INFO_TIMEOUT_MS = integer(
    "wait_for_custom_endpoint_info_timeout_ms",
    5_000,
    "Upper bound (ms) of that wait; after it the connect fails with AwsWrapperError.",
    min=0,
)
REGION = optional(
    text(
        "custom_endpoint_region",
        "",
        "AWS region of the custom endpoint. Unset: the region in the endpoint's host name.",
    )
)

SETTINGS: tuple[Setting[Any], ...] = (
    REFRESH_RATE_MS,
    IDLE_EXPIRATION_MS,
    WAIT_FOR_INFO,
    WAIT_FOR_INFO_TIMEOUT_MS,
    REGION,
)


@record(frozen=True)
class CustomEndpointConfig:
    """The parsed settings of one wrapper connection (times in seconds)."""

    refresh_rate: float = 30.0
    idle_expiration: float = 900.0
    wait_for_info: bool = True
    wait_timeout: float = 5.0
    region: str | None = None

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> CustomEndpointConfig:
        """Parse and validate every setting; raises ``ConfigurationError`` naming the setting and the value."""
        region = REGION.get(props)
        region = region.strip() if region is not None else None
        if region is not None and not region:
            raise ConfigurationError(
                f"invalid value {region!r} for setting {REGION.name!r}: expected a region name such as 'us-east-1'"
            )
        return cls(
            refresh_rate=REFRESH_RATE_MS.get(props) / 1000.0,
            idle_expiration=IDLE_EXPIRATION_MS.get(props) / 1000.0,
            wait_for_info=WAIT_FOR_INFO.get(props),
            wait_timeout=WAIT_FOR_INFO_TIMEOUT_MS.get(props) / 1000.0,
            region=region,
        )

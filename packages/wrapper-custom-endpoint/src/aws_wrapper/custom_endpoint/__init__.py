"""aws-wrapper-custom-endpoint: Aurora custom endpoints honoured by every host choice.

A connection to ``<name>.cluster-custom-<id>.<region>.rds.amazonaws.com`` with ``plugins=custom_endpoint`` (alias
``customEndpoint``) reads the endpoint's members from the RDS API (one shared monitor per endpoint and process) and
restricts failover, reader selection and the initial connection strategy to them. Importing this package starts
nothing and does not import boto3.
"""

from __future__ import annotations

from ._client import ClientFactory, set_client_factory
from ._info import CustomEndpointInfo, CustomEndpointType, MemberListType, host_ids
from ._monitor import MONITOR_KIND, CustomEndpointMonitor
from ._plugin import CustomEndpointPlugin, CustomEndpointPluginFactory
from ._settings import (
    IDLE_EXPIRATION_MS,
    REFRESH_RATE_MS,
    REGION,
    SETTINGS,
    WAIT_FOR_INFO,
    WAIT_FOR_INFO_TIMEOUT_MS,
    CustomEndpointConfig,
)
from .version import __version__

__all__ = [
    "IDLE_EXPIRATION_MS",
    "MONITOR_KIND",
    "REFRESH_RATE_MS",
    "REGION",
    "SETTINGS",
    "WAIT_FOR_INFO",
    "WAIT_FOR_INFO_TIMEOUT_MS",
    "ClientFactory",
    "CustomEndpointConfig",
    "CustomEndpointInfo",
    "CustomEndpointMonitor",
    "CustomEndpointPlugin",
    "CustomEndpointPluginFactory",
    "CustomEndpointType",
    "MemberListType",
    "__version__",
    "host_ids",
    "set_client_factory",
]

"""Upstream's ``aws_advanced_python_wrapper.errors`` names (re-exported from :mod:`aws_wrapper.core.errors`)."""

from __future__ import annotations

from aws_wrapper.core.errors import (
    AwsConnectError,
    AwsWrapperError,
    ConfigurationError,
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    PluginError,
    QueryTimeoutError,
    ReadWriteSplittingError,
    TransactionResolutionUnknownError,
    UnknownSettingError,
    UnsupportedOperationError,
)

__all__ = [
    "AwsWrapperError",
    "AwsConnectError",
    "ConfigurationError",
    "PluginError",
    "UnknownSettingError",
    "QueryTimeoutError",
    "UnsupportedOperationError",
    "ReadWriteSplittingError",
    "FailoverError",
    "FailoverSuccessError",
    "TransactionResolutionUnknownError",
    "FailoverFailedError",
]

"""aws-wrapper-auth-secrets: connect with database credentials kept in AWS Secrets Manager (plugin
``aws_secrets_manager``, also ``awsSecretsManager``).

The secret's JSON value holds the user and the password. It is fetched on the connecting thread by the first
connect that needs it, cached per (secret id, region, endpoint, ``aws_profile``) for
``secrets_manager_expiration`` seconds, and fetched again once when a login with the cached value fails
(rotation). boto3 is imported by the first fetch, not by importing this package. See ``docs/auth-secrets.md``.
"""

from __future__ import annotations

from ._cache import SECRETS, Credentials, Lease, SecretCache
from ._client import REDACTED, SessionFactory, fetch_credentials, get_session_factory, set_session_factory
from ._plugin import AwsSecretsManagerPlugin, AwsSecretsManagerPluginFactory
from ._settings import (
    AWS_PROFILE,
    DEFAULT_EXPIRATION,
    ENDPOINT,
    EXPIRATION,
    PASSWORD_KEY,
    REGION,
    SECRET_ID,
    SETTINGS,
    USERNAME_KEY,
    SecretsManagerConfig,
    region_from_arn,
)
from .version import __version__

__all__ = [
    "AwsSecretsManagerPluginFactory",
    "AwsSecretsManagerPlugin",
    "SecretsManagerConfig",
    "Credentials",
    "Lease",
    "SecretCache",
    "SECRETS",
    "SessionFactory",
    "set_session_factory",
    "get_session_factory",
    "fetch_credentials",
    "region_from_arn",
    "REDACTED",
    "SETTINGS",
    "SECRET_ID",
    "REGION",
    "ENDPOINT",
    "USERNAME_KEY",
    "PASSWORD_KEY",
    "EXPIRATION",
    "AWS_PROFILE",
    "DEFAULT_EXPIRATION",
    "__version__",
]

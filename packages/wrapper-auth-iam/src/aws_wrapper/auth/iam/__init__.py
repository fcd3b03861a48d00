"""aws-wrapper-auth-iam: IAM database authentication (plugin ``iam``, also ``iamAuth``).

Every physical connection the wrapper opens -- the application's, and those of failover, failure monitoring and
topology monitoring -- logs in with a short-lived RDS auth token (boto3 ``generate_db_auth_token``) instead of a
password. Tokens are cached per (user, host, port, region) for ``iam_expiration`` seconds (at most 870), generated
once however many threads connect at the same time, and regenerated once when the server rejects a cached one.
On MySQL the token is sent with ``auth_plugin='mysql_clear_password'``, which needs TLS. See ``docs/auth-iam.md``.

Importing this package imports neither boto3 nor botocore, and starts nothing: the boto3 session and client are
made on the connecting thread by the first connect that needs them.
"""

from __future__ import annotations

from ._aws import SessionFactory, get_session_factory, set_session_factory
from ._plugin import MYSQL_AUTH_PLUGIN, IamAuthPlugin, IamAuthPluginFactory
from ._region import GLOBAL_REGIONS, GlobalRegions, resolve_region
from ._settings import (
    AWS_PROFILE,
    DEFAULT_EXPIRATION,
    IAM_DEFAULT_PORT,
    IAM_EXPIRATION,
    IAM_HOST,
    IAM_REGION,
    MAX_CACHE_AGE,
    SETTINGS,
    TOKEN_LIFETIME,
    IamConfig,
)
from ._tokens import TOKENS, Token, TokenCache, TokenKey, TokenStats
from .version import __version__

__all__ = [
    "IamAuthPluginFactory",
    "IamAuthPlugin",
    "IamConfig",
    "SETTINGS",
    "IAM_HOST",
    "IAM_DEFAULT_PORT",
    "IAM_REGION",
    "IAM_EXPIRATION",
    "AWS_PROFILE",
    "DEFAULT_EXPIRATION",
    "TOKEN_LIFETIME",
    "MAX_CACHE_AGE",
    "MYSQL_AUTH_PLUGIN",
    "TOKENS",
    "Token",
    "TokenCache",
    "TokenKey",
    "TokenStats",
    "GLOBAL_REGIONS",
    "GlobalRegions",
    "resolve_region",
    "SessionFactory",
    "set_session_factory",
    "get_session_factory",
    "__version__",
]

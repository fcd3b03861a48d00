"""The ``aws_secrets_manager`` plugin: connects with the user and password of a Secrets Manager secret."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from aws_wrapper.core.services import PluginContext

from ._cache import SECRETS, Credentials, Lease, SecretCache
from ._client import fetch_credentials
from ._settings import SETTINGS, SecretsManagerConfig

__all__ = ["AwsSecretsManagerPlugin", "AwsSecretsManagerPluginFactory"]

logger = logging.getLogger("aws_wrapper.auth.secrets.aws_secrets_manager_plugin")

#: Driver keywords the plugin replaces: ``user`` and ``password`` are set, ``passwd`` (mysql-connector's old
#: spelling of ``password``) is dropped so that it cannot win over the secret's password.
_DROPPED = ("passwd",)


class AwsSecretsManagerPlugin(Plugin):
    """Puts the secret's user and password into the properties of every physical connect of its wrapper
    connection (``connect`` and ``force_connect``, so monitoring connections authenticate the same way).

    The secret is fetched once per (secret id, region, endpoint, ``aws_profile``) and process, then reused for
    ``secrets_manager_expiration`` seconds. A login failure with a reused secret (it may have been rotated) makes
    the plugin fetch the secret once more and, if it changed, retry the connect once with the new credentials.
    """

    def __init__(
        self,
        context: PluginContext,
        config: SecretsManagerConfig,
        *,
        fetch: Callable[[SecretsManagerConfig], Credentials] = fetch_credentials,
        cache: SecretCache = SECRETS,
    ) -> None:
        self._context = context
        self.config = config
        self._fetch = fetch
        self._cache = cache
        self._fetches = context.telemetry.counter("secrets_manager.fetch_credentials.count")

    def __repr__(self) -> str:
        return f"AwsSecretsManagerPlugin({self.config!r})"

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._connect(host, props, initial, proceed)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._connect(host, props, initial, proceed)

    def _fetch_now(self) -> Credentials:
        self._fetches.inc()  # upstream's metric: one per call to Secrets Manager
        return self._fetch(self.config)

    def _connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        config = self.config
        lease = self._cache.get(config.cache_key, config.expiration, self._fetch_now)
        try:
            return proceed(host, _with_credentials(props, lease.credentials), initial)
        except Exception as error:
            if lease.fetched or not self._context.dialects.errors.is_login_error(error):
                raise
            fresh = self._refetch(lease, host)
            if fresh is None:
                raise
        return proceed(host, _with_credentials(props, fresh.credentials), initial)

    def _refetch(self, lease: Lease, host: HostInfo) -> Lease | None:
        """After a login failure with cached credentials: newer credentials to retry with, or None when the
        secret has not changed (the failure is not a rotation)."""
        config = self.config
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "login of user %r to %s failed with the cached secret %r: fetching it again (rotated?)",
                lease.credentials.username,
                host.url,
                config.secret_id,
            )
        fresh = self._cache.refresh(config.cache_key, config.expiration, self._fetch_now, lease.generation)
        if fresh.credentials == lease.credentials:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("secret %r has not changed: not retrying the login", config.secret_id)
            return None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("secret %r changed: retrying the login to %s once", config.secret_id, host.url)
        return fresh


def _with_credentials(props: Mapping[str, Any], credentials: Credentials) -> dict[str, Any]:
    result = {k: v for k, v in props.items() if k not in _DROPPED}
    result["user"] = credentials.username
    result["password"] = credentials.password
    return result


class AwsSecretsManagerPluginFactory(PluginFactory):
    code = "aws_secrets_manager"
    aliases = ("awsSecretsManager",)
    weight = 800
    settings = SETTINGS
    abi = (1, 0)

    def create(self, context: PluginContext) -> Plugin:
        return AwsSecretsManagerPlugin(context, SecretsManagerConfig.parse(context.props))

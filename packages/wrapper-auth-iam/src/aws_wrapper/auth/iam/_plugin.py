"""The ``iam`` plugin: every physical connection of the wrapper (the application's, and those of failover, failure
monitoring and topology monitoring, which go through ``force_connect``) logs in with an RDS IAM auth token
instead of a password."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.lifecycle import on_release
from aws_wrapper.core.plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from aws_wrapper.core.services import PluginContext
from aws_wrapper.core.settings import parse_bool

from . import _aws
from ._region import GLOBAL_REGIONS, GlobalRegions, global_cluster_name, resolve_region
from ._settings import SETTINGS, IamConfig
from ._tokens import TOKENS, Token, TokenCache, TokenKey

__all__ = ["IamAuthPlugin", "IamAuthPluginFactory", "MYSQL_AUTH_PLUGIN"]

logger = logging.getLogger("aws_wrapper.auth.iam.iam_plugin")

#: The MySQL client authentication plugin that sends the token as it is (RDS verifies it server side).
MYSQL_AUTH_PLUGIN = "mysql_clear_password"
#: mysql-connector's other spellings of ``password``: dropped, so that the token is the only password sent.
_PASSWORD_ALIASES = ("passwd", "password1")
_TLS_HINT = (
    "IAM authentication to MySQL needs TLS: mysql-connector sends the token (auth_plugin='mysql_clear_password') "
    "only over an encrypted connection"
)


class IamAuthPlugin(Plugin):
    """IAM database authentication for one wrapper connection (see ``docs/auth-iam.md``).

    Tokens come from the process-wide cache (:data:`~aws_wrapper.auth.iam.TOKENS`), generated with the boto3
    client of the connection's ``aws_profile`` on first need. When the server rejects a *cached* token (a login
    error), a new one is generated and the connect is retried once.
    """

    def __init__(
        self,
        context: PluginContext,
        config: IamConfig,
        *,
        tokens: TokenCache = TOKENS,
        regions: GlobalRegions = GLOBAL_REGIONS,
    ) -> None:
        self._context = context
        self.config = config
        self._tokens = tokens
        self._regions = regions
        self._driver = context.dialects.driver
        self._telemetry = context.telemetry
        self._fetches = context.telemetry.counter("iam.fetch_token.count")
        self._signer: Any = None
        #: Tokens this wrapper connection generated, and physical connections it authenticated (diagnostics).
        self.generated = 0
        self.authenticated = 0

    def __repr__(self) -> str:
        return (
            f"IamAuthPlugin(config={self.config!r}, generated={self.generated}, "
            f"authenticated={self.authenticated})"
        )

    # -- the connect pipelines --------------------------------------------------------------------------------
    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._connect(host, props, initial, proceed)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._connect(host, props, initial, proceed)

    def _connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        key = self.token_key(host, props)
        ttl = self.config.ttl
        token, cached = self._tokens.get(key, ttl, lambda: self._generate(key))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("iam: connecting to %s with a %s token for %s", host.url, _origin(cached), key)
        try:
            conn = proceed(host, self._with_token(props, token), initial)
        except Exception as error:
            if not self._rejected(error, key, token):
                raise
            if not cached:
                raise  # a token made for this connect: a new one would fare no better
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "iam: %s rejected the cached token for %s; generating a new one and retrying once",
                    host.url,
                    key,
                )
            key = self._rekey(host, props, key)
            token = self._tokens.refresh(key, ttl, lambda: self._generate(key), token)
            try:
                conn = proceed(host, self._with_token(props, token), initial)
            except Exception as retry_error:
                self._rejected(retry_error, key, token)
                raise
        self.authenticated += 1
        return conn

    def _rejected(self, error: Exception, key: TokenKey, token: Token) -> bool:
        """True when ``error`` is the server refusing the login; the token is then dropped from the cache.
        A connection that cannot carry a token (MySQL without TLS) raises ``ConfigurationError`` here."""
        if "insecure channel" in str(error).lower():
            raise ConfigurationError(
                f"{_TLS_HINT}, and the connection to {key.host}:{key.port} is not encrypted (the server offers "
                "no TLS, or ssl_disabled is set): enable TLS on the server (RDS and Aurora always offer it) and "
                "do not set ssl_disabled",
                driver_error=error,
            ) from error
        if not self._context.dialects.errors.is_login_error(error):
            return False
        self._tokens.discard(key, token)
        return True

    def _rekey(self, host: HostInfo, props: Mapping[str, Any], key: TokenKey) -> TokenKey:
        """The key after a rejection: a global endpoint's writer region is looked up again (a global failover
        moves the writer to another region)."""
        name = global_cluster_name(key.host)
        if name is None or self.config.region:
            return key
        self._regions.forget(name, self.config.profile)
        return self.token_key(host, props)

    # -- tokens -----------------------------------------------------------------------------------------------
    def token_key(self, host: HostInfo, props: Mapping[str, Any]) -> TokenKey:
        """What the token for a connection to ``host`` with ``props`` is signed for: ``iam_host`` else the host,
        ``iam_default_port`` else the host's port else the driver's default, ``iam_region`` else the region of
        the host name (a global endpoint: its writer's region), and the ``user`` property."""
        user = props.get("user")
        if user is None or user == "":
            raise ConfigurationError("the iam plugin needs the database user name: set 'user'")
        config = self.config
        name = (config.host or host.host).lower()  # host names are case-insensitive; so is the signed host
        if not name:
            raise ConfigurationError("the iam plugin needs a host name to sign the token for: set iam_host")
        port = config.port or (host.port if host.port > 0 else self._driver.default_port)
        region = resolve_region(name, config.region, config.profile, self._lookup_global, self._regions)
        return TokenKey(str(user), name, int(port), region)

    def _lookup_global(self, cluster: str) -> str:
        client = _aws.rds_client(self.config.profile, None)
        region = _aws.describe_global_writer_region(client, cluster, self.config.profile)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("iam: the writer of global database %s is in %s", cluster, region)
        return region

    def _generate(self, key: TokenKey) -> str:
        with self._telemetry.open_span("fetch authentication token"):
            client = self._signer
            if client is None:
                client = self._signer = _aws.signer(self.config.profile, key.region)
            token = _aws.sign(client, key, self.config.profile)
        self._fetches.inc()
        self.generated += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("iam: generated a new token for %s", key)
        return token

    def _with_token(self, props: Mapping[str, Any], token: Token) -> dict[str, Any]:
        """New properties (``props`` is never changed) with the token as the password."""
        result = {k: v for k, v in props.items() if k not in _PASSWORD_ALIASES}
        result["password"] = token.value
        if _is_mysql_connector(self._driver.code):
            result["auth_plugin"] = MYSQL_AUTH_PLUGIN
        return result


def _origin(cached: bool) -> str:
    return "cached" if cached else "new"


def _is_mysql_connector(code: str) -> bool:
    return code.startswith("mysql-connector")


def _check_tls_settings(driver_code: str, props: Mapping[str, Any]) -> None:
    if not _is_mysql_connector(driver_code):
        return
    raw = props.get("ssl_disabled")
    try:
        disabled = raw is not None and raw != "" and parse_bool(raw)
    except ValueError:
        return  # mysql-connector judges its own parameter
    if disabled:
        raise ConfigurationError(
            f"{_TLS_HINT}: remove ssl_disabled=True (RDS and Aurora MySQL always offer TLS; pass ssl_ca to verify "
            "the server's certificate)"
        )


def _release() -> None:
    TOKENS.clear()
    GLOBAL_REGIONS.clear()
    _aws.release()


class IamAuthPluginFactory(PluginFactory):
    """``iam``: IAM database authentication (also accepted as ``iamAuth``)."""

    code = "iam"
    aliases = ("iamAuth",)
    weight = 700
    settings = SETTINGS
    abi = (1, 0)

    def create(self, context: PluginContext) -> Plugin:
        config = IamConfig.parse(context.props)
        _check_tls_settings(context.dialects.driver.code, context.props)
        on_release(_release)
        return IamAuthPlugin(context, config)

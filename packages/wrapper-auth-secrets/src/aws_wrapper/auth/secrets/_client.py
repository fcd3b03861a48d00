"""The Secrets Manager side: boto3 clients (created lazily, on the connecting thread, by the first fetch that needs
one), an optional application-supplied session factory, the ``GetSecretValue`` call, its errors, and the parsing of
the secret's JSON value.

boto3 and botocore are imported by the first fetch, never when this module is imported. botocore logs every raw
response body at DEBUG (``botocore.parsers``); while this module fetches a secret on a thread, those records are
redacted, so that turning on DEBUG logging never writes a password to a log.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from aws_wrapper.core.errors import AwsConnectError, AwsWrapperError, ConfigurationError
from aws_wrapper.core.lifecycle import on_release

from ._cache import SECRETS, Credentials
from ._settings import (
    AWS_PROFILE,
    ENDPOINT,
    PASSWORD_KEY,
    REGION,
    SECRET_ID,
    USERNAME_KEY,
    SecretsManagerConfig,
)

__all__ = [
    "SessionFactory",
    "set_session_factory",
    "get_session_factory",
    "fetch_credentials",
    "release",
    "REDACTED",
]

logger = logging.getLogger("aws_wrapper.auth.secrets.aws_secrets_manager_plugin")

#: What botocore's raw response bodies are replaced with in log records while a secret is fetched.
REDACTED = "<GetSecretValue response redacted by aws-wrapper-auth-secrets>"

#: Loggers of botocore that print raw HTTP response bodies at DEBUG.
_BODY_LOGGERS = ("botocore.parsers", "botocore.endpoint")

# botocore client settings: bounded waits, and a few retries of throttling and network errors.
_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 10
_MAX_ATTEMPTS = 3


class SessionFactory(Protocol):
    """Makes the boto3 session a Secrets Manager client is created from (the client gets the region and the
    endpoint itself). Called with a keyword argument on the connecting thread, once per (region, endpoint,
    ``aws_profile``) until :func:`set_session_factory` is called again or ``release_resources()`` runs;
    ``profile`` is the ``aws_profile`` setting (None when unset). The same signature as the factory of
    ``aws_wrapper.auth.iam.set_session_factory``, so one function can serve both plugins."""

    def __call__(self, *, profile: str | None) -> Any: ...


_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_session_factory: SessionFactory | None = None
_local = threading.local()
_filter_installed = False


def set_session_factory(factory: SessionFactory | None) -> None:
    """Use ``factory`` to make the boto3 sessions of Secrets Manager clients (None: back to the default, a new
    ``boto3.session.Session(profile_name=aws_profile)``). Clients made before are dropped; cached secrets stay.

    ``set_session_factory(lambda **_: my_session)`` makes every client from one session of yours (assumed-role
    credentials, a custom credential provider, ...)."""
    global _session_factory
    with _lock:
        _session_factory = factory
        clients = list(_clients.values())
        _clients.clear()
    _close(clients)


def get_session_factory() -> SessionFactory | None:
    return _session_factory


def release() -> None:
    """Close the cached clients and forget the cached secrets (run by ``release_resources()``)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    _close(clients)
    SECRETS.clear()


on_release(release)


def _close(clients: list[Any]) -> None:
    for client in clients:
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # closing a connection pool must not fail a release
                logger.debug("closing a Secrets Manager client failed", exc_info=True)


class _RedactResponseBodies(logging.Filter):
    """Replaces the arguments of botocore's response-body records made while this thread fetches a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "fetching", False) and "body" in str(record.msg).lower():
            record.msg = "%s"
            record.args = (REDACTED,)
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = _RedactResponseBodies()


def _install_filter() -> None:
    global _filter_installed
    if not _filter_installed:
        for name in _BODY_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
        _filter_installed = True


@contextmanager
def _fetching() -> Iterator[None]:
    previous = getattr(_local, "fetching", False)
    _local.fetching = True
    try:
        yield
    finally:
        _local.fetching = previous


def _client(config: SecretsManagerConfig) -> Any:
    key = (config.region, config.endpoint, config.profile)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _make_client(config, _session_factory)
            _install_filter()
        return client


def _make_client(config: SecretsManagerConfig, factory: SessionFactory | None) -> Any:
    """A new Secrets Manager client (on the calling thread: the connecting one)."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    try:
        if factory is not None:
            session = factory(profile=config.profile)
        else:
            session = boto3.session.Session(profile_name=config.profile)
        client = session.client(
            "secretsmanager",
            region_name=config.region,
            endpoint_url=config.endpoint,
            config=Config(
                connect_timeout=_CONNECT_TIMEOUT,
                read_timeout=_READ_TIMEOUT,
                retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
            ),
        )
    except botocore.exceptions.ProfileNotFound:
        raise ConfigurationError(
            f"invalid value {config.profile!r} for setting {AWS_PROFILE.name!r}: no such profile in the AWS "
            "configuration files"
        ) from None
    except botocore.exceptions.InvalidRegionError:
        raise ConfigurationError(
            f"invalid AWS region {config.region!r} (from {config.region_source}) for secret {config.secret_id!r}: "
            f"set {REGION.name!r} to a region name such as 'us-east-1'"
        ) from None
    except ValueError as exc:  # botocore: an endpoint URL it cannot use
        raise ConfigurationError(
            f"invalid value {config.endpoint!r} for setting {ENDPOINT.name!r}: {exc}"
        ) from None
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "created a Secrets Manager client for region %s (endpoint %s, profile %s, %s session)",
            config.region,
            config.endpoint or "default",
            config.profile or "default",
            "application" if factory is not None else "new",
        )
    return client


def fetch_credentials(config: SecretsManagerConfig) -> Credentials:
    """Fetch the secret of ``config`` from Secrets Manager and take the user and password out of its JSON value.

    Errors name the secret id, the region and the setting to fix, never the secret's value:
    :class:`ConfigurationError` for a secret that does not exist there, bad credentials of the AWS client or a
    secret without the configured keys; :class:`AwsConnectError` when Secrets Manager cannot be reached (retry
    later); :class:`AwsWrapperError` for other refusals (access denied, decryption failure), with AWS's error
    code."""
    import botocore.exceptions as bce

    client = _client(config)
    where = f"secret {config.secret_id!r} in region {config.region!r}"
    if config.endpoint:
        where += f" at {config.endpoint}"
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("fetching %s", where)
    try:
        with _fetching():
            response = client.get_secret_value(SecretId=config.secret_id)
    except bce.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        if code == "ResourceNotFoundException":
            raise ConfigurationError(
                f"{where} was not found (AWS: {message or code}): check the setting {SECRET_ID.name!r} and the "
                f"region (from {config.region_source})"
            ) from exc
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"):
            raise ConfigurationError(
                f"AWS refused the credentials of the Secrets Manager client fetching {where} ({code}: {message}): "
                f"check the AWS credentials of the process or the setting {AWS_PROFILE.name!r}"
            ) from exc
        raise AwsWrapperError(f"Secrets Manager refused to return {where}: {code}: {message}") from exc
    except (bce.NoCredentialsError, bce.PartialCredentialsError) as exc:
        raise ConfigurationError(
            f"no usable AWS credentials to fetch {where} ({exc}): configure credentials for boto3 (environment, "
            f"shared files, instance role), set {AWS_PROFILE.name!r}, or install a session factory with "
            "aws_wrapper.auth.secrets.set_session_factory()"
        ) from exc
    except (
        bce.EndpointConnectionError,
        bce.ConnectionClosedError,
        bce.ConnectTimeoutError,
        bce.ReadTimeoutError,
    ) as exc:
        raise AwsConnectError(f"could not reach Secrets Manager to fetch {where}: {exc}") from exc
    except bce.BotoCoreError as exc:
        raise AwsWrapperError(f"fetching {where} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        if not type(exc).__module__.startswith("botocore."):
            raise  # from an application's session factory or client: theirs, unchanged
        # botocore.parsers.ResponseParserError and the like quote the response body, i.e. the secret's value
        raise AwsWrapperError(
            f"fetching {where} failed: botocore could not read the response ({type(exc).__name__}; details "
            "withheld because they may quote the secret)"
        ) from None
    return _credentials(response, config, where)


def _credentials(response: Any, config: SecretsManagerConfig, where: str) -> Credentials:
    """The user and password in the secret's JSON value. Errors say what is wrong, never what the value is."""
    value = response.get("SecretString") if isinstance(response, dict) else None
    del response
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{where} has no text value (a binary secret?): store the credentials as a JSON object with the keys "
            f"{config.username_key!r} and {config.password_key!r}"
        )
    problem = _decode(value)
    del value
    if isinstance(problem, str):
        raise ConfigurationError(f"the value of {where} {problem}")
    keys = ", ".join(sorted(str(k) for k in problem)) or "none"
    username = _text(problem.get(config.username_key), config.username_key, USERNAME_KEY.name, where, keys)
    password = _text(problem.get(config.password_key), config.password_key, PASSWORD_KEY.name, where, keys)
    return Credentials(username, password)


def _text(found: object, key: str, setting_name: str, where: str, keys: str) -> str:
    """The string under ``key`` of the secret's value; errors name the key and the type, never the value."""
    if found is None:
        raise ConfigurationError(
            f"the value of {where} has no key {key!r} (its keys: {keys}): set {setting_name!r} to the key that "
            "holds it"
        )
    if not isinstance(found, str):
        raise ConfigurationError(f"the key {key!r} of {where} holds a {type(found).__name__}, not a string")
    return found


def _decode(value: str) -> dict[str, Any] | str:
    """The JSON object in ``value``, or what is wrong with it (without quoting it)."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return 'is not JSON: expected an object such as {"username": ..., "password": ...}'
    if not isinstance(decoded, dict):
        return f"is a JSON {type(decoded).__name__}, not an object with the user and password"
    return decoded

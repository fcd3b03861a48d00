"""The AWS side: boto3 sessions and RDS clients (created on the connecting thread by the first connect that needs
one), an optional application-supplied session factory, token signing, the global-database writer lookup, and the
translation of botocore's errors.

boto3 and botocore are imported by the first connect, never when this module is imported. botocore logs the
canonical request, the string to sign and the signature at DEBUG (``botocore.auth``) -- from which the token can
be rebuilt -- so while a token is signed on a thread, those records are redacted: DEBUG logging on every logger
never writes a token (nor the session token of temporary credentials) to a log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from aws_wrapper.core.errors import AwsConnectError, AwsWrapperError, ConfigurationError

from ._tokens import TokenKey

__all__ = [
    "SessionFactory",
    "set_session_factory",
    "get_session_factory",
    "signer",
    "rds_client",
    "sign",
    "describe_global_writer_region",
    "release",
    "REDACTED",
]

logger = logging.getLogger("aws_wrapper.auth.iam.iam_plugin")

#: What botocore's signing records are replaced with while a token is signed.
REDACTED = "<signing details redacted by aws-wrapper-auth-iam>"
_SIGNING_LOGGERS = ("botocore.auth",)
#: Region of the RDS API client for a global-database lookup when the session names none.
DEFAULT_API_REGION = "us-east-1"

# botocore client settings for the one API call made (DescribeGlobalClusters): bounded waits, few retries.
_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 10
_MAX_ATTEMPTS = 3


class SessionFactory(Protocol):
    """Makes the boto3 session whose credentials sign tokens (and whose client looks up global databases).
    Called with a keyword argument on the connecting thread, once per ``aws_profile`` value (None when unset)
    until :func:`set_session_factory` is called again or ``release_resources()`` runs."""

    def __call__(self, *, profile: str | None) -> Any: ...


_lock = threading.Lock()
_sessions: dict[str | None, Any] = {}
_signers: dict[str | None, Any] = {}
_clients: dict[tuple[str, str | None], Any] = {}
_session_factory: SessionFactory | None = None
_local = threading.local()
_filter_installed = False


def set_session_factory(factory: SessionFactory | None) -> None:
    """Use ``factory`` to make the boto3 sessions of the ``iam`` plugin (None: back to the default, a new
    ``boto3.session.Session(profile_name=aws_profile)``). Sessions and clients made before are dropped; cached
    tokens stay until they expire.

    ``set_session_factory(lambda **_: my_session)`` signs every token with the credentials of one session of
    yours (assumed-role credentials, a custom credential provider, ...)."""
    global _session_factory
    with _lock:
        _session_factory = factory
        clients = [*_signers.values(), *_clients.values()]
        _signers.clear()
        _clients.clear()
        _sessions.clear()
    _close(clients)


def get_session_factory() -> SessionFactory | None:
    return _session_factory


def release() -> None:
    """Drop every session and client (``release_resources()``); they are made again by the next connect."""
    with _lock:
        clients = [*_signers.values(), *_clients.values()]
        _signers.clear()
        _clients.clear()
        _sessions.clear()
    _close(clients)


def _close(clients: list[Any]) -> None:
    for client in clients:
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # best effort: a client that cannot close is garbage anyway
                logger.debug("closing a boto3 client failed", exc_info=True)


def _session(profile: str | None) -> Any:
    """The boto3 session for ``profile`` (call with ``_lock`` held)."""
    session = _sessions.get(profile)
    if session is None:
        factory = _session_factory
        if factory is not None:
            session = factory(profile=profile)
        else:
            import boto3

            session = boto3.session.Session(profile_name=profile)
        _sessions[profile] = session
    return session


def _client_config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    )


def signer(profile: str | None, region: str) -> Any:
    """The RDS client whose credentials sign tokens for ``profile``: one per profile and process (it signs for
    any region: the region is passed with each token), made on the calling thread on first use with
    ``region`` as its own region."""
    with _lock:
        client = _signers.get(profile)
        if client is not None:
            return client
        try:
            client = _session(profile).client("rds", region_name=region, config=_client_config())
        except Exception as exc:
            raise translate(exc, "creating the boto3 RDS client for IAM authentication", profile) from exc
        _signers[profile] = client
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("iam: created the boto3 client that signs tokens (profile %s)", profile or "default")
        return client


def rds_client(profile: str | None, region: str | None) -> Any:
    """An RDS API client for ``region`` (None: the session's own region, else us-east-1), made on the calling
    thread on first use."""
    with _lock:
        session = None
        if region is None:
            try:
                session = _session(profile)
            except Exception as exc:
                raise translate(exc, "creating the boto3 session for IAM authentication", profile) from exc
            region = getattr(session, "region_name", None) or DEFAULT_API_REGION
        client = _clients.get((region, profile))
        if client is not None:
            return client
        try:
            session = session or _session(profile)
            client = session.client("rds", region_name=region, config=_client_config())
        except Exception as exc:
            raise translate(exc, "creating the boto3 RDS client for IAM authentication", profile) from exc
        _clients[(region, profile)] = client
        return client


def sign(client: Any, key: TokenKey, profile: str | None = None) -> str:
    """A new token for ``key`` (``generate_db_auth_token``: a local computation, unless the credentials must be
    fetched first). botocore's signing records are redacted meanwhile."""
    _install_filter()
    _local.signing = getattr(_local, "signing", 0) + 1
    try:
        token = client.generate_db_auth_token(
            DBHostname=key.host, Port=key.port, DBUsername=key.user, Region=key.region
        )
    except Exception as exc:
        raise translate(exc, f"generating the IAM token for {key}", profile) from exc
    finally:
        _local.signing -= 1
    if not isinstance(token, str) or not token:
        raise AwsWrapperError(f"generating the IAM token for {key} returned no token")
    return token


def describe_global_writer_region(client: Any, cluster: str, profile: str | None = None) -> str:
    """The region of the writer cluster of the global database ``cluster`` (RDS ``DescribeGlobalClusters``)."""
    action = f"looking up the writer region of global database {cluster!r} (RDS DescribeGlobalClusters)"
    try:
        answer = client.describe_global_clusters(GlobalClusterIdentifier=cluster)
    except Exception as exc:
        raise translate(exc, action, profile) from exc
    clusters = [c for c in answer.get("GlobalClusters") or () if isinstance(c, dict)]
    if not clusters:
        raise AwsWrapperError(f"{action}: no such global database; set iam_region")
    members = [m for m in clusters[0].get("GlobalClusterMembers") or () if isinstance(m, dict)]
    writers = [m for m in members if m.get("IsWriter")]
    if not writers and len(members) == 1:
        writers = members  # a global database of one cluster: that cluster writes
    if not writers:
        raise AwsWrapperError(f"{action}: it has no writer cluster; set iam_region")
    arn = str(writers[0].get("DBClusterArn") or "")
    parts = arn.split(":")
    if len(parts) < 6 or not parts[3]:
        raise AwsWrapperError(f"{action}: unexpected writer cluster ARN {arn!r}; set iam_region")
    return parts[3]


def translate(exc: BaseException, action: str, profile: str | None = None) -> AwsWrapperError:
    """A wrapper error for an exception of boto3 / botocore (or of a session factory). Never carries a token:
    botocore's messages name operations, profiles and endpoints only."""
    if isinstance(exc, AwsWrapperError):
        return exc
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return AwsWrapperError(f"{action} failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, bx.ProfileNotFound):
        return ConfigurationError(
            f"invalid value {profile!r} for setting 'aws_profile': no such profile in the AWS configuration"
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AwsWrapperError(
            f"{action} failed: no AWS credentials found ({exc}); provide credentials to boto3 (environment, "
            "shared configuration with aws_profile, instance or task role) or a session through "
            "aws_wrapper.auth.iam.set_session_factory()"
        )
    network = (
        bx.EndpointConnectionError,
        bx.ConnectTimeoutError,
        bx.ReadTimeoutError,
        bx.ConnectionClosedError,
        bx.HTTPClientError,
    )
    if isinstance(exc, network):
        return AwsConnectError(f"{action} failed: {exc}")
    if isinstance(exc, bx.CredentialRetrievalError):
        return AwsConnectError(f"{action} failed: the AWS credentials could not be fetched ({exc})")
    if isinstance(exc, bx.NoRegionError):
        return ConfigurationError(f"{action} failed: {exc}; set iam_region")
    return AwsWrapperError(f"{action} failed: {type(exc).__name__}: {exc}")


# -- redaction of botocore's signing records --------------------------------------------------------------------


class _SigningRedactor(logging.Filter):
    """Rewrites the records botocore's signer logs on a thread that is signing a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "signing", 0):
            record.msg = REDACTED
            record.args = None
        return True


def _install_filter() -> None:
    global _filter_installed
    if _filter_installed:
        return
    with _lock:
        if not _filter_installed:
            redactor = _SigningRedactor()
            for name in _SIGNING_LOGGERS:
                logging.getLogger(name).addFilter(redactor)
            _filter_installed = True


@contextmanager
def signing() -> Iterator[None]:
    """Mark the current thread as signing (botocore's signing records are redacted): for code that signs
    through botocore itself."""
    _install_filter()
    _local.signing = getattr(_local, "signing", 0) + 1
    try:
        yield
    finally:
        _local.signing -= 1

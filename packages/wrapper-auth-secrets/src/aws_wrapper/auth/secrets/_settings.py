"""The settings of the ``aws_secrets_manager`` plugin (catalogue 2.11, upstream's names and defaults) and their
parsed, frozen form, including where the region comes from.

Upstream documents ``us-east-1`` as the default region but never applies it; here there is no default at all: the
region is ``secrets_manager_region``, else the region inside the secret's ARN, else a :class:`ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.records import record
from aws_wrapper.core.settings import Setting, integer, optional, text

__all__ = [
    "SECRET_ID",
    "REGION",
    "ENDPOINT",
    "USERNAME_KEY",
    "PASSWORD_KEY",
    "EXPIRATION",
    "AWS_PROFILE",
    "SETTINGS",
    "DEFAULT_EXPIRATION",
    "SecretsManagerConfig",
    "region_from_arn",
]

#: Seconds a fetched secret stays cached when ``secrets_manager_expiration`` is unset or negative (one year).
DEFAULT_EXPIRATION = 31_536_000


def _endpoint(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            "expected an http:// or https:// URL, e.g. https://secretsmanager.us-east-1.amazonaws.com"
        )
    return url


def _json_key(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if not value:
        raise ValueError("the key name must not be empty")
    return value


SECRET_ID = optional(
    text("secrets_manager_secret_id", "", "Name or ARN of the secret holding the credentials.")
)
REGION = optional(
    text(
        "secrets_manager_region",
        "",
        "AWS region of the secret. Unset: the region inside the secret's ARN; a plain name needs this setting.",
    )
)
ENDPOINT = optional(
    Setting(
        "secrets_manager_endpoint",
        _endpoint,
        "",
        "Endpoint URL of the Secrets Manager API (a VPC endpoint, a local emulator). Unset: AWS's regional endpoint.",
        type_name="str",
    )
)
USERNAME_KEY = Setting(
    "secrets_manager_secret_username_key",
    _json_key,
    "username",
    "Key of the secret's JSON value that holds the database user.",
    type_name="str",
)
PASSWORD_KEY = Setting(
    "secrets_manager_secret_password_key",
    _json_key,
    "password",
    "Key of the secret's JSON value that holds the database password.",
    type_name="str",
)
EXPIRATION = integer(
    "secrets_manager_expiration",
    DEFAULT_EXPIRATION,
    "Seconds a fetched secret is reused before it is fetched again; 0: fetch at every connect; negative: one year.",
)
AWS_PROFILE = optional(
    text("aws_profile", "", "Profile of the AWS shared configuration used for the Secrets Manager client.")
)

SETTINGS: tuple[Setting[Any], ...] = (
    SECRET_ID,
    REGION,
    ENDPOINT,
    USERNAME_KEY,
    PASSWORD_KEY,
    EXPIRATION,
    AWS_PROFILE,
)


def region_from_arn(secret_id: str) -> str | None:
    """The region inside a Secrets Manager secret ARN (``arn:aws:secretsmanager:us-west-2:111122223333:secret:
    name-AbCdEf``), or None when ``secret_id`` is not an ARN (a plain secret name). An ARN of another service,
    or one without a region, raises :class:`ConfigurationError` naming the setting and the id."""
    if not secret_id.startswith("arn:"):
        return None
    parts = secret_id.split(":", 6)
    if len(parts) < 7 or not parts[1] or parts[2] != "secretsmanager" or parts[5] != "secret" or not parts[6]:
        raise ConfigurationError(
            f"invalid value {secret_id!r} for setting {SECRET_ID.name!r}: not a Secrets Manager secret ARN "
            "(expected arn:<partition>:secretsmanager:<region>:<account>:secret:<name>) nor a secret name"
        )
    region = parts[3].strip()
    return region or None


@record(frozen=True)
class SecretsManagerConfig:
    """The parsed settings of one wrapper connection. ``region_source`` says where ``region`` came from (for
    error messages): the setting's name or ``"the secret ARN"``."""

    secret_id: str
    region: str
    region_source: str = "secrets_manager_region"
    endpoint: str | None = None
    username_key: str = "username"
    password_key: str = "password"
    expiration: int = DEFAULT_EXPIRATION
    profile: str | None = None

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> SecretsManagerConfig:
        """Parse and validate every setting; raises ``ConfigurationError`` naming the setting and the value
        (before any server or AWS endpoint is contacted)."""
        secret_id = SECRET_ID.get(props)
        if secret_id is None or not secret_id.strip():
            raise ConfigurationError(
                f"the aws_secrets_manager plugin needs the setting {SECRET_ID.name!r}: the name or ARN of the "
                "secret that holds the database user and password"
            )
        secret_id = secret_id.strip()
        arn_region = region_from_arn(secret_id)
        region = REGION.get(props)
        region = region.strip() if region is not None else None
        source = REGION.name
        if not region:
            if arn_region is None:
                raise ConfigurationError(
                    f"cannot tell the AWS region of secret {secret_id!r}: set {REGION.name!r} (the setting "
                    f"{SECRET_ID.name!r} is a secret name, not an ARN that would name the region)"
                )
            region, source = arn_region, "the secret ARN"
        expiration = EXPIRATION.get(props)
        profile = AWS_PROFILE.get(props)
        if profile is not None:
            profile = profile.strip() or None
        return cls(
            secret_id=secret_id,
            region=region,
            region_source=source,
            endpoint=ENDPOINT.get(props),
            username_key=USERNAME_KEY.get(props),
            password_key=PASSWORD_KEY.get(props),
            expiration=DEFAULT_EXPIRATION if expiration < 0 else expiration,
            profile=profile,
        )

    @property
    def cache_key(self) -> tuple[str, str, str | None, str | None]:
        """Secrets are cached per (secret id, region, endpoint), as upstream does, and per ``aws_profile``: two
        profiles may be two AWS accounts, each with its own secret of the same name."""
        return (self.secret_id, self.region, self.endpoint, self.profile)

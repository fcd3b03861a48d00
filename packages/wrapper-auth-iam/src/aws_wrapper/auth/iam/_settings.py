"""The settings of IAM database authentication (catalogue 2.10, plus ``aws_profile``) and their parsed form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.records import record
from aws_wrapper.core.settings import Setting, integer, optional

__all__ = [
    "IAM_HOST",
    "IAM_DEFAULT_PORT",
    "IAM_REGION",
    "IAM_EXPIRATION",
    "AWS_PROFILE",
    "SETTINGS",
    "DEFAULT_EXPIRATION",
    "TOKEN_LIFETIME",
    "MAX_CACHE_AGE",
    "IamConfig",
    "parse_region",
]

#: Seconds an RDS auth token is valid after signing (``X-Amz-Expires`` of ``generate_db_auth_token``).
TOKEN_LIFETIME = 900
#: A cached token is never handed out in the last 30 seconds of its validity, whatever ``iam_expiration`` says:
#: the server checks the expiry when the login arrives, not when the connect started.
MAX_CACHE_AGE = TOKEN_LIFETIME - 30
#: Upstream's default for ``iam_expiration``.
DEFAULT_EXPIRATION = 900

# us-east-1, eu-central-2, cn-north-1, us-gov-west-1, us-isob-east-1, il-central-1, ...
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def parse_region(value: object) -> str:
    """An AWS region name (``us-east-1``), lowercased; ValueError for anything that cannot be one."""
    if not isinstance(value, str):
        raise TypeError("expected a region name such as 'us-east-1'")
    region = value.strip().lower()
    if not _REGION.fullmatch(region):
        raise ValueError("expected a region name such as 'us-east-1'")
    return region


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


IAM_HOST: Setting[str | None] = Setting(
    "iam_host",
    _name,
    None,
    "Host name the token is signed for (default: the host being connected to). Set it when connecting "
    "through an IP address, a custom DNS name or a tunnel: the token must name the RDS endpoint.",
    type_name="str",
)
IAM_DEFAULT_PORT = optional(
    integer(
        "iam_default_port",
        0,
        "Port the token is signed for. Fallback: the port being connected to, then the driver's default "
        "(5432, 3306).",
        min=1,
        max=65535,
    )
)
IAM_REGION: Setting[str | None] = Setting(
    "iam_region",
    parse_region,
    None,
    "AWS region the token is signed for. Default: the region in the RDS host name; for a global database "
    "endpoint (global-), the region of its writer cluster (RDS DescribeGlobalClusters).",
    type_name="str",
)
IAM_EXPIRATION = integer(
    "iam_expiration",
    DEFAULT_EXPIRATION,
    "Seconds a generated token is reused from the process-wide cache (at most 870: a token is valid for 900 s "
    "after signing); 0: a new token for every connection.",
    min=0,
)
AWS_PROFILE: Setting[str | None] = Setting(
    "aws_profile",
    _name,
    None,
    "Profile of the AWS shared configuration whose credentials sign the token (default: boto3's default chain).",
    type_name="str",
)

SETTINGS: tuple[Setting[Any], ...] = (IAM_HOST, IAM_DEFAULT_PORT, IAM_REGION, IAM_EXPIRATION, AWS_PROFILE)


@record(frozen=True)
class IamConfig:
    """The parsed IAM settings of one wrapper connection."""

    host: str | None = None
    port: int | None = None
    region: str | None = None
    expiration: int = DEFAULT_EXPIRATION
    profile: str | None = None

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> IamConfig:
        """Raises ``ConfigurationError`` naming the setting and the value."""
        return cls(
            host=IAM_HOST.get(props),
            port=IAM_DEFAULT_PORT.get(props),
            region=IAM_REGION.get(props),
            expiration=IAM_EXPIRATION.get(props),
            profile=AWS_PROFILE.get(props),
        )

    @property
    def ttl(self) -> float:
        """Seconds a token generated for this connection may be served from the cache."""
        return float(min(self.expiration, MAX_CACHE_AGE))

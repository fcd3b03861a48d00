"""RDS / Aurora endpoint names: what kind of endpoint a host name is, and the instance host template.

An RDS endpoint is ``<name>.<prefix><id>.<region part>.<partition suffix>``:

* ``<prefix>`` tells the kind: none (instance), ``cluster-`` (writer), ``cluster-ro-`` (reader),
  ``cluster-custom-`` (custom endpoint), ``proxy-`` (RDS Proxy), ``shardgrp-`` (Aurora Limitless shard group),
  ``global-`` (Aurora global database writer endpoint, region ``global``);
* ``<id>`` is the per-account-and-region identifier (``xyz123abc456``);
* the region part is ``<region>.rds`` (commercial, older China form) or ``rds.<region>`` (China, GovCloud,
  ISO partitions);
* the suffix names the partition: ``amazonaws.com``, ``amazonaws.com.cn``, ``c2s.ic.gov``, ``sc2s.sgov.gov``,
  ``cloud.adc-e.uk``, ``csp.hci.ic.gov``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from functools import lru_cache

from aws_wrapper.core.records import record

__all__ = ["RdsUrlType", "RdsEndpoint", "parse_endpoint", "instance_host_template", "is_ip_address"]


class RdsUrlType(enum.Enum):
    """The kind of a host name. ``is_rds``: an RDS endpoint; ``is_rds_cluster``: a cluster-level endpoint
    (writer, reader, custom, global writer); ``has_region``: the name carries a real region."""

    IP_ADDRESS = ("ip-address", False, False, False)
    RDS_WRITER_CLUSTER = ("writer-cluster", True, True, True)
    RDS_READER_CLUSTER = ("reader-cluster", True, True, True)
    RDS_CUSTOM_CLUSTER = ("custom-cluster", True, True, True)
    RDS_GLOBAL_WRITER_CLUSTER = ("global-writer-cluster", True, True, False)
    RDS_PROXY = ("proxy", True, False, True)
    RDS_AURORA_LIMITLESS_DB_SHARD_GROUP = ("limitless-shard-group", True, False, True)
    RDS_INSTANCE = ("instance", True, False, True)
    OTHER = ("other", False, False, False)

    def __init__(self, label: str, is_rds: bool, is_rds_cluster: bool, has_region: bool) -> None:
        self.label = label
        self.is_rds = is_rds
        self.is_rds_cluster = is_rds_cluster
        self.has_region = has_region


_PREFIXES: dict[str, RdsUrlType] = {
    "": RdsUrlType.RDS_INSTANCE,
    "cluster-": RdsUrlType.RDS_WRITER_CLUSTER,
    "cluster-ro-": RdsUrlType.RDS_READER_CLUSTER,
    "cluster-custom-": RdsUrlType.RDS_CUSTOM_CLUSTER,
    "proxy-": RdsUrlType.RDS_PROXY,
    "shardgrp-": RdsUrlType.RDS_AURORA_LIMITLESS_DB_SHARD_GROUP,
    "global-": RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER,
}

#: Partition suffix -> partition name.
PARTITIONS: dict[str, str] = {
    "amazonaws.com": "aws",
    "amazonaws.com.cn": "aws-cn",
    "c2s.ic.gov": "aws-iso",
    "sc2s.sgov.gov": "aws-iso-b",
    "cloud.adc-e.uk": "aws-iso-e",
    "csp.hci.ic.gov": "aws-iso-f",
}

@lru_cache(maxsize=1)
def _endpoint_pattern() -> re.Pattern[str]:
    """The RDS endpoint pattern, compiled on first use (an application on IP addresses never needs it)."""
    suffix = "|".join(re.escape(s) for s in sorted(PARTITIONS, key=len, reverse=True))
    return re.compile(
        r"^(?P<name>[^.]+(?:\.[^.]+)*?)\."
        r"(?P<prefix>cluster-custom-|cluster-ro-|cluster-|proxy-|shardgrp-|global-)?"
        r"(?P<id>[a-z0-9]+)\."
        r"(?:(?P<region_a>[a-z0-9-]+)\.rds|rds\.(?P<region_b>[a-z0-9-]+))\."
        rf"(?P<suffix>{suffix})\.?$",
        re.IGNORECASE,
    )


@record(frozen=True)
class RdsEndpoint:
    """A parsed host name. For non-RDS names only ``host`` and ``type`` are set."""

    host: str
    type: RdsUrlType
    name: str = ""  # instance, cluster, custom endpoint, proxy or shard group name
    id: str = ""  # the account-and-region identifier, e.g. "xyz123abc456"
    region: str = ""  # "us-east-1", "cn-north-1", "us-gov-west-1", "global"
    partition: str = ""  # "aws", "aws-cn", "aws-iso", ...
    domain: str = ""  # the name without "<name>." and the kind prefix: "<id>.<region>.rds.amazonaws.com"

    @property
    def instance_template(self) -> str:
        """``?.<domain>`` for an RDS endpoint, ``?`` otherwise: where topology instance ids become hosts."""
        return f"?.{self.domain}" if self.type.is_rds else "?"


def is_ip_address(host: str) -> bool:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return False
    return True


@lru_cache(maxsize=512)
def parse_endpoint(host: str) -> RdsEndpoint:
    """Classify ``host`` (case-insensitive; a trailing dot is allowed)."""
    text = host.strip()
    if is_ip_address(text):
        return RdsEndpoint(text, RdsUrlType.IP_ADDRESS)
    match = _endpoint_pattern().match(text)
    if match is None:
        return RdsEndpoint(text, RdsUrlType.OTHER)
    prefix = (match["prefix"] or "").lower()
    region = (match["region_a"] or match["region_b"]).lower()
    kind = _PREFIXES[prefix]
    if kind is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER and region != "global":
        kind = RdsUrlType.OTHER  # "global-" only names the global writer endpoint in the "global" region
        return RdsEndpoint(text, kind)
    return RdsEndpoint(
        host=text,
        type=kind,
        name=match["name"],
        id=match["id"],
        region=region,
        partition=_partition(match["suffix"].lower(), region),
        domain=text[match.start("id") : match.end("suffix")],
    )


def _partition(suffix: str, region: str) -> str:
    partition = PARTITIONS[suffix]
    if partition == "aws" and region.startswith("us-gov-"):
        return "aws-us-gov"
    return partition


def instance_host_template(host: str) -> str:
    """The default ``cluster_instance_host_pattern`` for a connection to ``host``."""
    return parse_endpoint(host).instance_template

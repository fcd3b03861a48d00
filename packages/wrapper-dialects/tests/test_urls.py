from __future__ import annotations

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.dialects import (
    HostPattern,
    RdsUrlType,
    derive_cluster_id,
    instance_host_template,
    parse_endpoint,
)

T = RdsUrlType

# (host, type, name, region, partition, domain) for every endpoint kind and partition
CASES = [
    # aws (commercial)
    ("mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com", T.RDS_WRITER_CLUSTER, "mydb", "us-east-1", "aws",
     "xyz123abc456.us-east-1.rds.amazonaws.com"),
    ("mydb.cluster-ro-xyz123abc456.us-east-1.rds.amazonaws.com", T.RDS_READER_CLUSTER, "mydb", "us-east-1", "aws",
     "xyz123abc456.us-east-1.rds.amazonaws.com"),
    ("my-endpoint.cluster-custom-xyz123abc456.eu-west-2.rds.amazonaws.com", T.RDS_CUSTOM_CLUSTER, "my-endpoint",
     "eu-west-2", "aws", "xyz123abc456.eu-west-2.rds.amazonaws.com"),
    ("mydb-instance-1.xyz123abc456.ap-southeast-2.rds.amazonaws.com", T.RDS_INSTANCE, "mydb-instance-1",
     "ap-southeast-2", "aws", "xyz123abc456.ap-southeast-2.rds.amazonaws.com"),
    ("my-proxy.proxy-xyz123abc456.us-west-2.rds.amazonaws.com", T.RDS_PROXY, "my-proxy", "us-west-2", "aws",
     "xyz123abc456.us-west-2.rds.amazonaws.com"),
    ("my-limitless.shardgrp-xyz123abc456.us-east-2.rds.amazonaws.com", T.RDS_AURORA_LIMITLESS_DB_SHARD_GROUP,
     "my-limitless", "us-east-2", "aws", "xyz123abc456.us-east-2.rds.amazonaws.com"),
    ("my-global.global-xyz123abc456.global.rds.amazonaws.com", T.RDS_GLOBAL_WRITER_CLUSTER, "my-global", "global",
     "aws", "xyz123abc456.global.rds.amazonaws.com"),
    # aws-cn: current and older forms
    ("mydb.cluster-xyz123abc456.rds.cn-north-1.amazonaws.com.cn", T.RDS_WRITER_CLUSTER, "mydb", "cn-north-1",
     "aws-cn", "xyz123abc456.rds.cn-north-1.amazonaws.com.cn"),
    ("mydb.cluster-ro-xyz123abc456.rds.cn-northwest-1.amazonaws.com.cn", T.RDS_READER_CLUSTER, "mydb",
     "cn-northwest-1", "aws-cn", "xyz123abc456.rds.cn-northwest-1.amazonaws.com.cn"),
    ("inst-1.xyz123abc456.rds.cn-north-1.amazonaws.com.cn", T.RDS_INSTANCE, "inst-1", "cn-north-1", "aws-cn",
     "xyz123abc456.rds.cn-north-1.amazonaws.com.cn"),
    ("px.proxy-xyz123abc456.rds.cn-north-1.amazonaws.com.cn", T.RDS_PROXY, "px", "cn-north-1", "aws-cn",
     "xyz123abc456.rds.cn-north-1.amazonaws.com.cn"),
    ("mydb.cluster-custom-xyz123abc456.cn-north-1.rds.amazonaws.com.cn", T.RDS_CUSTOM_CLUSTER, "mydb",
     "cn-north-1", "aws-cn", "xyz123abc456.cn-north-1.rds.amazonaws.com.cn"),
    # aws-us-gov
    ("mydb.cluster-xyz123abc456.rds.us-gov-west-1.amazonaws.com", T.RDS_WRITER_CLUSTER, "mydb", "us-gov-west-1",
     "aws-us-gov", "xyz123abc456.rds.us-gov-west-1.amazonaws.com"),
    ("inst-1.xyz123abc456.rds.us-gov-east-1.amazonaws.com", T.RDS_INSTANCE, "inst-1", "us-gov-east-1",
     "aws-us-gov", "xyz123abc456.rds.us-gov-east-1.amazonaws.com"),
    ("mydb.cluster-ro-xyz123abc456.us-gov-west-1.rds.amazonaws.com", T.RDS_READER_CLUSTER, "mydb",
     "us-gov-west-1", "aws-us-gov", "xyz123abc456.us-gov-west-1.rds.amazonaws.com"),
    # ISO partitions
    ("mydb.cluster-xyz123abc456.rds.us-iso-east-1.c2s.ic.gov", T.RDS_WRITER_CLUSTER, "mydb", "us-iso-east-1",
     "aws-iso", "xyz123abc456.rds.us-iso-east-1.c2s.ic.gov"),
    ("inst-1.xyz123abc456.rds.us-isob-east-1.sc2s.sgov.gov", T.RDS_INSTANCE, "inst-1", "us-isob-east-1",
     "aws-iso-b", "xyz123abc456.rds.us-isob-east-1.sc2s.sgov.gov"),
    ("px.proxy-xyz123abc456.rds.eu-isoe-west-1.cloud.adc-e.uk", T.RDS_PROXY, "px", "eu-isoe-west-1", "aws-iso-e",
     "xyz123abc456.rds.eu-isoe-west-1.cloud.adc-e.uk"),
    ("mydb.cluster-ro-xyz123abc456.rds.us-isof-south-1.csp.hci.ic.gov", T.RDS_READER_CLUSTER, "mydb",
     "us-isof-south-1", "aws-iso-f", "xyz123abc456.rds.us-isof-south-1.csp.hci.ic.gov"),
]  # fmt: skip


@pytest.mark.parametrize(("host", "kind", "name", "region", "partition", "domain"), CASES)
def test_endpoint_kinds_in_every_partition(
    host: str, kind: RdsUrlType, name: str, region: str, partition: str, domain: str
) -> None:
    endpoint = parse_endpoint(host)
    assert endpoint.type is kind
    assert (endpoint.name, endpoint.region, endpoint.partition, endpoint.domain) == (
        name,
        region,
        partition,
        domain,
    )
    assert endpoint.instance_template == f"?.{domain}"
    assert endpoint.type.is_rds


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.12", T.IP_ADDRESS),
        ("127.0.42.21", T.IP_ADDRESS),
        ("2001:db8::1", T.IP_ADDRESS),
        ("[2001:db8::1]", T.IP_ADDRESS),
        ("fe80::1%eth0", T.IP_ADDRESS),
        ("localhost", T.OTHER),
        ("db.example.com", T.OTHER),
        ("mydb.cluster-xyz.example.com", T.OTHER),
        ("rds.amazonaws.com", T.OTHER),
        ("mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com.evil.example", T.OTHER),
        ("mydb.global-xyz123abc456.us-east-1.rds.amazonaws.com", T.OTHER),  # global- only in region "global"
    ],
)
def test_non_rds_names(host: str, kind: RdsUrlType) -> None:
    endpoint = parse_endpoint(host)
    assert endpoint.type is kind
    assert not endpoint.type.is_rds
    assert instance_host_template(host) == "?"


def test_flags_match_upstream_table() -> None:
    flags = {t: (t.is_rds, t.is_rds_cluster, t.has_region) for t in RdsUrlType}
    assert flags[T.IP_ADDRESS] == (False, False, False)
    assert flags[T.RDS_GLOBAL_WRITER_CLUSTER] == (True, True, False)
    assert (
        flags[T.RDS_WRITER_CLUSTER]
        == flags[T.RDS_READER_CLUSTER]
        == flags[T.RDS_CUSTOM_CLUSTER]
        == (True,) * 3
    )
    assert flags[T.RDS_PROXY] == flags[T.RDS_AURORA_LIMITLESS_DB_SHARD_GROUP] == (True, False, True)
    assert flags[T.RDS_INSTANCE] == (True, False, True)
    assert flags[T.OTHER] == (False, False, False)


def test_case_and_trailing_dot_are_accepted() -> None:
    endpoint = parse_endpoint("MyDB.CLUSTER-RO-XYZ123ABC456.US-EAST-1.RDS.AMAZONAWS.COM.")
    assert endpoint.type is T.RDS_READER_CLUSTER
    assert endpoint.region == "us-east-1"
    assert endpoint.domain == "XYZ123ABC456.US-EAST-1.RDS.AMAZONAWS.COM"


def test_dotted_instance_part_as_the_local_cluster_uses() -> None:
    endpoint = parse_endpoint("127.0.42.21.xyz123abc456.us-east-1.rds.amazonaws.com")
    assert endpoint.type is T.RDS_INSTANCE
    assert endpoint.name == "127.0.42.21"


# --- cluster_instance_host_pattern -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("?", "?", None),
        ("?.my-domain.com", "?.my-domain.com", None),
        ("?.my-domain.com:9999", "?.my-domain.com", 9999),
        ("?.xyz123abc456.us-east-1.rds.amazonaws.com", "?.xyz123abc456.us-east-1.rds.amazonaws.com", None),
        (
            "?.xyz123abc456.rds.cn-north-1.amazonaws.com.cn:3306",
            "?.xyz123abc456.rds.cn-north-1.amazonaws.com.cn",
            3306,
        ),
    ],
)
def test_valid_patterns(text: str, host: str, port: int | None) -> None:
    pattern = HostPattern.parse(text)
    assert (pattern.host, pattern.port) == (host, port)
    built = pattern.host_for("inst-7", 5432)
    assert built.host == host.replace("?", "inst-7")
    assert built.port == (port or 5432)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("my-domain.com", "must contain '?'"),
        ("", "must contain '?'"),
        ("?.cluster-xyz123abc456.us-east-1.rds.amazonaws.com", "cluster endpoint"),
        ("?.cluster-ro-xyz123abc456.us-east-1.rds.amazonaws.com", "cluster endpoint"),
        ("?.cluster-custom-xyz123abc456.us-east-1.rds.amazonaws.com", "custom cluster endpoint"),
        ("?.proxy-xyz123abc456.us-east-1.rds.amazonaws.com", "RDS Proxy"),
        ("?.shardgrp-xyz123abc456.us-east-1.rds.amazonaws.com", "shard group"),
        ("?.my-domain.com:http", "not a number"),
        ("?.my-domain.com:70000", "out of range"),
        ("?.?.my-domain.com", "one '?'"),
    ],
)
def test_invalid_patterns_name_setting_and_value(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        HostPattern.parse(text)
    assert "cluster_instance_host_pattern" in str(info.value)
    assert repr(text) in str(info.value)
    assert message in str(info.value)


# --- cluster ids --------------------------------------------------------------------------------------------------


def _cid(host: str, port: int = 5432, pattern: str = "?") -> str:
    return derive_cluster_id(HostInfo(host, port), HostPattern.parse(pattern))


def test_writer_and_reader_endpoints_of_one_cluster_share_an_id() -> None:
    domain = "xyz123abc456.us-east-1.rds.amazonaws.com"
    writer = _cid(f"mydb.cluster-{domain}", pattern=f"?.{domain}")
    reader = _cid(f"mydb.cluster-ro-{domain}", pattern=f"?.{domain}")
    assert writer == reader == f"cluster:mydb.{domain}"


def test_unrelated_clusters_never_share_an_id() -> None:
    domain = "xyz123abc456.us-east-1.rds.amazonaws.com"
    ids = {
        _cid(f"db1.cluster-{domain}"),
        _cid(f"db2.cluster-{domain}"),
        _cid("db1.cluster-abc.eu-west-1.rds.amazonaws.com"),
        _cid(f"db1.cluster-custom-{domain}"),
        _cid(f"db1.proxy-{domain}"),
        _cid("10.0.0.1"),
        _cid("10.0.0.2"),
        _cid("10.0.0.1", port=5433),
        _cid("10.0.0.1", pattern="?.other.example"),
        _cid("db.example.com"),
    }
    assert len(ids) == 10
    assert "1" not in ids


def test_ip_cluster_id_contains_pattern_and_host() -> None:
    assert _cid("127.0.42.10", 5432, "?") == "host:127.0.42.10:5432|?"

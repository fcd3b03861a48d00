"""Which region a token is signed for: iam_region, the RDS host name, or a global database's writer region
(RDS DescribeGlobalClusters, here a fake client)."""

from __future__ import annotations

import pytest

from aws_wrapper.auth.iam import GlobalRegions, resolve_region
from aws_wrapper.auth.iam._aws import describe_global_writer_region
from aws_wrapper.core.errors import AwsWrapperError, ConfigurationError

from ._fakes import FakeRdsClient

GLOBAL_HOST = "orders.global-abc123def456.global.rds.amazonaws.com"


def _no_lookup(cluster: str) -> str:
    raise AssertionError(f"no global lookup expected ({cluster})")


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("db.cluster-xyz123abc456.us-east-1.rds.amazonaws.com", "us-east-1"),
        ("db.cluster-ro-xyz123abc456.eu-west-3.rds.amazonaws.com", "eu-west-3"),
        ("instance-1.xyz123abc456.ap-south-1.rds.amazonaws.com", "ap-south-1"),
        ("db.cluster-custom-xyz123abc456.us-west-2.rds.amazonaws.com", "us-west-2"),
        ("proxy-1.proxy-xyz123abc456.sa-east-1.rds.amazonaws.com", "sa-east-1"),
        ("db.cluster-xyz123abc456.rds.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("db.cluster-xyz123abc456.us-gov-west-1.rds.amazonaws.com", "us-gov-west-1"),
    ],
)
def test_region_comes_from_the_rds_host_name(host: str, region: str) -> None:
    assert resolve_region(host, None, None, _no_lookup) == region


def test_iam_region_wins_over_the_host_name() -> None:
    host = "db.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"
    assert resolve_region(host, "eu-central-1", None, _no_lookup) == "eu-central-1"
    assert resolve_region("10.0.0.5", "eu-central-1", None, _no_lookup) == "eu-central-1"
    assert resolve_region(GLOBAL_HOST, "eu-central-1", None, _no_lookup) == "eu-central-1"


@pytest.mark.parametrize(
    ("host", "what"),
    [
        ("127.0.0.1", "an IP address"),
        ("db.internal.example.com", "not an RDS endpoint name"),
        ("[::1]", "an IP"),
    ],
)
def test_without_a_region_the_error_names_iam_region(host: str, what: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_region(host, None, None, _no_lookup)
    text = str(info.value)
    assert "set iam_region" in text
    assert what in text
    assert repr(host) in text


def _global_client() -> FakeRdsClient:
    client = FakeRdsClient()
    client.global_clusters["orders"] = [
        {"DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:orders-eu", "IsWriter": False},
        {"DBClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-us", "IsWriter": True},
    ]
    return client


def test_a_global_endpoint_is_signed_for_its_writer_region_looked_up_once() -> None:
    client = _global_client()
    regions = GlobalRegions()

    def lookup(cluster: str) -> str:
        return describe_global_writer_region(client, cluster)

    assert resolve_region(GLOBAL_HOST, None, None, lookup, regions) == "us-west-2"
    assert resolve_region(GLOBAL_HOST.upper(), None, None, lookup, regions) == "us-west-2"
    assert client.lookups == ["orders"]
    assert regions.lookups == 1
    # a global failover: the writer moved; forgetting the answer (after a rejected token) asks again
    client.global_clusters["orders"][0]["IsWriter"] = True
    client.global_clusters["orders"][1]["IsWriter"] = False
    regions.forget("orders", None)
    assert resolve_region(GLOBAL_HOST, None, None, lookup, regions) == "eu-west-1"
    assert client.lookups == ["orders", "orders"]


def test_global_answers_expire() -> None:
    now = [0.0]
    regions = GlobalRegions(ttl=300, clock=lambda: now[0])
    client = _global_client()

    def lookup(cluster: str) -> str:
        return describe_global_writer_region(client, cluster)

    regions.get("orders", None, lookup)
    now[0] = 299.0
    regions.get("orders", None, lookup)
    now[0] = 301.0
    regions.get("orders", None, lookup)
    assert len(client.lookups) == 2


def test_global_answers_are_kept_per_profile() -> None:
    regions = GlobalRegions()
    asked: list[str] = []

    def lookup(cluster: str) -> str:
        asked.append(cluster)
        return "us-east-2"

    regions.get("orders", "a", lookup)
    regions.get("orders", "b", lookup)
    regions.get("orders", "a", lookup)
    assert asked == ["orders", "orders"]


def test_a_global_database_of_one_unmarked_cluster_uses_that_cluster() -> None:
    client = FakeRdsClient()  # moto reports IsWriter false for the only member
    client.global_clusters["solo"] = [
        {"DBClusterArn": "arn:aws:rds:ca-central-1:1:cluster:solo", "IsWriter": False}
    ]
    assert describe_global_writer_region(client, "solo") == "ca-central-1"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (None, "no such global database; set iam_region"),
        (
            [
                {"DBClusterArn": "arn:aws:rds:a-b-1:1:cluster:x"},
                {"DBClusterArn": "arn:aws:rds:c-d-1:1:cluster:y"},
            ],
            "it has no writer cluster; set iam_region",
        ),
        ([{"DBClusterArn": "garbage", "IsWriter": True}], "unexpected writer cluster ARN 'garbage'"),
    ],
)
def test_unusable_global_answers_say_what_to_set(
    members: list[dict[str, object]] | None, message: str
) -> None:
    client = FakeRdsClient()
    if members is not None:
        client.global_clusters["orders"] = members
    with pytest.raises(AwsWrapperError) as info:
        describe_global_writer_region(client, "orders")
    assert message in str(info.value)
    assert "'orders'" in str(info.value)


def test_an_api_error_of_the_lookup_is_a_wrapper_error() -> None:
    from botocore.exceptions import ClientError

    class Denied(FakeRdsClient):
        def describe_global_clusters(self, GlobalClusterIdentifier: str) -> dict[str, object]:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeGlobalClusters"
            )

    with pytest.raises(AwsWrapperError) as info:
        describe_global_writer_region(Denied(), "orders")
    assert "AccessDenied" in str(info.value)
    assert "DescribeGlobalClusters" in str(info.value)

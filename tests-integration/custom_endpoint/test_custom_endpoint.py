"""Aurora custom endpoints on local clusters (PostgreSQL and MariaDB) of 4 instances: a custom endpoint of 2 of
them (created through the RDS API stand-in, which shares its members with the endpoint's proxy), and the wrapper's
``custom_endpoint`` plugin keeping connects and failovers inside it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster

from .conftest import REFRESH_MS, Agent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.needs_root,
    pytest.mark.pg_cluster(instances=4),
    pytest.mark.mysql_cluster(instances=4),
]

DESCRIBE = "DescribeDBClusterEndpoints"


def _ids(cluster: LocalCluster) -> list[str]:
    return [n.instance_id for n in sorted(cluster.layout.nodes, key=lambda n: n.index)]


def _create(rds: Any, cluster: LocalCluster, name: str, members: list[str]) -> str:
    answer = rds.create_db_cluster_endpoint(
        DBClusterIdentifier=cluster.cluster_name,
        DBClusterEndpointIdentifier=name,
        EndpointType="ANY",
        StaticMembers=members,
    )
    assert answer["StaticMembers"] == members
    dns_name: str = answer["Endpoint"]
    assert dns_name == cluster.custom_endpoint(name).dns_name
    assert ".cluster-custom-" in dns_name
    return dns_name


def test_connects_through_a_custom_endpoint_of_two_of_four(
    cluster: LocalCluster, rds: Any, agent: Agent, endpoint_name: str
) -> None:
    ids = _ids(cluster)
    members = ids[2:4]
    dns_name = _create(rds, cluster, endpoint_name, members)
    assert cluster.custom_endpoint_members(endpoint_name) == members
    for i in range(3):
        answer = agent.connect(f"c{i}", dns_name)
        assert answer["instance"] in members
        assert agent.call("members", name=f"c{i}") == {"static": sorted(members), "excluded": []}
    assert agent.call("monitors")["count"] == 1


@pytest.mark.parametrize(("mode", "first"), [("strict_reader", 2), ("reader_or_writer", 1)])
def test_failover_lands_only_on_members(
    cluster: LocalCluster, rds: Any, agent: Agent, endpoint_name: str, mode: str, first: int
) -> None:
    """Members are two readers; outside them are the writer and another reader. Four connections all on the
    first member; after it crashes every one of them must fail over to the other member (without the filter each
    would pick among two or three hosts)."""
    ids = _ids(cluster)
    members = [ids[first], ids[first + 1]]
    dns_name = _create(rds, cluster, endpoint_name, members)
    names = [f"{mode}-{i}" for i in range(4)]
    for name in names:
        answer = agent.connect(name, dns_name, failover_mode=mode)
        assert answer["instance"] == members[0]
    cluster.crash(members[0])
    for name in names:
        failed = agent.call("instance", name=name)
        assert failed.get("error") == "FailoverSuccessError", failed
        after = agent.call("instance", name=name)
        assert after == {"instance": members[1]}, after


def test_member_changes_through_the_api_apply_within_one_refresh(
    cluster: LocalCluster, rds: Any, agent: Agent, endpoint_name: str
) -> None:
    ids = _ids(cluster)
    dns_name = _create(rds, cluster, endpoint_name, ids[2:4])
    agent.connect("c", dns_name)
    changed = time.monotonic()
    rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier=endpoint_name, StaticMembers=[ids[1]])
    assert cluster.custom_endpoint_members(endpoint_name) == [ids[1]]  # the proxy follows the API at once
    while True:
        seen = agent.call("members", name="c")
        if seen["static"] == [ids[1]]:
            break
        assert time.monotonic() - changed < REFRESH_MS / 1000 + 1.0, seen
        time.sleep(0.05)
    elapsed = time.monotonic() - changed
    assert elapsed <= REFRESH_MS / 1000 + 0.5
    answer = agent.connect("d", dns_name)
    assert answer["instance"] == ids[1]


def test_no_aws_call_per_connect_once_cached_and_one_monitor_per_endpoint(
    cluster: LocalCluster, rds: Any, agent: Agent, endpoint_name: str
) -> None:
    ids = _ids(cluster)
    dns_name = _create(rds, cluster, endpoint_name, ids[2:4])
    api = cluster.rds_api()
    before = api.requests[DESCRIBE]
    slow = {"custom_endpoint_info_refresh_rate_ms": 60_000}
    agent.connect("c0", dns_name, **slow)
    assert api.requests[DESCRIBE] == before + 1
    for i in range(1, 11):
        agent.connect(f"c{i}", dns_name, **slow)
    assert api.requests[DESCRIBE] == before + 1  # 11 connects, one request
    assert agent.call("monitors")["count"] == 1
    second = f"{endpoint_name}-b"
    try:
        other = _create(rds, cluster, second, ids[0:2])
        agent.connect("o", other, **slow)
        status = agent.call("monitors")
        assert status["count"] == 2
        assert len(status["threads"]) == 2
    finally:
        cluster.delete_custom_endpoint(second)


def test_release_resources_stops_the_monitor(
    cluster: LocalCluster, rds: Any, agent: Agent, endpoint_name: str
) -> None:
    ids = _ids(cluster)
    dns_name = _create(rds, cluster, endpoint_name, ids[2:4])
    agent.connect("c", dns_name)
    assert agent.call("monitors")["count"] == 1
    assert agent.call("release") == {"count": 0, "threads": []}
    api = cluster.rds_api()
    requests = api.requests[DESCRIBE]
    time.sleep(3 * REFRESH_MS / 1000)
    assert api.requests[DESCRIBE] == requests


def test_unknown_custom_endpoint_fails_after_the_wait(cluster: LocalCluster, agent: Agent) -> None:
    dns_name = f"missing.cluster-custom-{cluster.domain}"
    started = time.monotonic()
    answer = agent.try_connect(
        "x", dns_name, plugins="custom_endpoint", wait_for_custom_endpoint_info_timeout_ms=300
    )
    assert answer["error"] == "AwsWrapperError", answer
    assert "custom endpoint 'missing'" in answer["message"]
    assert "wait_for_custom_endpoint_info_timeout_ms" in answer["message"]
    assert time.monotonic() - started < 5

"""Custom endpoints of the local cluster without servers: the member model, the proxy retargeting, and the RDS
API stand-in spoken to by boto3 (skipped when boto3 is missing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import ClusterError, Node
from aws_wrapper.testing._block import claim_block
from aws_wrapper.testing._custom import CustomEndpoints
from aws_wrapper.testing._rds_api import RdsApi, RdsApiError

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"


def _nodes(count: int = 4) -> list[Node]:
    return [
        Node(
            index=i,
            instance_id=f"instance-{i}",
            server_host=f"127.0.0.{i}",
            port=5432,
            data_dir=Path("/nowhere"),
            server_id=i,
        )
        for i in range(1, count + 1)
    ]


def test_members_static_and_excluded() -> None:
    block = claim_block(5432)
    try:
        custom = CustomEndpoints(block, DOMAIN, lambda *a: None)
        nodes = _nodes()
        two = custom.create("two", nodes, static=["instance-3", "instance-4"])
        assert two.endpoint.dns_name == f"two.cluster-custom-{DOMAIN}"
        assert two.endpoint.host == block.host(2)
        assert [n.instance_id for n in two.members(nodes)] == ["instance-3", "instance-4"]
        rest = custom.create("rest", nodes, excluded=["instance-1"], type="reader")
        assert rest.type == "READER"
        assert rest.endpoint.host == block.host(3)
        assert [n.instance_id for n in rest.members(nodes)] == ["instance-2", "instance-3", "instance-4"]
        assert custom.dns_entries() == {
            two.endpoint.dns_name: block.host(2),
            rest.endpoint.dns_name: block.host(3),
        }
        custom.modify("two", nodes, excluded=["instance-2"])
        assert two.static == []
        assert two.excluded == ["instance-2"]
        custom.modify("two", nodes, type="READER")
        assert two.excluded == ["instance-2"]
        assert two.type == "READER"
        described = two.describe("mydb")
        assert described["ExcludedMembers"] == ["instance-2"]
        assert described["CustomEndpointType"] == "READER"
        with pytest.raises(ClusterError, match="no instance 'instance-9'"):
            custom.modify("two", nodes, static=["instance-9"])
        with pytest.raises(ClusterError, match="not both"):
            custom.create("both", nodes, static=["instance-1"], excluded=["instance-2"])
        with pytest.raises(ClusterError, match="already exists"):
            custom.create("two", nodes)
        custom.delete("rest")
        assert list(custom.endpoints) == ["two"]
        custom.stop()
    finally:
        block.release()


def test_rds_api_backend_errors_and_counts() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def backend(action: str, args: dict[str, Any]) -> Any:
        calls.append((action, args))
        if action == "describe":
            return [
                {"DBClusterEndpointIdentifier": "two", "StaticMembers": ["a", "b"], "ExcludedMembers": []}
            ]
        if args["name"] == "gone":
            return None
        if args["name"] == "taken":
            raise RdsApiError(400, "DBClusterEndpointAlreadyExistsFault", "exists")
        return {"DBClusterEndpointIdentifier": args["name"], "StaticMembers": args["static"] or []}

    api = RdsApi(backend)
    status, body = api.handle(
        {
            "Action": "DescribeDBClusterEndpoints",
            "DBClusterEndpointIdentifier": "two",
            "Filters.Filter.1.Name": "db-cluster-endpoint-type",
            "Filters.Filter.1.Values.Value.1": "custom",
        }
    )
    assert status == 200
    assert "<DBClusterEndpointList>" in body
    assert "<StaticMembers><member>a</member><member>b</member>" in body
    status, body = api.handle(
        {
            "Action": "ModifyDBClusterEndpoint",
            "DBClusterEndpointIdentifier": "x",
            "StaticMembers.member.2": "b",
            "StaticMembers.member.1": "a",
        }
    )
    assert status == 200
    assert calls[-1][1]["static"] == ["a", "b"]
    assert api.handle({"Action": "ModifyDBClusterEndpoint", "DBClusterEndpointIdentifier": "gone"})[0] == 404
    status, body = api.handle({"Action": "CreateDBClusterEndpoint", "DBClusterEndpointIdentifier": "taken"})
    assert status == 400
    assert "DBClusterEndpointAlreadyExistsFault" in body
    status, body = api.handle({"Action": "DescribeDBClusters"})
    assert status == 400
    assert "InvalidAction" in body
    assert api.requests["ModifyDBClusterEndpoint"] == 2


def test_boto3_speaks_to_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    from aws_wrapper.testing import fake_aws_env

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in fake_aws_env().items():
        monkeypatch.setenv(name, value)
    state: dict[str, dict[str, Any]] = {}

    def backend(action: str, args: dict[str, Any]) -> Any:
        if action == "describe":
            return [v for k, v in state.items() if args["name"] in (None, k)]
        if action == "create":
            state[args["name"]] = {
                "DBClusterEndpointIdentifier": args["name"],
                "DBClusterIdentifier": args["cluster"],
                "CustomEndpointType": args["type"],
                "StaticMembers": args["static"] or [],
                "ExcludedMembers": args["excluded"] or [],
            }
        elif action == "modify":
            if args["name"] not in state:
                return None
            state[args["name"]].update(
                StaticMembers=args["static"] or [], ExcludedMembers=args["excluded"] or []
            )
        return state[args["name"]]

    api = RdsApi(backend).start()
    try:
        rds = boto3.client("rds", endpoint_url=api.endpoint_url, region_name="us-east-1")
        made = rds.create_db_cluster_endpoint(
            DBClusterIdentifier="mydb",
            DBClusterEndpointIdentifier="two",
            EndpointType="ANY",
            StaticMembers=["a", "b"],
        )
        assert made["StaticMembers"] == ["a", "b"]
        rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="two", ExcludedMembers=["c"])
        found = rds.describe_db_cluster_endpoints(
            DBClusterEndpointIdentifier="two",
            Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
        )["DBClusterEndpoints"]
        assert [(e["StaticMembers"], e["ExcludedMembers"]) for e in found] == [([], ["c"])]
        with pytest.raises(rds.exceptions.DBClusterEndpointNotFoundFault):
            rds.modify_db_cluster_endpoint(DBClusterEndpointIdentifier="nope", StaticMembers=["a"])
        assert api.requests == {
            "CreateDBClusterEndpoint": 1,
            "ModifyDBClusterEndpoint": 2,
            "DescribeDBClusterEndpoints": 1,
        }
    finally:
        api.stop()
    assert not api.running

from __future__ import annotations

import pytest

from aws_wrapper.core.errors import AwsWrapperError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.custom_endpoint import CustomEndpointInfo, CustomEndpointType, MemberListType, host_ids


def _response(static: list[str], excluded: list[str], kind: str = "ANY") -> dict[str, object]:
    return {
        "DBClusterEndpoints": [
            {
                "DBClusterEndpointIdentifier": "two",
                "DBClusterIdentifier": "mydb",
                "Endpoint": "two.cluster-custom-xyz.us-east-1.rds.amazonaws.com",
                "CustomEndpointType": kind,
                "StaticMembers": static,
                "ExcludedMembers": excluded,
            }
        ]
    }


def _host(name: str, host_id: str | None = None) -> HostInfo:
    return HostInfo(name, 5432, host_id=host_id)


def test_static_members_allow_only_them() -> None:
    info = CustomEndpointInfo.from_response(_response(["instance-1", "Instance-3"], []), "two")
    assert info.member_list_type is MemberListType.STATIC
    assert info.static_members == {"instance-1", "instance-3"}
    assert info.excluded_members == frozenset()
    assert info.allows(_host("instance-1.xyz.us-east-1.rds.amazonaws.com"))
    assert info.allows(_host("whatever", host_id="instance-3"))
    assert not info.allows(_host("instance-2.xyz.us-east-1.rds.amazonaws.com", host_id="instance-2"))


def test_excluded_members_allow_every_other_instance() -> None:
    info = CustomEndpointInfo.from_response(_response([], ["instance-2"], "READER"), "two")
    assert info.member_list_type is MemberListType.EXCLUSION
    assert info.type is CustomEndpointType.READER
    assert not info.allows(_host("instance-2.xyz.us-east-1.rds.amazonaws.com"))
    assert info.allows(_host("instance-9.xyz.us-east-1.rds.amazonaws.com"))


def test_ip_addresses_match_whole() -> None:
    info = CustomEndpointInfo.from_response(_response(["127.9.9.11"], []), "two")
    assert host_ids(_host("127.9.9.11", host_id="127.9.9.11")) == {"127.9.9.11"}
    assert info.allows(_host("127.9.9.11", host_id="127.9.9.11"))
    assert not info.allows(_host("127.9.9.12", host_id="127.9.9.12"))


@pytest.mark.parametrize("count", [0, 2])
def test_exactly_one_endpoint_expected(count: int) -> None:
    endpoints = _response(["a"], [])["DBClusterEndpoints"]
    assert isinstance(endpoints, list)
    with pytest.raises(AwsWrapperError, match=f"returned {count} custom endpoints named 'two'"):
        CustomEndpointInfo.from_response({"DBClusterEndpoints": endpoints * count}, "two")

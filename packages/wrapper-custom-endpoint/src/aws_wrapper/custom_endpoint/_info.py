"""What the RDS API says about one custom endpoint, and which hosts that lets a connection use.

``describe_db_cluster_endpoints`` lists either ``StaticMembers`` (only those instances are in the endpoint) or
``ExcludedMembers`` (every instance but those, including instances added later). Hosts are matched by instance
id: ``HostInfo.host_id`` (the topology's instance id), else the host name, else its first DNS label.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.errors import AwsWrapperError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.records import record

__all__ = ["CustomEndpointType", "MemberListType", "CustomEndpointInfo", "host_ids"]


class CustomEndpointType(enum.Enum):
    ANY = "ANY"
    READER = "READER"


class MemberListType(enum.Enum):
    STATIC = "static"  # only the listed instances
    EXCLUSION = "exclusion"  # every instance except the listed ones


def host_ids(host: HostInfo) -> frozenset[str]:
    """The names an instance may be listed under in the endpoint's member lists (lower case)."""
    ids = {host.host.lower()}
    if host.host_id:
        ids.add(host.host_id.lower())
    first = host.host.split(".", 1)[0]
    if first and not first.isdigit():  # not the first byte of an IPv4 address
        ids.add(first.lower())
    return frozenset(ids)


@record(frozen=True)
class CustomEndpointInfo:
    """One custom endpoint as the RDS API describes it (``DBClusterEndpoints[0]``)."""

    identifier: str
    cluster_identifier: str
    endpoint: str
    type: CustomEndpointType
    member_list_type: MemberListType
    members: frozenset[str]  # static members, or excluded members: see member_list_type

    @property
    def static_members(self) -> frozenset[str]:
        return self.members if self.member_list_type is MemberListType.STATIC else frozenset()

    @property
    def excluded_members(self) -> frozenset[str]:
        return self.members if self.member_list_type is MemberListType.EXCLUSION else frozenset()

    def allows(self, host: HostInfo) -> bool:
        """Whether a connection through this endpoint may use ``host``."""
        ids = host_ids(host)
        if self.member_list_type is MemberListType.STATIC:
            return not ids.isdisjoint(self.members)
        return ids.isdisjoint(self.members)

    @classmethod
    def from_response(cls, response: Mapping[str, Any], identifier: str) -> CustomEndpointInfo:
        """The info in a ``describe_db_cluster_endpoints`` response; exactly one endpoint is expected."""
        endpoints = response.get("DBClusterEndpoints") or []
        if len(endpoints) != 1:
            raise AwsWrapperError(
                f"the RDS API returned {len(endpoints)} custom endpoints named {identifier!r}, expected exactly 1"
            )
        found = endpoints[0]
        static = [str(m).lower() for m in found.get("StaticMembers") or []]
        excluded = [str(m).lower() for m in found.get("ExcludedMembers") or []]
        kind = str(found.get("CustomEndpointType") or "ANY").upper()
        return cls(
            identifier=str(found.get("DBClusterEndpointIdentifier") or identifier),
            cluster_identifier=str(found.get("DBClusterIdentifier") or ""),
            endpoint=str(found.get("Endpoint") or ""),
            type=CustomEndpointType.READER if kind == "READER" else CustomEndpointType.ANY,
            member_list_type=MemberListType.STATIC if static else MemberListType.EXCLUSION,
            members=frozenset(static or excluded),
        )

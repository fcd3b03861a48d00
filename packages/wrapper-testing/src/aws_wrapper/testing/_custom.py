"""Aurora custom endpoints of a local cluster: the one source of truth for their members.

Each custom endpoint is a fault proxy on its own address (127.A.B.2 to 127.A.B.8) and a DNS name
``<name>.cluster-custom-<domain>`` in the cluster's hosts file. Like Aurora's, it routes a new connection to one
live member: the instances listed in ``static`` (``StaticMembers``), or every instance not in ``excluded``
(``ExcludedMembers``); a ``READER`` endpoint only to members that are readers. The RDS API stand-in
(``_rds_api.py``) reads and changes the same objects, so what the API says and where the proxy routes always agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ._block import AddressBlock
from ._engine import Node
from ._errors import ClusterError
from ._model import Endpoint
from ._proxy import FaultProxy

__all__ = ["CustomEndpoint", "CustomEndpoints", "FIRST_HOST", "LAST_HOST"]

#: The last byte of the addresses custom endpoints listen on (between the claim socket and the reader endpoint).
FIRST_HOST = 2
LAST_HOST = 8

Record = Callable[[str, "str | None", float], None]
TYPES = ("ANY", "READER")


@dataclass
class CustomEndpoint:
    """One custom endpoint: its address, DNS name and members (instance ids)."""

    name: str
    endpoint: Endpoint
    type: str = "ANY"
    static: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    proxy: FaultProxy | None = None
    resource_id: str = ""

    def members(self, nodes: Sequence[Node]) -> list[Node]:
        """The instances the endpoint may route to (up or down), in the order of the cluster."""
        if self.static:
            return [n for n in nodes if n.instance_id in self.static]
        return [n for n in nodes if n.instance_id not in self.excluded]

    def describe(self, cluster_name: str) -> dict[str, object]:
        """The endpoint as ``describe_db_cluster_endpoints`` returns it (``DBClusterEndpoints[i]``)."""
        return {
            "DBClusterEndpointIdentifier": self.name,
            "DBClusterIdentifier": cluster_name,
            "DBClusterEndpointResourceIdentifier": self.resource_id,
            "Endpoint": self.endpoint.dns_name,
            "Status": "available",
            "EndpointType": "CUSTOM",
            "CustomEndpointType": self.type,
            "StaticMembers": list(self.static),
            "ExcludedMembers": list(self.excluded),
        }


class CustomEndpoints:
    """The custom endpoints of one cluster (the cluster's lock serialises every call)."""

    def __init__(self, block: AddressBlock, domain: str, record: Record) -> None:
        self.block = block
        self.domain = domain
        self.endpoints: dict[str, CustomEndpoint] = {}
        self._record = record
        self._ids = itertools.count(1)

    def dns_entries(self) -> dict[str, str]:
        return {e.endpoint.dns_name: e.endpoint.host for e in self.endpoints.values()}

    def get(self, name: str) -> CustomEndpoint:
        found = self.endpoints.get(name)
        if found is None:
            raise ClusterError(f"no custom endpoint {name!r} in this cluster")
        return found

    def create(
        self,
        name: str,
        nodes: Sequence[Node],
        *,
        static: Iterable[str] = (),
        excluded: Iterable[str] = (),
        type: str = "ANY",
    ) -> CustomEndpoint:
        if name in self.endpoints:
            raise ClusterError(f"custom endpoint {name!r} already exists")
        if not name or not all(c.isalnum() or c == "-" for c in name) or not name[0].isalpha():
            raise ClusterError(
                f"a custom endpoint name is letters, digits and '-', starting with a letter: {name!r}"
            )
        used = {e.endpoint.host for e in self.endpoints.values()}
        free = [
            self.block.host(i) for i in range(FIRST_HOST, LAST_HOST + 1) if self.block.host(i) not in used
        ]
        if not free:
            raise ClusterError(f"a local cluster has at most {LAST_HOST - FIRST_HOST + 1} custom endpoints")
        endpoint = CustomEndpoint(
            name,
            Endpoint(free[0], self.block.port, f"{name}.cluster-custom-{self.domain}"),
            resource_id=f"cluster-endpoint-{next(self._ids):06d}",
        )
        self._set(endpoint, nodes, static, excluded, type)
        self.endpoints[name] = endpoint
        return endpoint

    def modify(
        self,
        name: str,
        nodes: Sequence[Node],
        *,
        static: Iterable[str] | None = None,
        excluded: Iterable[str] | None = None,
        type: str | None = None,
    ) -> CustomEndpoint:
        endpoint = self.get(name)
        self._set(
            endpoint,
            nodes,
            endpoint.static if static is None and excluded is None else (static or ()),
            endpoint.excluded if static is None and excluded is None else (excluded or ()),
            type or endpoint.type,
        )
        return endpoint

    def delete(self, name: str) -> CustomEndpoint:
        endpoint = self.get(name)
        del self.endpoints[name]
        if endpoint.proxy is not None:
            endpoint.proxy.stop()
        return endpoint

    def _set(
        self,
        endpoint: CustomEndpoint,
        nodes: Sequence[Node],
        static: Iterable[str],
        excluded: Iterable[str],
        type: str,
    ) -> None:
        static, excluded, kind = list(static), list(excluded), type.upper()
        if kind not in TYPES:
            raise ClusterError(f"a custom endpoint type is ANY or READER, got {type!r}")
        if static and excluded:
            raise ClusterError("a custom endpoint has static members or excluded members, not both")
        known = {n.instance_id for n in nodes}
        unknown = [m for m in (*static, *excluded) if m not in known]
        if unknown:
            raise ClusterError(
                f"no instance {', '.join(map(repr, unknown))} in this cluster (instances: {sorted(known)})"
            )
        endpoint.static, endpoint.excluded, endpoint.type = static, excluded, kind

    # -- proxies ----------------------------------------------------------------------------------------------------
    def start(self, endpoint: CustomEndpoint, proxy_host: Callable[[Node], str], first: Node) -> None:
        endpoint.proxy = FaultProxy(
            endpoint.endpoint.host,
            endpoint.endpoint.port,
            proxy_host(first),
            self.block.port,
            name=f"custom-{endpoint.name}",
        ).start()

    def retarget(
        self,
        nodes: Sequence[Node],
        writer: Node | None,
        alive: Callable[[Node], bool],
        proxy_host: Callable[[Node], str],
        delay: float,
    ) -> None:
        """Point every custom endpoint at a live member (keeping its current one while it still qualifies)."""
        for endpoint in self.endpoints.values():
            proxy = endpoint.proxy
            if proxy is None:
                continue
            candidates = [n for n in endpoint.members(nodes) if alive(n)]
            if endpoint.type == "READER":
                candidates = [n for n in candidates if n is not writer]
            if not candidates:
                continue
            current = proxy.pending_target or proxy.target
            chosen = next(
                (n for n in candidates if (proxy_host(n), n.advertised_port) == current), candidates[0]
            )
            target = (proxy_host(chosen), chosen.advertised_port)
            if target != current:
                proxy.retarget(*target, delay=delay)
                self._record("custom_endpoint_retargeted", chosen.instance_id, delay)

    def stop(self) -> None:
        failure: Exception | None = None
        for endpoint in self.endpoints.values():
            proxy, endpoint.proxy = endpoint.proxy, None
            if proxy is not None:
                try:
                    proxy.stop()
                except Exception as exc:
                    failure = failure or exc
        self.endpoints.clear()
        if failure is not None:
            raise failure

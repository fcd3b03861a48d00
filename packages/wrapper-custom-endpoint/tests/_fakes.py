"""Fakes for the unit tests: an RDS client answering ``describe_db_cluster_endpoints`` from a dict (counting the
requests), and a plugin context with a real monitor registry and a real host selection filter list."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.services import PluginContext
from aws_wrapper.core.telemetry import NULL_TELEMETRY


class FakeRdsClient:
    """Custom endpoints by identifier: (type, static members, excluded members)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, tuple[str, list[str], list[str]]] = {}
        self.requests = 0
        self.threads: list[str] = []
        self.error: Exception | None = None
        self.lock = threading.Lock()

    def set(
        self, name: str, static: Sequence[str] = (), excluded: Sequence[str] = (), kind: str = "ANY"
    ) -> None:
        with self.lock:
            self.endpoints[name] = (kind, list(static), list(excluded))

    def describe_db_cluster_endpoints(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            self.requests += 1
            self.threads.append(threading.current_thread().name)
            if self.error is not None:
                raise self.error
            name = kwargs["DBClusterEndpointIdentifier"]
            assert kwargs["Filters"] == [{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}]
            found = self.endpoints.get(name)
            if found is None:
                return {"DBClusterEndpoints": []}
            kind, static, excluded = found
            return {
                "DBClusterEndpoints": [
                    {
                        "DBClusterEndpointIdentifier": name,
                        "DBClusterIdentifier": "mydb",
                        "Endpoint": f"{name}.cluster-custom-xyz.us-east-1.rds.amazonaws.com",
                        "CustomEndpointType": kind,
                        "StaticMembers": static,
                        "ExcludedMembers": excluded,
                    }
                ]
            }


class FakeSelection:
    def __init__(self) -> None:
        self.filters: list[Any] = []

    def add_filter(self, f: Any) -> None:
        self.filters.append(f)

    def remove_filter(self, f: Any) -> None:
        self.filters = [x for x in self.filters if x is not f]

    def allowed(self, hosts: Sequence[HostInfo]) -> tuple[HostInfo, ...]:
        return tuple(h for h in hosts if all(f.allows(h) for f in self.filters))


def fake_context(
    props: Mapping[str, Any] | None = None, monitors: MonitorService | None = None
) -> PluginContext:
    return cast(
        PluginContext,
        SimpleNamespace(
            props=dict(props or {}),
            monitors=monitors or MonitorService(),
            selection=FakeSelection(),
            telemetry=NULL_TELEMETRY,
        ),
    )

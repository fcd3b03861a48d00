"""A database dialect is data: its code, engine, detection probe, the dialects to try next, and the exact server
queries the wrapper runs (topology, host id, role, writer id, ...). Derive a variant with :meth:`Dialect.replace`.
"""

from __future__ import annotations

import enum
from typing import Any

from aws_wrapper.core.host_list import StaticHostListProvider
from aws_wrapper.core.records import field, record, replace
from aws_wrapper.core.services import ErrorClassifier, HostListContext, HostListProvider

from ._probe import Probe

__all__ = ["Dialect", "TopologyKind"]


class TopologyKind(enum.Enum):
    """How the topology query's rows read (catalogue 5.4)."""

    NONE = "none"  # no topology: the host list is the connection string's host
    AURORA = "aurora"  # (instance id, is writer, cpu %, replica lag ms, last update time)
    MULTI_AZ = "multi-az"  # (id, endpoint, port); the writer's id comes from `writer_id_query`
    GLOBAL = "global"  # (instance id, is writer, visibility lag ms, region)


@record(frozen=True)
class Dialect:
    """A database dialect (implements core's ``DatabaseDialect``).

    ``candidates``: codes of more specific dialects probed, in order, once a connection of this dialect is open
    (the first that matches replaces it). A registered third-party dialect can join other dialects' candidate
    lists with ``refines`` (ordered by ``priority``, highest first, before the built-in candidates).
    """

    code: str
    engine: str  # "pg" | "mysql"
    default_port: int
    errors: ErrorClassifier = field(compare=False, repr=False)
    description: str = ""
    probe: Probe = field(default_factory=Probe)
    candidates: tuple[str, ...] = ()
    refines: tuple[str, ...] = ()
    priority: int = 0
    topology: TopologyKind = TopologyKind.NONE
    #: Topology rows, read as described by ``topology``.
    topology_query: str = ""
    #: Two columns: (something, instance id); column 1 is matched against the topology's instance ids.
    host_id_query: str = ""
    host_alias_query: str = ""
    #: One boolean-ish value, true on a reader.
    is_reader_query: str = ""
    #: Aurora: a row only when connected to the writer. Multi-AZ: the writer's id in ``writer_id_column``
    #: (no row on a MySQL writer, whose own id is then column 0 of ``host_id_query``).
    writer_id_query: str = ""
    writer_id_column: int = 0
    version_query: str = ""
    region_by_instance_query: str = ""  # global databases: AWS_REGION of the instance id passed as parameter
    region_count_query: str = ""
    limitless_router_query: str = ""
    blue_green_status_query: str = ""
    blue_green_probe_query: str = ""

    def replace(self, **changes: Any) -> Dialect:
        """A copy with ``changes`` applied, e.g. ``AURORA_MYSQL.replace(code="my-aurora", topology_query=...)``."""
        return replace(self, **changes)

    @property
    def has_topology(self) -> bool:
        return self.topology is not TopologyKind.NONE

    def create_host_list_provider(self, context: HostListContext) -> HostListProvider:
        if not self.has_topology:  # the role of a connection still comes from the server (is_reader_query)
            return StaticHostListProvider(
                context.initial_host,
                driver=context.driver,
                is_reader_query=self.is_reader_query,
                timeout=context.aux_query_timeout,
            )
        from ._provider import TopologyHostListProvider

        return TopologyHostListProvider(self, context)

    def __str__(self) -> str:
        return self.code

"""aws-wrapper-dialects: database dialects (Aurora / RDS / Multi-AZ / global detection), RDS endpoint parsing,
the shared topology host list provider and per-dialect error classification.

Installing this distribution is enough: core finds :class:`DialectManager` through the entry point
``aws_wrapper.dialect_manager``. Add a dialect of your own with :func:`register_dialect` (or the entry-point group
``aws_wrapper.dialects``) and select it with ``wrapper_dialect=<code>``::

    from aws_wrapper.dialects import AURORA_MYSQL, register_dialect

    register_dialect(AURORA_MYSQL.replace(code="my-aurora", is_reader_query="SELECT @@read_only"))
"""

from __future__ import annotations

from aws_wrapper.core.services import DatabaseDialect

from ._builtin import (
    AURORA_MYSQL,
    AURORA_PG,
    BUILTIN_DIALECTS,
    GLOBAL_AURORA_MYSQL,
    GLOBAL_AURORA_PG,
    MULTI_AZ_MYSQL,
    MULTI_AZ_PG,
    MYSQL,
    PG,
    RDS_MYSQL,
    RDS_PG,
)
from ._dialect import Dialect, TopologyKind
from ._errors import MULTI_AZ_PG_ERRORS, MYSQL_DIALECT_ERRORS, PG_ERRORS
from ._hosts import HostPattern, derive_cluster_id
from ._local import aurora_mysql_on_mariadb
from ._manager import DialectManager, guess_dialect
from ._monitor import TopologyMonitor
from ._probe import Check, Probe, ProbeStep
from ._provider import TopologyHostListProvider
from ._registry import DIALECTS, ENTRY_POINT_GROUP
from ._settings import (
    CLUSTER_ID,
    CLUSTER_INSTANCE_HOST_PATTERN,
    GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS,
    HIGH_REFRESH_RATE_MS,
    MONITORING_PREFIX,
    TOPOLOGY_REFRESH_MS,
    TOPOLOGY_SETTINGS,
)
from ._topology import STATS, NoWriterError, Topology, TopologyError, TopologyUnavailableError
from ._urls import RdsEndpoint, RdsUrlType, instance_host_template, parse_endpoint
from .version import __version__


def register_dialect(dialect: DatabaseDialect, *, replace: bool = False) -> None:
    """Make ``dialect`` selectable with ``wrapper_dialect=<its code>`` (and probed where it ``refines``)."""
    DIALECTS.register(dialect, replace=replace)


def unregister_dialect(code: str) -> None:
    DIALECTS.unregister(code)


def set_custom_dialect(dialect: DatabaseDialect | None) -> None:
    """Use ``dialect`` for every new connection of its engine (selected as ``wrapper_dialect=custom`` too);
    None removes it."""
    DIALECTS.set_custom(dialect)


def get_dialect(code: str) -> DatabaseDialect | None:
    """The dialect registered under ``code`` (``custom``: the custom dialect), or None."""
    return DIALECTS.get(code)


def dialect_codes() -> list[str]:
    """Every registered dialect code (built-in, entry points, :func:`register_dialect`)."""
    return DIALECTS.codes()


__all__ = [
    "__version__",
    "Dialect",
    "TopologyKind",
    "Probe",
    "ProbeStep",
    "Check",
    "DialectManager",
    "guess_dialect",
    "register_dialect",
    "unregister_dialect",
    "set_custom_dialect",
    "get_dialect",
    "dialect_codes",
    "ENTRY_POINT_GROUP",
    "PG",
    "RDS_PG",
    "AURORA_PG",
    "GLOBAL_AURORA_PG",
    "MULTI_AZ_PG",
    "MYSQL",
    "RDS_MYSQL",
    "AURORA_MYSQL",
    "GLOBAL_AURORA_MYSQL",
    "MULTI_AZ_MYSQL",
    "BUILTIN_DIALECTS",
    "aurora_mysql_on_mariadb",
    "PG_ERRORS",
    "MULTI_AZ_PG_ERRORS",
    "MYSQL_DIALECT_ERRORS",
    "RdsUrlType",
    "RdsEndpoint",
    "parse_endpoint",
    "instance_host_template",
    "HostPattern",
    "derive_cluster_id",
    "TopologyHostListProvider",
    "TopologyMonitor",
    "Topology",
    "TopologyError",
    "NoWriterError",
    "TopologyUnavailableError",
    "STATS",
    "TOPOLOGY_SETTINGS",
    "TOPOLOGY_REFRESH_MS",
    "HIGH_REFRESH_RATE_MS",
    "CLUSTER_ID",
    "CLUSTER_INSTANCE_HOST_PATTERN",
    "GLOBAL_CLUSTER_INSTANCE_HOST_PATTERNS",
    "MONITORING_PREFIX",
]

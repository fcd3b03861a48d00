"""aws-wrapper-testing: a local Aurora / RDS cluster on real PostgreSQL and MariaDB servers.

``LocalCluster`` runs N real servers (PostgreSQL streaming replication or MariaDB GTID replication) on loopback
addresses, each behind a fault-injecting proxy, with writer and reader endpoints, and emulates the Aurora /
RDS / Multi-AZ server-side facts so that the wrapper's dialect queries run unchanged. The same cluster is
available as a CLI (``aws-wrapper-cluster``) and as pytest fixtures (``pg_cluster``, ``mysql_cluster``,
``local_cluster``, ``fault_proxy``, ``dns_namespace``, ``moto_server``). Importing this package starts nothing.
"""

from __future__ import annotations

from ._aws import MotoServer, fake_aws_env, fake_aws_environ
from ._cluster import LocalCluster
from ._cluster_base import DEFAULT_DOMAIN
from ._dns import DnsNamespace, HostsFile, namespace_available, namespace_command, run_in_namespace
from ._engine import Engine, Flavour, Layout, Node
from ._errors import ClusterError
from ._footprint import Footprint
from ._model import ClusterStatus, Endpoint, Event, InstanceStatus
from ._pg import PgEngine
from ._proxy import FaultMode, FaultProxy
from ._registry import ENGINES, engine_missing, load_engine
from .version import __version__

__all__ = [
    "DEFAULT_DOMAIN",
    "ENGINES",
    "ClusterError",
    "ClusterStatus",
    "DnsNamespace",
    "Endpoint",
    "Engine",
    "Event",
    "FaultMode",
    "FaultProxy",
    "Flavour",
    "Footprint",
    "HostsFile",
    "InstanceStatus",
    "Layout",
    "LocalCluster",
    "MotoServer",
    "Node",
    "PgEngine",
    "__version__",
    "engine_missing",
    "fake_aws_env",
    "fake_aws_environ",
    "load_engine",
    "namespace_available",
    "namespace_command",
    "run_in_namespace",
]

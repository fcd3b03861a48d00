"""The contract between the cluster (``_cluster.py``) and a database engine (``_pg.py``, ``_mysql.py``).

A cluster owns N nodes. Each node is one real server process, started as a child of this Python process (so a
SIGKILLed server is reaped at once), listening on its own loopback address and data directory under the
cluster's work directory. Clients never talk to ``Node.server_host`` directly: every node sits behind a fault
proxy owned by the cluster. An engine only knows about servers.
"""

from __future__ import annotations

import enum
import inspect
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol


class Flavour(str, enum.Enum):
    """Which managed-database facts the servers emulate (catalogue section 5.4)."""

    AURORA = "aurora"  # aurora_replica_status(), aurora_db_instance_identifier(), rds.extensions / @@aurora_server_id
    RDS = "rds"  # RDS single instance + read replicas, no Aurora facts (rds_tools.*, mysql.rds_topology)
    MULTI_AZ = "multi-az"  # Multi-AZ DB cluster facts (rds_tools.show_topology(), mysql.rds_topology, ...)
    PLAIN = "plain"  # no emulated facts at all (plain pg / mysql code paths)


@dataclass
class Node:
    """One server of the cluster."""

    index: int  # 1-based, stable for the life of the cluster
    instance_id: str  # what the topology facts report for this node (SERVER_ID / aurora_server_id / id)
    server_host: str  # loopback address the server listens on, e.g. "127.0.42.11"
    port: int  # server port (the engine's default port: each node has its own address)
    data_dir: Path  # owned by the engine; removed by the cluster on teardown
    server_id: int  # MySQL server-id; must change when a node is re-cloned (see recipes 2.5)
    advertised_host: str = ""  # host clients use for this node (its proxy or DNS name); used in topology rows
    advertised_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Layout:
    """What every engine call may need to know about the whole cluster."""

    work_dir: Path
    flavour: Flavour
    nodes: list[Node]
    database: str = "test"  # created on the writer at init; the machine's default database is left alone
    user: str = "root"  # "postgres" for pg
    # synchronous replication (pg: synchronous_standby_names; mysql: semi-synchronous)
    synchronous: bool = False
    # RDS-shaped DNS suffix for endpoint names in facts that must look like RDS hostnames (Multi-AZ `endpoint`
    # columns): "<instance_id>.<domain>". Cluster endpoints are "<cluster>.cluster-<domain>" etc.
    domain: str = "xyz123abc456.us-east-1.rds.amazonaws.com"
    cluster_name: str = "local"


class Engine(Protocol):
    """Operations on servers. Every method blocks until its effect is observable and raises
    ``ClusterError`` (from ``_errors``) with the server's log tail when it is not within its timeout."""

    name: ClassVar[str]  # "pg" | "mysql"
    default_port: ClassVar[int]  # 5432 | 3306
    default_user: ClassVar[str]  # the servers' client account (Layout.user): "postgres" | "root"

    @property
    def missing(self) -> Callable[..., str | None]:
        """``missing(flavour=None) -> str | None``: why this engine cannot run on this machine (binaries,
        headers, OS user), or None. With a ``flavour``, only what that flavour needs is checked (the MariaDB
        ``aurora`` flavour needs a compiled plugin, the others do not); without one, everything is.

        Declared as a callable attribute so that engines written before the ``flavour`` parameter
        (``missing(self)``) still satisfy the protocol; call it through ``missing_reason``, which passes the
        flavour only to engines that take it."""

    def init_writer(self, node: Node, layout: Layout) -> None:
        """Create a fresh data directory for ``node``, start it as the writer, create ``layout.database`` and the
        flavour's emulation objects (which must replicate to later replicas)."""

    def add_replica(self, node: Node, source: Node, layout: Layout) -> None:
        """Clone ``source`` into ``node.data_dir`` (re-creating it), start it and make it follow ``source``."""

    def promote(self, node: Node, layout: Layout) -> None:
        """Make a replica the writer; returns when it accepts writes. Updates the flavour's facts so that every
        reachable node reports ``node`` as the writer."""

    def follow(self, node: Node, source: Node, layout: Layout) -> None:
        """Re-point a running replica at a new writer."""

    def start(self, node: Node, layout: Layout) -> None:
        """Start an existing data directory (as writer or replica, as its data directory says)."""

    def stop(self, node: Node) -> None:
        """Clean fast shutdown; returns when the process is gone."""

    def crash(self, node: Node) -> None:
        """SIGKILL the server and every backend process of it; returns when all are reaped."""

    def query(self, node: Node, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run one admin statement directly on the server (not through a proxy) and return its rows."""

    def set_facts(self, node: Node, layout: Layout, writer: str | None, hidden: frozenset[str]) -> None:
        """Override the topology facts on the writer ``node``: report ``writer`` as the writer id (None: compute
        it live again) and leave out the instances in ``hidden``. Replicates like any other write."""

    def replication_position(self, node: Node) -> int:
        """How much of the replication stream ``node`` has *received* (not only applied), as one integer that
        grows with it: the LSN for pg, the sequence number of the highest GTID in the writer's domain for
        MariaDB. The cluster promotes the live replica with the highest position, which holds every
        acknowledged transaction (also with synchronous replication, where one replica's acknowledgement is
        enough)."""

    def close(self) -> None:
        """Release what the engine holds besides servers (admin connections); called on cluster teardown."""


def missing_reason(engine: Engine, flavour: Flavour | None = None) -> str | None:
    """``engine.missing(flavour)``, or ``engine.missing()`` for an engine whose ``missing`` takes no flavour."""
    check = engine.missing
    if flavour is None:
        return check()
    try:
        inspect.signature(check).bind(flavour)
    except TypeError:  # an engine without the parameter: it checks everything it needs
        return check()
    except ValueError:  # no signature to inspect (a builtin): assume the documented one
        pass
    return check(flavour)

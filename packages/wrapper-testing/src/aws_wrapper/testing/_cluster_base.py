"""The state and the read-only views of a local cluster (``ClusterBase``); ``_cluster.py`` adds the actions.

Engine-agnostic: everything server-specific goes through the ``Engine`` protocol (``_engine.py``).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._block import MAX_INSTANCES, AddressBlock
from ._custom import CustomEndpoint, CustomEndpoints
from ._dns import namespace_available, namespace_command
from ._endpoints import Endpoints, proxy_host
from ._engine import Engine, Flavour, Layout, Node
from ._errors import ClusterError
from ._footprint import Footprint, footprint
from ._model import ClusterStatus, Endpoint, Event, InstanceStatus
from ._proxy import FaultProxy
from ._registry import load_engine

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._rds_api import RdsApi
    from .iam import IamConfig, IamSetup

log = logging.getLogger("aws_wrapper.testing")

DEFAULT_DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"
Instance = str | int | Node
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")


class ClusterBase:
    """Configuration, state, and everything that only looks at the cluster."""

    def __init__(
        self,
        engine: str | Engine = "pg",
        instances: int = 3,
        flavour: str | Flavour = Flavour.AURORA,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        synchronous: bool = False,
        retarget_delay: float = 0.0,
        instance_ids: str | None = None,
        cluster_name: str = "mydb",
        domain: str = DEFAULT_DOMAIN,
        database: str = "test",
        block: str | None = None,
        iam: IamConfig | bool | Mapping[str, Any] | None = None,
    ) -> None:
        if not 1 <= instances <= MAX_INSTANCES:
            raise ClusterError(f"a cluster has 1 to {MAX_INSTANCES} instances, got {instances!r}")
        if not _NAME.fullmatch(database) or not _NAME.fullmatch(cluster_name):
            raise ClusterError(
                f"database and cluster names must be letters, digits, '_' or '-', got {database!r}, {cluster_name!r}"
            )
        if synchronous and instances < 2:
            raise ClusterError(f"synchronous replication needs at least 2 instances, got {instances!r}")
        if retarget_delay < 0:
            raise ClusterError(f"retarget_delay must be >= 0, got {retarget_delay!r}")
        self.engine: Engine = load_engine(engine) if isinstance(engine, str) else engine
        self.flavour = Flavour(flavour)
        self.instances = instances
        self.synchronous = synchronous
        self.retarget_delay = float(retarget_delay)
        if instance_ids is None:
            instance_ids = "name" if self.flavour in (Flavour.RDS, Flavour.MULTI_AZ) else "address"
        if instance_ids not in ("address", "name"):
            raise ClusterError(f"instance_ids must be 'address' or 'name', got {instance_ids!r}")
        self.instance_ids = instance_ids
        self.cluster_name = cluster_name
        self.domain = domain
        self.database = database
        self.iam_config: IamConfig | None = None
        if iam is not None and iam is not False:
            from .iam import IamConfig

            self.iam_config = IamConfig.coerce(iam)
        self._iam: IamSetup | None = None
        self.events: list[Event] = []
        self._requested_work_dir = Path(work_dir) if work_dir is not None else None
        self._requested_block = block
        self._own_work_dir = False
        self._work_dir: Path | None = None
        self._block: AddressBlock | None = None
        self._layout: Layout | None = None
        self._proxies: dict[int, FaultProxy] = {}
        self._endpoints: Endpoints | None = None
        self._custom: CustomEndpoints | None = None
        self._rds_api: RdsApi | None = None
        self._writer: Node | None = None
        self._stale: set[int] = set()  # nodes whose data may have diverged (crashed or demoted writers)
        self._override: tuple[str | None, frozenset[str]] = (None, frozenset())
        self._lock = threading.RLock()
        self._running = False
        self._atexit: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._running

    @property
    def iam(self) -> IamSetup | None:
        """IAM mode (``iam=`` keyword): the IAM users, the verifier's log, the PAM service; None when off."""
        return self._iam

    # -- topology and endpoints -------------------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            raise ClusterError("the cluster is not up")
        return self._layout

    @property
    def nodes(self) -> list[Node]:
        return list(self.layout.nodes)

    @property
    def writer(self) -> Node:
        """The node the cluster considers the writer (it may be down after ``crash``)."""
        if self._writer is None:
            raise ClusterError("the cluster is not up")
        return self._writer

    @property
    def readers(self) -> list[Node]:
        return [n for n in self.layout.nodes if n is not self._writer]

    @property
    def port(self) -> int:
        if self._block is None:
            raise ClusterError("the cluster is not up")
        return self._block.port

    @property
    def work_dir(self) -> Path:
        if self._work_dir is None:
            raise ClusterError("the cluster is not up")
        return self._work_dir

    @property
    def hosts_file(self) -> Path:
        """The hosts file with the cluster's RDS-shaped names (for ``namespace_command`` / ``command``)."""
        return self._need_endpoints().hosts.path

    @property
    def writer_endpoint(self) -> Endpoint:
        """The cluster (writer) endpoint: follows the writer ``retarget_delay`` seconds after a change."""
        return self._need_endpoints().writer

    @property
    def reader_endpoint(self) -> Endpoint:
        """The reader endpoint: one live reader (the writer when there is none)."""
        return self._need_endpoints().reader

    def endpoint(self, instance: Instance) -> Endpoint:
        """The proxy address (and DNS name) of one instance."""
        node = self.node(instance)
        return Endpoint(proxy_host(node), node.advertised_port, node.extra["dns_name"])

    def node(self, instance: Instance) -> Node:
        """The node for an instance id, DNS name, proxy address, index or Node."""
        nodes = self.layout.nodes
        if isinstance(instance, Node):
            if instance in nodes:
                return instance
        elif isinstance(instance, int):
            for node in nodes:
                if node.index == instance:
                    return node
        else:
            for node in nodes:
                if instance in (node.instance_id, node.extra["dns_name"], proxy_host(node)):
                    return node
        raise ClusterError(f"no instance {instance!r} in this cluster")

    def proxy(self, instance: Instance) -> FaultProxy:
        """The fault proxy in front of one instance (for latency, refuse, reset_all, connection_count)."""
        return self._proxies[self.node(instance).index]

    @property
    def writer_proxy(self) -> FaultProxy:
        proxy = self._need_endpoints().writer_proxy
        if proxy is None:
            raise ClusterError("the cluster is not up")
        return proxy

    @property
    def reader_proxy(self) -> FaultProxy:
        proxy = self._need_endpoints().reader_proxy
        if proxy is None:
            raise ClusterError("the cluster is not up")
        return proxy

    @property
    def custom_endpoints(self) -> dict[str, CustomEndpoint]:
        """The custom endpoints by name (see ``create_custom_endpoint``)."""
        return dict(self._need_custom().endpoints)

    def custom_endpoint(self, name: str) -> Endpoint:
        """The proxy address and DNS name (``<name>.cluster-custom-<domain>``) of a custom endpoint."""
        return self._need_custom().get(name).endpoint

    def custom_endpoint_members(self, name: str) -> list[str]:
        """The instance ids a custom endpoint routes to now (its static members, or every instance not
        excluded), in the cluster's order."""
        with self._lock:
            return [n.instance_id for n in self._need_custom().get(name).members(self.layout.nodes)]

    def conninfo(
        self, target: Instance | None = None, *, via: str = "writer", iam: bool = False
    ) -> dict[str, Any]:
        """Driver keywords for an instance, or for the ``via`` endpoint ("writer" / "reader") when ``target``
        is None: ``host``, ``port``, ``user`` and ``dbname`` (pg, for psycopg) or ``database`` and an empty
        ``password`` (mysql, for mysql-connector). ``iam=True``: the user is the first IAM user (IAM mode) and
        there is no password (an IAM token is one)."""
        if target is not None:
            ep = self.endpoint(target)
        elif via == "reader":
            ep = self.reader_endpoint
        elif via == "writer":
            ep = self.writer_endpoint
        else:
            raise ClusterError(f"via must be 'writer' or 'reader', got {via!r}")
        user, db = self.layout.user, self.layout.database
        if iam:
            if self._iam is None:
                raise ClusterError("this cluster is not in IAM mode (LocalCluster(..., iam=True))")
            user = self._iam.user
        if self.engine.name == "pg":
            return {"host": ep.host, "port": ep.port, "user": user, "dbname": db}
        if iam:
            return {"host": ep.host, "port": ep.port, "user": user, "database": db}
        return {"host": ep.host, "port": ep.port, "user": user, "password": "", "database": db}

    def query(
        self, instance: Instance, sql: str, params: tuple[object, ...] = ()
    ) -> list[tuple[object, ...]]:
        """Run one statement directly on an instance's server (bypassing its proxy) as the admin user."""
        return self.engine.query(self.node(instance), sql, params)

    def footprint(self) -> Footprint:
        """What the cluster occupies now (server processes and their children, listening addresses of its
        loopback block, its work directory); ``footprint.leftovers()`` after ``down()`` must be empty."""
        pids = [n.process.pid for n in self.layout.nodes if n.process is not None and alive(n)]
        dirs = [self.work_dir] if self._own_work_dir else [n.data_dir.parent for n in self.layout.nodes]
        return footprint(pids, self._need_block().prefix, dirs)

    def status(self) -> ClusterStatus:
        endpoints = self._endpoints
        insts = []
        if self._layout is not None:
            for node in self._layout.nodes:
                proxy = self._proxies.get(node.index)
                insts.append(
                    InstanceStatus(
                        instance_id=node.instance_id,
                        index=node.index,
                        role="writer" if node is self._writer else "reader",
                        alive=alive(node),
                        proxy_mode=proxy.mode.value if proxy is not None else "stopped",
                        endpoint=Endpoint(proxy_host(node), node.advertised_port, node.extra["dns_name"]),
                        server_host=node.server_host,
                        server_port=node.port,
                    )
                )
        override, hidden = self._override
        return ClusterStatus(
            engine=self.engine.name,
            flavour=self.flavour.value,
            running=self._running,
            writer=self._writer.instance_id if self._writer is not None and self._running else None,
            writer_endpoint=endpoints.writer if endpoints else Endpoint("", 0),
            reader_endpoint=endpoints.reader if endpoints else Endpoint("", 0),
            instances=tuple(insts),
            user=self._layout.user if self._layout else "",
            database=self.database,
            work_dir=str(self._work_dir or ""),
            hosts_file=str(endpoints.hosts.path if endpoints else ""),
            synchronous=self.synchronous,
            retarget_delay=self.retarget_delay,
            facts_override={"writer": override, "hidden": sorted(hidden)} if override or hidden else {},
        )

    # -- commands in the DNS namespace ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment variables describing the cluster (what ``aws-wrapper-cluster run`` sets)."""
        w, r = self.writer_endpoint, self.reader_endpoint
        user, db = self.layout.user, self.layout.database
        env = {
            "AWS_WRAPPER_CLUSTER_ENGINE": self.engine.name,
            "AWS_WRAPPER_CLUSTER_FLAVOUR": self.flavour.value,
            "AWS_WRAPPER_CLUSTER_WRITER": str(w),
            "AWS_WRAPPER_CLUSTER_READER": str(r),
            "AWS_WRAPPER_CLUSTER_WRITER_DNS": w.dns_name,
            "AWS_WRAPPER_CLUSTER_READER_DNS": r.dns_name,
            "AWS_WRAPPER_CLUSTER_INSTANCES": ",".join(str(self.endpoint(n)) for n in self.layout.nodes),
            "AWS_WRAPPER_CLUSTER_HOST": w.host,
            "AWS_WRAPPER_CLUSTER_PORT": str(w.port),
            "AWS_WRAPPER_CLUSTER_USER": user,
            "AWS_WRAPPER_CLUSTER_DATABASE": db,
            "AWS_WRAPPER_CLUSTER_HOSTS_FILE": str(self.hosts_file),
        }
        if self._iam is not None:
            env.update(
                AWS_WRAPPER_CLUSTER_IAM_USERS=",".join(self._iam.users),
                AWS_WRAPPER_CLUSTER_IAM_REGION=self._iam.region,
            )
        if self.engine.name == "pg":
            env.update(PGHOST=w.host, PGPORT=str(w.port), PGUSER=user, PGDATABASE=db)
        else:
            env.update(MYSQL_HOST=w.host, MYSQL_TCP_PORT=str(w.port))
        return env

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run in a private mount namespace where the cluster's DNS names resolve
        (unchanged, with a warning, when namespaces are unavailable here)."""
        reason = namespace_available()
        if reason is not None:
            log.warning("running %s without the cluster's dns names: %s", argv[:1], reason)
            return list(argv)
        return namespace_command(self.hosts_file, argv)

    def run(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to completion with ``env()`` added to its environment, inside the DNS namespace
        (text mode, no check; keywords go to ``subprocess.run``)."""
        env = {**os.environ, **popen_kwargs.pop("env", {}), **self.env()}
        kwargs: dict[str, Any] = {"text": True, "check": False, **popen_kwargs}
        done: subprocess.CompletedProcess[str] = subprocess.run(self.command(argv), env=env, **kwargs)
        return done

    def dns_names(self) -> dict[str, str]:
        """The cluster's RDS-shaped names and the addresses they resolve to in the namespace (for example
        to add them to a ``dns_namespace`` fixture)."""
        return self._need_endpoints().hosts.entries

    # -- internals --------------------------------------------------------------------------------------------

    def _need_endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise ClusterError("the cluster is not up")
        return self._endpoints

    def _need_custom(self) -> CustomEndpoints:
        if self._custom is None:
            raise ClusterError("the cluster is not up")
        return self._custom

    def _need_block(self) -> AddressBlock:
        if self._block is None:
            raise ClusterError("the cluster is not up")
        return self._block

    def _instance_ids(self) -> set[str]:
        return {n.instance_id for n in self.layout.nodes}

    def _new_node(self, index: int) -> Node:
        block = self._need_block()
        proxy_host = block.proxy_host(index)
        dns_name = f"instance-{index}.{self.domain}"
        instance_id = proxy_host if self.instance_ids == "address" else f"instance-{index}"
        home = self.work_dir / f"n{index}"
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o755)
        node = Node(
            index=index,
            instance_id=instance_id,
            server_host=block.server_host(index),
            port=block.port,
            data_dir=home / "data",
            server_id=index,
            advertised_host=proxy_host if self.instance_ids == "address" else dns_name,
            advertised_port=block.port,
            log_file=home / "server.log",
        )
        node.extra["dns_name"] = dns_name
        node.extra["proxy_host"] = proxy_host
        node.extra["endpoint"] = dns_name if self.instance_ids == "name" else f"{instance_id}.{self.domain}"
        if self._iam is not None:
            node.extra.update(self._iam.node_extra())
        return node

    def _start_proxy(self, node: Node) -> None:
        proxy = FaultProxy(
            proxy_host(node), node.advertised_port, node.server_host, node.port, name=node.instance_id
        )
        self._proxies[node.index] = proxy.start()

    def _write_hosts(self) -> None:
        if self._endpoints is not None:
            extra = self._custom.dns_entries() if self._custom is not None else None
            self._endpoints.write_hosts(self.layout.nodes, extra)

    def _live_writer(self) -> Node:
        writer = self.writer
        if not alive(writer):
            raise ClusterError(f"the writer {writer.instance_id!r} is down; promote a replica first")
        return writer

    def _best_replica(self) -> Node:
        """The live replica with the most WAL / binlog (ties: lowest index): it has every acknowledged
        transaction, also with synchronous replication."""
        live = [
            n for n in self.layout.nodes if n is not self._writer and alive(n) and n.index not in self._stale
        ]
        if not live:
            raise ClusterError("no live replica to promote")
        position = getattr(self.engine, "replication_position", None)
        if not callable(position):
            return live[0]
        ranked: list[tuple[int, int, Node]] = []
        for node in live:
            try:
                ranked.append((-int(position(node)), node.index, node))
            except Exception as exc:  # a replica we cannot ask is not a candidate
                log.info("cannot read the replication position of %s: %s", node.instance_id, exc)
        if not ranked:
            return live[0]
        return min(ranked, key=lambda r: (r[0], r[1]))[2]

    def _targets(self, instance: Instance | None) -> list[Node]:
        return list(self.layout.nodes) if instance is None else [self.node(instance)]

    def _retarget_writer(self, delay: float | None = None) -> None:
        if self._endpoints is not None and self._writer is not None:
            self._endpoints.retarget_writer(self._writer, self.retarget_delay if delay is None else delay)

    def _retarget_reader(self, delay: float | None = None) -> None:
        if self._endpoints is not None and self._layout is not None:
            readers = [n for n in self.readers if alive(n)]
            self._endpoints.retarget_reader(
                readers, self._writer, self.retarget_delay if delay is None else delay
            )
        self._retarget_custom(delay)

    def _retarget_custom(self, delay: float | None = None) -> None:
        if self._custom is not None and self._layout is not None:
            self._custom.retarget(
                self.layout.nodes, self._writer, alive, proxy_host, self.retarget_delay if delay is None else delay
            )

    def _event(self, name: str, instance: str | None, offset: float = 0.0) -> None:
        self.events.append(Event(name, instance, time.monotonic() + offset, time.time() + offset))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("cluster event %s %s", name, instance)

    def last_event(self, name: str, instance: str | None = None) -> Event | None:
        """The most recent event called ``name`` (for ``instance`` if given)."""
        for event in reversed(self.events):
            if event.name == name and (instance is None or event.instance == instance):
                return event
        return None


def alive(node: Node) -> bool:
    """True while ``node``'s server process runs."""
    return node.process is not None and node.process.poll() is None

"""``LocalCluster``: N real servers of one engine behind fault proxies, plus writer and reader endpoints.

Engine-agnostic: everything server-specific goes through the ``Engine`` protocol (``_engine.py``); engines are
found by name (``_registry.py``), addresses come from a claimed loopback block (``_block.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _proc
from ._block import claim_block
from ._cluster_base import ClusterBase, Instance, alive
from ._custom import CustomEndpoints
from ._endpoints import Endpoints, proxy_host
from ._engine import Layout, Node, missing_reason
from ._errors import ClusterError
from ._model import Endpoint
from ._registry import default_work_base

if TYPE_CHECKING:
    from ._rds_api import RdsApi

log = logging.getLogger("aws_wrapper.testing")


def _down_at_exit(ref: weakref.ref[LocalCluster]) -> None:
    cluster = ref()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.down()


class LocalCluster(ClusterBase):
    """A local Aurora / RDS-like cluster of real servers (see ``docs/local-cluster.md``).

    ``instance_ids``: ``"address"`` names each instance by the address of its proxy (so a wrapper with
    ``cluster_instance_host_pattern="?"`` reaches topology hosts through the proxies), ``"name"`` uses
    ``instance-N`` (reachable as ``instance-N.<domain>`` inside the DNS namespace). The default is
    ``"address"`` for aurora and plain, ``"name"`` for rds and multi-az, whose facts must carry RDS-shaped
    instance endpoints.
    """

    # -- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    def up(self) -> LocalCluster:
        """Start every server, proxy and endpoint; returns when all replicas stream and the facts agree."""
        with self._lock:
            if self._running:
                return self
            reason = missing_reason(self.engine, self.flavour)  # e.g. no aurora plugin: say so up front
            if reason is not None:
                raise ClusterError(f"cannot start a {self.engine.name!r} cluster: {reason}")
            if self.iam_config is not None:
                from .iam import iam_missing

                reason = iam_missing(self.engine.name, self.iam_config.install)
                if reason is not None:
                    raise ClusterError(f"cannot start a {self.engine.name!r} cluster in IAM mode: {reason}")
            self._atexit = atexit_hook = _make_atexit(self)
            atexit.register(atexit_hook)
            self._running = True
            started = time.monotonic()
            try:
                self._start()
            except BaseException:
                self.down()
                raise
            self._event("up", None)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s cluster up in %.2f s:\n%s",
                    self.engine.name,
                    time.monotonic() - started,
                    self.status().render(),
                )
            return self

    def _start(self) -> None:
        self._block = block = claim_block(self.engine.default_port, self._requested_block)
        if self._requested_work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="aws-wrapper-cluster-", dir=default_work_base()))
            self._own_work_dir = True
        else:
            self._work_dir = self._requested_work_dir.resolve()
            self._work_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._work_dir, 0o755)  # servers run as their own OS users and must reach their directories
        if self.iam_config is not None:
            from .iam import IamSetup

            self._iam = IamSetup(
                self.iam_config, self._work_dir, block.prefix, block.port, self.engine.name, self.domain
            )
        nodes = [self._new_node(i) for i in range(1, self.instances + 1)]
        self._layout = Layout(
            work_dir=self._work_dir,
            flavour=self.flavour,
            nodes=nodes,
            database=self.database,
            user=self.engine.default_user,
            synchronous=self.synchronous,
            domain=self.domain,
            cluster_name=self.cluster_name,
        )
        for node in nodes:
            self._start_proxy(node)
        self._writer = nodes[0]
        self._endpoints = Endpoints(
            block, self.cluster_name, self.domain, self._work_dir / "hosts", self._event
        )
        self._endpoints.start(nodes[0], self.cluster_name)
        self._endpoints.write_hosts(nodes)
        self._custom = CustomEndpoints(block, self.domain, self._event)
        if self._iam is not None:
            writer, reader = self._endpoints.writer, self._endpoints.reader
            self._iam.prepare((writer.host, writer.dns_name, reader.host, reader.dns_name), nodes)
        self.engine.init_writer(nodes[0], self._layout)
        for node in nodes[1:]:
            self.engine.add_replica(node, nodes[0], self._layout)
        self._retarget_reader(delay=0.0)

    def down(self) -> None:
        """Stop everything and remove the work directory. Idempotent; never leaves a process behind."""
        with self._lock:
            if not self._running:
                return
            errors: list[BaseException] = []
            if self._rds_api is not None:
                _collect(errors, self._rds_api.stop)
                self._rds_api = None
            if self._custom is not None:
                _collect(errors, self._custom.stop)
            if self._endpoints is not None:
                _collect(errors, self._endpoints.stop)
            for proxy in self._proxies.values():
                _collect(errors, proxy.stop)
            self._proxies.clear()
            if self._layout is not None:
                for node in self._layout.nodes:
                    proc = node.process
                    if proc is not None and proc.poll() is None:
                        _collect(errors, self.engine.stop, node)
                        if proc.poll() is None:  # the engine failed to stop it: kill it with its children
                            _collect(errors, _proc.kill_tree, proc)
            _collect(errors, lambda: self.engine.close())  # looked up inside: teardown goes on without it
            if self._iam is not None:
                _collect(errors, self._iam.remove)  # the PAM service file in /etc/pam.d
            if self._work_dir is not None:
                if self._own_work_dir:
                    _collect(errors, shutil.rmtree, self._work_dir)
                elif self._layout is not None:
                    for node in self._layout.nodes:
                        _collect(errors, shutil.rmtree, node.data_dir.parent, True)
                    _collect(errors, _unlink, self._work_dir / "hosts")
            if self._block is not None:
                self._block.release()
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
            self._running = False
            self._event("down", None)
            if errors:
                raise ClusterError(
                    f"cluster teardown had {len(errors)} error(s); first: {errors[0]}"
                ) from errors[0]

    # -- custom endpoints -------------------------------------------------------------------------------------
    def create_custom_endpoint(
        self,
        name: str,
        static: Iterable[Instance] = (),
        excluded: Iterable[Instance] = (),
        type: str = "ANY",
    ) -> Endpoint:
        """Add an Aurora custom endpoint: a proxy on its own address and the DNS name
        ``<name>.cluster-custom-<domain>``, routing to one live member (``static``: only those instances;
        ``excluded``: every instance but those; ``type`` ``"READER"``: only readers among them). The RDS API
        stand-in (``rds_api()``) describes it. Custom endpoints stay until ``delete_custom_endpoint`` or ``down``
        (``reset`` keeps them)."""
        with self._lock:
            custom = self._need_custom()
            endpoint = custom.create(
                name,
                self.layout.nodes,
                static=[self.node(i).instance_id for i in static],
                excluded=[self.node(i).instance_id for i in excluded],
                type=type,
            )
            try:
                members = endpoint.members(self.layout.nodes) or [self.writer]
                custom.start(endpoint, proxy_host, members[0])
            except BaseException:
                custom.endpoints.pop(name, None)
                raise
            self._write_hosts()
            self._retarget_custom(delay=0.0)
            self._event("custom_endpoint_created", name)
            return endpoint.endpoint

    def modify_custom_endpoint(
        self,
        name: str,
        static: Iterable[Instance] | None = None,
        excluded: Iterable[Instance] | None = None,
        type: str | None = None,
    ) -> Endpoint:
        """Change a custom endpoint's members (giving ``static`` or ``excluded`` replaces both lists) or type.
        New connections follow after ``retarget_delay``; open ones stay where they are, as on Aurora."""
        with self._lock:
            endpoint = self._need_custom().modify(
                name,
                self.layout.nodes,
                static=None if static is None else [self.node(i).instance_id for i in static],
                excluded=None if excluded is None else [self.node(i).instance_id for i in excluded],
                type=type,
            )
            self._retarget_custom()
            self._event("custom_endpoint_modified", name)
            return endpoint.endpoint

    def delete_custom_endpoint(self, name: str) -> None:
        with self._lock:
            self._need_custom().delete(name)
            self._write_hosts()
            self._event("custom_endpoint_deleted", name)

    def rds_api(self) -> RdsApi:
        """The RDS API stand-in for this cluster's custom endpoints (started on first use on 127.0.0.1, stopped
        by ``down``): ``create_db_cluster_endpoint``, ``describe_db_cluster_endpoints``,
        ``modify_db_cluster_endpoint`` and ``delete_db_cluster_endpoint`` read and change the same custom
        endpoints as the methods above. Use ``endpoint_url`` with boto3 (or ``AWS_ENDPOINT_URL_RDS``)."""
        with self._lock:
            self._need_custom()
            if self._rds_api is None:
                from ._rds_api import RdsApi

                self._rds_api = RdsApi(self._rds_backend).start()
            return self._rds_api

    def _rds_backend(self, action: str, args: dict[str, Any]) -> Any:
        from ._rds_api import RdsApiError

        cluster = args.get("cluster")
        with self._lock:
            custom = self._need_custom()
            if action == "describe":
                if cluster not in (None, self.cluster_name):
                    return []
                name = args.get("name")
                found = [e for e in custom.endpoints.values() if name in (None, e.name)]
                return [e.describe(self.cluster_name) for e in found]
            name = str(args["name"])
            if action == "create":
                if cluster != self.cluster_name:
                    raise RdsApiError(404, "DBClusterNotFoundFault", f"DBCluster {cluster} not found")
                if name in custom.endpoints:
                    raise RdsApiError(
                        400, "DBClusterEndpointAlreadyExistsFault", f"DBClusterEndpoint {name} already exists"
                    )
                self.create_custom_endpoint(
                    name, args.get("static") or (), args.get("excluded") or (), args.get("type") or "ANY"
                )
            elif name not in custom.endpoints:
                return None
            elif action == "modify":
                self.modify_custom_endpoint(name, args.get("static"), args.get("excluded"), args.get("type"))
            elif action == "delete":
                described = custom.get(name).describe(self.cluster_name)
                self.delete_custom_endpoint(name)
                return {**described, "Status": "deleting"}
            return custom.get(name).describe(self.cluster_name)

    # -- operations -------------------------------------------------------------------------------------------

    def failover(self, target: Instance | None = None) -> Node:
        """Clean failover: stop the writer, promote ``target`` (default: the most advanced replica), re-point
        the other replicas, and bring the old writer back as a reader (re-cloned). Returns the new writer."""
        with self._lock:
            old = self.writer
            new = self.node(target) if target is not None else self._best_replica()
            if new is old:
                raise ClusterError(f"instance {new.instance_id!r} is already the writer")
            if not alive(new):
                raise ClusterError(f"instance {new.instance_id!r} is down and cannot be promoted")
            self._event("failover_started", old.instance_id)
            if alive(old):
                self.engine.stop(old)
                self._event("writer_down", old.instance_id)
            self._stale.add(old.index)
            self._promote(new)
            if old is not new:
                self.engine.add_replica(old, new, self.layout)
                self._stale.discard(old.index)
                self._event("rejoined", old.instance_id)
            self._retarget_reader()
            return new

    def crash(self, instance: Instance | None = None) -> Node:
        """SIGKILL an instance's server and all its backends (default: the writer). No automatic failover:
        call ``promote()`` (or ``failover()``) next. Returns the crashed node."""
        with self._lock:
            node = self.node(instance) if instance is not None else self.writer
            self.engine.crash(node)
            self._event("crashed", node.instance_id)
            if node is self._writer:
                self._event("writer_down", node.instance_id)
                self._stale.add(node.index)
            self._retarget_reader()
            return node

    def promote(self, instance: Instance | None = None) -> Node:
        """Promote a replica (default: the most advanced one) after the writer died; the other live replicas
        follow it and the writer endpoint retargets. With a live writer this is a ``failover``."""
        with self._lock:
            if self._writer is not None and alive(self._writer):
                return self.failover(instance)
            node = self.node(instance) if instance is not None else self._best_replica()
            if not alive(node):
                raise ClusterError(f"instance {node.instance_id!r} is down and cannot be promoted")
            self._promote(node)
            self._retarget_reader()
            return node

    def _promote(self, node: Node) -> None:
        self.engine.promote(node, self.layout)
        self._writer = node
        self._stale.discard(node.index)
        self._event("writer_promoted", node.instance_id)
        self._retarget_writer()
        for other in self.layout.nodes:
            if other is not node and alive(other):
                self.engine.follow(other, node, self.layout)
                self._event("followed", other.instance_id)

    def restart(self, instance: Instance | None = None) -> Node:
        """Restart an instance (default: the writer). A crashed or demoted writer comes back as a reader,
        re-cloned from the current writer; a replica catches up with the current writer."""
        with self._lock:
            node = self.node(instance) if instance is not None else self.writer
            if alive(node):
                self.engine.stop(node)
                self._event("stopped", node.instance_id)
            if node is self._writer:
                self.engine.start(node, self.layout)
                self._stale.discard(node.index)
                for other in self.layout.nodes:  # replicas reconnect by themselves; wait until they do
                    if other is not node and alive(other) and other.index not in self._stale:
                        self.engine.follow(other, node, self.layout)
            elif node.index in self._stale or not alive(self.writer):
                if not alive(self.writer):
                    raise ClusterError(f"cannot restart {node.instance_id!r} as a reader: the writer is down")
                self.engine.add_replica(node, self.writer, self.layout)
                self._stale.discard(node.index)
            else:
                self.engine.start(node, self.layout)
                self.engine.follow(node, self.writer, self.layout)
            self._event("restarted", node.instance_id)
            self._retarget_reader()
            return node

    def stop(self, instance: Instance) -> Node:
        """Cleanly stop one instance (it stays down until ``restart``)."""
        with self._lock:
            node = self.node(instance)
            self.engine.stop(node)
            self._event("stopped", node.instance_id)
            if node is self._writer:
                self._event("writer_down", node.instance_id)
            self._retarget_reader()
            return node

    def add_instance(self) -> Node:
        """Add a reader (autoscaling): cloned from the writer; appears in the topology facts."""
        with self._lock:
            writer = self._live_writer()
            index = max(n.index for n in self.layout.nodes) + 1
            node = self._new_node(index)
            self.layout.nodes.append(node)
            try:
                self._start_proxy(node)
                self._write_hosts()
                if self._iam is not None:
                    self._iam.set_instances(self.layout.nodes)
                self.engine.add_replica(node, writer, self.layout)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._discard(node)
                raise
            self._event("added", node.instance_id)
            self._retarget_reader()
            return node

    def remove_instance(self, instance: Instance) -> None:
        """Remove a reader (autoscaling): stop it, drop its proxy and data, and take it out of the facts."""
        with self._lock:
            node = self.node(instance)
            if node is self._writer:
                raise ClusterError(f"cannot remove the writer {node.instance_id!r}; fail over first")
            self._discard(node)
            writer = self.writer
            if alive(writer):
                override, hidden = self._override
                self.engine.set_facts(writer, self.layout, override, hidden)
            self._event("removed", node.instance_id)
            self._retarget_reader()

    def _discard(self, node: Node) -> None:
        if alive(node):
            self.engine.stop(node)
        proxy = self._proxies.pop(node.index, None)
        if proxy is not None:
            proxy.stop()
        if node in self.layout.nodes:
            self.layout.nodes.remove(node)
        if self._iam is not None:
            self._iam.set_instances(self.layout.nodes)
        shutil.rmtree(node.data_dir.parent, ignore_errors=True)
        self._stale.discard(node.index)
        self._write_hosts()

    def blackhole(self, instance: Instance | None = None) -> None:
        """Blackhole one instance's proxy (None: every instance): bytes are held both ways, sockets stay
        open, new connections get no answer. The endpoints go through the instance proxies, so they are
        affected too while they point at a blackholed instance."""
        for node in self._targets(instance):
            self._proxies[node.index].blackhole()
            self._event("blackholed", node.instance_id)

    def heal(self, instance: Instance | None = None) -> None:
        """Back to normal forwarding for one instance's proxy (None: every proxy, endpoints included)."""
        for node in self._targets(instance):
            self._proxies[node.index].heal()
            self._event("healed", node.instance_id)
        if instance is None and self._endpoints is not None:
            self._endpoints.heal()

    def set_facts(self, writer: str | None = None, hidden: Iterable[str] = ()) -> None:
        """Make the topology facts lie: report ``writer`` as the writer (None: the real one again) and leave
        out the instances in ``hidden``. Replicated to every node streaming from the writer."""
        with self._lock:
            hidden_set = frozenset(hidden)
            unknown = [h for h in (writer, *hidden_set) if h is not None and h not in self._instance_ids()]
            if unknown:
                log.info("facts name instances that do not exist: %s", unknown)
            self.engine.set_facts(self._live_writer(), self.layout, writer, hidden_set)
            self._override = (writer, hidden_set)
            self._event("facts_set", writer)

    def reset(self) -> None:
        """Undo what tests typically change, keeping the cluster: heal every proxy, drop facts overrides,
        restart instances that are down (a writer if none is alive), add or remove readers back to the
        configured number of instances, point the endpoints at once. The writer stays where it is. Used
        between tests by the fixtures."""
        with self._lock:
            self.heal()
            if not alive(self.writer):
                live = [n for n in self.layout.nodes if alive(n)]
                if live:
                    self.promote()
                else:
                    self.restart(self.writer)
            for node in self.layout.nodes:
                if not alive(node):
                    self.restart(node)
            while len(self.layout.nodes) > self.instances:
                self.remove_instance(max(self.readers, key=lambda n: n.index))
            while len(self.layout.nodes) < self.instances:
                self.add_instance()
            if self._override != (None, frozenset()):
                self.set_facts(None, ())
            self._retarget_writer(delay=0.0)
            self._retarget_reader(delay=0.0)


def _make_atexit(cluster: LocalCluster) -> Callable[[], None]:
    ref = weakref.ref(cluster)
    return lambda: _down_at_exit(ref)


def _collect(errors: list[BaseException], fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except Exception as exc:
        log.warning("cluster teardown step %s failed: %s", getattr(fn, "__name__", fn), exc)
        errors.append(exc)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

"""The writer (cluster) and reader endpoints of a local cluster, and its RDS-shaped DNS names.

Each endpoint is a fault proxy on its own address that forwards to an *instance proxy* (not to the server), as
a cluster endpoint's DNS name resolves to an instance: a fault on the instance affects connections made
through the endpoint too. After a topology change an endpoint retargets after the configured delay, like a
DNS record whose old answer is still cached. The names (``<cluster>.cluster-<domain>``,
``<cluster>.cluster-ro-<domain>``, ``instance-N.<domain>``) live in a hosts file for the private DNS namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._block import AddressBlock
from ._dns import HostsFile
from ._engine import Node
from ._model import Endpoint
from ._proxy import FaultProxy

Record = Callable[[str, "str | None", float], None]


def proxy_host(node: Node) -> str:
    """The address of ``node``'s instance proxy."""
    return node.extra["proxy_host"]


class Endpoints:
    """Owns the two endpoint proxies and the hosts file; ``record(name, instance, offset)`` logs events."""

    def __init__(
        self, block: AddressBlock, cluster_name: str, domain: str, hosts_file: Path, record: Record
    ) -> None:
        self.block = block
        self.writer = Endpoint(block.writer_host, block.port, f"{cluster_name}.cluster-{domain}")
        self.reader = Endpoint(block.reader_host, block.port, f"{cluster_name}.cluster-ro-{domain}")
        self.hosts = HostsFile(hosts_file)
        self._record = record
        self.writer_proxy: FaultProxy | None = None
        self.reader_proxy: FaultProxy | None = None

    def start(self, first: Node, name: str) -> None:
        target = proxy_host(first)
        self.writer_proxy = FaultProxy(
            self.writer.host, self.writer.port, target, self.block.port, name=f"{name}-writer"
        )
        self.writer_proxy.start()
        self.reader_proxy = FaultProxy(
            self.reader.host, self.reader.port, target, self.block.port, name=f"{name}-reader"
        )
        self.reader_proxy.start()

    def stop(self) -> None:
        proxies, self.writer_proxy, self.reader_proxy = (self.writer_proxy, self.reader_proxy), None, None
        failure: Exception | None = None
        for proxy in proxies:
            if proxy is not None:
                try:
                    proxy.stop()
                except Exception as exc:
                    failure = failure or exc
        if failure is not None:
            raise failure

    def heal(self) -> None:
        for proxy in (self.writer_proxy, self.reader_proxy):
            if proxy is not None:
                proxy.heal()

    def write_hosts(self, nodes: Sequence[Node], extra: Mapping[str, str] | None = None) -> None:
        """Rewrite the hosts file: the endpoints, the instances and ``extra`` (name -> address, e.g. the
        custom endpoints)."""
        hosts = self.hosts
        for name in list(hosts.entries):
            hosts.remove(name)
        hosts.add(self.writer.dns_name, self.writer.host)
        hosts.add(self.reader.dns_name, self.reader.host)
        for node in nodes:
            hosts.add(node.extra["dns_name"], proxy_host(node))
        for name, address in (extra or {}).items():
            hosts.add(name, address)
        hosts.write()

    def retarget_writer(self, writer: Node, delay: float) -> None:
        proxy = self.writer_proxy
        if proxy is None:
            return
        target = (proxy_host(writer), writer.advertised_port)
        if proxy.target == target and proxy.pending_target is None:
            return
        proxy.retarget(*target, delay=delay)
        self._record("writer_endpoint_retargeted", writer.instance_id, delay)

    def retarget_reader(self, readers: Sequence[Node], writer: Node | None, delay: float) -> None:
        """Point the reader endpoint at a live reader (keeping its current one when still fine), or at the
        writer when there is no reader, as Aurora's reader endpoint does."""
        proxy = self.reader_proxy
        if proxy is None:
            return
        current = proxy.pending_target or proxy.target
        chosen = next((n for n in readers if (proxy_host(n), n.advertised_port) == current), None)
        chosen = chosen or (readers[0] if readers else writer)
        if chosen is None:
            return
        target = (proxy_host(chosen), chosen.advertised_port)
        if target != current:
            proxy.retarget(*target, delay=delay)
            self._record("reader_endpoint_retargeted", chosen.instance_id, delay)

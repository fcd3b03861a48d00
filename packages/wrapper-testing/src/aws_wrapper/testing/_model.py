"""Plain value types of the local cluster: events, endpoints and status (all JSON-friendly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One step the cluster took, stamped with both clocks.

    ``t`` is ``time.monotonic()`` (subtract these), ``wall`` is ``time.time()`` (compare with logs). Names:
    ``up``, ``down``, ``failover_started``, ``writer_down`` (the writer stopped or died), ``writer_promoted``
    (the new writer accepts writes), ``followed``, ``rejoined``, ``crashed``, ``stopped``, ``restarted``,
    ``added``, ``removed``, ``writer_endpoint_retargeted`` / ``reader_endpoint_retargeted`` (stamped with the
    time the new target takes effect, i.e. after the retarget delay), ``blackholed``, ``healed``,
    ``facts_set``.
    """

    name: str
    instance: str | None
    t: float
    wall: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Endpoint:
    """An address clients connect to, and its RDS-shaped DNS name (which resolves only in the namespace)."""

    host: str
    port: int
    dns_name: str = ""

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class InstanceStatus:
    """One instance as ``status()`` reports it."""

    instance_id: str
    index: int
    role: str  # "writer" | "reader"
    alive: bool
    proxy_mode: str  # the fault mode of the instance's proxy: pass | blackhole | latency | refuse
    endpoint: Endpoint  # the instance's proxy (what clients and the topology use)
    server_host: str  # the server itself (replication only; bypasses every fault)
    server_port: int


@dataclass(frozen=True)
class ClusterStatus:
    """What ``LocalCluster.status()`` returns and ``aws-wrapper-cluster status`` prints."""

    engine: str
    flavour: str
    running: bool
    writer: str | None
    writer_endpoint: Endpoint
    reader_endpoint: Endpoint
    instances: tuple[InstanceStatus, ...]
    user: str
    database: str
    work_dir: str
    hosts_file: str
    synchronous: bool = False
    retarget_delay: float = 0.0
    facts_override: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterStatus:
        values = dict(data)
        values["writer_endpoint"] = Endpoint(**values["writer_endpoint"])
        values["reader_endpoint"] = Endpoint(**values["reader_endpoint"])
        values["instances"] = tuple(
            InstanceStatus(**{**i, "endpoint": Endpoint(**i["endpoint"])}) for i in values["instances"]
        )
        return cls(**values)

    def render(self) -> str:
        """A human-readable summary (what the CLI prints)."""
        lines = [
            f"engine {self.engine}, flavour {self.flavour}, {'running' if self.running else 'stopped'}"
            + (", synchronous" if self.synchronous else ""),
            f"writer      {self.writer_endpoint}  {self.writer_endpoint.dns_name}  -> {self.writer or '(none)'}",
            f"reader      {self.reader_endpoint}  {self.reader_endpoint.dns_name}",
        ]
        for inst in self.instances:
            state = "up" if inst.alive else "DOWN"
            mode = "" if inst.proxy_mode == "pass" else f" [{inst.proxy_mode}]"
            lines.append(
                f"{inst.role:<7} {inst.endpoint}  {inst.endpoint.dns_name}  id={inst.instance_id}  {state}{mode}"
            )
        lines.append(f"user {self.user!r}, database {self.database!r}, hosts file {self.hosts_file}")
        return "\n".join(lines)

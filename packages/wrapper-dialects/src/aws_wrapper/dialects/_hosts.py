"""Instance host patterns (``cluster_instance_host_pattern``) and cluster ids.

A pattern is a host name in which ``?`` stands for an instance id, optionally followed by ``:port``: ``?``,
``?.my-domain.com``, ``?.xyz123abc456.us-east-1.rds.amazonaws.com:6543``.

A cluster id names the process-wide topology cache and monitor. When ``cluster_id`` is not set it is derived
from what the connection was opened with, so that two different clusters never share one:

* a cluster endpoint (writer, reader) → ``cluster:<name>.<domain>`` (the writer and reader endpoints of one
  cluster share it);
* a custom endpoint, proxy, shard group or global writer endpoint → ``<kind>:<name>.<domain>``;
* anything else (an instance endpoint, an IP address, a custom DNS name) → ``host:<host>:<port>|<pattern>``.
"""

from __future__ import annotations

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.records import record

from ._urls import RdsUrlType, is_ip_address, parse_endpoint

__all__ = ["HostPattern", "derive_cluster_id"]

_SETTING = "cluster_instance_host_pattern"
_FORBIDDEN = {
    RdsUrlType.RDS_WRITER_CLUSTER: "a cluster endpoint",
    RdsUrlType.RDS_READER_CLUSTER: "a cluster endpoint",
    RdsUrlType.RDS_CUSTOM_CLUSTER: "a custom cluster endpoint",
    RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER: "a global cluster endpoint",
    RdsUrlType.RDS_PROXY: "an RDS Proxy endpoint",
    RdsUrlType.RDS_AURORA_LIMITLESS_DB_SHARD_GROUP: "a limitless shard group endpoint",
}


@record(frozen=True)
class HostPattern:
    """Where an instance id becomes a host: ``host`` contains ``?``; ``port`` is None when not given."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str, setting: str = _SETTING, *, whole: str | None = None) -> HostPattern:
        """Parse and validate a pattern; :class:`ConfigurationError` names the setting and the value (``whole``:
        the setting's whole value, when ``text`` is one entry of it)."""
        try:
            host, port = _split(text)
        except ValueError as exc:
            shown = text if whole is None else whole
            entry = "" if whole is None else f"entry {text.strip()!r}: "
            raise ConfigurationError(
                f"invalid value {shown!r} for setting {setting!r}: {entry}{exc}"
            ) from None
        return cls(host, port)

    def host_for(self, instance_id: str, default_port: int) -> HostInfo:
        """An (unknown-role) host for ``instance_id``; ``default_port`` when the pattern has none."""
        port = self.port if self.port is not None else default_port
        return HostInfo(self.host.replace("?", instance_id or "?"), port)

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def _split(text: str) -> tuple[str, int | None]:
    """(host, port) of a pattern; ``ValueError`` says what is wrong with it."""
    raw = text.strip()
    host, port = raw, None
    if raw.startswith("["):  # [v6-ish]:port is not meaningful with '?', but parse it for the message
        end = raw.find("]")
        if end > 0 and raw[end + 1 : end + 2] == ":":
            host, port = raw[: end + 1], _port(raw[end + 2 :])
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text)
    if "?" not in host:
        raise ValueError("it must contain '?' where the instance id goes")
    if host.count("?") > 1 or any(c.isspace() for c in host) or "/" in host:
        raise ValueError(
            "expected a host name with one '?', e.g. '?.my-domain.com' or '?.my-domain.com:5432'"
        )
    kind = parse_endpoint(host.replace("?", "instance")).type
    if kind in _FORBIDDEN:
        raise ValueError(
            f"it is {_FORBIDDEN[kind]}; use the instance domain instead, e.g. "
            "'?.xyz123abc456.us-east-1.rds.amazonaws.com'"
        )
    return host, port


def _port(port_text: str) -> int:
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"the port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return port


def default_pattern(host: str) -> HostPattern:
    """``?.<domain>`` for an RDS host name, ``?`` for anything else."""
    return HostPattern(parse_endpoint(host).instance_template)


def derive_cluster_id(initial: HostInfo, pattern: HostPattern) -> str:
    """The cluster id used when ``cluster_id`` is not set (see the module documentation)."""
    endpoint = parse_endpoint(initial.host)
    kind = endpoint.type
    if kind in (RdsUrlType.RDS_WRITER_CLUSTER, RdsUrlType.RDS_READER_CLUSTER):
        return f"cluster:{endpoint.name}.{endpoint.domain}".lower()
    if kind.is_rds and kind is not RdsUrlType.RDS_INSTANCE:
        return f"{kind.label}:{endpoint.name}.{endpoint.domain}".lower()
    host = initial.host if not is_ip_address(initial.host) else initial.host.strip("[]")
    return f"host:{host.lower()}:{initial.port}|{pattern}"
